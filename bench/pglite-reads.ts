/**
 * bench/pglite-reads: the embedded read paths without HTTP, in one process on one PGlite folder
 * holding SciFact (imported beforehand, e.g. by bench:search's node or `mcai import`): uncached
 * pages of 20 examples and the SciFact test queries in each search mode, with PGlite in its worker
 * thread and on the main thread (PGLITE_WORKER=0), each path's statements (round trips to the
 * worker) counted, and the time per read (p50/p95, sequential).
 *
 *   DATA_DIR=/path/to/mcai-data npx tsx bench/pglite-reads.ts      QUERIES=300 PAGES=260 K=100
 */
import path from "node:path";
import { loadConfig } from "../services/lib/config";
import type { Db, Queryable } from "../services/lib/db";
import { PgliteDb } from "../services/lib/db/pglite-db";
import { pageExamples, getDataset } from "../services/datasets/store";
import { runSearch, type SearchMode } from "../services/datasets/search";
import { PostingsCache } from "../services/datasets/postings-cache";
import { embedInto } from "../compute/lib/embedding";
import { loadSplit } from "./ir";
import { machine, pct } from "./lib";

const DATA_DIR = process.env.DATA_DIR;
const QUERIES = Number(process.env.QUERIES ?? 300);
const PAGES = Number(process.env.PAGES ?? 260);
const K = Number(process.env.K ?? 100);
/** BY_STATEMENT=1: the time of each statement (its first words), summed per path. */
const BY_STATEMENT = process.env.BY_STATEMENT === "1";
const byStatement = new Map<string, { n: number; ms: number }>();

function printByStatement(): void {
  if (!BY_STATEMENT) return;
  for (const [k, e] of [...byStatement].sort((a, b) => b[1].ms - a[1].ms))
    console.log(`      ${(e.ms / e.n).toFixed(2).padStart(7)} ms x ${String(e.n).padStart(4)}  ${k}`);
  byStatement.clear();
}

/** Counts the calls that reach the host (each one message to the worker). */
function counted(db: Db): { db: Db; calls: () => number } {
  let n = 0;
  const wrapQ = (q: Queryable): Queryable =>
    new Proxy(q, {
      get(t, p, r) {
        const v = Reflect.get(t, p, r) as unknown;
        if (typeof v !== "function") return v;
        if (p === "query" || p === "batch" || p === "run")
          return async (...a: unknown[]) => {
            n++;
            const t0 = performance.now();
            try {
              return await (v as (...x: unknown[]) => Promise<unknown>).apply(t, a);
            } finally {
              if (BY_STATEMENT) {
                const key = String(p === "query" ? a[0] : `${p} ${JSON.stringify(a[0]).slice(0, 60)}`)
                  .replace(/\s+/g, " ")
                  .slice(0, 70);
                const e = byStatement.get(key) ?? { n: 0, ms: 0 };
                e.n++;
                e.ms += performance.now() - t0;
                byStatement.set(key, e);
              }
            }
          };
        if (p === "transaction")
          return <T>(fn: (tx: Queryable) => Promise<T>) => {
            n += 2; // BEGIN and its end
            return (v as Db["transaction"]).call(t, (tx) => fn(wrapQ(tx)));
          };
        return (v as (...x: unknown[]) => unknown).bind(t);
      },
    });
  return { db: wrapQ(db) as Db, calls: () => n };
}

function line(name: string, ms: number[], calls: number, n: number): string {
  return `    ${name.padEnd(26)} p50 ${pct(ms, 50).toFixed(2).padStart(6)} ms  p95 ${pct(ms, 95).toFixed(2).padStart(6)} ms  ${(calls / n).toFixed(1)} calls each`;
}

async function measure(worker: boolean): Promise<void> {
  const raw = await PgliteDb.open(path.join(DATA_DIR!, "db"), {
    worker,
    template: false,
    memory: loadConfig({}).pglite,
  });
  await raw.refreshCapabilities();
  const { db, calls } = counted(raw);
  const cfg = loadConfig(process.env).datasets;
  const settings = {
    bm25: { k1: cfg.bm25K1, b: cfg.bm25B },
    termLimit: cfg.bm25TermLimit,
    postingsBudget: cfg.bm25PostingsBudget,
    exactPostings: cfg.bm25ExactPostings,
    postings: cfg.postingsCacheMb > 0 ? new PostingsCache(cfg.postingsCacheMb * 1024 * 1024) : undefined,
    efSearch: cfg.efSearch,
    fusion: { lexicalWeight: cfg.hybridLexicalWeight, depth: cfg.hybridDepth },
  };
  const dim = loadConfig({}).embeddings.dim;
  const embed = (t: string) => {
    const v = new Float32Array(dim);
    embedInto(t, v);
    return Promise.resolve(v);
  };
  try {
    console.log(`  PGlite ${worker ? "in its worker thread" : "on the main thread (PGLITE_WORKER=0)"}:`);
    const ds = await getDataset(db, "scifact");
    if (!ds) throw new Error(`no scifact dataset in ${DATA_DIR}`);
    const ids: string[] = ["0"];
    for (let after = "0"; ;) {
      const p = await pageExamples(db, "scifact", after, 20);
      if (!p?.more) break;
      after = p.rows[p.rows.length - 1].id;
      ids.push(after);
    }
    for (let round = 0; round < 2; round++) {
      const ms: number[] = [];
      const c0 = calls();
      for (let i = 0; i < PAGES; i++) {
        const t = performance.now();
        await pageExamples(db, "scifact", ids[i % ids.length], 20);
        ms.push(performance.now() - t);
      }
      if (round) console.log(line("page of 20", ms, calls() - c0, PAGES));
      if (round) printByStatement();
      else byStatement.clear();
    }
    const queries = loadSplit("test").queries.slice(0, QUERIES);
    for (const mode of ["lexical", "vector", "hybrid"] as SearchMode[]) {
      for (const q of queries.slice(0, 5)) await runSearch(db, embed, { q: q.text, k: K, mode }, settings);
      byStatement.clear();
      const ms: number[] = [];
      const c0 = calls();
      for (const q of queries) {
        const t = performance.now();
        await runSearch(db, embed, { q: q.text, k: K, mode }, settings);
        ms.push(performance.now() - t);
      }
      console.log(line(`search ${mode}, k ${K}`, ms, calls() - c0, queries.length));
      printByStatement();
    }
  } finally {
    await raw.close();
  }
}

async function main(): Promise<void> {
  if (!DATA_DIR) throw new Error("DATA_DIR: an mcai data folder holding the scifact domain");
  console.log(`bench/pglite-reads on ${machine()}`);
  for (const w of (process.env.WORKER ?? "1,0").split(",")) await measure(w === "1");
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
