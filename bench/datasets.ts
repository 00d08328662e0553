/**
 * bench/datasets: import throughput, keyset pages against an OFFSET baseline, lexical search at
 * 100k and 1M examples on the real Postgres; import, HNSW build, vector and hybrid search with
 * recall@10 against exact search on PGlite with pgvector.
 *
 *   npm run bench:datasets              (SIZES=100000,1000000 PGLITE_SIZE=20000 to change)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchDatabase, machine, pct, runMain } from "./lib";
import type { ServiceBroker } from "moleculer";

const ROOT = path.resolve(__dirname, "..");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, by a path known at run time
const { loadConfig } = require(
  path.join(ROOT, "dist/services/lib/config.js"),
) as typeof import("../services/lib/config");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, by a path known at run time
const { startNode } = require(path.join(ROOT, "dist/bin/node.js")) as typeof import("../bin/node");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, by a path known at run time
const { writeDemoFiles } = require(
  path.join(ROOT, "dist/bin/datasets/demo-data.js"),
) as typeof import("../bin/datasets/demo-data");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, by a path known at run time
const { PgliteDb } = require(path.join(ROOT, "dist/services/lib/db/index.js")) as typeof import("../services/lib/db");

const SIZES = (process.env.SIZES ?? "100000,1000000").split(",").map(Number);
const PGLITE_SIZE = Number(process.env.PGLITE_SIZE ?? 20000);
const SAMPLES = 200;
const QUERIES = [
  "tempo",
  "scale",
  "frequency of A4",
  "Chladni plate",
  "music",
  "sand pattern resonance",
  "brainwaves joy",
  "flow fields",
  "what is",
  "neuroplasticity sound",
  '"perfect fifth"',
  "mandalas organic",
];

const ms = (x: number) => x.toFixed(2).padStart(8);

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

/** Imports every demo file through datasets.import (streams, as `mcai import` does). */
async function importDir(broker: ServiceBroker, dir: string): Promise<number> {
  let added = 0;
  const walk = (d: string): string[] =>
    fs
      .readdirSync(d)
      .flatMap((f) => (fs.statSync(path.join(d, f)).isDirectory() ? walk(path.join(d, f)) : [path.join(d, f)]));
  for (const file of walk(dir)) {
    const format = path.extname(file).slice(1);
    const domain = path.basename(file, path.extname(file));
    const r = await broker.call<{ added: number }, NodeJS.ReadableStream>(
      "datasets.import",
      fs.createReadStream(file),
      { meta: { domain, format, filename: file }, timeout: 0 },
    );
    added += r.added;
  }
  return added;
}

async function pageSection(broker: ServiceBroker, db: import("../services/lib/db").Db): Promise<void> {
  const d = (
    await db.query<{ id: string; n: number }>(
      "SELECT id::text AS id, example_count::int AS n FROM datasets ORDER BY example_count DESC LIMIT 1",
    )
  ).rows[0];
  const ids = (
    await db.query<{ id: string }>("SELECT id::text AS id FROM examples WHERE dataset_id = $1 ORDER BY id", [d.id])
  ).rows.map((r) => r.id);
  console.log(`  pages of 100 in the largest domain (${d.n} examples), p50 / p95 ms over ${SAMPLES} requests`);
  for (const [label, at] of [
    ["first", 0],
    ["middle", Math.floor(ids.length / 2)],
    ["last", ids.length - 100],
  ] as [string, number][]) {
    const after = at === 0 ? "0" : ids[at - 1];
    const keyset: number[] = [];
    const action: number[] = [];
    const offset: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      keyset.push(
        (
          await time(() =>
            db.query(
              "SELECT id, content, response, metadata, created_at FROM examples e WHERE (e.dataset_id, e.id) > ($1::bigint, $2::bigint) AND e.dataset_id <= $1::bigint ORDER BY e.dataset_id, e.id LIMIT 100",
              [d.id, after],
            ),
          )
        )[0],
      );
      offset.push(
        (
          await time(() =>
            db.query(
              "SELECT id, content, response, metadata, created_at FROM examples e WHERE e.dataset_id = $1 ORDER BY e.dataset_id, e.id OFFSET $2 LIMIT 100",
              [d.id, at],
            ),
          )
        )[0],
      );
    }
    const cursor = at === 0 ? undefined : Buffer.from(`e1:${after}`).toString("base64url");
    const domain = (await db.query<{ d: string }>("SELECT domain_name AS d FROM datasets WHERE id = $1", [d.id]))
      .rows[0].d;
    for (let i = 0; i < SAMPLES; i++)
      action.push((await time(() => broker.call("datasets.examples", { domain, limit: 100, cursor })))[0]);
    console.log(
      `    ${label.padEnd(6)} keyset SQL ${ms(pct(keyset, 50))} / ${ms(pct(keyset, 95))}   datasets.examples ${ms(pct(action, 50))} / ${ms(pct(action, 95))}   baseline OFFSET ${ms(pct(offset, 50))} / ${ms(pct(offset, 95))}`,
    );
  }
}

async function lexicalSection(
  broker: ServiceBroker,
  mode: "lexical" | "hybrid" | "vector" = "lexical",
): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < SAMPLES; i++)
    lat.push((await time(() => broker.call("datasets.search", { q: QUERIES[i % QUERIES.length], k: 10, mode })))[0]);
  return lat;
}

