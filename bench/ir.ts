/**
 * BEIR SciFact as the benchmarks read it (from ../shared/fixtures/ir/scifact beside the repository,
 * never copied in), and the two measures BEIR reports: nDCG@10 and recall@100 (binary judgments).
 */
import fs from "node:fs";
import path from "node:path";

export const SCIFACT_DIR =
  process.env.SCIFACT_DIR ?? path.resolve(__dirname, "..", "..", "shared", "fixtures", "ir", "scifact");

export type Split = "test" | "train";

export interface CorpusDoc {
  /** BEIR's document id (metadata.doc_id in corpus.jsonl). */
  id: string;
  content: string;
}

export interface SplitData {
  split: Split;
  queries: { id: string; text: string }[];
  /** Query id → the ids of its relevant documents. */
  qrels: Map<string, Set<string>>;
  judgments: number;
}

export const CORPUS_FILE = path.join(SCIFACT_DIR, "corpus.jsonl");

function lines(file: string): string[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
}

export function loadCorpus(): CorpusDoc[] {
  return lines(CORPUS_FILE).map((l) => {
    const d = JSON.parse(l) as { content: string; metadata: { doc_id: string } };
    return { id: d.metadata.doc_id, content: d.content };
  });
}

export function loadSplit(split: Split): SplitData {
  const dir = split === "test" ? SCIFACT_DIR : path.join(SCIFACT_DIR, "train");
  const queries = lines(path.join(dir, "queries.jsonl")).map((l) => JSON.parse(l) as { id: string; text: string });
  const qrels = new Map<string, Set<string>>();
  const rows = lines(path.join(dir, "qrels.tsv")).slice(1);
  for (const row of rows) {
    const [q, d, score] = row.split("\t");
    if (Number(score) <= 0) continue;
    if (!qrels.has(q)) qrels.set(q, new Set());
    qrels.get(q)!.add(d);
  }
  return { split, queries, qrels, judgments: rows.length };
}

/** nDCG@k with binary gains: DCG over the first k ranked ids over the DCG of an ideal ranking. */
export function ndcgAt(ranked: readonly string[], relevant: ReadonlySet<string>, k = 10): number {
  let dcg = 0;
  for (let i = 0; i < Math.min(k, ranked.length); i++) if (relevant.has(ranked[i])) dcg += 1 / Math.log2(i + 2);
  let ideal = 0;
  for (let i = 0; i < Math.min(k, relevant.size); i++) ideal += 1 / Math.log2(i + 2);
  return ideal > 0 ? dcg / ideal : 0;
}

export function recallAt(ranked: readonly string[], relevant: ReadonlySet<string>, k = 100): number {
  let found = 0;
  for (const id of ranked.slice(0, k)) if (relevant.has(id)) found++;
  return relevant.size ? found / relevant.size : 0;
}

export interface Scores {
  ndcg10: number;
  recall100: number;
}

/** Mean nDCG@10 and recall@100 over the split's queries (a query with no run scores 0). */
export function evaluate(data: SplitData, runs: ReadonlyMap<string, readonly string[]>): Scores {
  let ndcg = 0;
  let recall = 0;
  for (const q of data.queries) {
    const rel = data.qrels.get(q.id) ?? new Set<string>();
    const ranked = runs.get(q.id) ?? [];
    ndcg += ndcgAt(ranked, rel, 10);
    recall += recallAt(ranked, rel, 100);
  }
  return { ndcg10: ndcg / data.queries.length, recall100: recall / data.queries.length };
}
