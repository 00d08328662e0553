/**
 * bench/search: BEIR SciFact through the real program. For each driver (an embedded PGlite folder,
 * a fresh database on the real Postgres) it starts `mcai start`, imports corpus.jsonl through the
 * HTTP API (timed: documents/s), then sends every query of each split to `GET /api/search` in
 * each mode and prints nDCG@10, recall@100 and the p50/p95 round-trip latency, beside a plain
 * in-memory Okapi BM25 over the same texts computed in the same run and the published figures.
 * The fixture is read from ../shared/fixtures/ir/scifact (SCIFACT_DIR to change).
 *
 *   npm run bench:search                                    (both drivers, test and train)
 *   npm run bench:search -- --driver pglite --split test    (one driver, one split)
 *   npm run bench:search -- --tune-fusion                  (the hybrid fusion grid on train only, bench/fusion.ts)
 *   BASELINE=/work/main npm run bench:search -- --driver pglite --split test
 *                          each mode is run again, in the same run and on the same imported data, by
 *                          another build (its dist/bin/mcai.js, built there): the figures before a change
 *   ALSO_MAIN_THREAD=1 ...  and again (this build) with PGlite on the main thread (PGLITE_WORKER=0)
 *   ALSO_ENV=SEARCH_BM25_POSTINGS_BUDGET=0 ...  and again (this build) with those settings (NAME=value,…)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { Bm25 } from "./bm25";
import {
  CORPUS_FILE,
  evaluate,
  type CorpusDoc,
  loadCorpus,
  loadSplit,
  SCIFACT_DIR,
  type Scores,
  type Split,
  type SplitData,
} from "./ir";
import { benchDatabase, freePort, machine, pct, runMain, sleep, startMcai } from "./lib";
import { nodePid } from "./memory";
import { bm25Scores, cosines, perQueryLoss, tuneFusion, type QueryScores } from "./fusion";
import { loadConfig } from "../services/lib/config";
import { PgDb } from "../services/lib/db";

type Driver = "pglite" | "postgres";
type Mode = "lexical" | "vector" | "hybrid";
const MODES: readonly Mode[] = ["lexical", "vector", "hybrid"];
const K = 100;
const WARMUP = 5;
const API_KEY = "bench-search-admin-key-0123456789";
/** Another checkout whose build runs each mode again on the same data (the baseline); none by default. */
const BASELINE = process.env.BASELINE ? path.resolve(process.env.BASELINE, "dist", "bin", "mcai.js") : undefined;

/** From SOURCE.md (SciFact test, nDCG@10 and R@100 where published). */
const PUBLISHED = [
  "BM25 BEIR paper (Elasticsearch multifield) 0.665",
  "BM25 flat Anserini 0.6789 (R@100 0.9253)",
  "BM25 multifield Anserini 0.6647 (R@100 0.9076)",
  "all-MiniLM-L6-v2 0.6451 (R@100 0.925)",
  "bge-small-en-v1.5 0.7127 (R@100 0.945)",
  "Contriever 0.6493",
];

interface Row {
  split: Split;
  system: string;
  scores?: Scores;
  latency?: number[];
  note?: string;
}

interface Hit {
  id: string;
}

function fmt(r: Row): string {
  const name = r.system.padEnd(34);
  if (!r.scores) return `  ${name} ${r.note ?? ""}`;
  const lat = r.latency?.length
    ? `${pct(r.latency, 50).toFixed(1).padStart(7)} ${pct(r.latency, 95).toFixed(1).padStart(7)}`
    : "".padStart(15);
  return `  ${name} ${r.scores.ndcg10.toFixed(4).padStart(7)} ${r.scores.recall100.toFixed(4).padStart(7)} ${lat}${r.note ? `   ${r.note}` : ""}`;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return n;
}

function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- T names the body shape the caller expects from the API
async function getJson<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const r = await fetch(url, init);
  return { status: r.status, body: (await r.json()) as T };
}

