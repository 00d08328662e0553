/**
 * bench/knowledge: a Zipf mix over 10k distinct queries through the gateway, on 1 node and then
 * on 3 nodes sharing one Redis cacher, over EXAMPLES demo examples on the real Postgres: hit rate,
 * latency of hits and of misses, and the cache's memory in Redis; then the same mix again, now all
 * hits, for the cost of a hit without misses beside it. Baseline in the same run: the same query
 * mix sent straight to datasets.search (no cache) on one node.
 *
 *   npm run bench:knowledge          (EXAMPLES=100000 REQUESTS=20000 DISTINCT=10000)
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Redis from "ioredis";
import { MCAI_BIN, startMcai, benchDatabase, freePort, machine, pct, REDIS_URL, runMain, sleep } from "./lib";

const ROOT = path.resolve(__dirname, "..");
const BIN = MCAI_BIN;
const EXAMPLES = Number(process.env.EXAMPLES ?? 100_000);
const REQUESTS = Number(process.env.REQUESTS ?? 20_000);
const DISTINCT = Number(process.env.DISTINCT ?? 10_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, which is what a benchmark measures
const { mulberry32 } = require(path.join(ROOT, "dist/compute/lib/prng.js")) as typeof import("../compute/lib/prng");

/** DISTINCT queries over the demo vocabulary, and a Zipf(1) sampler over them (the same sequence each time). */
function queryMix(): { queries: string[]; sample: () => string } {
  const subjects = [
    "major scale",
    "minor scale",
    "perfect fifth",
    "tritone",
    "cadence",
    "Chladni plate",
    "standing wave",
    "nodal line",
    "alpha waves",
    "theta waves",
    "binaural beats",
    "flow fields",
    "mandalas",
    "joy",
    "awe",
    "calm",
    "A4",
    "C4",
  ];
  const forms = [
    "what is",
    "how does",
    "explain",
    "tell me about",
    "where is",
    "why is",
    "history of",
    "music and",
    "sound of",
    "feel of",
  ];
  const queries: string[] = [];
  for (let i = 0; queries.length < DISTINCT; i++)
    queries.push(
      `${forms[i % forms.length]} ${subjects[Math.floor(i / forms.length) % subjects.length]} ${Math.floor(i / (forms.length * subjects.length)) || ""}`.trim(),
    );
  const weights = queries.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf: number[] = [];
  weights.reduce((acc, w, i) => (cdf[i] = acc + w / total), 0);
  const rand = mulberry32(42);
  return {
    queries,
    sample: () => {
      const r = rand();
      let lo = 0;
      let hi = cdf.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf[mid] < r) lo = mid + 1;
        else hi = mid;
      }
      return queries[lo];
    },
  };
}

async function redisBytes(prefix: string): Promise<{ keys: number; bytes: number }> {
  const r = new Redis(REDIS_URL);
  let cursor = "0";
  let keys = 0;
  let bytes = 0;
  do {
    const [next, batch] = await r.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    for (const k of batch) {
      keys++;
      // MEMORY USAGE answers nil for a key that expired since the scan.
      bytes += (await r.memory("USAGE", k)) ?? 0;
    }
  } while (cursor !== "0");
  r.disconnect();
  return { keys, bytes };
}

async function load(
  urls: string[],
  path: (q: string) => string,
  sample: () => string,
): Promise<{ hits: number[]; misses: number[]; errors: number }> {
  const hits: number[] = [];
  const misses: number[] = [];
  let errors = 0;
  let sent = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      while (sent < REQUESTS) {
        const i = sent++;
        const t0 = performance.now();
        const r = await fetch(`${urls[(i + w) % urls.length]}${path(sample())}`);
        const body = (await r.json()) as { cached?: boolean };
        const ms = performance.now() - t0;
        if (r.status !== 200) errors++;
        else (body.cached ? hits : misses).push(ms);
      }
    }),
  );
  return { hits, misses, errors };
}

async function run(nodes: number, baseline: boolean): Promise<void> {
  const db = await benchDatabase("mcai_bench_kn");
  const name = new URL(db.url).pathname.slice(1);
  const env = { DATABASE_URL: db.url, CACHER: REDIS_URL, NAMESPACE: name, RATE_LIMIT: "0", DEMO_DATA: "false" };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-kn-"));
  execFileSync(process.execPath, [BIN, "demo-data", "--examples", String(EXAMPLES), "--out", dir]);
  execFileSync(process.execPath, [BIN, "import", dir], {
    env: { ...process.env, ...env, LOG_LEVEL: "warn" },
    stdio: "ignore",
  });
  const ports = await Promise.all(Array.from({ length: nodes }, freePort));
  const procs = ports.map((p, i) =>
    startMcai(["--services", "api,datasets,compute,knowledge", "--node-id", `k${i}`, "--port", String(p)], env),
  );
  await Promise.all(procs.map((p) => p.ready));
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  if (baseline) {
    const b = await load(urls, (q) => `/api/search?q=${encodeURIComponent(q)}&k=5`, queryMix().sample);
    const all = [...b.hits, ...b.misses];
    console.log(
      `  baseline, datasets search on every request (no cache): p50 ${pct(all, 50).toFixed(2)} ms, p95 ${pct(all, 95).toFixed(2)} ms, ${b.errors} errors`,
    );
  }
  const t0 = performance.now();
  const r = await load(urls, (q) => `/api/knowledge?q=${encodeURIComponent(q)}`, queryMix().sample);
  const secs = (performance.now() - t0) / 1000;
  const mem = await redisBytes(`${name}-cache`);
  console.log(
    `  ${nodes} node(s): ${REQUESTS} queries in ${secs.toFixed(1)} s (${Math.round(REQUESTS / secs)}/s), hit rate ${((r.hits.length / (r.hits.length + r.misses.length)) * 100).toFixed(1)}%, ${r.errors} errors`,
  );
  console.log(
    `    hits   p50 ${pct(r.hits, 50).toFixed(2)} ms, p95 ${pct(r.hits, 95).toFixed(2)} ms (${r.hits.length})`,
  );
  console.log(
    `    misses p50 ${pct(r.misses, 50).toFixed(2)} ms, p95 ${pct(r.misses, 95).toFixed(2)} ms (${r.misses.length})`,
  );
  console.log(`    Redis: ${mem.keys} cache keys, ${(mem.bytes / 1024 / 1024).toFixed(2)} MB`);
  const t1 = performance.now();
  const warm = await load(urls, (q) => `/api/knowledge?q=${encodeURIComponent(q)}`, queryMix().sample);
  const warmSecs = (performance.now() - t1) / 1000;
  console.log(
    `    the same mix again (${warm.hits.length} hits, ${warm.misses.length} misses, ${Math.round(REQUESTS / warmSecs)}/s): hits p50 ${pct(warm.hits, 50).toFixed(2)} ms, p95 ${pct(warm.hits, 95).toFixed(2)} ms`,
  );
  for (const p of procs) p.proc.kill("SIGTERM");
  await sleep(1000);
  await db.drop();
  fs.rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  console.log(
    `bench/knowledge on ${machine()}: ${EXAMPLES} examples, ${REQUESTS} requests over ${DISTINCT} distinct queries (Zipf s=1), ${CONCURRENCY} in flight`,
  );
  await run(1, true);
  await run(3, false);
}

runMain(main);
