/**
 * bench/embedding-eval: the local embedding's retrieval quality, in memory, on BEIR SciFact: every
 * document embedded, exact cosine for every query, nDCG@10 and recall@100 of the vector list
 * alone, and of its weighted reciprocal rank fusion with the in-memory BM25 (bench/bm25.ts) over
 * a grid of weights. Variants of the embedding options are compared on train; a hashed embedding's
 * figures move with its collisions, so each variant is the mean over several hash salts.
 * Baseline in the same run: the previous default (no stop words) and BM25 alone.
 *
 *   npm run bench:embedding-eval                        (train, every variant, salts 0,1,2)
 *   npm run bench:embedding-eval -- --split test --variant default --seeds 0    (the one test figure)
 */
import { parseArgs } from "node:util";
import path from "node:path";
import { Bm25 } from "./bm25";
import { evaluate, loadCorpus, loadSplit, type Split } from "./ir";
import { machine, runMain } from "./lib";

const ROOT = path.resolve(__dirname, "..");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, which is what a benchmark measures
const { embedInto, EMBEDDING_OPTIONS } = require(
  path.join(ROOT, "dist/compute/lib/embedding.js"),
) as typeof import("../compute/lib/embedding");
type EmbeddingOptions = import("../compute/lib/embedding").EmbeddingOptions;

const K = 100;
const RRF_K = 60;
/** Weight of the vector list in the fusion; BM25's is 1. */
const WEIGHTS = [0, 0.05, 0.1, 0.2, 0.3, 0.5, 1];

const VARIANTS: Record<string, { dim: number; options: Partial<EmbeddingOptions> }> = {
  "previous (no stop words)": { dim: 384, options: { stopWords: false, char: 0.25 } },
  "stop words, char 0.25": { dim: 384, options: { char: 0.25 } },
  default: { dim: 384, options: {} },
  "char 1.0": { dim: 384, options: { char: 1 } },
  "char 4-grams": { dim: 384, options: { charN: 4 } },
  "no bigrams": { dim: 384, options: { bigram: 0 } },
  "768-d": { dim: 768, options: {} },
};

type Runs = Map<string, string[]>;

function denseRuns(
  corpus: { id: string; content: string }[],
  queries: { id: string; text: string }[],
  dim: number,
  o: EmbeddingOptions,
): Runs {
  const n = corpus.length;
  const m = new Float32Array(n * dim);
  corpus.forEach((d, i) => embedInto(d.content, m.subarray(i * dim, (i + 1) * dim), o));
  const q = new Float32Array(dim);
  const scores = new Float32Array(n);
  const order = Array.from({ length: n }, (_, i) => i);
  const runs: Runs = new Map();
  for (const query of queries) {
    embedInto(query.text, q, o);
    for (let d = 0; d < n; d++) {
      let x = 0;
      for (let j = 0, at = d * dim; j < dim; j++, at++) x += q[j] * m[at];
      scores[d] = x;
    }
    const top = order
      .slice()
      .sort((a, b) => scores[b] - scores[a] || a - b)
      .slice(0, K);
    runs.set(
      query.id,
      top.map((i) => corpus[i].id),
    );
  }
  return runs;
}

/** Weighted reciprocal rank fusion: Σ weight / (RRF_K + rank) over the lists a document is in. */
function fuse(lexical: Runs, vector: Runs, weight: number): Runs {
  const out: Runs = new Map();
  for (const [q, lex] of lexical) {
    const s = new Map<string, number>();
    lex.forEach((d, i) => s.set(d, (s.get(d) ?? 0) + 1 / (RRF_K + i + 1)));
    (vector.get(q) ?? []).forEach((d, i) => s.set(d, (s.get(d) ?? 0) + weight / (RRF_K + i + 1)));
    out.set(
      q,
      [...s]
        .sort((a, b) => b[1] - a[1])
        .slice(0, K)
        .map((x) => x[0]),
    );
  }
  return out;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      split: { type: "string", default: "train" },
      variant: { type: "string" },
      seeds: { type: "string", default: "0,1,2" },
    },
  });
  const split = values.split as Split;
  const seeds = values.seeds.split(",").map(Number);
  const names = values.variant ? [values.variant] : Object.keys(VARIANTS);
  const corpus = loadCorpus();
  const data = loadSplit(split);
  const bm25 = new Bm25(corpus.map((d) => d.content));
  const lexical: Runs = new Map(data.queries.map((q) => [q.id, bm25.search(q.text, K).map((h) => corpus[h.doc].id)]));
  const b = evaluate(data, lexical);
  console.log(
    `bench/embedding-eval on ${machine()}: SciFact ${split}, ${data.queries.length} queries, ${corpus.length} documents, exact cosine, salts ${seeds.join(",")}`,
  );
  console.log(`  BM25 alone (k1 0.9, b 0.4): nDCG@10 ${b.ndcg10.toFixed(4)}, R@100 ${b.recall100.toFixed(4)}`);
  console.log(
    `  ${"variant".padEnd(26)} ${"nDCG@10".padStart(7)} ${"R@100".padStart(7)}   fused with BM25, nDCG@10 at vector weight ${WEIGHTS.join(" / ")}`,
  );
  for (const name of names) {
    const v = Object.hasOwn(VARIANTS, name) ? VARIANTS[name] : undefined;
    if (!v) throw new Error(`no variant "${name}": ${Object.keys(VARIANTS).join(", ")}`);
    const sum = { ndcg10: 0, recall100: 0, fused: WEIGHTS.map(() => 0) };
    for (const seed of seeds) {
      const runs = denseRuns(corpus, data.queries, v.dim, { ...EMBEDDING_OPTIONS, ...v.options, seed });
      const e = evaluate(data, runs);
      sum.ndcg10 += e.ndcg10;
      sum.recall100 += e.recall100;
      WEIGHTS.forEach((w, i) => (sum.fused[i] += evaluate(data, fuse(lexical, runs, w)).ndcg10));
    }
    const k = seeds.length;
    console.log(
      `  ${name.padEnd(26)} ${(sum.ndcg10 / k).toFixed(4).padStart(7)} ${(sum.recall100 / k).toFixed(4).padStart(7)}   ${sum.fused.map((x) => (x / k).toFixed(4)).join(" / ")}`,
    );
  }
}

runMain(main);
