/**
 * pgvector's text form of a vector (`[0.1,0,-0.25]`), each component rounded to 6 decimals: the
 * same string as `vectorToSql` (services/lib/db/vector.ts, pgvector's toSql), without the package, so
 * that the compute pool's threads can build it beside the embedding. An import's vectors are
 * formatted there: on the main thread, 256 vectors of 384 dimensions took 40–60 ms at a stretch
 * (docs/operations.md, event-loop delay during an import).
 */

/** Decimals kept per component: 1e-6 on components of a unit vector moves a cosine by at most ~2e-5. */
export const VECTOR_DECIMALS = 1e6;

/** The text form of `v` (JSON numbers, as pgvector's toSql writes them). */
export function vectorText(v: ArrayLike<number>): string {
  return JSON.stringify(Array.from(v, (x) => Math.round(x * VECTOR_DECIMALS) / VECTOR_DECIMALS));
}
