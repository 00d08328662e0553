/**
 * bench/export: a 1M-example domain exported to JSONL on the real Postgres, through the export's
 * keyset stream (services/datasets/export.ts) into a file, with the process's peak RSS sampled.
 * Baseline, in the same run: the same rows read by one SELECT and held (what a non-streaming
 * export would do), its peak RSS measured the same way.
 *
 *   npm run bench:export            (ROWS=1000000 to change)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { benchDatabase, machine, runMain, built } from "./lib";

const { PgDb, migrate } = built("services/lib/db/index.js") as typeof import("../services/lib/db");
const { exportStream } = built("services/datasets/export.js") as typeof import("../services/datasets/export");

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const MB = 1024 * 1024;

interface Measure {
  ms: number;
  /** Peak of the JS heap in use above its level at the start (after a GC when --expose-gc). */
  heapMb: number;
  /** Peak RSS above the start: memory the process took from the system (kept once taken). */
  rssMb: number;
}

/** Runs fn while sampling memory every 10 ms. */
async function measured(fn: () => Promise<unknown>): Promise<Measure> {
  global.gc?.();
  const m0 = process.memoryUsage();
  let heap = m0.heapUsed;
  let rss = m0.rss;
  const sample = () => {
    const m = process.memoryUsage();
    heap = Math.max(heap, m.heapUsed);
    rss = Math.max(rss, m.rss);
  };
  const timer = setInterval(sample, 10);
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  sample();
  clearInterval(timer);
  return { ms, heapMb: (heap - m0.heapUsed) / MB, rssMb: (rss - m0.rss) / MB };
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  for await (const chunk of fs.createReadStream(file)) for (const b of chunk as Buffer) if (b === 10) n++;
  return n;
}

async function fill(db: InstanceType<typeof PgDb>): Promise<string> {
  // The bench database is its own: its BM25 triggers and full-text index are left out of the fill
  // (they cost minutes at 1M rows and export reads neither).
  await db.query("DROP INDEX IF EXISTS examples_tsv");
  const id = (
    await db.query<{ id: string }>("INSERT INTO datasets (domain_name) VALUES ('bench') RETURNING id::text AS id")
  ).rows[0].id;
  await db.transaction(async (tx) => {
    await tx.query("SET LOCAL session_replication_role = replica");
    await tx.query(
      `INSERT INTO examples (dataset_id, content, response, metadata, content_hash)
       SELECT $1, 'example ' || g || ' of the export benchmark, with a few more words to read',
              CASE WHEN g % 2 = 0 THEN 'response ' || g END, jsonb_build_object('n', g, 'tag', 'bench'), md5(g::text)
       FROM generate_series(1, $2::int) g`,
      [id, ROWS],
    );
  });
  await db.query("UPDATE datasets SET example_count = $2 WHERE id = $1", [id, ROWS]);
  await db.query("ANALYZE examples");
  return id;
}

runMain(async () => {
  const bench = await benchDatabase("mcai_bench_export");
  const url = bench.url;
  const db = new PgDb({ connectionString: url });
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mcai-bench-export-")), "bench.jsonl");
  try {
    await migrate(db);
    const t0 = performance.now();
    const id = await fill(db);
    console.log(
      `bench/export on ${machine()}; Postgres; ${ROWS} examples (filled in ${Math.round(performance.now() - t0)} ms)`,
    );
    const streamed = await measured(async () => pipeline(await exportStream(db, id, false), fs.createWriteStream(out)));
    const lines = await countLines(out);
    const size = fs.statSync(out).size;
    let held = 0;
    const whole = await measured(async () => {
      const r = await db.query("SELECT id, content, response, metadata FROM examples WHERE dataset_id = $1", [id]);
      held = r.rows.length;
    });
    const fmt = (m: Measure) => `peak heap +${m.heapMb.toFixed(0)} MB, peak RSS +${m.rssMb.toFixed(0)} MB`;
    console.log(
      `keyset stream to a file: ${lines} lines, ${(size / MB).toFixed(1)} MB in ${Math.round(streamed.ms)} ms ` +
        `(${Math.round(lines / (streamed.ms / 1000))} rows/s), ${fmt(streamed)}`,
    );
    console.log(`baseline, one SELECT held: ${held} rows in ${Math.round(whole.ms)} ms, ${fmt(whole)}`);
  } finally {
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
    await db.close();
    await bench.drop();
  }
});
