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
 * WORKER_ENV="A=1;B=2": again with each set of variables on the worker; ROUNDS=n: all of it n times,
 * alternating; a summary gives each series and min / median / max per build and variant.
 */
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { startMcai, benchDatabase, freePort, machine, MCAI_BIN, pct, REDIS_URL, runMain, sleep } from "./lib";
import {
  bareBaseline,
  cpuMs,
  maxRssDuring,
  memoryParts,
  nodePid,
  parentLine,
  phasesLine,
  rssByMapping,
  rssMb,
} from "./memory";

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

/** One series' figures for the summary: the worker's RSS under load and after it, jobs/s, its start. */
interface Series {
  label: string;
  underLoad: number;
  peak: number | string;
  jobsPerS: number;
  /** The worker's CPU time (all threads) per job of the measured load: steadier than jobs/s on a shared machine. */
  cpuPerJobMs: number;
  startMs: number;
}

async function run(
  workers: number,
  killOne: boolean,
  workerEnv: Record<string, string> = {},
  bin = MCAI_BIN,
  label = "",
): Promise<Series> {
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
  const spawnedAt = performance.now();
  const ws = Array.from({ length: workers }, (_, i) =>
    startMcai(["--services", "jobs,compute", "--node-id", `w${i + 1}`], { ...env, ...workerEnv }, "info", [], bin),
  );
  await ws[0].ready;
  // Spawn to the line saying it runs (the Redis transporter's discovery comes after).
  const startMs = performance.now() - spawnedAt;
  await Promise.all(ws.map((w) => w.ready));
  const url = `http://127.0.0.1:${port}`;
  while (((await (await fetch(`${url}/api/health`)).json()) as { nodes: unknown[] }).nodes.length < workers + 1)
    await sleep(50);
  const db = new pg.Client({ connectionString: u.toString() });
  await db.connect();
  // The node itself: a compute node relaunches itself as a child (bin/malloc-relaunch.ts).
  const w1 = nodePid(ws[0].proc.pid!);
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
  const cpu0 = cpuMs(w1);
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
  const cpuPerJobMs = killOne ? NaN : (cpuMs(w1) - cpu0) / JOBS;
  probing = false;
  await prober;
  const failed = Number((await db.query("SELECT count(*) FROM jobs WHERE status = 'failed'")).rows[0].count);
  const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;
  const rss = [
    `gw ${peakMb(gw.proc.pid!)} MB`,
    ...ws.map((w, i) => (alive(w.proc) ? `w${i + 1} ${peakMb(nodePid(w.proc.pid!))} MB` : `w${i + 1} killed`)),
  ].join(", ");
  console.log(
    `\n${workers} worker node(s)${killOne ? " (one killed mid-run)" : ""}: ${JOBS} jobs in ${elapsed.toFixed(1)} s = ${(JOBS / elapsed).toFixed(2)} jobs/s, ${failed} failed${killNote}`,
  );
  console.log(
    `  submit p50 ${pct(submits, 50).toFixed(1)} ms, p99 ${pct(submits, 99).toFixed(1)} ms; GET /api/health during the run p50 ${pct(health, 50).toFixed(1)} ms, p99 ${pct(health, 99).toFixed(1)} ms (${health.length} probes)`,
  );
  console.log(`  peak RSS: ${rss}; w1 started in ${startMs.toFixed(0)} ms (spawn to its line saying it runs)`);
  const parent = parentLine(ws[0].proc.pid!);
  if (parent && alive(ws[0].proc)) console.log(`  w1's ${parent}`);
  if (!killOne) console.log(`  w1 CPU time (all threads) per job: ${cpuPerJobMs.toFixed(1)} ms`);
  const series: Series = {
    label,
    underLoad: loadRss,
    peak: peakMb(w1),
    jobsPerS: JOBS / elapsed,
    cpuPerJobMs,
    startMs,
  };
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
  return series;
}

/** min / median / max of `xs`. */
function spread(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const r = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
  return `${r(s[0])} / ${r(s[Math.floor((s.length - 1) / 2)])} / ${r(s[s.length - 1])}`;
}

/** Every one-worker series, grouped by what ran: each one's figures, then min / median / max. */
function summary(all: Series[]): void {
  console.log("\nsummary, one worker node (w1 under load MB | peak MB | jobs/s | CPU ms per job | start ms):");
  for (const label of [...new Set(all.map((s) => s.label))]) {
    const ss = all.filter((s) => s.label === label);
    console.log(`  ${label}`);
    console.log(
      `    each series: ${ss.map((s) => `${s.underLoad} | ${s.peak} | ${s.jobsPerS.toFixed(2)} | ${s.cpuPerJobMs.toFixed(1)} | ${s.startMs.toFixed(0)}`).join(";  ")}`,
    );
    console.log(
      `    min / median / max: under load ${spread(ss.map((s) => s.underLoad))} MB, jobs/s ${spread(ss.map((s) => s.jobsPerS))}, CPU per job ${spread(ss.map((s) => s.cpuPerJobMs))} ms, start ${spread(ss.map((s) => Math.round(s.startMs)))} ms`,
    );
  }
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
  // WORKER_ENV="COMPUTE_THREADS=1 NODE_OPTIONS=--max-semi-space-size=2;COMPUTE_THREAD_HEAP_MB=0": the
  // one-worker run again with each ;-separated set of variables on the worker node, to compare its
  // memory and jobs/s in one run. ROUNDS=n: the whole sequence (baseline build, this build, each
  // variant) n times over, alternating, for the spread between series.
  const variants = (process.env.WORKER_ENV ?? "")
    .split(";")
    .filter((v) => v.trim())
    .map((variant) => ({
      label: `this build with ${variant.trim()}`,
      env: Object.fromEntries(
        variant
          .split(/\s+/)
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
      ),
    }));
  const all: Series[] = [];
  for (let round = 1; round <= Number(process.env.ROUNDS ?? 1); round++) {
    if (BASELINE_BIN) {
      console.log(`\nround ${round}, baseline build ${BASELINE_BIN}:`);
      all.push(await run(1, false, {}, BASELINE_BIN, `baseline build ${BASELINE_BIN}`));
    }
    console.log(`\nround ${round}, this build:`);
    all.push(await run(1, false, {}, MCAI_BIN, "this build"));
    for (const v of variants) {
      console.log(`\nround ${round}, ${v.label}:`);
      all.push(await run(1, false, v.env, MCAI_BIN, v.label));
    }
  }
  summary(all);
  // ONE_WORKER=1: the one-worker run only (memory and throughput comparisons).
  if (process.env.ONE_WORKER) return;
  await run(2, false);
  await run(2, true);
}

runMain(main);
