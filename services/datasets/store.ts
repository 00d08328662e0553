/** The SQL of the datasets service. Every statement is parameterized; pages are keyset. */
import type { Db, Queryable, Row, Statement } from "../lib/db";
import { vectorLiteral } from "./embeddings";
import type { ExampleInput } from "./records";
import { contentHash } from "./records";

export interface DatasetRow {
  domain: string;
  version: number;
  example_count: number;
  archived_count: number;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export interface ExampleRow {
  id: string;
  domain: string;
  content: string;
  response: string | null;
  metadata: Record<string, unknown>;
  created_at: string;
}

const DATASET_COLUMNS = `domain_name AS domain, version::float8 AS version, example_count::float8 AS example_count,
  archived_count::float8 AS archived_count, metadata, created_at, updated_at`;
const EXAMPLE_COLUMNS = "e.id::text AS id, d.domain_name AS domain, e.content, e.response, e.metadata, e.created_at";

export async function listDatasets(db: Queryable): Promise<DatasetRow[]> {
  return (
    await db.query<DatasetRow & Record<string, unknown>>(`SELECT ${DATASET_COLUMNS} FROM datasets ORDER BY domain_name`)
  ).rows;
}

export async function getDataset(db: Queryable, domain: string): Promise<(DatasetRow & { id: string }) | undefined> {
  const r = await db.query<DatasetRow & { id: string } & Record<string, unknown>>(
    `SELECT id::text AS id, ${DATASET_COLUMNS} FROM datasets WHERE domain_name = $1`,
    [domain],
  );
  return r.rows[0];
}

/**
 * The dataset's id, creating it on first use, locked until the transaction ends: writers of one
 * dataset take turns from their first row. Two imports that each inserted a batch before waiting
 * for the other's (the BM25 trigger serializes per dataset) would deadlock on duplicate rows.
 */
export async function ensureDataset(tx: Queryable, domain: string): Promise<string> {
  await tx.query("INSERT INTO datasets (domain_name) VALUES ($1) ON CONFLICT (domain_name) DO NOTHING", [domain]);
  const r = await tx.query<{ id: string }>(
    "SELECT id::text AS id FROM datasets WHERE domain_name = $1 FOR NO KEY UPDATE",
    [domain],
  );
  return r.rows[0].id;
}

/** Gives the dataset a new version (larger than every one before) and moves its counts. */
export async function bumpVersion(
  tx: Queryable,
  datasetId: string,
  liveDelta: number,
  archivedDelta = 0,
): Promise<number> {
  const r = await tx.query<{ version: number }>(
    `UPDATE datasets SET version = nextval('dataset_version_seq'), example_count = example_count + $2,
       archived_count = archived_count + $3, updated_at = now()
     WHERE id = $1 RETURNING version::float8 AS version`,
    [datasetId, liveDelta, archivedDelta],
  );
  return r.rows[0].version;
}

/**
 * Takes the rotation's lock until the transaction ends (one node rotates at a time); false when
 * another transaction holds it.
 */
export async function tryRotationLock(tx: Queryable): Promise<boolean> {
  const r = await tx.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext('mcai.rotate')) AS ok");
  return r.rows[0].ok;
}

/** The datasets with more than `max` live examples, by domain, locked until the transaction ends. */
export async function datasetsOver(
  tx: Queryable,
  max: number,
): Promise<{ id: string; domain: string; excess: number }[]> {
  const r = await tx.query<{ id: string; domain: string; excess: number }>(
    `SELECT id::text AS id, domain_name AS domain, (example_count - $1)::float8 AS excess FROM datasets WHERE example_count > $1 ORDER BY domain_name FOR UPDATE`,
    [max],
  );
  return r.rows;
}

/** Moves the dataset's `n` oldest examples to examples_archive (with their vectors where pgvector is); returns how many. */
export async function archiveOldest(tx: Queryable, datasetId: string, n: number, vector: boolean): Promise<number> {
  const embedding = vector ? ", embedding" : "";
  const r = await tx.query(
    `WITH moved AS (
       DELETE FROM examples WHERE id IN (SELECT id FROM examples WHERE dataset_id = $1 ORDER BY id LIMIT $2)
       RETURNING id, dataset_id, content, response, metadata, content_hash, created_at${embedding}
     )
     INSERT INTO examples_archive (id, dataset_id, content, response, metadata, content_hash, created_at${embedding})
     SELECT id, dataset_id, content, response, metadata, content_hash, created_at${embedding} FROM moved`,
    [datasetId, n],
  );
  return r.rowCount;
}

/** The global version: the largest dataset version (0 with no datasets). */
export async function globalVersion(db: Queryable): Promise<number> {
  const r = await db.query<{ v: number }>("SELECT coalesce(max(version), 0)::float8 AS v FROM datasets");
  return r.rows[0].v;
}

/** Which of `hashes` the dataset already has. */
export async function existingHashes(tx: Queryable, datasetId: string, hashes: string[]): Promise<Set<string>> {
  const r = await tx.query<{ h: string }>(
    "SELECT content_hash AS h FROM examples WHERE dataset_id = $1 AND content_hash = ANY($2::text[])",
    [datasetId, hashes],
  );
  return new Set(r.rows.map((x) => x.h));
}

