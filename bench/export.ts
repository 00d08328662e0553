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
import { benchDatabase, machine, runMain } from "./lib";

const ROOT = path.resolve(__dirname, "..");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { PgDb, migrate } = require(
  path.join(ROOT, "dist/services/lib/db/index.js"),
) as typeof import("../services/lib/db");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { exportStream } = require(
  path.join(ROOT, "dist/services/datasets/export.js"),
) as typeof import("../services/datasets/export");

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const MB = 1024 * 1024;

/** Runs fn while sampling RSS every 20 ms; returns its time and the peak RSS above the start. */
async function measured(fn: () => Promise<unknown>): Promise<{ ms: number; peakMb: number }> {
  global.gc?.();
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { ms, peakMb: (peak - start) / MB };
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
    const streamed = await measured(() => pipeline(exportStream(db, id, false), fs.createWriteStream(out)));
    const lines = fs.readFileSync(out, "utf8").split("\n").length - 1;
    const size = fs.statSync(out).size;
    let held = 0;
    const whole = await measured(async () => {
      const r = await db.query("SELECT id, content, response, metadata FROM examples WHERE dataset_id = $1", [id]);
      held = r.rows.length;
    });
    console.log(
      `keyset stream to a file: ${lines} lines, ${(size / MB).toFixed(1)} MB in ${Math.round(streamed.ms)} ms ` +
        `(${Math.round(lines / (streamed.ms / 1000))} rows/s), peak RSS +${streamed.peakMb.toFixed(0)} MB`,
    );
    console.log(
      `baseline, one SELECT held: ${held} rows in ${Math.round(whole.ms)} ms, peak RSS +${whole.peakMb.toFixed(0)} MB`,
    );
  } finally {
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
    await db.close();
    await bench.drop();
  }
});
