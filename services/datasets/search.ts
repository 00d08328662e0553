/**
 * Search over examples, the whole mode and fallback logic: lexical (Okapi BM25 over the postings of
 * migration 0006, OR semantics, websearch syntax as a filter), vector (pgvector cosine) and hybrid
 * (the two lists fused). Without pgvector, hybrid answers lexical and says so in `degraded`.
 */
import type { Db, Queryable, QueryResult, Statement } from "../lib/db";
import { NotImplementedError, UnavailableError } from "../lib/errors";
import { spellingVariants } from "../lib/spelling";
import {
  idf,
  impactWeightBound,
  matchFraction,
  parseQuery,
  termWeight,
  type Bm25Params,
  type ParsedQuery,
} from "./bm25";
import {
  cosineOfStatement,
  hitRowsStatement,
  lookupPostings,
  lookupPostingsStatement,
  nearestExamples,
  spellingCounts,
  queryTerms,
  readListsStatement,
  type ListRows,
  cutoffsStatement,
  rankFiltered,
  rankPostings,
  rankPostingsStatement,
  restOfRead,
  type BoundedList,
  type HitRow,
  type PartialScore,
  type PostingRow,
  type QueryTerms,
} from "./store";
import type { PostingsCache, PostingsList } from "./postings-cache";

export type SearchMode = "hybrid" | "lexical" | "vector";

export interface SearchHit {
  id: string;
  domain: string;
  content: string;
  response: string | null;
  score: number;
  /** The idf-weighted fraction (0..1) of the query's terms this example contains. */
  match: number;
  ranks: { lexical: number | null; vector: number | null };
}

export interface FusionSettings {
  /** Weight of the lexical list; the vector list gets 1 − this. */
  lexicalWeight: number;
  /** Candidates taken from each list before fusing. */
  depth: number;
}

export interface SearchSettings {
  bm25: Bm25Params;
  /** Postings read per term at most, its best by impact; 0 reads every posting (exact ranking). */
  termLimit: number;
  /** Postings a bounded lexical query may read over all its rounds while it cannot prove its ranking exact. */
  postingsBudget: number;
  /** A query with at most this many postings over its terms reads them all (exact ranking); 0: the term limit decides. */
  exactPostings: number;
  /** Whole lists kept in memory by dataset version (an exact read then ranks without the database); absent: off. */
  postings?: PostingsCache;
  efSearch: number;
  fusion: FusionSettings;
}

export interface SearchRequest {
  q: string;
  datasetId?: string;
  k: number;
  mode: SearchMode;
}

export interface SearchResult {
  hits: SearchHit[];
  /** Why the answer is not what the mode asked for (hybrid without pgvector or without embeddings). */
  degraded?: string;
  /**
   * Whether the lexical ranking (lexical and hybrid modes) is proven the exact BM25 ranking: false
   * when a common term's postings were read in part and the unread ones could still hold a better
   * document (SEARCH_BM25_TERM_LIMIT, SEARCH_BM25_POSTINGS_BUDGET).
   */
  lexical_exact?: boolean;
}

/** One ranked example; `match` is known when its lexical score was computed exactly. */
export interface Ranked {
  id: string;
  score: number;
  match?: number;
}

/** A lexical query's terms: idf by lexeme, and each term id's lexeme (a term has one id per dataset). */
export interface LexicalTerms {
  idfs: Map<string, number>;
  byId: Map<string, string>;
  /** Each term id's dataset version as the statistics were read (the version a kept list must have). */
  versions: Map<string, number>;
  /** The postings of all the query's terms (their df summed). */
  postings: number;
}

export interface LexicalResult {
  ranked: Ranked[];
  terms: LexicalTerms;
  /** Mean document length over the datasets searched (what exact rescoring needs). */
  avgdl: number;
  /** The ranking is proven the exact top `depth`: every list read whole, or no unread posting can change it. */
  exact: boolean;
}

/** With bounded lists, this many candidates (at least) are scored exactly before the best `depth` are kept. */
const RESCORE_MIN = 100;

/** Options of a lexical search. */
export interface LexicalOptions {
  datasetId?: string;
  depth: number;
  bm25: Bm25Params;
  termLimit: number;
  /** Postings a bounded query may read over all its rounds (see boundedSearch); 0 or absent: one round. */
  postingsBudget?: number;
  /** At most this many postings over the query's terms (their df summed): every list is read whole. 0 or absent: termLimit decides. */
  exactPostings?: number;
  /** Where whole lists are kept between queries (absent: every exact read ranks in the database). */
  postings?: PostingsCache;
}

