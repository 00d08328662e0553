/**
 * The local embedding: feature hashing (the "hashing trick"). Each text's words (lower-cased,
 * accents dropped, English stop words left out), word bigrams and character n-grams of each word
 * with boundary marks are hashed (FNV-1a) to a dimension with a hashed sign, weighted by kind, and
 * the vector is L2-normalized. Deterministic, no model to load; texts sharing words and word
 * pieces get a high cosine similarity. The weights were chosen on BEIR SciFact train queries
 * (bench/embedding-eval.ts).
 */
import { hashString } from "./prng";

/**
 * Changes whenever the vectors change for the same text: stored vectors and cached query vectors
 * of another version are not comparable with these.
 */
export const LOCAL_EMBEDDING_VERSION = "hash2";

export interface EmbeddingOptions {
  unigram: number;
  bigram: number;
  /** Weight of each character n-gram of a word (padded with < and >). */
  char: number;
  /** The n of the character n-grams. */
  charN: number;
  /** Leave out English stop words (unigrams, their n-grams, and bigrams that contain one). */
  stopWords: boolean;
  /** Salt of every hashed feature (0 = none): another salt gives other collisions, for evaluation. */
  seed: number;
}

export const EMBEDDING_OPTIONS: Readonly<EmbeddingOptions> = Object.freeze({
  unigram: 1,
  bigram: 0.5,
  char: 0.5,
  charN: 3,
  stopWords: true,
  seed: 0,
});

/** The Snowball English stop words, the list Postgres's `english` text search configuration uses. */
const STOP_WORDS = new Set(
  (
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself " +
    "it its itself they them their theirs themselves what which who whom this that these those am is are was were be " +
    "been being have has had having do does did doing a an the and but if or because as until while of at by for with " +
    "about against between into through during before after above below to from up down in out on off over under " +
    "again further then once here there when where why how all any both each few more most other some such no nor not " +
    "only own same so than too very s t can will just don should now"
  ).split(" "),
);

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
  // An independent bit for the sign keeps collisions from adding up on average.
  v[h % v.length] += (hashString(`~${feature}`) & 1 ? 1 : -1) * weight;
}

/** Writes the unit-length embedding of `text` into `out` (its length is the dimension). */
export function embedInto(text: string, out: Float32Array, o: EmbeddingOptions = EMBEDDING_OPTIONS): void {
  out.fill(0);
  const salt = o.seed ? `${o.seed}|` : "";
  const words = embedWords(text);
  let prev: string | undefined;
  for (const w of words) {
    const stop = o.stopWords && STOP_WORDS.has(w);
    if (!stop) {
      add(out, `${salt}w:${w}`, o.unigram);
      if (o.char) {
        const padded = `<${w}>`;
        for (let j = 0; j + o.charN <= padded.length; j++) add(out, `${salt}c:${padded.slice(j, j + o.charN)}`, o.char);
      }
      if (prev !== undefined && o.bigram) add(out, `${salt}b:${prev} ${w}`, o.bigram);
    }
    prev = stop ? undefined : w;
  }
  let norm = 0;
  for (let i = 0; i < out.length; i++) norm += out[i] * out[i];
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i] /= norm;
}
