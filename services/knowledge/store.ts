/** The SQL of the knowledge service: the emotion catalog and the L2 cache table knowledge_cache. */
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

/** The L2 answer of a query in a dataset version, counting the access; null when absent or expired. */
export async function takeL2<T>(db: Queryable, hash: string, version: number): Promise<T | null> {
  const r = await db.query<{ response: T }>(
    `UPDATE knowledge_cache SET accessed_at = now(), access_count = access_count + 1
     WHERE query_hash = $1 AND dataset_version = $2 AND expires_at > now() RETURNING response`,
    [hash, version],
  );
  return r.rows[0]?.response ?? null;
}

export interface L2Entry {
  hash: string;
  version: number;
  /** The normalized query. */
  query: string;
  domain: string | undefined;
  response: unknown;
  source: string;
  ttlS: number;
}

/**
 * What the `source` column records: who made the answer. Its CHECK (migration 0004) allows
 * 'dataset' and 'llm' only; a decline (source "none" in the response) is made from the datasets
 * too (their search found nothing good), so it is kept as 'dataset' and its response still says
 * "none". Writing "none" there failed every decline's L2 write, so declines were never in L2.
 */
function storedSource(source: string): string {
  return source === "none" ? "dataset" : source;
}

/** Stores (or replaces) the L2 answer of a query in a dataset version. */
export async function putL2(db: Queryable, e: L2Entry): Promise<void> {
  await db.query(
    `INSERT INTO knowledge_cache (query_hash, dataset_version, query_text, domain, response, source, expires_at)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, now() + make_interval(secs => $7))
     ON CONFLICT (query_hash, dataset_version) DO UPDATE
       SET response = EXCLUDED.response, source = EXCLUDED.source, expires_at = EXCLUDED.expires_at`,
    [e.hash, e.version, e.query, e.domain ?? null, JSON.stringify(e.response), storedSource(e.source), e.ttlS],
  );
}

/** The most-asked live L2 answers of a dataset version, most asked first. */
export async function topL2(
  db: Queryable,
  version: number,
  limit: number,
): Promise<{ query_hash: string; response: unknown }[]> {
  const r = await db.query<{ query_hash: string; response: unknown }>(
    `SELECT query_hash, response FROM knowledge_cache
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