/** One term's list as a bounded search reads it. */
interface TermList extends BoundedList {
  term: string;
  df: number;
  avgdlMin: number | null;
  /** The version of the term's dataset its statistics were read at. */
  version: number;
}

/** Lexemes of bounded lists past this many share no bit: their bound is added to every document's. */
const SEEN_BITS = 62;

/**
 * The best `depth` examples by BM25. A query whose terms hold at most `exactPostings` postings in
 * all reads every list whole (the exact read is then cheaper than the bounded one's several
 * statements). Otherwise every term whose df (in a dataset) is at most `termLimit` is read whole, so the ranking is exact unless some term is more common than that; then its best
 * postings by impact are read, the best candidates are scored exactly, and the ranking is exact
 * when no unread posting can change it (boundedSearch).
 */
export async function lexicalSearch(db: Queryable, q: string, o: LexicalOptions): Promise<LexicalResult> {
  const { parsed, stats, terms } = await lexicalTerms(db, q, o.datasetId);
  const avgdl = stats.totalLen / stats.docs || 1;
  if (stats.docs === 0 || terms.byId.size === 0) return { ranked: [], terms, avgdl, exact: true };
  const lists = termLists(stats, terms, terms.postings <= (o.exactPostings ?? 0) ? 0 : o.termLimit);
  const bounded = lists.some((l) => l.limit !== null);
  const rank = { k1: o.bm25.k1, b: o.bm25.b, avgdl, depth: bounded ? Math.max(2 * o.depth, RESCORE_MIN) : o.depth };
  const filter = stats.filterEmpty ? undefined : stats.filterQuery;
  if (filter && parsed.requires && !stats.filterExcludesOnly) {
    // Every match of the filter is scored exactly: no bound applies, so nothing to rescore.
    const ranked = withMatch(await rankFiltered(db, lists, filter, o.datasetId, rank), terms);
    return { ranked, terms, avgdl, exact: true };
  }
  if (!bounded) {
    const scored =
      o.postings?.fits(terms.postings) && !filter
        ? await rankInMemory(db, lists, o.postings, rank)
        : await rankPostings(db, lists, { ...rank, filter });
    return { ranked: withMatch(scored, terms), terms, avgdl, exact: true };
  }
  const r = await boundedSearch(db, lists, terms, { ...rank, filter }, o);
  return { ...r, terms, avgdl };
}

/**
 * rankPostings over whole lists, ranked here from the lists in `cache` (those missing read in one
 * statement and kept): the same scores (BM25_SUM's formula) and order (score, then id).
 */
async function rankInMemory(
  db: Queryable,
  lists: TermList[],
  cache: PostingsCache,
  rank: { k1: number; b: number; avgdl: number; depth: number },
): Promise<PartialScore[]> {
  const kept = fromCache(cache, lists);
  const [read] = await batchOf(db, [kept.statement]);
  return scoreLists(lists, kept.complete(read), rank).top;
}

/** A list to take from the cache: a term id at its dataset's version, whole (limit null) or its `limit` best by impact. */
interface WantedList {
  termId: string;
  version: number;
  limit: number | null;
}

/**
 * The lists wanted from `cache`, and the statement reading those it misses; `complete` takes that
 * statement's result, keeps what it read and gives every list in order (a term with no postings:
 * an empty one).
 */
function fromCache(
  cache: PostingsCache,
  wanted: WantedList[],
): { statement: Statement | undefined; complete: (read: QueryResult) => PostingsList[] } {
  const key = (w: { termId: string; limit: number | null }) => (w.limit === null ? w.termId : `${w.termId}@${w.limit}`);
  const got = wanted.map((w) => cache.get(key(w), w.version));
  const missing = wanted.filter((_, i) => !got[i]);
  return {
    statement: missing.length
      ? readListsStatement(
          missing.map((w) => w.termId),
          missing.map((w) => w.limit),
        )
      : undefined,
    complete: (read) => {
      const limits = new Map(missing.map((w) => [w.termId, w.limit]));
      const byTerm = new Map(
        (read.rows as unknown as ListRows[]).map((r) => {
          const list: PostingsList = {
            ids: Float64Array.from(r.ids),
            tf: Int32Array.from(r.tf),
            len: Int32Array.from(r.len),
            impact: Float64Array.from(r.impact),
          };
          // Kept under the version read with it (a change between the two statements: the newer one).
          cache.set(key({ termId: r.term_id, limit: limits.get(r.term_id) ?? null }), r.version, list);
          return [r.term_id, list] as const;
        }),
      );
      return wanted.map((w, i) => got[i] ?? byTerm.get(w.termId) ?? EMPTY_LIST);
    },
  };
}

