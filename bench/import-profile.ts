/**
 * bench/import-profile: where the time of a SciFact import goes on PGlite, stage by stage, each
 * timed alone on a fresh migrated database folder: the local embedding (one thread), the vectors'
 * text form, the to_tsvector('english') of every text, and the INSERT with and without the
 * embedding column and its HNSW index. Baseline: the rows inserted with neither vectors nor index.
 *
 * The INSERT is also timed with the BM25 postings of all batches written once at the end (migration
 * 0009, what a one-transaction import does), with the BM25 trigger cut short (without its postings
 * INSERT; then without its term upsert too), without the trigger, and without it and the GIN index.
 * The stages run with the node's own PGlite settings (PGLITE_SHARED_BUFFERS_MB and the rest).
 *
 * Then the whole import as users run it: the corpus POSTed to a node (202, an import job) and the
 * job followed to its end, on PGlite (HNSW index dropped and built once) and on Postgres (no
 * pgvector here), with import batches (EMBEDDINGS_BATCH) of 256 (the default) and the PGlite page
 * caches asked for, in the same run.
 *
 *   npm run bench:import-profile   (BATCH=256 DIM=384 for the stages; STAGES=0 skips them;
 *                                   E2E_BATCHES=256,1024; E2E_SHARED_BUFFERS=16,64 compares
 *                                   PGlite page caches; ROW_BY_ROW=1 adds HNSW grown row by row)
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CORPUS_FILE, loadCorpus } from "./ir";
import { benchDatabase, freePort, machine, MCAI_BIN, runMain, startMcai } from "./lib";

const ROOT = path.resolve(__dirname, "..");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, which is what a benchmark measures
const { PgliteDb, migrate } = require(
  path.join(ROOT, "dist/services/lib/db/index.js"),
) as typeof import("../services/lib/db");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, which is what a benchmark measures
const { embedInto } = require(
  path.join(ROOT, "dist/compute/lib/embedding.js"),
) as typeof import("../compute/lib/embedding");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, which is what a benchmark measures
const { vectorLiteral } = require(
  path.join(ROOT, "dist/services/datasets/embeddings/index.js"),
) as typeof import("../services/datasets/embeddings");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, which is what a benchmark measures
const { loadConfig } = require(
  path.join(ROOT, "dist/services/lib/config.js"),
) as typeof import("../services/lib/config");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, which is what a benchmark measures
const { deferBm25, flushBm25, insertExamples, ensureDataset } = require(
  path.join(ROOT, "dist/services/datasets/store.js"),
) as typeof import("../services/datasets/store");

const BATCH = Number(process.env.BATCH ?? 256);
const DIM = Number(process.env.DIM ?? 384);

type Db = import("../services/lib/db").Db;
type Example = import("../services/datasets/records").ExampleInput;

async function time(label: string, docs: number, fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  console.log(
    `  ${label.padEnd(64)} ${(ms / 1000).toFixed(2).padStart(7)} s  ${Math.round(docs / (ms / 1000))
      .toString()
      .padStart(7)} docs/s`,
  );
  return ms;
}

/**
 * All rows in batches of BATCH, in one transaction; `deferred`: with the BM25 postings written once
 * at the end, as importRecords does (migration 0009), else by each batch's statement.
 */
async function insertAll(db: Db, rows: Example[], vectors?: Float32Array[], deferred = false): Promise<void> {
  await db.transaction(async (tx) => {
    const id = await ensureDataset(tx, "scifact");
    if (deferred) await deferBm25(tx);
    for (let i = 0; i < rows.length; i += BATCH)
      await insertExamples(tx, id, rows.slice(i, i + BATCH), vectors?.slice(i, i + BATCH));
    if (deferred) await flushBm25(tx);
  });
}

/**
 * The BM25 trigger's parts: the trigger function with its last statement (the postings INSERT)
 * replaced by a read of the terms upsert, then with the upsert gone too. The function is read from
 * the database and restored after.
 */
async function triggerParts(db: Db, rows: Example[]): Promise<void> {
  const def = (await db.query<{ d: string }>("SELECT pg_get_functiondef('bm25_sync'::regproc) AS d")).rows[0].d;
  const postings = /\n\s*INSERT INTO bm25_postings[\s\S]*?;/;
  const terms = /\),\s*terms AS \([\s\S]*?RETURNING id, dataset_id, term\s*\)/;
  if (!postings.test(def) || !terms.test(def)) {
    console.log("  (the BM25 trigger's parts: not timed, its function no longer has the statements looked for)");
    return;
  }
  const reset = () => db.query("TRUNCATE examples, datasets, bm25_terms, bm25_postings CASCADE");
  const noPostings = def.replace(postings, "\n    SELECT array_agg(id) INTO emptied FROM terms;");
  await db.query(noPostings);
  await time("INSERT without vectors, BM25 trigger without the postings", rows.length, () => insertAll(db, rows));
  await reset();
  await db.query(noPostings.replace(terms, ")").replace("FROM terms;", "FROM stats;"));
  await time("INSERT without vectors, BM25 trigger: lexemes, lengths, N only", rows.length, () => insertAll(db, rows));
  await reset();
  await db.query(def);
}

