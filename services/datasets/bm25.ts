/**
 * Okapi BM25, the pure part: the query's websearch syntax, idf, the term weight and the match
 * fraction. The statistics and postings live in Postgres (migration 0006, queries in store.ts).
 *
 *   idf(t)    = ln(1 + (N − df + 0.5) / (df + 0.5))
 *   weight    = tf · (k1 + 1) / (tf + k1 · (1 − b + b · len / avgdl))
 *   score(d)  = Σ over the query's distinct terms t in d of idf(t) · weight(t, d)
 *
 * with N, df and avgdl over the datasets searched (all, or the one domain's).
 */
import { BARE_CONTRACTIONS } from "../lib/spelling";

export interface Bm25Params {
  k1: number;
  b: number;
}

/** A query split into the text whose terms are ranked (OR) and the filter its syntax asks for. */
export interface ParsedQuery {
  /** Words and quoted phrases, without the excluded ones: its lexemes are the ranked terms. */
  text: string;
  /**
   * websearch_to_tsquery input for what the query requires (quoted phrases) and excludes
   * (`-word`, `-"a phrase"`); undefined when it has neither.
   */
  filter?: string;
  /** The filter requires something (a quoted phrase), so its matches can be listed by the GIN index. */
  requires: boolean;
}

/**
 * Reads websearch syntax as websearch_to_tsquery does: `"quoted phrase"` (an unclosed quote runs
 * to the end), `-word` and `-"phrase"` exclude. Everything else is a word ranked with OR semantics,
 * but for the bare contractions above.
 */
export function parseQuery(q: string): ParsedQuery {
  const words: string[] = [];
  const filter: string[] = [];
  let requires = false;
  let i = 0;
  while (i < q.length) {
    if (/\s/.test(q[i])) {
      i++;
      continue;
    }
    const negated = q[i] === "-" && i + 1 < q.length && !/\s/.test(q[i + 1]);
    const start = negated ? i + 1 : i;
    let end: number;
    let token: string;
    if (q[start] === '"') {
      const close = q.indexOf('"', start + 1);
      end = close < 0 ? q.length : close + 1;
      token = q.slice(start + 1, close < 0 ? q.length : close).trim();
      if (token) {
        filter.push(`${negated ? "-" : ""}"${token}"`);
        if (!negated) {
          requires = true;
          words.push(token);
        }
      }
    } else {
      end = start;
      while (end < q.length && !/\s/.test(q[end]) && q[end] !== '"') end++;
      token = q.slice(start, end);
      if (negated) filter.push(`-${token}`);
      else if (!BARE_CONTRACTIONS.has(token.toLowerCase().replace(/[^\p{L}]/gu, ""))) words.push(token);
    }
    i = Math.max(end, i + 1);
  }
  return { text: words.join(" "), filter: filter.length ? filter.join(" ") : undefined, requires };
}

/** Robertson–Spärck Jones idf, kept positive (Lucene's form): a term in every document still counts a little. */
export function idf(docs: number, df: number): number {
  return Math.log(1 + (docs - df + 0.5) / (df + 0.5));
}

/** The BM25 weight of a term that occurs `tf` times in a document of length `len`. */
export function termWeight(tf: number, len: number, avgdl: number, p: Bm25Params): number {
  return (tf * (p.k1 + 1)) / (tf + p.k1 * (1 - p.b + (p.b * len) / avgdl));
}

/**
 * The idf-weighted fraction (0..1) of the query's terms that a document contains: 1 when it has
 * them all, near 0 when it has only the common ones. Terms no document has carry the largest idf,
 * so a question about something the datasets do not hold scores low.
 */
export function matchFraction(present: Iterable<string>, idfs: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const v of idfs.values()) total += v;
  if (total === 0) return 0;
  let got = 0;
  for (const t of new Set(present)) got += idfs.get(t) ?? 0;
  return Math.min(1, got / total);
}

/** impact (migration 0006) is written with these, whatever the query's k1 and b. */
const IMPACT_K1 = 1.2;
const IMPACT_B = 0.4;
/** A stored impact is a real: the value computed in float8 may be larger by this much, relatively. */
const IMPACT_ROUNDING = 2 ** -22;

/**
 * An upper bound of `termWeight` for every posting of impact at most `impact`, whatever its tf and
 * length. impact = tf / (tf + K0(len)) with K0 = 1.2 · (0.6 + 0.4 · len / A0), A0 the avgdl it was
 * written under (at least `avgdlMin`), so tf ≤ x · K0 with x = impact / (1 − impact); the weight
 * (k1 + 1) · tf / (tf + K1(len)) rises with tf, so it is at most (k1 + 1) · x·r / (x·r + 1) with r
 * the largest K0 / K1 over len ≥ 1: a ratio of two linear functions of len, so its value at len = 1
 * or as len grows. When the query's k1, b and avgdl are those the impacts were written with, r = 1
 * and the bound is the weight of a posting of that very impact. Without a known avgdlMin, or with
 * b = 0 (K1 does not grow with len), only the saturation k1 + 1 bounds it.
 */
export function impactWeightBound(impact: number, avgdlMin: number | null, avgdl: number, p: Bm25Params): number {
  if (p.k1 === 0) return 1;
  const c = Math.min(1, impact * (1 + IMPACT_ROUNDING));
  if (avgdlMin === null || p.b === 0 || c >= 1) return p.k1 + 1;
  if (c <= 0) return 0;
  const k0 = (len: number) => IMPACT_K1 * (1 - IMPACT_B + (IMPACT_B * len) / avgdlMin);
  const k1 = (len: number) => p.k1 * (1 - p.b + (p.b * len) / avgdl);
  const r = Math.max(k0(1) / k1(1), (IMPACT_K1 * IMPACT_B * avgdl) / (avgdlMin * p.k1 * p.b));
  const xr = (c / (1 - c)) * r;
  return ((p.k1 + 1) * xr) / (xr + 1);
}