/** Where the postings of a few examples come from: kept whole lists when the query's are small enough, else the primary key. */
interface PostingsSource {
  cache?: PostingsCache;
  /** The query's lists are read whole (and kept) only when its terms hold at most this many postings. */
  exactPostings: number;
}

/**
 * The statement that finds the postings of `ids` for the query's terms, and how its result becomes
 * those postings: from whole lists (kept, or read and kept) when the query's terms hold at most
 * `exactPostings` postings and a cache is there, else by primary key (lookupPostingsStatement).
 */
function examplePostings(
  ids: string[],
  terms: LexicalTerms,
  source: PostingsSource | undefined,
): { statement: Statement | undefined; rows: (read: QueryResult) => PostingRow[] } {
  const termIds = [...terms.byId.keys()];
  if (ids.length === 0 || termIds.length === 0) return { statement: undefined, rows: () => [] };
  if (!source?.cache?.fits(terms.postings) || terms.postings > source.exactPostings) {
    const statement = lookupPostingsStatement(ids, termIds);
    return { statement, rows: (read) => read.rows as unknown as PostingRow[] };
  }
  const kept = fromCache(
    source.cache,
    termIds.map((termId) => ({ termId, version: terms.versions.get(termId) ?? 0, limit: null })),
  );
  return {
    statement: kept.statement,
    rows: (read) => {
      const want = new Set(ids.map(Number));
      const rows: PostingRow[] = [];
      kept.complete(read).forEach((l, j) => {
        for (let i = 0; i < l.ids.length; i++)
          if (want.has(l.ids[i]))
            rows.push({ example_id: String(l.ids[i]), term_id: termIds[j], tf: l.tf[i], doc_len: l.len[i] });
      });
      return rows;
    },
  };
}

const EMPTY_LIST: PostingsList = {
  ids: new Float64Array(0),
  tf: new Int32Array(0),
  len: new Int32Array(0),
  impact: new Float64Array(0),
};

/**
 * Each document's BM25 over the lists and the idf sum of the lists that hold it: the best `depth`,
 * score then id (what rankPostingsStatement answers), and `rest`, what restOfRead answers: the
 * documents other than those excluded, grouped by the bits of the lists that hold them, the best
 * score of each group.
 */
function scoreLists(
  lists: TermList[],
  got: PostingsList[],
  rank: { k1: number; b: number; avgdl: number; depth: number },
): { top: PartialScore[]; rest: (exclude: string[]) => { seen: bigint; score: number }[] } {
  const slot = new Map<number, number>();
  const ids: number[] = [];
  const scores: number[] = [];
  const matched: number[] = [];
  const seen: bigint[] = [];
  const { k1, b, avgdl } = rank;
  lists.forEach((l, j) => {
    const p = got[j];
    for (let i = 0; i < p.ids.length; i++) {
      const tf = p.tf[i];
      const w = (l.idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * p.len[i]) / avgdl));
      const s = slot.get(p.ids[i]);
      if (s === undefined) {
        slot.set(p.ids[i], ids.length);
        ids.push(p.ids[i]);
        scores.push(w);
        matched.push(l.idf);
        seen.push(l.bit);
      } else {
        scores[s] += w;
        matched[s] += l.idf;
        seen[s] |= l.bit;
      }
    }
  });
  const rest = (exclude: string[]) => {
    const out = new Set(exclude.map(Number));
    const best = new Map<bigint, number>();
    for (let i = 0; i < ids.length; i++) {
      if (out.has(ids[i])) continue;
      const m = best.get(seen[i]);
      if (m === undefined || scores[i] > m) best.set(seen[i], scores[i]);
    }
    return [...best].map(([bits, score]) => ({ seen: bits, score }));
  };
  return { top: topScores(ids, scores, matched, rank.depth), rest };
}

/** The best `depth` of the scored documents, score then id. */
function topScores(ids: number[], scores: number[], matched: number[], depth: number): PartialScore[] {
  // The depth-th best score, then those at or above it in order (ties by id, as the SQL orders).
  let floor = -Infinity;
  if (scores.length > depth) {
    const sorted = Float64Array.from(scores).sort();
    floor = sorted[sorted.length - depth];
  }
  const best: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] >= floor) best.push(i);
  best.sort((x, y) => scores[y] - scores[x] || ids[x] - ids[y]);
  return best.slice(0, depth).map((i) => ({ id: String(ids[i]), score: scores[i], matched: matched[i] }));
}