const KEY = "bench-import-profile-key-0123456789";

/** POSTs the corpus file to a fresh node and follows its import job; returns seconds and the summary. */
async function importThroughJob(env: Record<string, string>, body: Buffer): Promise<{ secs: number; result: unknown }> {
  const port = await freePort();
  const node = startMcai(["--services", "api,jobs,datasets,compute", "--port", String(port)], {
    API_KEYS: KEY,
    RATE_LIMIT: "0",
    DEMO_DATA: "false",
    ...env,
  });
  try {
    await node.ready;
    const base = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${KEY}` };
    const t0 = performance.now();
    const sent = await fetch(`${base}/api/datasets/scifact/import?format=jsonl&filename=corpus.jsonl`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/octet-stream" },
      body: new Uint8Array(body),
    }).catch((err: unknown) => {
      throw new Error(`POST failed (${(err as Error).message}); the node printed:\n${node.out()}`);
    });
    const answer = (await sent.json()) as { poll_url: string };
    if (sent.status !== 202) throw new Error(`import answered ${sent.status}: ${JSON.stringify(answer)}`);
    for (;;) {
      const j = (await (await fetch(`${base}${answer.poll_url}`, { headers })).json()) as {
        status: string;
        result?: unknown;
        error?: string;
      };
      if (j.status === "completed") return { secs: (performance.now() - t0) / 1000, result: j.result };
      if (j.status === "failed" || j.status === "cancelled") throw new Error(`import job ${j.status}: ${j.error}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    node.proc.kill("SIGTERM");
    await new Promise((r) => node.proc.once("exit", r));
  }
}

/** Import batches compared end to end: the default (256; 1024 measured within noise of it). */
const E2E_BATCHES = (process.env.E2E_BATCHES ?? "256").split(",");
/** PGlite page caches (PGLITE_SHARED_BUFFERS_MB) compared end to end; the first is the default's. */
const E2E_SHARED_BUFFERS = (process.env.E2E_SHARED_BUFFERS ?? "16").split(",");

async function endToEnd(n: number): Promise<void> {
  const body = fs.readFileSync(CORPUS_FILE);
  console.log(`\nwhole import over HTTP as a job (${n} documents, EMBEDDINGS_BATCH ${E2E_BATCHES.join(" and ")}):`);
  const runs: [string, () => Promise<Record<string, string>>, () => Promise<void>][] = [];
  const dirs: string[] = [];
  const pglite =
    (rebuildMin: string, batch: string, sharedBuffers = E2E_SHARED_BUFFERS[0]) =>
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-import-e2e-"));
      dirs.push(dir);
      return Promise.resolve({
        MCAI_DATA_DIR: dir,
        IMPORT_HNSW_REBUILD_MIN: rebuildMin,
        EMBEDDINGS_BATCH: batch,
        PGLITE_SHARED_BUFFERS_MB: sharedBuffers,
      });
    };
  const none = () => Promise.resolve();
  if (process.env.ROW_BY_ROW === "1")
    runs.push(["PGlite, HNSW grown row by row, batches of 256", pglite("0", "256"), none]);
  for (const batch of E2E_BATCHES)
    for (const sb of E2E_SHARED_BUFFERS)
      runs.push([`PGlite, HNSW built once, batches of ${batch}, ${sb} MB page cache`, pglite("2000", batch, sb), none]);
  let pg: { url: string; drop(): Promise<void> } | undefined;
  for (const batch of E2E_BATCHES)
    runs.push([
      `Postgres (no pgvector), batches of ${batch}`,
      async () => {
        pg = await benchDatabase("mcai_bench_import");
        return { DATABASE_URL: pg.url, EMBEDDINGS_BATCH: batch };
      },
      async () => pg?.drop(),
    ]);
  for (const [label, env, cleanup] of runs) {
    try {
      const r = await importThroughJob(await env(), body);
      console.log(
        `  ${label.padEnd(84)} ${r.secs.toFixed(2).padStart(7)} s  ${Math.round(n / r.secs)
          .toString()
          .padStart(7)} docs/s  ${JSON.stringify(r.result)}`,
      );
    } finally {
      await cleanup();
    }
  }
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
  await cliImport(n);
}

