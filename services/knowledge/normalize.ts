import crypto from "node:crypto";

/**
 * The normal form of a query: Unicode-compatible (NFKC), lower-cased, punctuation removed, runs
 * of white space folded. "What is  ALPHA?" and "what is alpha" are one query.
 */
export function normalizeQuery(q: string): string {
  return q
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** The key of a query within a dataset version: normalized query, domain and k. */
export function queryHash(normalized: string, domain: string | undefined, k: number): string {
  return crypto
    .createHash("sha1")
    .update(`${normalized}\u0000${domain ?? ""}\u0000${k}`)
    .digest("hex");
}