/** What one round of a bounded search reads: its candidates, where each bounded list stops, and (from memory) the rest of what it read. */
interface Round {
  read: PartialScore[];
  cuts: { term_id: string; impact: number }[];
  /** restOfRead from the lists in memory; absent: restOfRead asks the database. */
  rest?: (exclude: string[]) => { seen: bigint; score: number }[];
}

/**
 * A bounded search's round: with a cache (and no filter) from the lists kept in memory (each
 * bounded one its `limit` best postings by impact, the others whole; those missing read in one
 * statement and kept), else both statements in one batch (embedded: one message).
 */
async function readRound(
  db: Queryable,
  lists: TermList[],
  rank: { k1: number; b: number; avgdl: number; depth: number; filter?: string },
  cache: PostingsCache | undefined,
): Promise<Round> {
  if (!cache?.fits(roundCost(lists)) || rank.filter) {
    const [scored, cuts] = await batchOf(db, [rankPostingsStatement(lists, rank), cutoffsStatement(lists)]);
    return {
      read: scored.rows as unknown as PartialScore[],
      cuts: cuts.rows as { term_id: string; impact: number }[],
    };
  }
  const kept = fromCache(cache, lists);
  const [read] = await batchOf(db, [kept.statement]);
  const got = kept.complete(read);
  const { top, rest } = scoreLists(lists, got, rank);
  // A bounded list's last posting read (its lowest impact) when the list went as far as its limit.
  const cuts = lists.flatMap((l, j) => {
    const p = got[j];
    if (l.limit === null || p.ids.length < l.limit) return [];
    let min = Infinity;
    for (let i = 0; i < p.impact.length; i++) if (p.impact[i] < min) min = p.impact[i];
    return [{ term_id: l.termId, impact: min }];
  });
  return { read: top, cuts, rest };
}

/** The postings of the query's terms in the datasets searched (what reading every list whole costs). */
function postingsOf(stats: QueryTerms): number {
  let n = 0;
  for (const r of stats.rows) n += r.df ?? 0;
  return n;
}

/** The query's lists: a term more common than `termLimit` in a dataset is bounded there, and its lexeme gets a bit. */
function termLists(stats: QueryTerms, terms: LexicalTerms, termLimit: number): TermList[] {
  const lists: TermList[] = stats.rows.flatMap((r) =>
    r.term_id === null
      ? []
      : [
          {
            termId: r.term_id,
            idf: terms.idfs.get(r.term) ?? 0,
            limit: termLimit > 0 && (r.df ?? 0) > termLimit ? termLimit : null,
            bit: 0n,
            term: r.term,
            df: r.df ?? 0,
            avgdlMin: r.avgdl_min,
            version: r.version ?? 0,
          },
        ],
  );
  const lexemes = [...new Set(lists.filter((l) => l.limit !== null).map((l) => l.term))].slice(0, SEEN_BITS);
  for (const l of lists) {
    const i = lexemes.indexOf(l.term);
    if (i >= 0) l.bit = 1n << BigInt(i);
  }
  return lists;
}

/**
 * Reads the bounded lists, scores the best candidates exactly, and checks the threshold (Fagin's
 * threshold algorithm over impact-ordered lists): a document no list showed scores at most the sum
 * over the bounded terms of the bound of their unread postings (impactWeightBound of the last
 * impact read, times idf), one shown but not rescored at most its partial score plus the bounds of
 * the terms that did not show it. When the `depth`-th exact score is above both, the ranking is
 * exact. Otherwise the lists are read deeper (their limits doubled, the largest bound first) while
 * the postings read over all rounds stay within `postingsBudget`.
 */
async function boundedSearch(
  db: Queryable,
  first: TermList[],
  terms: LexicalTerms,
  rank: { k1: number; b: number; avgdl: number; depth: number; filter?: string },
  o: LexicalOptions,
): Promise<{ ranked: Ranked[]; exact: boolean }> {
  let lists = first;
  let spent = 0;
  for (;;) {
    // The candidates and where each bounded list stops.
    const { read, cuts, rest } = await readRound(db, lists, rank, o.postings);
    spent += roundCost(lists);
    const ranked = await rescore(db, read, terms, rank.avgdl, o.bm25);
    const bounds = listBounds(lists, cuts, rank.avgdl, o.bm25);
    const exact = await provenExact(db, lists, bounds, read, ranked, rank, o.depth, rest);
    const next = exact ? undefined : deepen(lists, bounds, (o.postingsBudget ?? 0) - spent);
    if (!next) return { ranked: ranked.slice(0, o.depth), exact };
    lists = next;
  }
}

