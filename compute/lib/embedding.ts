/**
 * The local embedding: feature hashing (the "hashing trick") of word unigrams (weight 1), word
 * bigrams (0.5) and character trigrams of each word with boundary marks (0.25), each hashed
 * (FNV-1a) to a dimension with a hashed sign, then L2-normalized. Deterministic, no model to load;
 * texts sharing words and word pieces get a high cosine similarity.
 */
import { hashString } from "./prng";

export function embedWords(text: string): string[] {
  return text
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

function add(v: Float32Array, feature: string, weight: number): void {
  const h = hashString(feature);
  const idx = h % v.length;
  // An independent bit for the sign keeps collisions from adding up on average.
  v[idx] += (hashString(`~${feature}`) & 1 ? 1 : -1) * weight;
}

/** Writes the unit-length embedding of `text` into `out` (its length is the dimension). */
export function embedInto(text: string, out: Float32Array): void {
  out.fill(0);
  const words = embedWords(text);
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    add(out, `w:${w}`, 1);
    if (i > 0) add(out, `b:${words[i - 1]} ${w}`, 0.5);
    const padded = `<${w}>`;
    for (let j = 0; j + 3 <= padded.length; j++) add(out, `c:${padded.slice(j, j + 3)}`, 0.25);
  }
  let norm = 0;
  for (let i = 0; i < out.length; i++) norm += out[i] * out[i];
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i] /= norm;
}
