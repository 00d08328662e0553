/**
 * bench/jobs: 100 art jobs (512², flow-field) through a gateway node and 1, then 2 worker nodes
 * (real processes, Redis transporter, the real Postgres): jobs/s, submit and GET /api/health
 * latency while the jobs run, peak RSS per node, and the time from a worker's kill -9 to its jobs
 * running on the other worker; for the one-worker run, the worker's RSS per phase (idle, first
 * task, under load, after load, with COMPUTE_IDLE_MS=2000) and the first job's time on a cold
 * pool. Baselines in the same run: the same art rendered in one thread, in-process, without the
 * queue; a bare node:http server's RSS.
 *
 *   npm run bench:jobs            (ONE_WORKER=1: only the one-worker run)
 *
 * BASELINE_DIST=/path/to/an/older/dist: the one-worker run again, first, with that build's nodes.
 */
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { startMcai, benchDatabase, freePort, machine, MCAI_BIN, pct, REDIS_URL, runMain, sleep } from "./lib";
import { bareBaseline, maxRssDuring, memoryParts, phasesLine, rssByMapping, rssMb } from "./memory";

const ROOT = path.resolve(__dirname, "..");
const JOBS = Number(process.env.JOBS ?? 100);
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, which is what a benchmark measures
const { renderArt } = require(path.join(ROOT, "dist/compute/lib/art.js")) as typeof import("../compute/lib/art");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, which is what a benchmark measures
const { encodePng } = require(path.join(ROOT, "dist/compute/lib/png.js")) as typeof import("../compute/lib/png");

const IDLE_MS = 2000;
const BASELINE_BIN = process.env.BASELINE_DIST ? path.join(process.env.BASELINE_DIST, "bin", "mcai.js") : undefined;

function peakMb(pid: number): number | string {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : "?";
  } catch {
    return "gone";
  }
}

async function timed(url: string, init?: RequestInit): Promise<[number, Response]> {
  const t0 = performance.now();
  const r = await fetch(url, init);
  await r.arrayBuffer();
  return [performance.now() - t0, r];
}