/**
 * Whether no document outside `ranked` (the candidates, scored exactly) can enter its best `depth`.
 * The partial scores of the documents read but not returned are read only when the cheaper checks
 * leave it open: an unseen document's bound already above the `depth`-th score settles it (the
 * common case on large data), and so does the last candidate's partial score plus every bound.
 */
async function provenExact(
  db: Queryable,
  lists: TermList[],
  bounds: Map<string, number>,
  read: PartialScore[],
  ranked: Ranked[],
  rank: { k1: number; b: number; avgdl: number; depth: number; filter?: string },
  depth: number,
  rest: Round["rest"],
): Promise<boolean> {
  const byLexeme = lexemeBounds(lists, bounds);
  const unseen = boundOutside(byLexeme, 0n);
  const full = ranked.length >= depth;
  const kth = full ? ranked[depth - 1].score : 0;
  const above = (bound: number) => (full ? kth > bound * (1 + 1e-9) : bound === 0);
  if (!above(unseen)) return false;
  // Fewer than asked were returned: every document read is a candidate.
  if (read.length < rank.depth) return true;
  if (above(read[read.length - 1].score + unseen)) return true;
  const exclude = read.map((r) => r.id);
  const groups = rest ? rest(exclude) : await restOfRead(db, lists, exclude, rank);
  return groups.every((g) => above(g.score + boundOutside(byLexeme, g.seen)));
}

/** Postings a round over `lists` reads at most. */
function roundCost(lists: TermList[]): number {
  return lists.reduce((t, l) => t + (l.limit ?? l.df), 0);
}

/** Each bounded list's bound on the score its unread postings add to a document (absent: read whole). */
function listBounds(
  lists: TermList[],
  cuts: { term_id: string; impact: number }[],
  avgdl: number,
  p: Bm25Params,
): Map<string, number> {
  const at = new Map(cuts.map((c) => [c.term_id, c.impact]));
  const bounds = new Map<string, number>();
  for (const l of lists) {
    const impact = at.get(l.termId);
    if (l.limit === null || impact === undefined) continue;
    bounds.set(l.termId, l.idf * impactWeightBound(impact, l.avgdlMin, avgdl, p));
  }
  return bounds;
}

/** Each lexeme's bit and bound: a document is in one dataset, so in one list per lexeme, and gets its largest list bound. */
function lexemeBounds(lists: TermList[], bounds: Map<string, number>): { bit: bigint; bound: number }[] {
  const byLexeme = new Map<string, { bit: bigint; bound: number }>();
  for (const l of lists) {
    const b = bounds.get(l.termId) ?? 0;
    const e = byLexeme.get(l.term);
    if (!e || b > e.bound) byLexeme.set(l.term, { bit: l.bit, bound: b });
  }
  return [...byLexeme.values()];
}

/** What the lexemes whose bits are not in `seen` can add to a document's score at most. */
function boundOutside(byLexeme: { bit: bigint; bound: number }[], seen: bigint): number {
  let t = 0;
  for (const e of byLexeme) if ((e.bit & seen) === 0n) t += e.bound;
  return t;
}

/** The lists of the next round, or undefined when none can be read deeper within `remaining` postings. */
function deepen(lists: TermList[], bounds: Map<string, number>, remaining: number): TermList[] | undefined {
  let cost = roundCost(lists);
  if (cost > remaining) return undefined;
  const next = lists.map((l) => ({ ...l }));
  let deeper = false;
  for (const l of [...next].sort((a, b) => (bounds.get(b.termId) ?? 0) - (bounds.get(a.termId) ?? 0))) {
    if (l.limit === null || !(bounds.get(l.termId) ?? 0)) continue;
    const limit = 2 * l.limit >= l.df ? null : 2 * l.limit;
    const extra = (limit ?? l.df) - l.limit;
    if (cost + extra > remaining) continue;
    cost += extra;
    l.limit = limit;
    deeper = true;
  }
  return deeper ? next : undefined;
}