async function postgresRun(n: number): Promise<void> {
  const bdb = await benchDatabase("mcai_bench");
  const url = bdb.url;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-bench-data-"));
  try {
    writeDemoFiles(n, dir);
    const config = loadConfig({ DATABASE_URL: url, LOG_LEVEL: "warn", NODE_ID: "bench" });
    const node = await startNode(config, ["datasets", "compute"]);
    try {
      console.log(`\nPostgres 15 (no pgvector), ${n} examples`);
      const [t, added] = await time(() => importDir(node.broker, dir));
      console.log(
        `  import (JSON/JSONL/TXT streams, no embeddings: no vector column): ${added} added in ${(t / 1000).toFixed(1)} s = ${Math.round(added / (t / 1000))} examples/s`,
      );
      const texts = Array.from(
        { length: 20_000 },
        (_, i) => `What is the frequency of note ${i} in the scale of sound?`,
      );
      const [te] = await time(async () => {
        for (let i = 0; i < texts.length; i += 256)
          await node.broker.call("compute.embed", { texts: texts.slice(i, i + 256), dim: 384 });
      });
      console.log(
        `  (what embeddings would add: compute.embed, 384-d, batches of 256: ${Math.round(texts.length / (te / 1000))} texts/s)`,
      );
      await node.db!.query("ANALYZE");
      await pageSection(node.broker, node.db!);
      const lex = await lexicalSection(node.broker);
      console.log(
        `  lexical search k=10 over ${QUERIES.length} queries (rare and common terms): p50 ${pct(lex, 50).toFixed(2)} ms, p95 ${pct(lex, 95).toFixed(2)} ms, max ${Math.max(...lex).toFixed(1)} ms`,
      );
    } finally {
      await node.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await bdb.drop();
  }
}

async function pgliteRun(n: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-bench-data-"));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-bench-pglite-"));
  try {
    writeDemoFiles(n, dir);
    const config = loadConfig({ MCAI_DATA_DIR: dataDir, LOG_LEVEL: "warn", NODE_ID: "bench", DEMO_DATA: "false" });
    const db = await PgliteDb.open(path.join(dataDir, "db"));
    const node = await startNode(config, ["datasets", "compute"], { db });
    try {
      console.log(`\nPGlite 0.5 with pgvector, ${n} examples`);
      await db.query("DROP INDEX examples_embedding_hnsw");
      const [t, added] = await time(() => importDir(node.broker, dir));
      console.log(
        `  import with 384-d local embeddings (computed in the pool): ${added} in ${(t / 1000).toFixed(1)} s = ${Math.round(added / (t / 1000))} examples/s`,
      );
      const [tb] = await time(() =>
        db.query("CREATE INDEX examples_embedding_hnsw ON examples USING hnsw (embedding vector_cosine_ops)"),
      );
      console.log(`  HNSW build (m=16, ef_construction=64): ${(tb / 1000).toFixed(1)} s`);
      const vec = await lexicalSection(node.broker, "vector");
      const hyb = await lexicalSection(node.broker, "hybrid");
      const lex = await lexicalSection(node.broker, "lexical");
      console.log(
        `  search k=10, p50 / p95 ms: vector ${pct(vec, 50).toFixed(2)} / ${pct(vec, 95).toFixed(2)}, hybrid ${pct(hyb, 50).toFixed(2)} / ${pct(hyb, 95).toFixed(2)}, lexical ${pct(lex, 50).toFixed(2)} / ${pct(lex, 95).toFixed(2)}`,
      );
      // Recall counts a returned neighbour as right when it is at least as near as the exact 10th:
      // templated demo texts tie at equal distances, and ids alone would punish a tie broken otherwise.
      let recall = 0;
      for (const q of QUERIES) {
        const { vectors_base64 } = await node.broker.call<{ vectors_base64: string }, Record<string, unknown>>(
          "compute.embed",
          { texts: [q], dim: 384 },
        );
        const b = Buffer.from(vectors_base64, "base64");
        const lit = `[${Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))).join(",")}]`;
        const got = (
          await node.broker.call<{ hits: { score: number }[] }, Record<string, unknown>>("datasets.search", {
            q,
            k: 10,
            mode: "vector",
          })
        ).hits.map((h) => 1 - h.score);
        const exact = await db.transaction(async (tx) => {
          await tx.query("SET LOCAL enable_indexscan = off");
          return (
            await tx.query<{ d: number }>(
              `SELECT (embedding <=> $1::vector)::float8 AS d FROM examples ORDER BY embedding <=> $1::vector LIMIT 10`,
              [lit],
            )
          ).rows.map((r) => r.d);
        });
        const kth = exact[exact.length - 1];
        recall += got.filter((d) => d <= kth + 1e-6).length / exact.length;
      }
      console.log(
        `  recall@10 of vector search against exact search: ${(recall / QUERIES.length).toFixed(3)} (ef_search ${config.datasets.efSearch})`,
      );
    } finally {
      await node.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`bench/datasets on ${machine()}`);
  for (const n of SIZES) await postgresRun(n);
  if (PGLITE_SIZE > 0) await pgliteRun(PGLITE_SIZE);
}

runMain(main);
