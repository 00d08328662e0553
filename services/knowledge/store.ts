/**
 * The SQL of the knowledge service: the emotion catalog, the L2 cache table knowledge_cache, and the
 * feedback votes ranking reads (the feedback rows themselves go through the entity adapter).
 */
import type { Queryable } from "../lib/db";
import type { EmotionRow } from "./contract";

/** The emotion catalog, by name. */
export async function emotionRows(db: Queryable): Promise<EmotionRow[]> {
  const r = await db.query<EmotionRow & Record<string, unknown>>(
    `SELECT name, neuroscience_hz::float8 AS neuroscience_hz, band, metaphysical_hz::float8 AS metaphysical_hz,
       counterpart, personality, music
     FROM emotions ORDER BY name`,
  );
  return r.rows;
}

/**
 * The L2 answer of a query in a dataset version, counting the access; null when absent, expired, or
 * made before a vote that counts for its query: its feedback generation is checked against the
 * database's own (of the query's `buckets`) in the same statement, so a lost broadcast never matters here.
 */
export async function takeL2<T>(db: Queryable, hash: string, version: number, buckets: number[]): Promise<T | null> {
  const r = await db.query<{ response: T }>(
    `UPDATE knowledge_cache SET accessed_at = now(), access_count = access_count + 1
     WHERE query_hash = $1 AND dataset_version = $2 AND expires_at > now()
       AND feedback_generation = (SELECT coalesce(sum(generation), 0) FROM knowledge_feedback_generation
         WHERE bucket = ANY($3::int[]))
     RETURNING response`,
    [hash, version, buckets],
  );
  return r.rows[0]?.response ?? null;
}

export interface L2Entry {
  hash: string;
  version: number;
  /** The feedback generation of the query's buckets read before its votes were (feedback-generations.ts). */
  feedback: number;
  /** The normalized query. */
  query: string;
  /** The query's content terms, by which feedback finds the cached answers of close queries. */
  terms: string[];
  domain: string | undefined;
  response: unknown;
  source: string;
  ttlS: number;
}

/**
 * Stores (or replaces) the L2 answer of a query in a dataset version; an answer of an older feedback
 * generation (made on a node that had not read the latest vote yet) does not replace a newer one.
 */
export async function putL2(db: Queryable, e: L2Entry): Promise<void> {
  await db.query(
    `INSERT INTO knowledge_cache (query_hash, dataset_version, query_text, query_terms, domain, response, source,
       expires_at, feedback_generation)
     VALUES ($1, $2, $3, $4::text[], $5, $6::jsonb, $7, now() + make_interval(secs => $8), $9)
     ON CONFLICT (query_hash, dataset_version) DO UPDATE
       SET response = EXCLUDED.response, source = EXCLUDED.source, expires_at = EXCLUDED.expires_at,
         query_terms = EXCLUDED.query_terms, feedback_generation = EXCLUDED.feedback_generation
       WHERE knowledge_cache.feedback_generation <= EXCLUDED.feedback_generation`,
    [e.hash, e.version, e.query, e.terms, e.domain ?? null, JSON.stringify(e.response), e.source, e.ttlS, e.feedback],
  );
}

/** Raises the feedback generation of `buckets` (what a vote's insert does in its trigger); returns them. */
export async function raiseFeedbackGenerations(
  db: Queryable,
  buckets: number[],
): Promise<{ bucket: number; generation: number }[]> {
  const r = await db.query<{ bucket: number; generation: number }>(
    "SELECT bucket, generation::float8 AS generation FROM raise_feedback_generations($1::int[])",
    [buckets],
  );
  return r.rows;
}

/** The feedback generation of each of `buckets` (of every bucket without) above 0 (migration 0011). */
export async function feedbackGenerations(
  db: Queryable,
  buckets?: number[],
): Promise<{ bucket: number; generation: number }[]> {
  const r = await db.query<{ bucket: number; generation: number }>(
    `SELECT bucket, generation::float8 AS generation FROM knowledge_feedback_generation
     WHERE $1::int[] IS NULL OR bucket = ANY($1::int[])`,
    [buckets ?? null],
  );
  return r.rows;
}