/** The query's syntax, its terms' statistics in the datasets searched, and their idf. */
async function lexicalTerms(
  db: Queryable,
  q: string,
  datasetId: string | undefined,
): Promise<{ parsed: ParsedQuery; stats: QueryTerms; terms: LexicalTerms }> {
  let parsed = parseQuery(q);
  let stats = await queryTerms(db, parsed.text, datasetId, parsed.filter);
  let df = dfByTerm(stats);
  if ([...df.values()].some((n) => n <= RESPELL_DF)) {
    const text = await respelled(db, parsed.text, datasetId);
    if (text !== parsed.text) {
      parsed = { ...parsed, text };
      stats = await queryTerms(db, text, datasetId, parsed.filter);
      df = dfByTerm(stats);
    }
  }
  const terms: LexicalTerms = {
    idfs: new Map([...df].map(([t, n]) => [t, idf(stats.docs, n)])),
    byId: new Map(stats.rows.flatMap((r) => (r.term_id === null ? [] : [[r.term_id, r.term] as const]))),
    versions: new Map(stats.rows.flatMap((r) => (r.term_id === null ? [] : [[r.term_id, r.version ?? 0] as const]))),
    postings: postingsOf(stats),
  };
  return { parsed, stats, terms };
}

/** A query term held by at most this many examples may be a word the datasets spell the other way. */
const RESPELL_DF = 2;

function dfByTerm(stats: QueryTerms): Map<string, number> {
  const df = new Map<string, number>();
  for (const r of stats.rows) df.set(r.term, (df.get(r.term) ?? 0) + (r.df ?? 0));
  return df;
}

/**
 * `text` with each word in the spelling the searched datasets use more ("color" → "colour" over a
 * British corpus, "tumour" → "tumor" over an American one): one statement, asked (by lexicalTerms)
 * only when a query term is held by at most RESPELL_DF examples; then every word with a British or
 * American variant is checked, and a word is kept as typed unless its variant is held by more examples. Quoted phrases and excluded words (the filter) are left as typed.
 */
async function respelled(db: Queryable, text: string, datasetId: string | undefined): Promise<string> {
  const words: string[] = [];
  const variants: string[] = [];
  for (const w of new Set(text.toLowerCase().match(/\p{L}+/gu) ?? []))
    for (const v of spellingVariants(w)) {
      words.push(w);
      variants.push(v);
    }
  if (!words.length) return text;
  // Each pair as two tokens: the word's count at 2i, its variant's at 2i + 1.
  const counts = await spellingCounts(
    db,
    words.flatMap((w, i) => [w, variants[i]]),
    datasetId,
  );
  const swap = new Map<string, { to: string; n: number }>();
  words.forEach((w, i) => {
    const best = swap.get(w)?.n ?? counts[2 * i];
    if (counts[2 * i + 1] > best) swap.set(w, { to: variants[i], n: counts[2 * i + 1] });
  });
  if (!swap.size) return text;
  return text.replace(/\p{L}+/gu, (w) => swap.get(w.toLowerCase())?.to ?? w);
}

function totalIdf(terms: LexicalTerms): number {
  let t = 0;
  for (const v of terms.idfs.values()) t += v;
  return t;
}

function withMatch(scored: PartialScore[], terms: LexicalTerms): Ranked[] {
  const total = totalIdf(terms);
  return scored.map((s) => ({ id: s.id, score: s.score, match: total ? Math.min(1, s.matched / total) : 0 }));
}

/**
 * The statements given, those that are there, in one batch (embedded: one message to the worker);
 * an absent one answers no rows.
 */
async function batchOf(db: Queryable, statements: (Statement | undefined)[]): Promise<QueryResult[]> {
  const present = statements.filter((s): s is Statement => s !== undefined);
  const results = present.length ? await db.batch(present) : [];
  let i = 0;
  return statements.map((s) => (s ? results[i++] : { rows: [], rowCount: 0 }));
}

/** Scores candidates exactly from their postings of every query term (primary key lookups). */
async function rescore(
  db: Queryable,
  candidates: PartialScore[],
  terms: LexicalTerms,
  avgdl: number,
  p: Bm25Params,
): Promise<Ranked[]> {
  const rows = await lookupPostings(
    db,
    candidates.map((c) => c.id),
    [...terms.byId.keys()],
  );
  return rescored(candidates, rows, terms, avgdl, p);
}

/** Candidates scored exactly from `rows`, their postings of every query term. */
function rescored(
  candidates: PartialScore[],
  rows: PostingRow[],
  terms: LexicalTerms,
  avgdl: number,
  p: Bm25Params,
): Ranked[] {
  const by = new Map<string, { score: number; present: string[] }>(
    candidates.map((c) => [c.id, { score: 0, present: [] }]),
  );
  for (const r of rows) {
    const term = terms.byId.get(r.term_id);
    const e = by.get(r.example_id);
    if (term === undefined || !e) continue;
    e.score += (terms.idfs.get(term) ?? 0) * termWeight(r.tf, r.doc_len, avgdl, p);
    e.present.push(term);
  }
  return [...by]
    .map(([id, e]) => ({ id, score: e.score, match: matchFraction(e.present, terms.idfs) }))
    .sort((a, b) => b.score - a.score || Number(a.id) - Number(b.id));
}