/** Example id → BEIR doc id, read back through the examples pages (search hits carry no metadata). */
async function docIdsById(base: string, domain: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor: string | null = null;
  do {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const { status, body } = await getJson<{
      examples: { id: string; metadata: { doc_id?: string; metadata?: { doc_id?: string } } }[];
      next_cursor: string | null;
    }>(`${base}/api/datasets/${domain}/examples?limit=500${q}`);
    if (status !== 200) throw new Error(`examples page answered ${status}: ${JSON.stringify(body)}`);
    // A JSONL record's own "metadata" field lands under metadata.metadata (every field but content and response is kept).
    for (const e of body.examples) out.set(e.id, String(e.metadata.doc_id ?? e.metadata.metadata?.doc_id));
    cursor = body.next_cursor;
  } while (cursor);
  return out;
}

/** Every query of the split in one mode; undefined runs when the mode is not available (501). */
async function runMode(
  base: string,
  data: SplitData,
  mode: Mode,
  docOf: Map<string, string>,
): Promise<{ runs?: Map<string, string[]>; latency: number[]; note?: string }> {
  const url = (q: string) => `${base}/api/search?q=${encodeURIComponent(q)}&k=${K}&mode=${mode}`;
  for (const q of data.queries.slice(0, WARMUP)) {
    const r = await getJson<{ error?: { message: string } }>(url(q.text));
    if (r.status === 501) return { latency: [], note: `n/a: ${r.body.error?.message}` };
  }
  const runs = new Map<string, string[]>();
  const latency: number[] = [];
  const degraded = new Set<string>();
  for (const q of data.queries) {
    const t0 = performance.now();
    const r = await getJson<{ hits: Hit[]; degraded?: string }>(url(q.text));
    latency.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`search ${mode} "${q.text}" answered ${r.status}: ${JSON.stringify(r.body)}`);
    if (r.body.degraded) degraded.add(r.body.degraded);
    runs.set(
      q.id,
      r.body.hits.map((h) => docOf.get(h.id) ?? `unknown:${h.id}`),
    );
  }
  const empty = [...runs.values()].filter((r) => r.length === 0).length;
  const notes = [
    ...(degraded.size ? [`degraded: ${[...degraded].join(", ")}`] : []),
    ...(empty ? [`${empty} queries found nothing`] : []),
  ];
  return { runs, latency, note: notes.join("; ") || undefined };
}