/** The most-asked live L2 answers of a dataset version, most asked first. */
export async function topL2(
  db: Queryable,
  version: number,
  limit: number,
): Promise<{ query_hash: string; response: unknown; feedback_generation: number }[]> {
  const r = await db.query<{ query_hash: string; response: unknown; feedback_generation: number }>(
    `SELECT query_hash, response, feedback_generation::float8 AS feedback_generation FROM knowledge_cache
     WHERE dataset_version = $1 AND expires_at > now() ORDER BY access_count DESC LIMIT $2`,
    [version, limit],
  );
  return r.rows;
}

/** How many L2 answers are live (not expired). */
export async function liveL2Count(db: Queryable): Promise<number> {
  const r = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM knowledge_cache WHERE expires_at > now()");
  return r.rows[0].n;
}

/** Deletes every L2 answer; returns how many there were. */
export async function clearL2(db: Queryable): Promise<number> {
  return (await db.query("DELETE FROM knowledge_cache")).rowCount;
}

/** A vote as ranking reads it. */
export interface VoteRow {
  id: string;
  example_id: string;
  helpful: boolean;
  client_key: string;
  query: string;
  query_terms: string[];
}

/**
 * The votes on `exampleIds` cast for queries that share a term with `terms` (or are the same normalized
 * query, for a query of stop words only): of each client, its latest per example, the only one that
 * counts. So a client voting again and again adds nothing to what an answer on a cache miss reads.
 */
export async function votesFor(
  db: Queryable,
  query: string,
  terms: string[],
  exampleIds: string[],
): Promise<VoteRow[]> {
  if (!exampleIds.length) return [];
  const r = await db.query<VoteRow & Record<string, unknown>>(
    `SELECT DISTINCT ON (feedback.client_key, feedback.example_id)
       id::text AS id, example_id::text AS example_id, helpful, client_key, query, query_terms
     FROM feedback
     WHERE example_id = ANY($1::bigint[]) AND (query_terms && $2::text[] OR query = $3)
     ORDER BY feedback.client_key, feedback.example_id, feedback.id DESC`,
    [exampleIds, terms, query],
  );
  return r.rows;
}

/** The query and matches of a kept answer (L2), expired or not; null when it is gone. */
export async function keptAnswer(
  db: Queryable,
  hash: string,
  version: number,
): Promise<{ query_text: string; response: { matches?: { id: string }[] } } | null> {
  const r = await db.query<{ query_text: string; response: { matches?: { id: string }[] } }>(
    "SELECT query_text, response FROM knowledge_cache WHERE query_hash = $1 AND dataset_version = $2",
    [hash, version],
  );
  return r.rows[0] ?? null;
}

/** L2 answers whose query shares a term with `terms` or is `query` itself (candidates to invalidate). */
export async function closeL2(
  db: Queryable,
  query: string,
  terms: string[],
): Promise<
  {
    query_hash: string;
    dataset_version: number;
    feedback_generation: number;
    query_text: string;
    query_terms: string[] | null;
  }[]
> {
  const r = await db.query<{
    query_hash: string;
    dataset_version: number;
    feedback_generation: number;
    query_text: string;
    query_terms: string[] | null;
  }>(
    `SELECT query_hash, dataset_version::int AS dataset_version, feedback_generation::float8 AS feedback_generation,
       query_text, query_terms FROM knowledge_cache
     WHERE query_terms && $1::text[] OR query_text = $2`,
    [terms, query],
  );
  return r.rows;
}

/** Deletes the L2 answers of these query hashes (every version). */
export async function dropL2(db: Queryable, hashes: string[]): Promise<number> {
  if (!hashes.length) return 0;
  return (await db.query("DELETE FROM knowledge_cache WHERE query_hash = ANY($1::text[])", [hashes])).rowCount;
}