/** The match fraction of examples whose lexical score was not computed (vector hits), from their postings `rows`. */
function matchOf(ids: string[], rows: PostingRow[], terms: LexicalTerms): Map<string, number> {
  const present = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const r of rows) {
    const term = terms.byId.get(r.term_id);
    if (term !== undefined) present.get(r.example_id)?.push(term);
  }
  return new Map([...present].map(([id, ts]) => [id, matchFraction(ts, terms.idfs)]));
}

export interface Fused extends Ranked {
  lexical: number | null;
  vector: number | null;
}

/** A document to fuse, with both of its scores computed exactly and its rank in each list (or null). */
export interface FusionCandidate {
  id: string;
  bm25: number;
  cosine: number;
  lexical: number | null;
  vector: number | null;
  match?: number;
}

/**
 * The fused score of each candidate, a convex combination: w · bm25 / bm25_max + (1 − w) · cosine
 * (Bruch et al. 2023, "An Analysis of Fusion Functions for Hybrid Retrieval"). BM25 is divided by
 * the candidates' best so it spans [0, 1] like a cosine. Both scores are exact for every
 * candidate (a document from one list is scored by the other too), so no one gets a guessed bound.
 */
export function fuseScores<C extends FusionCandidate>(
  candidates: C[],
  lexicalWeight: number,
): (C & { score: number })[] {
  let top = 0;
  for (const c of candidates) top = Math.max(top, c.bm25);
  return candidates.map((c) => ({
    ...c,
    score: (lexicalWeight * c.bm25) / (top || 1) + (1 - lexicalWeight) * c.cosine,
  }));
}

/** The best `k` candidates by fused score (ties by id), as hits to be. */
export function fuse(candidates: FusionCandidate[], k: number, lexicalWeight: number): Fused[] {
  return fuseScores(candidates, lexicalWeight)
    .sort((a, b) => b.score - a.score || Number(a.id) - Number(b.id))
    .slice(0, k)
    .map((c) => ({ id: c.id, score: c.score, match: c.match, lexical: c.lexical, vector: c.vector }));
}

/**
 * The union of both lists with both scores of every member: the cosine of each lexical-only
 * candidate and the exact BM25 (with its match fraction) of each vector-only one, by primary key.
 */
async function fusionCandidates(
  db: Queryable,
  lex: LexicalResult,
  near: Ranked[],
  queryVector: Float32Array,
  p: Bm25Params,
  source: PostingsSource,
): Promise<FusionCandidate[]> {
  const all = new Map<string, FusionCandidate>();
  lex.ranked.forEach((r, i) =>
    all.set(r.id, { id: r.id, bm25: r.score, cosine: 0, lexical: i + 1, vector: null, match: r.match }),
  );
  const lexicalOnly = new Set(all.keys());
  const vectorOnly: string[] = [];
  near.forEach((r, i) => {
    const c = all.get(r.id);
    if (c) {
      c.vector = i + 1;
      c.cosine = r.score;
      lexicalOnly.delete(r.id);
    } else {
      all.set(r.id, { id: r.id, bm25: 0, cosine: r.score, lexical: null, vector: i + 1 });
      vectorOnly.push(r.id);
    }
  });
  // Both lookups in one batch (embedded: one message to the worker).
  const vectorPostings = examplePostings(vectorOnly, lex.terms, source);
  const [cosRows, postings] = await batchOf(db, [
    cosineOfStatement([...lexicalOnly], queryVector),
    vectorPostings.statement,
  ]);
  const cos = new Map((cosRows.rows as { id: string; score: number }[]).map((x) => [x.id, x.score]));
  const exactScores = rescored(
    vectorOnly.map((id) => ({ id, score: 0, matched: 0 })),
    vectorPostings.rows(postings),
    lex.terms,
    lex.avgdl,
    p,
  );
  const bm = new Map(exactScores.map((r) => [r.id, r]));
  return [...all.values()].map((c) => {
    const exact = bm.get(c.id);
    return { ...c, cosine: cos.get(c.id) ?? c.cosine, ...(exact && { bm25: exact.score, match: exact.match }) };
  });
}

/**
 * Runs a search in the mode asked. Vector needs pgvector (501 without it) and the query's embedding
 * (503 when the provider fails); hybrid falls back to lexical for either, with `degraded`.
 */
