/**
 * How much two texts repeat each other: the Jaccard similarity of their lower-cased word sets,
 * |A ∩ B| / |A ∪ B|. A word is a run of letters and digits, with inner apostrophes and dots kept
 * ("don't", "261.63").
 */
const WORD = /[\p{L}\p{N}]+(?:['.][\p{L}\p{N}]+)*/gu;

/** The distinct lower-cased words of `text`. */
export function wordSet(text: string): Set<string> {
  return new Set(text.toLowerCase().match(WORD) ?? []);
}

/** |a ∩ b| / |a ∪ b|; 0 for two empty sets. */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let common = 0;
  for (const w of a) if (b.has(w)) common++;
  const union = a.size + b.size - common;
  return union === 0 ? 0 : common / union;
}

export interface SimilarPair {
  a: string;
  b: string;
  similarity: number;
}

/** Every pair of `texts` whose similarity is at least `threshold`, most similar first. */
export function similarPairs(texts: readonly string[], threshold: number): SimilarPair[] {
  const sets = texts.map(wordSet);
  const out: SimilarPair[] = [];
  for (let i = 0; i < texts.length; i++)
    for (let j = i + 1; j < texts.length; j++) {
      const similarity = jaccard(sets[i], sets[j]);
      if (similarity >= threshold) out.push({ a: texts[i], b: texts[j], similarity });
    }
  return out.sort((x, y) => y.similarity - x.similarity);
}
