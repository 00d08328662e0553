/**
 * Search over examples, the whole mode and fallback logic: lexical (Okapi BM25 over the postings of
 * migration 0006, OR semantics, websearch syntax as a filter), vector (pgvector cosine) and hybrid
 * (the two lists fused). Without pgvector, hybrid answers lexical and says so in `degraded`.
 */
import type { Db, Queryable } from "../lib/db";
import { NotImplementedError, UnavailableError } from "../lib/errors";
import { idf, matchFraction, parseQuery, termWeight, type Bm25Params, type ParsedQuery } from "./bm25";
import {
  getExamplesByIds,
  lookupPostings,
  nearestExamples,
  queryTerms,
  rankFiltered,
  rankPostings,
  type PartialScore,
  type PostingList,
  type QueryTerms,
} from "./store";

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
}

export interface LexicalResult {
  ranked: Ranked[];
  terms: LexicalTerms;
}

/** With bounded lists, this many candidates (at least) are scored exactly before the best `depth` are kept. */
const RESCORE_MIN = 100;

/**
 * The best `depth` examples by BM25. Every term whose df (in a dataset) is at most `termLimit` is
 * read whole, so the ranking is exact unless some term is more common than that; then its best
 * `termLimit` postings by impact are read, and the best candidates are scored exactly.
 */
export async function lexicalSearch(
  db: Queryable,
  q: string,
  o: { datasetId?: string; depth: number; bm25: Bm25Params; termLimit: number },
): Promise<LexicalResult> {
  const { parsed, stats, terms } = await lexicalTerms(db, q, o.datasetId);
  if (stats.docs === 0 || terms.byId.size === 0) return { ranked: [], terms };
  const lists: PostingList[] = stats.rows
    .filter((r) => r.term_id !== null)
    .map((r) => ({
      termId: r.term_id!,
      idf: terms.idfs.get(r.term)!,
      limit: o.termLimit > 0 && r.df! > o.termLimit ? o.termLimit : null,
    }));
  const bounded = lists.some((l) => l.limit !== null);
  const avgdl = stats.totalLen / stats.docs || 1;
  const rank = { k1: o.bm25.k1, b: o.bm25.b, avgdl, depth: bounded ? Math.max(2 * o.depth, RESCORE_MIN) : o.depth };
  const filter = stats.filterEmpty ? undefined : stats.filterQuery;
  if (filter && parsed.requires && !stats.filterExcludesOnly)
    // Every match of the filter is scored exactly: no bound applies, so nothing to rescore.
    return { ranked: withMatch(await rankFiltered(db, lists, filter, o.datasetId, rank), terms), terms };
  const scored = await rankPostings(db, lists, { ...rank, filter });
  if (!bounded) return { ranked: withMatch(scored, terms), terms };
  return { ranked: (await rescore(db, scored, terms, avgdl, o.bm25)).slice(0, o.depth), terms };
}

/** The query's syntax, its terms' statistics in the datasets searched, and their idf. */
async function lexicalTerms(
  db: Queryable,
  q: string,
  datasetId: string | undefined,
): Promise<{ parsed: ParsedQuery; stats: QueryTerms; terms: LexicalTerms }> {
  const parsed = parseQuery(q);
  const stats = await queryTerms(db, parsed.text, datasetId, parsed.filter);
  const df = new Map<string, number>();
  for (const r of stats.rows) df.set(r.term, (df.get(r.term) ?? 0) + (r.df ?? 0));
  const terms: LexicalTerms = {
    idfs: new Map([...df].map(([t, n]) => [t, idf(stats.docs, n)])),
    byId: new Map(stats.rows.filter((r) => r.term_id !== null).map((r) => [r.term_id!, r.term])),
  };
  return { parsed, stats, terms };
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
  const by = new Map<string, { score: number; present: string[] }>(
    candidates.map((c) => [c.id, { score: 0, present: [] }]),
  );
  for (const r of rows) {
    const term = terms.byId.get(r.term_id)!;
    const e = by.get(r.example_id)!;
    e.score += terms.idfs.get(term)! * termWeight(r.tf, r.doc_len, avgdl, p);
    e.present.push(term);
  }
  return [...by]
    .map(([id, e]) => ({ id, score: e.score, match: matchFraction(e.present, terms.idfs) }))
    .sort((a, b) => b.score - a.score || Number(a.id) - Number(b.id));
}

/** The match fraction of examples whose lexical score was not computed (vector hits). */
async function matchOf(db: Queryable, ids: string[], terms: LexicalTerms): Promise<Map<string, number>> {
  const rows = await lookupPostings(db, ids, [...terms.byId.keys()]);
  const present = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const r of rows) present.get(r.example_id)!.push(terms.byId.get(r.term_id)!);
  return new Map([...present].map(([id, ts]) => [id, matchFraction(ts, terms.idfs)]));
}

