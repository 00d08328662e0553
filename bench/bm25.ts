/**
 * A plain in-memory Okapi BM25, the baseline the search benchmarks compare against: lower-case,
 * split on non-alphanumerics (Unicode letters and digits), no stemming, no stop words, each query
 * term counted once; Lucene's idf ln(1 + (N − df + 0.5) / (df + 0.5)). With k1 0.9, b 0.4 it gives
 * SciFact test exactly the figures SOURCE.md reports for its check (nDCG@10 0.6614, R@100 0.8886).
 */
export function bm25Tokens(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t.length > 0);
}

export class Bm25 {
  private readonly postings = new Map<string, { doc: number[]; tf: number[] }>();
  private readonly lengths: Float64Array;
  private readonly avgLength: number;

  constructor(
    docs: readonly string[],
    readonly k1 = 0.9,
    readonly b = 0.4,
  ) {
    this.lengths = new Float64Array(docs.length);
    docs.forEach((text, d) => {
      const tf = new Map<string, number>();
      const tokens = bm25Tokens(text);
      for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const [t, n] of tf) {
        const p = this.postings.get(t) ?? this.postings.set(t, { doc: [], tf: [] }).get(t)!;
        p.doc.push(d);
        p.tf.push(n);
      }
      this.lengths[d] = tokens.length;
    });
    this.avgLength = this.lengths.reduce((a, x) => a + x, 0) / Math.max(1, docs.length);
  }

  /** The best `k` documents (indexes into the constructor's list) for `query`, best first. */
  search(query: string, k: number): { doc: number; score: number }[] {
    const n = this.lengths.length;
    const scores = new Float64Array(n);
    const touched = new Set<number>();
    for (const term of new Set(bm25Tokens(query))) {
      const p = this.postings.get(term);
      if (!p) continue;
      const idf = Math.log(1 + (n - p.doc.length + 0.5) / (p.doc.length + 0.5));
      for (let i = 0; i < p.doc.length; i++) {
        const d = p.doc[i];
        const norm = this.k1 * (1 - this.b + (this.b * this.lengths[d]) / this.avgLength);
        scores[d] += (idf * p.tf[i] * (this.k1 + 1)) / (p.tf[i] + norm);
        touched.add(d);
      }
    }
    return [...touched]
      .map((doc) => ({ doc, score: scores[doc] }))
      .sort((a, b) => b.score - a.score || a.doc - b.doc)
      .slice(0, k);
  }
}
