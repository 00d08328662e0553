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
 * to the end), `-word` and `-"phrase"` exclude. Everything else is a word ranked with OR semantics.
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
      else words.push(token);
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