/** Inserts examples, skipping those whose content hash the dataset has; returns how many were added. */
export async function insertExamples(
  tx: Queryable,
  datasetId: string,
  rows: ExampleInput[],
  /** One per row: numbers, or pgvector's text form already (what an import's compute pool builds). */
  vectors?: (ArrayLike<number> | string)[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const params: unknown[] = [
    datasetId,
    rows.map((r) => r.content),
    rows.map((r) => r.response),
    rows.map((r) => JSON.stringify(r.metadata)),
    rows.map((r) => contentHash(r.content)),
  ];
  let sql = `INSERT INTO examples (dataset_id, content, response, metadata, content_hash)
    SELECT $1, c, r, m::jsonb, h FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(c, r, m, h)
    ON CONFLICT (dataset_id, content_hash) DO NOTHING`;
  if (vectors) {
    params.push(vectors.map((v) => (typeof v === "string" ? v : vectorLiteral(v))));
    sql = `INSERT INTO examples (dataset_id, content, response, metadata, content_hash, embedding)
      SELECT $1, c, r, m::jsonb, h, e::vector FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS t(c, r, m, h, e)
      ON CONFLICT (dataset_id, content_hash) DO NOTHING`;
  }
  return (await tx.query(sql, params)).rowCount;
}

/**
 * Defers the BM25 postings and term statistics of the rows this transaction inserts (migration
 * 0009): each INSERT notes its rows, and flushBm25 writes them all in one statement. Only for a
 * transaction that inserts several batches (a whole import); statistics are read exact only after
 * the flush (a DELETE or UPDATE of examples, and the commit, flush by themselves).
 */
export async function deferBm25(tx: Queryable): Promise<void> {
  await tx.query("SELECT set_config('mcai.bm25_defer', 'on', true)");
}

/** Writes the postings and statistics of the rows deferred so far in this transaction (see deferBm25). */
export async function flushBm25(tx: Queryable): Promise<void> {
  await tx.query("SELECT bm25_flush()");
}

/**
 * Page sizes up to this one get a prepared statement of their own (see pageExamples); larger ones
 * share one with the LIMIT as a parameter. Bounds the statements each connection keeps.
 */
const PAGE_LIMITS_PREPARED = 100;

/**
 * The example's timestamp as `Date.prototype.toJSON` writes the Date a driver parses it into:
 * UTC, milliseconds (microseconds truncated, as the Date does), a "Z".
 */
const CREATED_AT_JSON = `to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * One keyset page of a domain: its dataset's version, the rows after `afterId` in id order, and
 * whether more follow; undefined when there is no such domain. One statement, so the version and
 * the rows come from one snapshot, and a page costs one round trip (a separate lookup of the
 * dataset cost the gateway a third of its page throughput on Postgres).
 * The row comparison (dataset_id, id) > (d.id, $2) with dataset_id <= d.id is the whole page for
 * the composite index, and it keeps the planner off the primary key: with "dataset_id = $1 ORDER BY
 * id" it walks the primary key and filters, reading every other domain's rows on the way (ids of
 * one domain are contiguous after an import), 30-100 ms at 1M rows instead of 0.1 ms.
 */
export async function pageExamples(
  db: Queryable,
  domain: string,
  afterId: string,
  limit: number,
): Promise<{ datasetId: string; version: number; rows: ExampleRow[]; more: boolean } | undefined> {
  // The LIMIT is written into the statement (one prepared statement per page size, up to
  // PAGE_LIMITS_PREPARED), not passed as a parameter: with `LIMIT $3` the generic plan guesses a
  // tenth of the domain's rows and costs more than a plan for the given size, so Postgres planned
  // every page again (0.1-0.3 ms, more than the page's own execution). With the size known the
  // generic plan is the one planned each time (the (dataset_id, id) index, see migration 0010),
  // and after five runs it is used without planning.
  const n = limit + 1;
  const literal = Number.isSafeInteger(n) && n >= 2 && n <= PAGE_LIMITS_PREPARED + 1;
  // Rows as arrays, `created_at` as the text Date.toJSON would write: each row costs the driver
  // no object of its own and no Date (which the page's JSON.stringify then wrote back as text).
  const r = await db.query<PageRow & Row>(
    `SELECT d.id::text AS dataset_id, d.version::float8 AS version, e.id::text AS id, e.content, e.response, e.metadata,
       ${CREATED_AT_JSON} AS created_at
     FROM datasets d
     LEFT JOIN LATERAL (
       SELECT e.id, e.content, e.response, e.metadata, e.created_at FROM examples e
       WHERE (e.dataset_id, e.id) > (d.id, $2::bigint) AND e.dataset_id <= d.id
       ORDER BY e.dataset_id, e.id LIMIT ${literal ? n : "$3"}
     ) e ON true
     WHERE d.domain_name = $1`,
    literal ? [domain, afterId] : [domain, afterId, n],
    // Every page runs it: prepared once per connection and page size.
    { prepare: literal ? `datasets.page-rows.${n}` : "datasets.page-rows", rowMode: "array" },
  );
  if (r.rows.length === 0) return undefined;
  const rows: ExampleRow[] = [];
  for (const x of r.rows) {
    if (x[2] === null) continue; // a domain without rows after the cursor: the LEFT JOIN's one empty row
    rows.push({
      id: x[2],
      domain,
      content: x[3] as string,
      response: x[4],
      metadata: x[5] as Record<string, unknown>,
      created_at: x[6] as string,
    });
  }
  const first = r.rows[0];
  return { datasetId: first[0], version: first[1], rows: rows.slice(0, limit), more: rows.length > limit };
}

/** A row of the page statement (pageExamples), its columns in order; the example's are null on an empty page. */
type PageRow = [
  datasetId: string,
  version: number,
  id: string | null,
  content: string | null,
  response: string | null,
  metadata: unknown,
  createdAt: string | null,
];

/** A page whose examples Postgres wrote as JSON text (pageExamplesJson). */
export interface PageJson {
  datasetId: string;
  version: number;
  /** The page's examples as a JSON array's text, each as pageExamples' ExampleRow. */
  examplesJson: string;
  /** The id of the page's last example; null on an empty page. */
  lastId: string | null;
  more: boolean;
}

/**
 * pageExamples with the examples written as JSON text by the database: the same rows, fields and
 * values as JSON.stringify of pageExamples' rows (`metadata` may differ in whitespace only: jsonb's
 * text). Embedded, this is what a page read costs least: PGlite's JavaScript parsing a row's
 * fields into objects, their copy from its worker thread and the page's JSON.stringify on the main
 * thread cost more than Postgres writing the text in its WebAssembly (see docs/operations.md,
 * Throughput). On a Postgres server it is the other way round (Postgres's CPU is the scarcer).
 */
export async function pageExamplesJson(
  db: Queryable,
  domain: string,
  afterId: string,
  limit: number,
): Promise<PageJson | undefined> {
  // One row per page: the rows after afterId (limit + 1 of them: the last says whether more
  // follow), and the first `limit` of them written out, in the order the index gives them (the
  // aggregates' ORDER BY is the subquery's: no sort). LIMIT literal as in pageExamples.
  const n = limit + 1;
  const literal = Number.isSafeInteger(n) && n >= 2 && n <= PAGE_LIMITS_PREPARED + 1;
  const r = await db.query<
    { dataset_id: string; version: number; fetched: number; last_id: string | null; examples: string } & Record<
      string,
      unknown
    >
  >(
    `SELECT d.id::text AS dataset_id, d.version::float8 AS version, p.fetched, p.last_id, p.examples
     FROM datasets d
     CROSS JOIN LATERAL (
       SELECT count(*)::int AS fetched,
         (array_agg(l.id ORDER BY l.dataset_id, l.id))[least(count(*), ${literal ? limit : "$3::int - 1"})]::text AS last_id,
         coalesce(array_to_string((array_agg(row_to_json(l.example)::text ORDER BY l.dataset_id, l.id))[1:${literal ? limit : "$3::int - 1"}], ','), '')
           AS examples
       FROM (
         SELECT e.dataset_id, e.id,
           -- A row of the example's fields, in ExampleRow's order: row_to_json writes {"id":…,…}
           -- (json_build_object would write "id" : …).
           (SELECT x FROM (SELECT e.id::text AS id, d.domain_name AS domain, e.content, e.response, e.metadata,
              ${CREATED_AT_JSON} AS created_at) x) AS example
         FROM examples e
         WHERE (e.dataset_id, e.id) > (d.id, $2::bigint) AND e.dataset_id <= d.id
         ORDER BY e.dataset_id, e.id LIMIT ${literal ? n : "$3::int"}
       ) l
     ) p
     WHERE d.domain_name = $1`,
    literal ? [domain, afterId] : [domain, afterId, n],
    { prepare: literal ? `datasets.page-json.${n}` : "datasets.page-json" },
  );
  if (r.rows.length === 0) return undefined;
  const row = r.rows[0];
  return {
    datasetId: row.dataset_id,
    version: row.version,
    examplesJson: `[${row.examples}]`,
    lastId: row.last_id,
    more: row.fetched > limit,
  };
}

export async function getExample(db: Queryable, id: string): Promise<ExampleRow | undefined> {
  const r = await db.query<ExampleRow & Record<string, unknown>>(
    `SELECT ${EXAMPLE_COLUMNS} FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE e.id = $1`,
    [id],
  );
  return r.rows[0];
}

/** A search hit's own fields: what a hit shows, without the metadata and timestamp a page has. */
export interface HitRow {
  id: string;
  domain: string;
  content: string;
  response: string | null;
}

/** The statement reading these examples' hit fields (none for no ids). */
export function hitRowsStatement(ids: string[]): Statement | undefined {
  if (ids.length === 0) return undefined;
  return {
    text: `SELECT e.id::text AS id, d.domain_name AS domain, e.content, e.response
           FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE e.id = ANY($1::bigint[])`,
    params: [ids],
    options: { prepare: "search.hits" },
  };
}

/** Deletes an example; returns its dataset id, or undefined when there was none. */
export async function deleteExample(
  tx: Queryable,
  id: string,
): Promise<{ datasetId: string; domain: string } | undefined> {
  const r = await tx.query<{ dataset_id: string; domain: string }>(
    `DELETE FROM examples e USING datasets d WHERE e.id = $1 AND d.id = e.dataset_id RETURNING e.dataset_id::text AS dataset_id, d.domain_name AS domain`,
    [id],
  );
  return r.rows[0] ? { datasetId: r.rows[0].dataset_id, domain: r.rows[0].domain } : undefined;
}

/** One of the query's lexemes in one dataset: its term id and document frequency there. */
export interface QueryTermRow {
  term: string;
  /** Null when no searched dataset has the term. */
  term_id: string | null;
  df: number | null;
  /** The smallest avgdl the term's dataset wrote postings under (migration 0012); null if unknown. */
  avgdl_min: number | null;
  /** The version of the term's dataset these statistics were read at (null with term_id). */
  version: number | null;
}

/** What a lexical query needs before it ranks: its lexemes with their statistics, and the corpus size. */
export interface QueryTerms {
  /** Documents and the sum of their lengths over the datasets searched. */
  docs: number;
  totalLen: number;
  rows: QueryTermRow[];
  /** The websearch filter has no lexemes (only stop words): it is ignored. */
  filterEmpty: boolean;
  /**
   * The filter as tsquery text, for `$n::tsquery` in the ranking queries: a constant the planner
   * can estimate from the column's statistics (a rare phrase goes through the GIN index, a common
   * one through the postings). `websearch_to_tsquery(…, $n)` there is only known at run time, and
   * planned on a default selectivity.
   */
  filterQuery: string | undefined;
  /** The filter only excludes (querytree 'T'): its matches cannot come from the GIN index. */
  filterExcludesOnly: boolean;
}

/**
 * The distinct lexemes of `text` under the `english` configuration (the tokenizer that built the
 * postings), each with its term id and df in every searched dataset that has it.
 */
export async function queryTerms(
  db: Queryable,
  text: string,
  datasetId: string | undefined,
  filter: string | undefined,
): Promise<QueryTerms> {
  // A null filter gives a null tsquery (no notice about a query without lexemes).
  const params: unknown[] = [text, filter ?? null];
  let only = "";
  if (datasetId) {
    params.push(datasetId);
    only = "WHERE d.id = $3";
  }
  const r = await db.query<
    Omit<QueryTermRow, "term"> & {
      /** Null in the one row of a query without lexemes (the statistics still come). */
      term: string | null;
      docs: number;
      len: number;
      nodes: number;
      tree: string;
      query: string | null;
    } & Record<string, unknown>
  >(
    `WITH s AS (SELECT coalesce(sum(d.bm25_docs), 0)::float8 AS docs, coalesce(sum(d.bm25_len), 0)::float8 AS len
                FROM datasets d ${only}),
          f AS (SELECT numnode(q)::int AS nodes, querytree(q) AS tree, q::text AS query FROM websearch_to_tsquery('english', $2) q),
          q AS (SELECT u.lexeme AS term FROM unnest(to_tsvector('english', $1)) u)
     SELECT q.term, t.id::text AS term_id, t.df, t.avgdl_min, t.version, s.docs, s.len, f.nodes, f.tree, f.query
     FROM s CROSS JOIN f LEFT JOIN q ON true
     LEFT JOIN LATERAL (
       SELECT bt.id, bt.df, d.bm25_impact_avgdl_min AS avgdl_min, d.version::float8 AS version
       FROM datasets d JOIN bm25_terms bt ON bt.dataset_id = d.id AND bt.term = q.term COLLATE "C" ${only}
     ) t ON true`,
    params,
    // Every search runs it; its plan (index probes per lexeme) is the same for every query.
    { prepare: datasetId ? "search.terms.domain" : "search.terms" },
  );
  const first = r.rows[0];
  return {
    docs: first.docs,
    totalLen: first.len,
    rows: r.rows.filter((x): x is typeof x & { term: string } => x.term !== null),
    filterEmpty: filter === undefined || first.nodes === 0,
    filterQuery: first.query ?? undefined,
    filterExcludesOnly: first.nodes > 0 && first.tree === "T",
  };
}

/**
 * How many examples of the searched datasets hold each word of `words` (letters only, one token
 * each): the df of its lexeme (`english`, as the postings were built), summed over the datasets; 0
 * for a stop word. One `to_tsvector` for all of them (each call costs PGlite ~0.1 ms), its
 * positions giving each lexeme's words; the lexemes probed as the terms statement probes them.
 */
export async function spellingCounts(db: Queryable, words: string[], datasetId: string | undefined): Promise<number[]> {
  const params: unknown[] = [words.join(" ")];
  let only = "";
  if (datasetId) {
    params.push(datasetId);
    only = "WHERE d.id = $2";
  }
  const r = await db.query<{ position: number; df: number }>(
    `WITH q AS (SELECT u.lexeme AS term, p.position FROM unnest(to_tsvector('english', $1)) u
                CROSS JOIN LATERAL unnest(u.positions) AS p(position))
     SELECT q.position::int AS position, coalesce(sum(t.df), 0)::float8 AS df
     FROM q LEFT JOIN LATERAL (
       SELECT bt.df FROM datasets d JOIN bm25_terms bt ON bt.dataset_id = d.id AND bt.term = q.term COLLATE "C" ${only}
     ) t ON true
     GROUP BY q.position`,
    params,
    { prepare: datasetId ? "search.spelling.domain" : "search.spelling" },
  );
  const counts = words.map(() => 0);
  for (const row of r.rows) counts[row.position - 1] = row.df;
  return counts;
}

/** A term list to read: the postings of one term id, each weighted by the term's idf. */
export interface PostingList {
  termId: string;
  idf: number;
  /** Read the `limit` highest-impact postings only; null reads them all. */
  limit: number | null;
}

/** BM25 of one document over the lists that contain it, and the idf sum of those lists' terms. */
export interface PartialScore {
  id: string;
  score: number;
  matched: number;
}

export interface RankOptions {
  k1: number;
  b: number;
  avgdl: number;
  /** Documents returned, best first. */
  depth: number;
  /** Only documents matching this tsquery text (QueryTerms.filterQuery; one of only `-word`s: it excludes). */
  filter?: string;
}

const BM25_SUM = `sum(l.idf * p.tf * ($4::float8 + 1) / (p.tf + $4::float8 * (1 - $5::float8 + $5::float8 * p.doc_len / $6::float8)))::float8`;

/**
 * Scores the documents of the lists: each list is read in impact order (index
 * bm25_postings_term_impact, no sort) up to its limit, and a document's score sums its lists.
 */
export async function rankPostings(db: Queryable, lists: PostingList[], o: RankOptions): Promise<PartialScore[]> {
  const st = rankPostingsStatement(lists, o);
  return st ? (await db.query<PartialScore & Record<string, unknown>>(st.text, st.params, st.options)).rows : [];
}

/** The first six parameters of the ranking statements: $1–$3 the lists (term, idf, limit), $4–$6 k1, b, avgdl. */
function listParams(lists: PostingList[], o: RankOptions): unknown[] {
  return [lists.map((l) => l.termId), lists.map((l) => l.idf), lists.map((l) => l.limit), o.k1, o.b, o.avgdl];
}

/** rankPostings' statement (none without lists). */
export function rankPostingsStatement(lists: PostingList[], o: RankOptions): Statement | undefined {
  if (lists.length === 0) return undefined;
  const params: unknown[] = [...listParams(lists, o), o.depth];
  let join = "";
  if (o.filter) {
    params.push(o.filter);
    join = "JOIN examples e ON e.id = bp.example_id AND e.tsv @@ $8::tsquery";
  }
  return {
    text: `SELECT p.example_id::text AS id, ${BM25_SUM} AS score, sum(l.idf)::float8 AS matched
     FROM unnest($1::bigint[], $2::float8[], $3::int[]) AS l(term_id, idf, lim)
     CROSS JOIN LATERAL (
       SELECT bp.example_id, bp.tf, bp.doc_len FROM bm25_postings bp ${join}
       WHERE bp.term_id = l.term_id ORDER BY bp.impact DESC LIMIT l.lim
     ) p
     GROUP BY p.example_id ORDER BY score DESC, p.example_id LIMIT $7`,
    params,
    // Without a filter its plan is one index scan per term whatever the terms: prepared. With one,
    // the plan depends on how common the filter's terms are (see QueryTerms.filterQuery): planned each time.
    options: o.filter ? undefined : { prepare: "search.rank" },
  };
}

/** A bounded list to read: the lexeme bit it sets in `seen` (0: none). */
export interface BoundedList extends PostingList {
  bit: bigint;
}

/**
 * The statement reading the impact of each bounded list's `limit`-th posting (the last one a
 * bounded read takes; none when the list is shorter): every posting after it has at most that
 * impact. With a filter the read takes the `limit` best matching postings, which end at or after
 * this one, so it still bounds the unread ones.
 */
export function cutoffsStatement(lists: PostingList[]): Statement | undefined {
  const bounded = lists.filter((l) => l.limit !== null);
  if (bounded.length === 0) return undefined;
  return {
    text: `SELECT l.term_id::text AS term_id, c.impact::float8 AS impact
     FROM unnest($1::bigint[], $2::int[]) AS l(term_id, lim)
     CROSS JOIN LATERAL (
       SELECT bp.impact FROM bm25_postings bp WHERE bp.term_id = l.term_id ORDER BY bp.impact DESC OFFSET l.lim - 1 LIMIT 1
     ) c`,
    params: [bounded.map((l) => l.termId), bounded.map((l) => l.limit)],
    options: { prepare: "search.cutoffs" },
  };
}

/**
 * The documents a bounded read shows other than `exclude` (those rescored), grouped by the bits of
 * the lists that showed them: the best score over the postings read in each group. A document's
 * unread lists can add at most their bounds to its group's score.
 */
export async function restOfRead(
  db: Queryable,
  lists: BoundedList[],
  exclude: string[],
  o: RankOptions,
): Promise<{ seen: bigint; score: number }[]> {
  if (lists.length === 0) return [];
  const params: unknown[] = [...listParams(lists, o), exclude, lists.map((l) => l.bit.toString())];
  let join = "";
  if (o.filter) {
    params.push(o.filter);
    join = "JOIN examples e ON e.id = bp.example_id AND e.tsv @@ $9::tsquery";
  }
  const r = await db.query<{ seen: string; score: number }>(
    `SELECT d.seen::text AS seen, max(d.score) AS score FROM (
       SELECT p.example_id, ${BM25_SUM} AS score, bit_or(l.bit) AS seen
       FROM unnest($1::bigint[], $2::float8[], $3::int[], $8::bigint[]) AS l(term_id, idf, lim, bit)
       CROSS JOIN LATERAL (
         SELECT bp.example_id, bp.tf, bp.doc_len FROM bm25_postings bp ${join}
         WHERE bp.term_id = l.term_id ORDER BY bp.impact DESC LIMIT l.lim
       ) p
       GROUP BY p.example_id
     ) d
     WHERE d.example_id <> ALL($7::bigint[]) GROUP BY d.seen`,
    params,
  );
  return r.rows.map((x) => ({ seen: BigInt(x.seen), score: x.score }));
}

/**
 * Scores exactly the documents that match a filter requiring a phrase (`filter`: tsquery text, see
 * QueryTerms.filterQuery): the GIN index on tsv lists them when the phrase is rare, the postings'
 * primary key gives their terms.
 */
export async function rankFiltered(
  db: Queryable,
  lists: PostingList[],
  filter: string,
  datasetId: string | undefined,
  o: RankOptions,
): Promise<PartialScore[]> {
  if (lists.length === 0) return [];
  const params: unknown[] = [lists.map((l) => l.termId), lists.map((l) => l.idf), filter, o.k1, o.b, o.avgdl, o.depth];
  let only = "";
  if (datasetId) {
    params.push(datasetId);
    only = "AND e.dataset_id = $8";
  }
  // The matches first (MATERIALIZED): joined freely, the planner reads a common term's postings
  // and probes examples for each, since it estimates a few postings per term whatever the term
  // (measured on one domain of 3,000 rows and a phrase of one row: 4.5 ms on Postgres, 25 ms on
  // PGlite; matches first, through the GIN index: well under 1 ms).
  const r = await db.query<PartialScore & Record<string, unknown>>(
    `WITH m AS MATERIALIZED (SELECT e.id FROM examples e WHERE e.tsv @@ $3::tsquery ${only})
     SELECT p.example_id::text AS id, ${BM25_SUM} AS score, sum(l.idf)::float8 AS matched
     FROM m
     JOIN bm25_postings p ON p.example_id = m.id AND p.term_id = ANY($1::bigint[])
     JOIN unnest($1::bigint[], $2::float8[]) AS l(term_id, idf) ON l.term_id = p.term_id
     GROUP BY p.example_id ORDER BY score DESC, p.example_id LIMIT $7`,
    params,
  );
  return r.rows;
}

/** Whole postings lists as read at their dataset's version (PostingsCache). */
export interface ListRows {
  term_id: string;
  version: number;
  ids: number[];
  tf: number[];
  len: number[];
  impact: number[];
}

/**
 * The lists of these term ids, each its `limits[i]` best postings by impact (null: whole), one row
 * a term with its dataset's version read in the same statement (so the lists are those of that
 * version); a term without postings has no row. The arrays are aggregated from the same rows in
 * one pass, so their i-th elements are one posting's.
 */
export function readListsStatement(termIds: string[], limits: (number | null)[]): Statement | undefined {
  if (termIds.length === 0) return undefined;
  return {
    text: `SELECT l.term_id::text AS term_id, d.version::float8 AS version, array_agg(p.example_id::float8) AS ids,
            array_agg(p.tf::int4) AS tf, array_agg(p.doc_len) AS len, array_agg(p.impact::float8) AS impact
     FROM unnest($1::bigint[], $2::int[]) AS l(term_id, lim)
     JOIN bm25_terms bt ON bt.id = l.term_id JOIN datasets d ON d.id = bt.dataset_id
     CROSS JOIN LATERAL (
       SELECT bp.example_id, bp.tf, bp.doc_len, bp.impact FROM bm25_postings bp
       WHERE bp.term_id = l.term_id ORDER BY bp.impact DESC LIMIT l.lim
     ) p
     GROUP BY l.term_id, d.version`,
    params: [termIds, limits],
    options: { prepare: "search.lists" },
  };
}

/** One posting of an example, as rescoring reads it. */
export interface PostingRow {
  example_id: string;
  term_id: string;
  tf: number;
  doc_len: number;
}

/** The statement reading the postings of these examples for these term ids (none when either list is empty). */
export function lookupPostingsStatement(exampleIds: string[], termIds: string[]): Statement | undefined {
  if (exampleIds.length === 0 || termIds.length === 0) return undefined;
  return {
    text: `SELECT example_id::text AS example_id, term_id::text AS term_id, tf, doc_len FROM bm25_postings
     WHERE example_id = ANY($1::bigint[]) AND term_id = ANY($2::bigint[])`,
    params: [exampleIds, termIds],
    options: { prepare: "search.postings" },
  };
}

/** The postings of these examples for these term ids (primary key lookups). */
export async function lookupPostings(db: Queryable, exampleIds: string[], termIds: string[]): Promise<PostingRow[]> {
  const st = lookupPostingsStatement(exampleIds, termIds);
  return st ? (await db.query<PostingRow & Record<string, unknown>>(st.text, st.params, st.options)).rows : [];
}

/** pgvector's `hnsw.ef_search` is at most this. */
const EF_SEARCH_MAX = 1000;

/**
 * The HNSW candidate list of a query for `k` results: at least `efSearch`, and twice k (so that k
 * = 100 reads as exactly as exact search does on SciFact; bench/search.ts measures it).
 */
export function efSearchFor(k: number, efSearch: number): number {
  return Math.min(EF_SEARCH_MAX, Math.max(efSearch, 2 * k));
}

/**
 * The `k` nearest examples by cosine distance to `vector` (score = 1 − distance), through the HNSW
 * index with iterative scans (pgvector 0.8), so a domain filter still fills k. ef_search is set
 * for this query only (SET LOCAL through set_config, inside its own transaction).
 */
export async function nearestExamples(
  db: Db,
  vector: ArrayLike<number>,
  o: { datasetId?: string; k: number; efSearch: number },
): Promise<{ id: string; score: number }[]> {
  const params: unknown[] = [vectorLiteral(vector), o.k];
  let only = "";
  if (o.datasetId) {
    params.push(o.datasetId);
    only = "AND dataset_id = $3";
  }
  // One batch in a transaction of its own: the settings, then the query they apply to (embedded,
  // one message to the worker instead of four: BEGIN, each statement, COMMIT).
  const [, r] = await db.batch(
    [
      {
        text: `SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)`,
        params: [String(efSearchFor(o.k, o.efSearch))],
      },
      // The distance is selected once and sorted by its alias: `1 − distance` in the select list
      // beside `ORDER BY distance` computed the distance twice for every row a sorted scan reads.
      {
        text: `SELECT id::text AS id, (embedding <=> $1::vector)::float8 AS distance FROM examples
       WHERE embedding IS NOT NULL ${only} ORDER BY distance LIMIT $2`,
        params,
      },
    ],
    { transaction: true },
  );
  // relaxed_order may return neighbours slightly out of order: put them back.
  return (r.rows as { id: string; distance: number }[])
    .map((x) => ({ id: x.id, score: 1 - x.distance }))
    .sort((a, b) => b.score - a.score || Number(a.id) - Number(b.id));
}

/**
 * The statement reading the cosine similarity of these examples to `vector` (primary key lookups;
 * examples without a vector are left out): rows of `id` and `score`. None for no ids.
 */
export function cosineOfStatement(ids: string[], vector: ArrayLike<number>): Statement | undefined {
  if (ids.length === 0) return undefined;
  return {
    text: `SELECT id::text AS id, (1 - (embedding <=> $1::vector))::float8 AS score FROM examples
     WHERE id = ANY($2::bigint[]) AND embedding IS NOT NULL`,
    params: [vectorLiteral(vector), ids],
    options: { prepare: "search.cosine" },
  };
}

/** Tables whose planner statistics the datasets service keeps fresh. */
export type AnalyzedTable = "datasets" | "examples" | "examples_archive" | "bm25_postings" | "bm25_terms";

/** pg_class.reltuples of each table: the planner's row estimate (-1 before the first ANALYZE). */
export async function plannerRowEstimates(db: Queryable, tables: AnalyzedTable[]): Promise<Map<string, number>> {
  const r = await db.query<{ name: string; n: number }>(
    "SELECT relname AS name, reltuples::float8 AS n FROM pg_class WHERE oid = ANY($1::regclass[])",
    [tables],
  );
  return new Map(r.rows.map((x) => [x.name, x.n]));
}

/**
 * ANALYZE these tables (names from the AnalyzedTable list only, never from input). With examples,
 * the GIN index's pending list is merged first: rows inserted go to that list (fastupdate) until a
 * VACUUM or autovacuum's ANALYZE merges them, and a plain ANALYZE does not. Until then every search
 * with a filter reads the whole list, and the planner, costing that, reads the table instead
 * (PGlite has no autovacuum: the list would stay until it passes gin_pending_list_limit).
 */
export async function analyzeTables(db: Queryable, tables: AnalyzedTable[]): Promise<void> {
  if (tables.includes("examples")) await db.query("SELECT gin_clean_pending_list('examples_tsv'::regclass)");
  if (tables.length) await db.query(`ANALYZE ${tables.join(", ")}`);
}

/** One exported example: the fields `mcai import` reads back. */
export interface ExportRow {
  id: string;
  content: string;
  response: string | null;
  metadata: Record<string, unknown>;
}

/**
 * One keyset page of a dataset's live examples (`examples`) or archived ones (`examples_archive`)
 * after `afterId`, in id order, for export: at most `limit` rows, and no row after those whose
 * content and response reach `maxChars` characters (the first row always comes). `more` is false
 * on the last page. The table name comes from this union, never from input.
 */
export async function exportPage(
  db: Queryable,
  table: "examples" | "examples_archive",
  datasetId: string,
  afterId: string,
  limit: number,
  maxChars: number,
): Promise<{ rows: ExportRow[]; more: boolean }> {
  // The same row comparison as pageExamples: the (dataset_id, id) index gives the page directly.
  // The rows are limited first (l), then counted: a window beside the LIMIT would run over every
  // row of the domain.
  const r = await db.query<ExportRow & { fetched: number } & Record<string, unknown>>(
    `SELECT p.id::text AS id, p.content, p.response, p.metadata, p.fetched::int AS fetched FROM (
       SELECT l.*, sum(l.chars) OVER (ORDER BY l.id) - l.chars AS before, count(*) OVER () AS fetched FROM (
         SELECT e.id, e.content, e.response, e.metadata, length(e.content) + coalesce(length(e.response), 0) AS chars
         FROM ${table} e
         WHERE (e.dataset_id, e.id) > ($1::bigint, $2::bigint) AND e.dataset_id <= $1::bigint
         ORDER BY e.dataset_id, e.id LIMIT $3
       ) l
     ) p
     WHERE p.before < greatest($4::bigint, 1) ORDER BY p.id`,
    [datasetId, afterId, limit, maxChars],
  );
  const fetched = r.rows[0]?.fetched ?? 0;
  return {
    rows: r.rows.map(({ id, content, response, metadata }) => ({ id, content, response, metadata })),
    more: r.rows.length < fetched || fetched === limit,
  };
}

/**
 * VACUUM (ANALYZE) these tables, index cleanup included (embedded mode: PGlite has no autovacuum).
 * Never inside a transaction (VACUUM refuses one): it takes the Db, which a transaction's handle is
 * not. Names come from the AnalyzedTable list or from deadTupleCounts (the
 * catalog's own, quoted), never from input.
 */
export async function vacuumAnalyze(db: Db, tables: readonly string[]): Promise<void> {
  if (tables.length) await db.query(`VACUUM (ANALYZE) ${tables.join(", ")}`);
}

/**
 * VACUUM (ANALYZE, INDEX_CLEANUP OFF) these tables: the heap's dead rows are pruned (their line
 * pointers stay, marked dead, until a VACUUM with index cleanup) and the statistics gathered,
 * without the index passes that make a full VACUUM cost seconds (HNSW above all). The GIN pending
 * list is merged first, as in analyzeTables: without index cleanup VACUUM does not merge it.
 * `pg_stat_force_next_flush` first: a delete's dead-row counts reach the statistics only when the
 * backend next reports them (at most once a second), and counts reported after the VACUUM would
 * land on top of its reset and read as dead rows it left. Never inside a transaction (the Db only).
 */
export async function vacuumHeapAnalyze(db: Db, tables: AnalyzedTable[]): Promise<void> {
  if (!tables.length) return;
  await db.query("SELECT pg_stat_force_next_flush()");
  if (tables.includes("examples")) await db.query("SELECT gin_clean_pending_list('examples_tsv'::regclass)");
  await db.query(`VACUUM (ANALYZE, INDEX_CLEANUP OFF) ${tables.join(", ")}`);
}

/**
 * Every user table's dead and live rows from pg_stat_user_tables (live: the planner's estimate if
 * the statistics have none yet), `table` quoted for SQL, `name` bare.
 */
export async function deadTupleCounts(
  db: Queryable,
): Promise<{ table: string; name: string; dead: number; live: number }[]> {
  await db.query("SELECT pg_stat_force_next_flush()");
  const r = await db.query<{ table: string; name: string; dead: number; live: number }>(
    `SELECT format('%I.%I', s.schemaname, s.relname) AS table, s.relname AS name, s.n_dead_tup::float8 AS dead,
            greatest(s.n_live_tup::float8, c.reltuples::float8, 0) AS live
     FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid ORDER BY s.relname`,
  );
  return r.rows;
}

/** An upload kept for its import job (migrations/0008_imports.sql), with its checkpoint. */
export interface UploadRow {
  id: string;
  domain: string;
  format: string;
  filename: string;
  size: number;
  records: number;
  job_id: string | null;
  /** Records of the file (rejected ones too) whose batch has committed. */
  records_done: number;
  summary: { added?: number; duplicates?: number; rejected?: number; version?: number | null };
  finished_at: string | null;
}

const UPLOAD_COLUMNS = `id::text AS id, domain, format, filename, size::float8 AS size, records, job_id::text AS job_id,
  records_done, summary, finished_at`;

export async function createUpload(
  db: Queryable,
  u: { id: string; domain: string; format: string; filename: string },
): Promise<void> {
  await db.query("INSERT INTO imports (id, domain, format, filename) VALUES ($1, $2, $3, $4)", [
    u.id,
    u.domain,
    u.format,
    u.filename,
  ]);
}

export async function putUploadChunk(db: Queryable, id: string, n: number, bytes: Buffer): Promise<void> {
  await db.query("INSERT INTO import_chunks (import_id, n, bytes) VALUES ($1, $2, $3)", [id, n, bytes]);
}

/** The upload's chunk `n`, or undefined after the last one. */
export async function getUploadChunk(db: Queryable, id: string, n: number): Promise<Buffer | undefined> {
  const r = await db.query<{ bytes: Buffer | Uint8Array }>(
    "SELECT bytes FROM import_chunks WHERE import_id = $1 AND n = $2",
    [id, n],
  );
  const row = r.rows.at(0);
  return row ? Buffer.from(row.bytes) : undefined;
}

/** Records the upload's size and record count once it is whole and valid. */
export async function sealUpload(db: Queryable, id: string, size: number, records: number): Promise<void> {
  await db.query("UPDATE imports SET size = $2, records = $3 WHERE id = $1", [id, size, records]);
}

export async function setUploadJob(db: Queryable, id: string, jobId: string): Promise<void> {
  await db.query("UPDATE imports SET job_id = $2 WHERE id = $1", [id, jobId]);
}

export async function getUpload(db: Queryable, id: string): Promise<UploadRow | undefined> {
  const r = await db.query<UploadRow & Record<string, unknown>>(`SELECT ${UPLOAD_COLUMNS} FROM imports WHERE id = $1`, [
    id,
  ]);
  return r.rows[0];
}

/** Deletes an upload and its chunks. */
export async function deleteUpload(db: Queryable, id: string): Promise<void> {
  await db.query("DELETE FROM imports WHERE id = $1", [id]);
}

/** The checkpoint after a committed batch; written in the batch's own transaction. */
export async function saveCheckpoint(
  tx: Queryable,
  id: string,
  recordsDone: number,
  summary: UploadRow["summary"],
): Promise<void> {
  await tx.query("UPDATE imports SET records_done = $2, summary = $3::jsonb WHERE id = $1", [
    id,
    recordsDone,
    JSON.stringify(summary),
  ]);
}

/** The import is done: its bytes go, its summary stays (a rerun of the job answers it). */
export async function finishUpload(tx: Queryable, id: string, summary: UploadRow["summary"]): Promise<void> {
  await tx.query("DELETE FROM import_chunks WHERE import_id = $1", [id]);
  await tx.query("UPDATE imports SET summary = $2::jsonb, finished_at = now() WHERE id = $1", [
    id,
    JSON.stringify(summary),
  ]);
}

/**
 * Uploads no job will read: never given a job (the node died between the upload and the submit)
 * after `orphanS`, and any older than `retentionDays` (their job failed or was cancelled long ago).
 * An upload without `job_id` may still have a queued or running import job (its submit stored the
 * job, then recording the job on the upload failed): the job's params name it, and it stays.
 */
export async function sweepUploads(db: Queryable, orphanS: number, retentionDays: number): Promise<number> {
  const r = await db.query(
    `DELETE FROM imports WHERE (job_id IS NULL AND created_at < now() - make_interval(secs => $1)
         AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.kind = 'import' AND jobs.status IN ('queued', 'processing')
                           AND jobs.params->>'import_id' = imports.id::text))
       OR created_at < now() - make_interval(days => $2)`,
    [orphanS, retentionDays],
  );
  return r.rowCount;
}

/** The name of the HNSW index on examples.embedding (migrations/0002_datasets.sql). */
const HNSW_INDEX = "examples_embedding_hnsw";

/**
 * Whether the HNSW index is there (on the start's path: `to_regclass` looks the name up in
 * pg_class, where the pg_indexes view's four-table join took ~40 ms on a cold PGlite).
 */
export async function vectorIndexExists(db: Queryable): Promise<boolean> {
  const r = await db.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [HNSW_INDEX]);
  return r.rows[0].present;
}

/** Live examples in all datasets (the rows the HNSW index holds), from the datasets' counts. */
export async function liveExampleCount(db: Queryable): Promise<number> {
  const r = await db.query<{ n: number }>("SELECT coalesce(sum(example_count), 0)::float8 AS n FROM datasets");
  return r.rows[0].n;
}

/** Drops the HNSW index (a bulk import then rebuilds it once at the end). */
export async function dropVectorIndex(db: Queryable): Promise<void> {
  await db.query(`DROP INDEX IF EXISTS ${HNSW_INDEX}`);
}

/** Creates the HNSW index when it is missing (the same definition as migration 0002). */
export async function ensureVectorIndex(db: Queryable): Promise<void> {
  await db.query(`CREATE INDEX IF NOT EXISTS ${HNSW_INDEX} ON examples USING hnsw (embedding vector_cosine_ops)`);
}