export async function runSearch(
  db: Db,
  embed: (text: string) => Promise<Float32Array>,
  req: SearchRequest,
  s: SearchSettings,
): Promise<SearchResult> {
  const vectorOn = db.capabilities.vector;
  const source: PostingsSource = { cache: s.postings, exactPostings: s.exactPostings };
  if (req.mode === "vector" && !vectorOn)
    throw new NotImplementedError("vector search needs pgvector, which this database does not have", {
      mode: req.mode,
    });
  // The compute pool embeds the query while the lexical query runs.
  const queryVector = req.mode !== "lexical" && vectorOn ? embedQuery(embed, req.q) : undefined;
  if (req.mode === "vector" && queryVector) {
    // The terms' statistics (for the match fractions) are read while the pool embeds the query.
    const termsRead = lexicalTerms(db, req.q, req.datasetId);
    termsRead.catch(() => undefined); // awaited below; a failed embedding answers its 503 first
    const qv = await queryVector;
    if (qv instanceof UnavailableError) throw qv;
    const near = await nearestExamples(db, qv, { datasetId: req.datasetId, k: req.k, efSearch: s.efSearch });
    const { terms } = await termsRead;
    return { hits: await toHits(db, ranks(near, "vector"), terms, source) };
  }
  const depth = queryVector ? Math.max(req.k, s.fusion.depth) : req.k;
  const lex = await lexicalSearch(db, req.q, {
    datasetId: req.datasetId,
    depth,
    bm25: s.bm25,
    termLimit: s.termLimit,
    postingsBudget: s.postingsBudget,
    exactPostings: s.exactPostings,
    postings: s.postings,
  });
  const lexical = () => toHits(db, ranks(lex.ranked.slice(0, req.k), "lexical"), lex.terms, source);
  const lexical_exact = lex.exact;
  if (req.mode === "lexical") return { hits: await lexical(), lexical_exact };
  if (!queryVector) return { hits: await lexical(), degraded: "no pgvector", lexical_exact };
  const qv = await queryVector;
  if (qv instanceof UnavailableError)
    return { hits: await lexical(), degraded: "embeddings unavailable", lexical_exact };
  // Every lexical candidate gets its exact cosine, so the vector list adds only its own best
  // (SEARCH_HYBRID_DEPTH; deeper added nothing on SciFact train), or what fills k.
  const vectorDepth = Math.max(s.fusion.depth, req.k - lex.ranked.length);
  const near = await nearestExamples(db, qv, { datasetId: req.datasetId, k: vectorDepth, efSearch: s.efSearch });
  const candidates = await fusionCandidates(db, lex, near, qv, s.bm25, source);
  return {
    hits: await toHits(db, fuse(candidates, req.k, s.fusion.lexicalWeight), lex.terms, source),
    lexical_exact,
  };
}

/** The query's embedding, or the 503 to answer when the provider fails (never a stray rejection). */
function embedQuery(
  embed: (text: string) => Promise<Float32Array>,
  q: string,
): Promise<Float32Array | UnavailableError> {
  return embed(q).catch(
    (err: unknown) =>
      new UnavailableError(`embeddings unavailable: ${err instanceof Error ? err.message : String(err)}`),
  );
}

/** One list's ranks (from 1), as fused hits with the other list's rank absent. */
function ranks(list: Ranked[], which: "lexical" | "vector"): Fused[] {
  return list.map((r, i) => ({
    ...r,
    lexical: which === "lexical" ? i + 1 : null,
    vector: which === "vector" ? i + 1 : null,
  }));
}

/** Turns ranked ids into hits with their rows, computing the match fraction where it is not known. */
async function toHits(
  db: Queryable,
  ranked: Fused[],
  terms: LexicalTerms,
  source: PostingsSource | undefined,
): Promise<SearchHit[]> {
  const unknown = ranked.filter((r) => r.match === undefined).map((r) => r.id);
  const unknownPostings = examplePostings(unknown, terms, source);
  // The rows and the postings for the unknown match fractions in one batch (embedded: one message).
  const [hitRows, postings] = await batchOf(db, [hitRowsStatement(ranked.map((r) => r.id)), unknownPostings.statement]);
  const rows = new Map((hitRows.rows as unknown as HitRow[]).map((row) => [row.id, row]));
  const matches = matchOf(unknown, unknownPostings.rows(postings), terms);
  return ranked.flatMap((r) => {
    const row = rows.get(r.id);
    if (!row) return [];
    return [
      {
        id: r.id,
        domain: row.domain,
        content: row.content,
        response: row.response,
        score: r.score,
        match: r.match ?? matches.get(r.id) ?? 0,
        ranks: { lexical: r.lexical, vector: r.vector },
      },
    ];
  });
}
