/**
 * bench:load's mixed workload (MIXED=1): 100 concurrent connections against a running cluster (1 node, then 3 nodes over the
 * Redis transporter, on the real Postgres with 20k examples) with a mixed workload: example pages,
 * searches, knowledge queries (a small popular set, so mostly cached), job submits and job polls.
 * Each route runs its own autocannon with its share of the connections, for DURATION seconds.
 * Baseline in the same run: a bare node:http server under the same 100 connections.
 *
 *   MIXED=1 npm run bench:load          (DURATION=10 EXAMPLES=20000)
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { MCAI_BIN, startMcai, benchDatabase, freePort, REDIS_URL, sleep } from "./lib";

const BIN = MCAI_BIN;
const DURATION = Number(process.env.DURATION ?? 10);
const EXAMPLES = Number(process.env.EXAMPLES ?? 20_000);

interface Share {
  name: string;
  connections: number;
  method?: "GET" | "POST";
  path: string | (() => string);
  body?: () => string;
}

function row(name: string, r: autocannon.Result): string {
  // Typed as always there; kept guarded as the report is read from whatever autocannon returns.
  const errors = r.errors + r.timeouts + ((r.non2xx as number | undefined) ?? 0);
  return `    ${name.padEnd(22)} ${String(Math.round(r.requests.average)).padStart(7)} req/s   p50 ${String(r.latency.p50).padStart(5)} ms   p95 ${String((r.latency.p97_5 as number | undefined) ?? r.latency.p99).padStart(5)} ms (p97.5)   p99 ${String(r.latency.p99).padStart(5)} ms   errors ${errors}`;
}

function cannon(base: string, s: Share): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const dynamic = typeof s.path === "function" || s.body;
    autocannon(
      {
        // A fixed path goes in the URL: autocannon has no `path` option (it would request "/").
        url: dynamic ? base : `${base}${s.path as string}`,
        connections: s.connections,
        duration: DURATION,
        method: s.method ?? "GET",
        headers: { "content-type": "application/json" },
        ...(dynamic
          ? {
              requests: [
                {
                  method: s.method ?? "GET",
                  setupRequest: (req: Record<string, unknown>) => ({
                    ...req,
                    path: typeof s.path === "function" ? s.path() : s.path,
                    body: s.body?.(),
                  }),
                },
              ],
            }
          : {}),
      } as autocannon.Options,
      (err, result) => (err ? reject(err as Error) : resolve(result)),
    );
  });
}

async function baseline(): Promise<void> {
  const server = http.createServer((_q, res) => res.end('{"ok":true}')).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const port = (server.address() as { port: number }).port;
  const r = await cannon(`http://127.0.0.1:${port}`, { name: "bare", connections: 100, path: "/" });
  console.log(`  baseline: bare node:http, 100 connections`);
  console.log(row("GET /", r));
  server.close();
}

async function run(nodes: number): Promise<void> {
  const db = await benchDatabase("mcai_bench_load");
  const name = new URL(db.url).pathname.slice(1);
  const env = {
    DATABASE_URL: db.url,
    CACHER: REDIS_URL,
    TRANSPORTER: REDIS_URL,
    NAMESPACE: name,
    RATE_LIMIT: "0",
    DEMO_DATA: "false",
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-load-"));
  execFileSync(process.execPath, [BIN, "demo-data", "--examples", String(EXAMPLES), "--out", dir]);
  execFileSync(process.execPath, [BIN, "import", dir], {
    env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: "warn" },
    stdio: "ignore",
  });
  const port = await freePort();
  const procs = [
    startMcai(["--services", "api,datasets,knowledge,jobs,compute", "--node-id", "n1", "--port", String(port)], env),
  ];
  for (let i = 2; i <= nodes; i++)
    procs.push(startMcai(["--services", "datasets,knowledge,jobs,compute", "--node-id", `n${i}`], env));
  await Promise.all(procs.map((p) => p.ready));
  const base = `http://127.0.0.1:${port}`;
  while (((await (await fetch(`${base}/api/health`)).json()) as { nodes: unknown[] }).nodes.length < nodes)
    await sleep(50);
  const cursor = (
    (await (await fetch(`${base}/api/datasets/emotions/examples?limit=100`)).json()) as { next_cursor: string }
  ).next_cursor;
  const jobIds: string[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${base}/api/emotion/analyze-async`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: `poll target ${i}` }),
    });
    jobIds.push(((await r.json()) as { job_id: string }).job_id);
  }
  const popular = [
    "what is a perfect fifth",
    "binaural beats",
    "chladni plate",
    "alpha waves",
    "flow fields",
    "joy",
    "tempo",
    "mandalas",
  ];
  let n = 0;
  const shares: Share[] = [
    {
      name: "GET examples page",
      connections: 30,
      path: () => `/api/datasets/emotions/examples?limit=100${n++ % 2 ? `&cursor=${cursor}` : ""}`,
    },
    {
      name: "GET search",
      connections: 15,
      path: () => `/api/search?q=${encodeURIComponent(popular[n++ % popular.length])}&k=10`,
    },
    {
      name: "GET knowledge (cached)",
      connections: 30,
      path: () => `/api/knowledge?q=${encodeURIComponent(popular[n++ % popular.length])}`,
    },
    {
      name: "POST job submit",
      connections: 10,
      method: "POST",
      path: "/api/art/generate-async",
      body: () => JSON.stringify({ prompt: `load ${n++}`, style: "waves", options: { width: 64, height: 64 } }),
    },
    { name: "GET job poll", connections: 15, path: () => `/api/job/${jobIds[n++ % jobIds.length]}` },
  ];
  for (const q of popular) await fetch(`${base}/api/knowledge?q=${encodeURIComponent(q)}`); // the cache is warm, as in steady state
  const results = await Promise.all(shares.map((s) => cannon(base, s)));
  const total = results.reduce((a, r) => a + r.requests.average, 0);
  console.log(`  ${nodes} node(s), 100 connections for ${DURATION} s: ${Math.round(total)} req/s in all`);
  results.forEach((r, i) => console.log(row(shares[i].name, r)));
  const scrapes: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    bytes = (await (await fetch(`${base}/metrics`)).arrayBuffer()).byteLength;
    scrapes.push(performance.now() - t0);
  }
  scrapes.sort((a, b) => a - b);
  console.log(
    `    /metrics over ${nodes} node(s), idle: p50 ${scrapes[10].toFixed(1)} ms, max ${scrapes[19].toFixed(1)} ms, ${Math.round(bytes / 1024)} KB`,
  );
  for (const p of procs) p.proc.kill("SIGTERM");
  await sleep(1500);
  await db.drop();
  fs.rmSync(dir, { recursive: true, force: true });
}

/** The mixed workload on 1 and 3 nodes, after the bare node:http baseline. */
export async function runMixed(): Promise<void> {
  console.log(`  mixed workload: ${EXAMPLES} examples`);
  await baseline();
  await run(1);
  await run(3);
}