/** The fusion grid on train: exact BM25 from the imported database, exact cosine in memory. */
async function runTuning(
  dbUrl: string,
  corpus: CorpusDoc[],
  data: SplitData,
  docOf: Map<string, string>,
): Promise<void> {
  const cfg = loadConfig({}).datasets;
  const db = new PgDb({ connectionString: dbUrl, max: 1 });
  try {
    const t0 = performance.now();
    const bm25 = await bm25Scores(db, data.queries, docOf, { k1: cfg.bm25K1, b: cfg.bm25B });
    const cos = cosines(corpus, data.queries);
    console.log(
      `  exact scores of ${data.queries.length} queries in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const all = new Map<string, QueryScores>(
      data.queries.map((q) => [q.id, { bm25: bm25.get(q.id)!, cosine: cos.get(q.id)! }]),
    );
    const best = tuneFusion(data, all);
    const loss = perQueryLoss(data, all, cfg.hybridLexicalWeight, cfg.hybridDepth);
    console.log(
      `  the configured default (lexical weight ${cfg.hybridLexicalWeight}, depth ${cfg.hybridDepth}): ${loss.better} queries better than BM25, ${loss.worse} worse; best of the grid: ${best.method}`,
    );
  } finally {
    await db.close();
  }
}

/** POSTs the corpus (202: an import job) and waits for the job; answers its summary. */
async function importAsJob(
  base: string,
  body: RequestInit["body"],
): Promise<{ status: number; body: { added: number } }> {
  const headers = { authorization: `Bearer ${API_KEY}` };
  const sent = await getJson<{ poll_url: string }>(
    `${base}/api/datasets/scifact/import?format=jsonl&filename=corpus.jsonl`,
    {
      method: "POST",
      headers: { ...headers, "content-type": "application/octet-stream" },
      body,
    },
  );
  if (sent.status !== 202) return { status: sent.status, body: sent.body as never };
  for (;;) {
    const j = await getJson<{ status: string; result: { added: number } }>(`${base}${sent.body.poll_url}`, { headers });
    if (j.body.status === "completed") return { status: 200, body: j.body.result };
    if (j.body.status === "failed" || j.body.status === "cancelled") return { status: 500, body: j.body as never };
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runDriver(driver: Driver, splits: SplitData[], corpus: CorpusDoc[], tune: boolean): Promise<Row[]> {
  const docs = corpus.length;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-bench-search-"));
  const db = driver === "postgres" ? await benchDatabase("mcai_bench_search") : undefined;
  const env: Record<string, string> = {
    API_KEYS: API_KEY,
    RATE_LIMIT: "0",
    DEMO_DATA: "false",
    MCAI_DATA_DIR: dataDir,
    ...(db ? { DATABASE_URL: db.url } : {}),
    // PGLITE_WORKER=0 measures embedded search with PGlite on the main thread, for comparison.
    ...(process.env.PGLITE_WORKER ? { PGLITE_WORKER: process.env.PGLITE_WORKER } : {}),
  };
  const args = ["--services", "api,jobs,datasets,compute", "--node-id", `search-${driver}`, "--port", String(port)];
  let node = startMcai(args, env);
  const stop = async () => {
    node.proc.kill("SIGTERM");
    await new Promise((r) => (node.proc.exitCode !== null ? r(undefined) : node.proc.once("exit", r)));
    await sleep(200);
  };
  // The same data served again: by the baseline build, and by this one with PGlite on the main thread.
  const again: { label: string; bin?: string; env?: Record<string, string> }[] = [
    ...(BASELINE ? [{ label: "BASELINE", bin: BASELINE }] : []),
    ...(process.env.ALSO_MAIN_THREAD === "1" && driver === "pglite"
      ? [{ label: "PGLITE_WORKER=0", env: { PGLITE_WORKER: "0" } }]
      : []),
    // ALSO_ENV="NAME=value,…": this build again with those settings (e.g. SEARCH_BM25_POSTINGS_BUDGET=0).
    ...(process.env.ALSO_ENV
      ? [
          {
            label: process.env.ALSO_ENV,
            env: Object.fromEntries(process.env.ALSO_ENV.split(",").map((kv) => kv.split("=", 2) as [string, string])),
          },
        ]
      : []),
  ];
  const rows: Row[] = [];
  try {
    await node.ready;
    const t0 = performance.now();
    const imp = await importAsJob(base, fs.readFileSync(CORPUS_FILE));
    const secs = (performance.now() - t0) / 1000;
    if (imp.status !== 200 || imp.body.added !== docs)
      throw new Error(`import answered ${imp.status}: ${JSON.stringify(imp.body)}`);
    let size: string;
    if (db) {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      const s = await c.query<{ db: string; ex: string }>(
        "SELECT pg_database_size(current_database())::text AS db, pg_total_relation_size('examples')::text AS ex",
      );
      await c.end();
      size = `database ${(Number(s.rows[0].db) / 2 ** 20).toFixed(0)} MB, examples with indexes ${(Number(s.rows[0].ex) / 2 ** 20).toFixed(0)} MB`;
    } else size = `data folder ${(dirBytes(dataDir) / 2 ** 20).toFixed(0)} MB`;
    console.log(
      `\n${driver}: imported ${imp.body.added} documents in ${secs.toFixed(1)} s = ${Math.round(docs / secs)} documents/s (node peak RSS ${peakRssMb(nodePid(node.proc.pid!)).toFixed(0)} MB, ${size})`,
    );
    const docOf = await docIdsById(base, "scifact");
    if (tune) {
      await runTuning(db!.url, corpus, splits[0], docOf);
      return rows;
    }
    for (const run of [{ label: "" }, ...again]) {
      if (run.label) {
        await stop();
        node = startMcai(args, { ...env, ...run.env }, "warn", [], run.bin);
        await node.ready;
      }
      for (const data of splits)
        for (const mode of MODES) {
          const r = await runMode(base, data, mode, docOf);
          const row: Row = {
            split: data.split,
            system: `${driver} ${mode}${run.label ? ` ${run.label}` : ""}`,
            scores: r.runs && evaluate(data, r.runs),
            latency: r.latency,
            note: r.note,
          };
          console.log(`  ${data.split.padEnd(5)}${fmt(row)}`);
          rows.push(row);
        }
    }
  } finally {
    await stop();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

function baseline(corpus: CorpusDoc[], splits: SplitData[]): Row[] {
  const t0 = performance.now();
  const bm25 = new Bm25(corpus.map((d) => d.content));
  console.log(
    `in-memory BM25 (k1 ${bm25.k1}, b ${bm25.b}, no stemming): index of ${corpus.length} documents built in ${(performance.now() - t0).toFixed(0)} ms`,
  );
  return splits.flatMap((data) => {
    const runs = new Map<string, string[]>();
    const latency: number[] = [];
    for (const q of data.queries) {
      const t = performance.now();
      runs.set(
        q.id,
        bm25.search(q.text, K).map((h) => corpus[h.doc].id),
      );
      latency.push(performance.now() - t);
    }
    // What the API's vector mode must equal when the HNSW search is as good as exact search.
    const exact = new Map(
      [...cosines(corpus, data.queries)].map(([q, s]) => [
        q,
        [...s]
          .sort((a, b) => b[1] - a[1])
          .slice(0, K)
          .map((x) => x[0]),
      ]),
    );
    return [
      { split: data.split, system: "in-memory BM25 (this run)", scores: evaluate(data, runs), latency },
      { split: data.split, system: "exact cosine, local embedding", scores: evaluate(data, exact), note: "in memory" },
    ];
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      driver: { type: "string", default: "both" },
      split: { type: "string", default: "both" },
      "tune-fusion": { type: "boolean", default: false },
    },
  });
  const tune = values["tune-fusion"];
  // Tuning reads train only, never test, and the exact BM25 from Postgres (the same ranking as PGlite's).
  if (tune) Object.assign(values, { driver: "postgres", split: "train" });
  const drivers = values.driver === "both" ? ["pglite", "postgres"] : [values.driver];
  const splitNames = values.split === "both" ? ["test", "train"] : [values.split];
  const isDriver = (d: string): d is Driver => d === "pglite" || d === "postgres";
  const isSplit = (s: string): s is Split => s === "test" || s === "train";
  if (!drivers.every(isDriver)) throw new Error("--driver: pglite, postgres or both");
  if (!splitNames.every(isSplit)) throw new Error("--split: test, train or both");

  const corpus = loadCorpus();
  const splits = splitNames.map(loadSplit);
  const chars = corpus.reduce((n, d) => n + d.content.length, 0);
  console.log(`bench/search on ${machine()}`);
  console.log(
    `BEIR SciFact from ${SCIFACT_DIR}: ${corpus.length} documents, ${(chars / 1e6).toFixed(2)} M characters (mean ${Math.round(chars / corpus.length)}); ` +
      splits.map((s) => `${s.split} ${s.queries.length} queries / ${s.judgments} judgments`).join("; "),
  );
  const rows = baseline(corpus, splits);
  for (const d of drivers) rows.push(...(await runDriver(d, splits, corpus, tune)));
  if (tune) return;

  for (const s of splitNames) {
    console.log(`\nSciFact ${s} (k=${K}; latency = HTTP round trip, sequential)`);
    console.log(
      `  ${"".padEnd(34)} ${"nDCG@10".padStart(7)} ${"R@100".padStart(7)} ${"p50 ms".padStart(7)} ${"p95 ms".padStart(7)}`,
    );
    for (const r of rows.filter((x) => x.split === s)) console.log(fmt(r));
    console.log(s === "test" ? `  published (SOURCE.md): ${PUBLISHED.join("; ")}` : "  published: none for train");
  }
}

runMain(main);