export interface Fused extends Ranked {
  lexical: number | null;
  vector: number | null;
}

/**
 * Fuses a lexical and a vector list (each best first) by a convex combination of their scores:
 * score = w · bm25 / bm25_max + (1 − w) · cosine (Bruch et al. 2023, "An Analysis of Fusion
 * Functions for Hybrid Retrieval": it beats reciprocal rank fusion, which here always fell below
 * BM25 alone). BM25 is divided by the list's best so it spans (0, 1] like a cosine. A document
 * missing from a list gets that list's lowest score bound: 0 for BM25, and the list's lowest
 * cosine (which no document outside it exceeds).
 */
export function fuse(lexical: Ranked[], vector: Ranked[], k: number, lexicalWeight: number): Fused[] {
  const top = lexical.length && lexical[0].score > 0 ? lexical[0].score : 1;
  const floor = vector.length ? vector[vector.length - 1].score : 0;
  const all = new Map<string, Fused & { cosine: number }>();
  lexical.forEach((r, i) =>
    all.set(r.id, { id: r.id, score: r.score, match: r.match, lexical: i + 1, vector: null, cosine: floor }),
  );
  vector.forEach((r, i) => {
    const e = all.get(r.id) ?? { id: r.id, score: 0, lexical: null, vector: null, cosine: floor };
    e.vector = i + 1;
    e.cosine = r.score;
    all.set(r.id, e);
  });
  return [...all.values()]
    .map(({ cosine, ...e }) => ({ ...e, score: (lexicalWeight * e.score) / top + (1 - lexicalWeight) * cosine }))
    .sort((a, b) => b.score - a.score || Number(a.id) - Number(b.id))
    .slice(0, k);
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
  if (req.mode === "vector" && !vectorOn)
    throw new NotImplementedError("vector search needs pgvector, which this database does not have", {
      mode: req.mode,
    });
  // The compute pool embeds the query while the lexical query runs.
  const queryVector = req.mode !== "lexical" && vectorOn ? embedQuery(embed, req.q) : undefined;
  if (req.mode === "vector") {
    const qv = await queryVector!;
    if (qv instanceof UnavailableError) throw qv;
    const near = await nearestExamples(db, qv, { datasetId: req.datasetId, k: req.k, efSearch: s.efSearch });
    const { terms } = await lexicalTerms(db, req.q, req.datasetId);
    return { hits: await toHits(db, ranks(near, "vector"), terms) };
  }
  const depth = queryVector ? Math.max(req.k, s.fusion.depth) : req.k;
  const lex = await lexicalSearch(db, req.q, { datasetId: req.datasetId, depth, bm25: s.bm25, termLimit: s.termLimit });
  const lexical = () => toHits(db, ranks(lex.ranked.slice(0, req.k), "lexical"), lex.terms);
  if (req.mode === "lexical") return { hits: await lexical() };
  if (!queryVector) return { hits: await lexical(), degraded: "no pgvector" };
  const qv = await queryVector;
  if (qv instanceof UnavailableError) return { hits: await lexical(), degraded: "embeddings unavailable" };
  const near = await nearestExamples(db, qv, { datasetId: req.datasetId, k: depth, efSearch: s.efSearch });
  return { hits: await toHits(db, fuse(lex.ranked, near, req.k, s.fusion.lexicalWeight), lex.terms) };
}

/** The query's embedding, or the 503 to answer when the provider fails (never a stray rejection). */
function embedQuery(
  embed: (text: string) => Promise<Float32Array>,
  q: string,
): Promise<Float32Array | UnavailableError> {
  return embed(q).catch((err: Error) => new UnavailableError(`embeddings unavailable: ${err.message}`));
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
async function toHits(db: Queryable, ranked: Fused[], terms: LexicalTerms): Promise<SearchHit[]> {
  const unknown = ranked.filter((r) => r.match === undefined).map((r) => r.id);
  const [rows, matches] = await Promise.all([
    getExamplesByIds(
      db,
      ranked.map((r) => r.id),
    ),
    matchOf(db, unknown, terms),
  ]);
  return ranked
    .filter((r) => rows.has(r.id))
    .map((r) => {
      const row = rows.get(r.id)!;
      return {
        id: r.id,
        domain: row.domain,
        content: row.content,
        response: row.response,
        score: r.score,
        match: r.match ?? matches.get(r.id) ?? 0,
        ranks: { lexical: r.lexical, vector: r.vector },
      };
    });
}
