/**
 * Search over examples: lexical (websearch_to_tsquery, ranked by ts_rank_cd over a bounded set of
 * candidates), vector (pgvector cosine through the HNSW index with iterative scans, so a domain
 * filter still fills k), and hybrid (reciprocal rank fusion of both lists, k = 60).
 */
import type { Db, Queryable } from "../lib/db";
import { vectorLiteral } from "./embeddings";
import { getExamplesByIds } from "./store";

export type SearchMode = "hybrid" | "lexical" | "vector";
export const RRF_K = 60;

export interface RankedId {
  id: string;
  score: number;
}

export interface SearchHit {
  id: string;
  domain: string;
  content: string;
  response: string | null;
  score: number;
  ranks: { lexical: number | null; vector: number | null };
}

export interface SearchOptions {
  datasetId?: string;
  k: number;
  /** Matches ranked at most: a term in most rows must not rank them all. */
  candidates: number;
  efSearch: number;
}

/**
 * The best `k` lexical matches. Only the first `candidates` matches the GIN index yields are
 * ranked, which bounds a query whose terms appear in most rows (its ranking is then approximate).
 */
export async function lexicalSearch(db: Queryable, query: string, o: SearchOptions): Promise<RankedId[]> {
  const filter = o.datasetId ? "AND e.dataset_id = $4" : "";
  const params: unknown[] = [query, o.k, o.candidates];
  if (o.datasetId) params.push(o.datasetId);
  const r = await db.query<{ id: string; score: number }>(
    `WITH q AS (SELECT websearch_to_tsquery('english', $1) AS q),
     cand AS (SELECT e.id, e.tsv FROM examples e, q WHERE e.tsv @@ q.q ${filter} LIMIT $3)
     SELECT c.id::text AS id, ts_rank_cd(c.tsv, q.q)::float8 AS score FROM cand c, q
     ORDER BY score DESC, c.id LIMIT $2`,
    params,
  );
  return r.rows;
}

/** The `k` nearest examples by cosine distance to `vector` (score = 1 − distance). */
export async function vectorSearch(db: Db, vector: ArrayLike<number>, o: SearchOptions): Promise<RankedId[]> {
  return db.transaction(async (tx) => {
    // Iterative scans (pgvector 0.8) keep reading the index until k rows pass the domain filter.
    await tx.query(
      `SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)`,
      [String(o.efSearch)],
    );
    const filter = o.datasetId ? "AND dataset_id = $3" : "";
    const params: unknown[] = [vectorLiteral(vector), o.k];
    if (o.datasetId) params.push(o.datasetId);
    const r = await tx.query<{ id: string; score: number }>(
      `SELECT id::text AS id, (1 - (embedding <=> $1::vector))::float8 AS score FROM examples
       WHERE embedding IS NOT NULL ${filter} ORDER BY embedding <=> $1::vector LIMIT $2`,
      params,
    );
    // relaxed_order may return neighbours slightly out of order: put them back.
    return r.rows.sort((a, b) => b.score - a.score || Number(a.id) - Number(b.id));
  });
}

/** Reciprocal rank fusion: score = Σ 1 / (RRF_K + rank) over the lists an id is in (ranks from 1). */
export function fuse(
  lexical: RankedId[],
  vector: RankedId[],
  k: number,
): { id: string; score: number; lexical: number | null; vector: number | null }[] {
  const all = new Map<string, { id: string; score: number; lexical: number | null; vector: number | null }>();
  const add = (list: RankedId[], which: "lexical" | "vector") =>
    list.forEach((r, i) => {
      const e = all.get(r.id) ?? { id: r.id, score: 0, lexical: null, vector: null };
      e.score += 1 / (RRF_K + i + 1);
      e[which] = i + 1;
      all.set(r.id, e);
    });
  add(lexical, "lexical");
  add(vector, "vector");
  return [...all.values()].sort((a, b) => b.score - a.score || Number(a.id) - Number(b.id)).slice(0, k);
}

/** Turns ranked ids into hits with their rows. */
export async function toHits(
  db: Queryable,
  ranked: { id: string; score: number; lexical: number | null; vector: number | null }[],
): Promise<SearchHit[]> {
  const rows = await getExamplesByIds(
    db,
    ranked.map((r) => r.id),
  );
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
        ranks: { lexical: r.lexical, vector: r.vector },
      };
    });
}