async function run(
  workers: number,
  killOne: boolean,
  workerEnv: Record<string, string> = {},
  bin = MCAI_BIN,
): Promise<void> {
  const bdb = await benchDatabase("mcai_bench_jobs");
  const name = new URL(bdb.url).pathname.slice(1);
  const u = new URL(bdb.url);
  const env = {
    TRANSPORTER: REDIS_URL,
    NAMESPACE: name,
    DATABASE_URL: bdb.url,
    HEARTBEAT_INTERVAL_S: "1",
    HEARTBEAT_TIMEOUT_S: "3",
    JOBS_POLL_MS: "200",
    RATE_LIMIT: "0",
    COMPUTE_IDLE_MS: String(IDLE_MS),
  };
  const port = await freePort();
  const gw = startMcai(["--services", "api,jobs", "--node-id", "gw", "--port", String(port)], env, "info", [], bin);
  await gw.ready;
  const ws = Array.from({ length: workers }, (_, i) =>
    startMcai(["--services", "jobs,compute", "--node-id", `w${i + 1}`], { ...env, ...workerEnv }, "info", [], bin),
  );
  await Promise.all(ws.map((w) => w.ready));
  const url = `http://127.0.0.1:${port}`;
  while (((await (await fetch(`${url}/api/health`)).json()) as { nodes: unknown[] }).nodes.length < workers + 1)
    await sleep(50);
  const db = new pg.Client({ connectionString: u.toString() });
  await db.connect();
  const w1 = ws[0].proc.pid!;
  const idleRss = rssMb(w1);
  // One job alone on the cold pool, then one on the warm pool: the first task's extra time.
  const single = async (i: number) => {
    const t = performance.now();
    const r = await fetch(`${url}/api/art/generate-async`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        prompt: `single ${i} ${name}`,
        style: "flow-field",
        options: { width: 512, height: 512 },
      }),
    });
    const id = ((await r.json()) as { job_id: string }).job_id;
    while ((await db.query("SELECT status FROM jobs WHERE id = $1", [id])).rows[0]?.status !== "completed")
      await sleep(5);
    return performance.now() - t;
  };
  const cold = await single(0);
  const firstTaskRss = rssMb(w1);
  const warm = await single(1);
  const pre = 2;
  const health: number[] = [];
  // Cleared after the measured runs: a write TypeScript's narrowing cannot see in the loop below.
  let probing = true as boolean;
  const prober = (async () => {
    while (probing) {
      health.push((await timed(`${url}/api/health`))[0]);
      await sleep(20);
    }
  })();
  const submits: number[] = [];
  const t0 = performance.now();
  const underLoad = maxRssDuring(w1, async () => {
    while (
      Number((await db.query("SELECT count(*) FROM jobs WHERE status IN ('completed', 'failed')")).rows[0].count) <
      JOBS + pre
    )
      await sleep(50);
  });
  for (let i = 0; i < JOBS; i++) {
    const [ms, r] = await timed(`${url}/api/art/generate-async`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: `bench ${i} ${name}`, style: "flow-field", options: { width: 512, height: 512 } }),
    });
    if (r.status !== 202) throw new Error(`submit answered ${r.status}`);
    submits.push(ms);
  }
  let killNote = "";
  if (killOne) {
    while (Number((await db.query("SELECT count(*) FROM jobs WHERE status = 'completed'")).rows[0].count) < 10)
      await sleep(20);
    const victim = (
      await db.query<{ id: string }>("SELECT id FROM jobs WHERE status = 'processing' AND node_id = 'w1'")
    ).rows.map((r) => r.id);
    const killedAt = performance.now();
    ws[0].proc.kill("SIGKILL");
    let elsewhere = NaN;
    while (victim.length) {
      const r = await db.query(
        "SELECT count(*) FROM jobs WHERE id = ANY($1::uuid[]) AND (node_id = 'w2' OR status = 'completed')",
        [victim],
      );
      if (Number(r.rows[0].count) > 0) {
        elsewhere = performance.now() - killedAt;
        break;
      }
      await sleep(10);
    }
    killNote = `, kill -9 of w1 with ${victim.length} job(s) running: first of them running on w2 after ${(elsewhere / 1000).toFixed(2)} s`;
  }
  const loadRss = (await underLoad).mb;
  const parts = killOne ? "" : `${await memoryParts(url, rssMb(w1), "w1")}\n    by mapping (MB): ${rssByMapping(w1)}`;
  const elapsed = (performance.now() - t0) / 1000;
  probing = false;
  await prober;
  const failed = Number((await db.query("SELECT count(*) FROM jobs WHERE status = 'failed'")).rows[0].count);
  const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;
  const rss = [
    `gw ${peakMb(gw.proc.pid!)} MB`,
    ...ws.map((w, i) => (alive(w.proc) ? `w${i + 1} ${peakMb(w.proc.pid!)} MB` : `w${i + 1} killed`)),
  ].join(", ");
  console.log(
    `\n${workers} worker node(s)${killOne ? " (one killed mid-run)" : ""}: ${JOBS} jobs in ${elapsed.toFixed(1)} s = ${(JOBS / elapsed).toFixed(2)} jobs/s, ${failed} failed${killNote}`,
  );
  console.log(
    `  submit p50 ${pct(submits, 50).toFixed(1)} ms, p99 ${pct(submits, 99).toFixed(1)} ms; GET /api/health during the run p50 ${pct(health, 50).toFixed(1)} ms, p99 ${pct(health, 99).toFixed(1)} ms (${health.length} probes)`,
  );
  console.log(`  peak RSS: ${rss}`);
  if (!killOne) {
    await sleep(IDLE_MS + 1500);
    console.log(
      phasesLine("  w1 RSS", {
        idle: idleRss,
        "first task": firstTaskRss,
        "under load": loadRss,
        "after load": rssMb(w1),
      }),
    );
    console.log(`  w1 at the end of the load: ${parts}`);
    console.log(
      `  first job alone, cold pool: ${cold.toFixed(0)} ms submit to completed; warm pool: ${warm.toFixed(0)} ms`,
    );
  }
  await db.end();
  for (const p of [gw, ...ws]) p.proc.kill("SIGKILL");
  await sleep(300);
  await bdb.drop();
}

async function main(): Promise<void> {
  console.log(`bench/jobs on ${machine()}`);
  const t0 = performance.now();
  for (let i = 0; i < 10; i++)
    encodePng(renderArt({ prompt: `baseline ${i}`, style: "flow-field", width: 512, height: 512 }).rgba, 512, 512);
  const base = (performance.now() - t0) / 10;
  console.log(
    `baseline: one 512² flow-field art rendered and encoded in-process, one thread: ${base.toFixed(0)} ms = ${(1000 / base).toFixed(2)} jobs/s`,
  );
  console.log(phasesLine("baseline: bare node:http RSS (2000 GETs)", await bareBaseline()));
  if (BASELINE_BIN) {
    console.log(`\nbaseline build ${BASELINE_BIN}:`);
    await run(1, false, {}, BASELINE_BIN);
    console.log("\nthis build:");
  }
  await run(1, false);
  // WORKER_ENV="COMPUTE_THREADS=1 NODE_OPTIONS=--max-semi-space-size=2;COMPUTE_THREAD_HEAP_MB=0": the
  // one-worker run again with each ;-separated set of variables on the worker node, to compare its
  // memory and jobs/s in one run.
  for (const variant of (process.env.WORKER_ENV ?? "").split(";").filter((v) => v.trim())) {
    const workerEnv = Object.fromEntries(
      variant
        .split(/\s+/)
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    );
    console.log(`\nagain, the worker with ${variant.trim()}:`);
    await run(1, false, workerEnv);
  }
  // ONE_WORKER=1: the one-worker run only (memory and throughput comparisons).
  if (process.env.ONE_WORKER) return;
  await run(2, false);
  await run(2, true);
}

runMain(main);
