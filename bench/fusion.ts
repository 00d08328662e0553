/**
 * Hybrid fusion, tuned on SciFact train (never test): `npm run bench:search -- --tune-fusion`.
 * For every train query it reads the exact BM25 score of every matching document (lexicalSearch,
 * no term limit, over the database the benchmark imported into) and the exact cosine of every
 * document (the local embedding in memory, the function compute.embed runs), so each fusion method
 * sees the same candidates and scores the service would: the best `depth` of each list, each
 * candidate with both of its scores. It prints nDCG@10 of each method and weight and the best one.
 */
import type { Bm25Params } from "../services/datasets/bm25";
import { fuseScores, lexicalSearch, type FusionCandidate } from "../services/datasets/search";
import type { Queryable } from "../services/lib/db";
import { EMBEDDING_OPTIONS, embedInto } from "../compute/lib/embedding";
import { evaluate, ndcgAt, type CorpusDoc, type SplitData } from "./ir";

/** One query's two full score lists: doc id → exact BM25 (matching documents only) and cosine. */
export interface QueryScores {
  bm25: Map<string, number>;
  cosine: Map<string, number>;
}

const DIM = 384;

/** Exact cosine of every document for every query, in memory (the vectors are unit length). */
export function cosines(
  corpus: CorpusDoc[],
  queries: { id: string; text: string }[],
): Map<string, Map<string, number>> {
  const m = new Float32Array(corpus.length * DIM);
  corpus.forEach((d, i) => embedInto(d.content, m.subarray(i * DIM, (i + 1) * DIM), EMBEDDING_OPTIONS));
  const q = new Float32Array(DIM);
  const out = new Map<string, Map<string, number>>();
  for (const query of queries) {
    embedInto(query.text, q, EMBEDDING_OPTIONS);
    const s = new Map<string, number>();
    for (let d = 0; d < corpus.length; d++) {
      let x = 0;
      for (let j = 0, at = d * DIM; j < DIM; j++, at++) x += q[j] * m[at];
      s.set(corpus[d].id, x);
    }
    out.set(query.id, s);
  }
  return out;
}

/** Exact BM25 of every matching document (example id mapped to the BEIR id). */
export async function bm25Scores(
  db: Queryable,
  queries: { id: string; text: string }[],
  docOf: Map<string, string>,
  bm25: Bm25Params,
): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  for (const q of queries) {
    const r = await lexicalSearch(db, q.text, { depth: 100_000, bm25, termLimit: 0 });
    out.set(q.id, new Map(r.ranked.map((x) => [docOf.get(x.id)!, x.score])));
  }
  return out;
}

function top(scores: Map<string, number>, n: number): string[] {
  return [...scores]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map((x) => x[0]);
}

/** The candidates the service fuses: the best `depth` of each list, each with both exact scores. */
function candidates(s: QueryScores, depth: number): FusionCandidate[] {
  const lex = top(s.bm25, depth);
  const vec = top(s.cosine, depth);
  const ids = new Set([...lex, ...vec]);
  return [...ids].map((id) => ({
    id,
    bm25: s.bm25.get(id) ?? 0,
    cosine: s.cosine.get(id)!,
    lexical: lex.indexOf(id) + 1 || null,
    vector: vec.indexOf(id) + 1 || null,
  }));
}

type Method = (c: FusionCandidate[], w: number) => { id: string; score: number }[];

/** Alternatives weighed against the service's method (fuseScores), here only. */
const METHODS: Record<string, Method> = {
  "convex, bm25/max (service)": (c, w) => fuseScores(c, w),
  "convex, min-max both": (c, w) => {
    const range = (xs: number[]) => [Math.min(...xs), Math.max(...xs) - Math.min(...xs) || 1];
    const [bl, br] = range(c.map((x) => x.bm25));
    const [cl, cr] = range(c.map((x) => x.cosine));
    return c.map((x) => ({ id: x.id, score: (w * (x.bm25 - bl)) / br + ((1 - w) * (x.cosine - cl)) / cr }));
  },
  "weighted RRF (k 60)": (c, w) =>
    c.map((x) => ({
      id: x.id,
      score: (x.lexical ? w / (60 + x.lexical) : 0) + (x.vector ? (1 - w) / (60 + x.vector) : 0),
    })),
  "lexical candidates only, convex": (c, w) =>
    fuseScores(
      c.filter((x) => x.lexical !== null),
      w,
    ),
};

const WEIGHTS = [1, 0.99, 0.98, 0.97, 0.96, 0.95, 0.93, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5];
const DEPTHS = [20, 50, 100];

/** Each query's candidates at one depth, computed once for the whole grid. */
type CandidateSets = Map<string, FusionCandidate[]>;

function run(data: SplitData, sets: CandidateSets, method: Method, w: number) {
  const runs = new Map<string, string[]>();
  for (const q of data.queries) {
    const fused = method(sets.get(q.id)!, w);
    runs.set(
      q.id,
      fused
        .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
        .slice(0, 100)
        .map((x) => x.id),
    );
  }
  return evaluate(data, runs);
}

/** The grid on train: prints nDCG@10 per method, depth and lexical weight; returns the best. */
export function tuneFusion(
  data: SplitData,
  all: Map<string, QueryScores>,
): { method: string; w: number; depth: number } {
  const lexical = evaluate(data, new Map(data.queries.map((q) => [q.id, top(all.get(q.id)!.bm25, 100)])));
  const vector = evaluate(data, new Map(data.queries.map((q) => [q.id, top(all.get(q.id)!.cosine, 100)])));
  console.log(
    `\nfusion on ${data.split} (${data.queries.length} queries): BM25 alone nDCG@10 ${lexical.ndcg10.toFixed(4)}, exact cosine alone ${vector.ndcg10.toFixed(4)}`,
  );
  console.log(`  ${"method".padEnd(34)} depth  nDCG@10 at lexical weight ${WEIGHTS.join(" / ")}`);
  let best = { method: "", w: 1, depth: 20, ndcg: -1 };
  const sets = new Map(
    DEPTHS.map((depth) => [depth, new Map(data.queries.map((q) => [q.id, candidates(all.get(q.id)!, depth)]))]),
  );
  for (const [name, method] of Object.entries(METHODS))
    for (const depth of DEPTHS) {
      const row = WEIGHTS.map((w) => run(data, sets.get(depth)!, method, w).ndcg10);
      row.forEach((n, i) => {
        if (n > best.ndcg + 1e-9) best = { method: name, w: WEIGHTS[i], depth, ndcg: n };
      });
      console.log(`  ${name.padEnd(34)} ${String(depth).padStart(5)}  ${row.map((n) => n.toFixed(4)).join(" / ")}`);
    }
  console.log(`  best: ${best.method}, depth ${best.depth}, lexical weight ${best.w}: nDCG@10 ${best.ndcg.toFixed(4)}`);
  return best;
}

/** Share of queries where fusion's nDCG@10 is below BM25's, and their mean loss (per-query check). */
export function perQueryLoss(
  data: SplitData,
  all: Map<string, QueryScores>,
  w: number,
  depth: number,
): { worse: number; better: number } {
  let worse = 0;
  let better = 0;
  for (const q of data.queries) {
    const rel = data.qrels.get(q.id) ?? new Set<string>();
    const s = all.get(q.id)!;
    const lex = ndcgAt(top(s.bm25, 10), rel);
    const fused = fuseScores(candidates(s, depth), w)
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
      .map((x) => x.id);
    const h = ndcgAt(fused, rel);
    if (h < lex - 1e-12) worse++;
    if (h > lex + 1e-12) better++;
  }
  return { worse, better };
}