/**
 * `mcai import` with no node running: the whole file in one transaction (importRecords, the BM25
 * postings written once at its end), process start and migrations included.
 */
async function cliImport(n: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-import-cli-"));
  try {
    const t0 = performance.now();
    const proc = spawn(process.execPath, [MCAI_BIN, "import", CORPUS_FILE, "--domain", "scifact"], {
      env: { PATH: process.env.PATH!, HOME: os.tmpdir(), MCAI_DATA_DIR: dir, DEMO_DATA: "false", LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => proc.once("exit", r));
    const secs = (performance.now() - t0) / 1000;
    if (code !== 0) throw new Error(`mcai import exited ${code}:\n${out}`);
    console.log(
      `  ${"PGlite, mcai import with no node (one transaction), process start included".padEnd(84)} ${secs
        .toFixed(2)
        .padStart(7)} s  ${Math.round(n / secs)
        .toString()
        .padStart(7)} docs/s  ${out.trim().split("\n").pop()}`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const corpus = loadCorpus();
  if (process.env.STAGES === "0") return endToEnd(corpus.length);
  const rows: Example[] = corpus.map((d) => ({ content: d.content, response: "", metadata: { doc_id: d.id } }));
  const n = rows.length;
  console.log(`bench/import-profile on ${machine()}: ${n} SciFact documents, batches of ${BATCH}, ${DIM}-d`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-import-profile-"));
  // The node's own PGlite settings (a 16 MB page cache): PGlite's default (128 MB) hid what the
  // small cache costs the postings' (term, impact) index, which outgrows it.
  const db = await PgliteDb.open(dir, { memory: loadConfig({}).pglite });
  try {
    await migrate(db, undefined, { embedding_dim: DIM });
    const vectors = corpus.map(() => new Float32Array(DIM));
    await time("embedding, feature hashing on one thread", n, () =>
      corpus.forEach((d, i) => embedInto(d.content, vectors[i])),
    );
    await time("vector text literals (vectorLiteral)", n, () => vectors.map(vectorLiteral));
    await time("to_tsvector('english') alone (SELECT, no write)", n, async () => {
      for (let i = 0; i < n; i += BATCH)
        await db.query("SELECT sum(length(to_tsvector('english', c))) FROM unnest($1::text[]) c", [
          rows.slice(i, i + BATCH).map((r) => r.content),
        ]);
    });
    // The BM25 tables have no foreign key (migration 0006): truncated by name, so every stage starts empty.
    const reset = () => db.query("TRUNCATE examples, datasets, bm25_terms, bm25_postings CASCADE");
    await time("INSERT without vectors (baseline: tsv, GIN, unique hash)", n, () => insertAll(db, rows));
    await reset();
    await time("INSERT without vectors, BM25 postings of all batches at the end", n, () =>
      insertAll(db, rows, undefined, true),
    );
    await reset();
    await triggerParts(db, rows);
    // The same without the BM25 statistics trigger (migration 0006), then without the GIN index
    // too: what each costs. The database is migrated afresh below, so neither lasts.
    await db.query("ALTER TABLE examples DISABLE TRIGGER examples_bm25_insert");
    await time("INSERT without vectors, no BM25 trigger", n, () => insertAll(db, rows));
    await reset();
    await db.query("DROP INDEX examples_tsv");
    await time("INSERT without vectors, no BM25 trigger, no GIN index", n, () => insertAll(db, rows));
    await reset();
    await db.query("ALTER TABLE examples ENABLE TRIGGER examples_bm25_insert");
    await db.query("CREATE INDEX examples_tsv ON examples USING gin (tsv)");
    await time("INSERT with vectors, HNSW index in place (as today)", n, () => insertAll(db, rows, vectors));
    await reset();
    await db.query("DROP INDEX examples_embedding_hnsw");
    await time("INSERT with vectors, no HNSW index", n, () => insertAll(db, rows, vectors));
    await reset();
    await time("INSERT with vectors, no HNSW index, BM25 postings at the end", n, () =>
      insertAll(db, rows, vectors, true),
    );
    await time("CREATE INDEX hnsw afterwards (m 16, ef_construction 64)", n, () =>
      db.query("CREATE INDEX examples_embedding_hnsw ON examples USING hnsw (embedding vector_cosine_ops)"),
    );
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await endToEnd(n);
}

runMain(main);
