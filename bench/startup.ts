/**
 * bench/startup: time from process start to a healthy /api/health, for each kind of node; RSS per
 * phase (idle, first task, under load, after load) of an embedded all-services node and an idle
 * gateway; the first task's time on a cold pool against a warm one. Baseline in the same run: a
 * bare node:http server.
 *
 *   npm run bench:startup            (uses DATABASE_URL / REDIS_URL, else 127.0.0.1)
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchDatabase, freePort, machine, pct, runMain, sleep } from "./lib";
import {
  bareBaseline,
  maxRssDuring,
  memoryParts,
  peakMb,
  phasesLine,
  rssByMapping,
  rssMb,
  type Phases,
} from "./memory";

const ROOT = path.resolve(__dirname, "..");
const BIN = path.join(ROOT, "dist", "bin", "mcai.js");
const RUNS = Number(process.env.RUNS ?? 5);
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
// BASELINE_DIST=/path/to/an/older/dist: the embedded starts again with that build, in the same run.
const BASELINE_BIN = process.env.BASELINE_DIST ? path.join(process.env.BASELINE_DIST, "bin", "mcai.js") : undefined;
// PARTS=times,rss (default both): which halves of the benchmark run; PARTS=cold: of the times, only
// the bare baseline, the gateway and the embedded start over an existing folder (and, with
// EMBEDDED_VARIANTS, each variant over an existing and a fresh folder, interleaved with the default).
const PARTS = (process.env.PARTS ?? "times,rss").split(",");

interface Sample {
  ms: number;
  /** CPU time (user + system, all threads) the process used up to its first 200: steadier than wall time on a shared machine. */
  cpuMs: number;
  peakRssMb: number;
  /** The node's own start phases (its "start: …" line), ms; empty for the bare baseline. */
  phases: Record<string, number>;
}

/** The phases of the line `start: name 12 ms, … ; ready after N ms of process time`. */
function parsePhases(out: string): Record<string, number> {
  const line = /^start: (.*)$/m.exec(out)?.[1];
  if (!line) return {};
  const phases: Record<string, number> = {};
  for (const m of line.matchAll(/([a-z][a-z +]*?) (\d+) ms/g))
    phases[m[1].replace(/^ready after$/, "ready")] = Number(m[2]);
  return phases;
}

/** User + system CPU time of `pid` so far, ms (/proc/PID/stat fields 14 and 15, in clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Spawns a node, polls its health every 5 ms, returns the time to the first 200, then stops it. */
async function timeToHealthy(args: string[], env: Record<string, string>, idleMs = 0): Promise<Sample> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH!, HOME: os.tmpdir(), LOG_LEVEL: "warn", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  let out = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}/api/health`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node exited ${child.exitCode}: ${err}`);
    try {
      const r = await fetch(url);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  const cpuMs = cpuMsOf(child.pid!);
  if (idleMs) await new Promise((r) => setTimeout(r, idleMs));
  const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
  const peakRssMb = Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
  // The phases line follows the started line by a turn of the event loop.
  for (let i = 0; i < 100 && !/^start: /m.test(out) && args.includes("start"); i++) await sleep(5);
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  return { ms, cpuMs, peakRssMb, phases: parsePhases(out) };
}

/**
 * The engine's own floor: a process that loads only the embedded database's module and opens the
 * folder as a node does (`openEmbeddedDb`: the worker thread, the WASM tiering budget, the memory
 * settings), answers one `SELECT 1`, prints a line and exits. No Moleculer, no services, no HTTP:
 * what an embedded node's time to healthy cannot go below on this machine, measured in the same run.
 */
async function timeToOpen(bin: string, dir: string): Promise<Sample> {
  const dist = path.dirname(path.dirname(bin));
  const script = `const { loadConfig } = require(${JSON.stringify(path.join(dist, "services/lib/config.js"))});
const { openEmbeddedDb } = require(${JSON.stringify(path.join(dist, "services/lib/db/embedded.js"))});
openEmbeddedDb(loadConfig()).then(async (db) => {
  await db.query("SELECT 1");
  process.stdout.write("open\\n");
  // Alive until the bench has read its /proc figures and closed stdin.
  process.stdin.on("end", () => void db.close());
  process.stdin.resume();
});`;
  const t0 = performance.now();
  const child = spawn(process.execPath, ["-e", script], {
    env: { PATH: process.env.PATH!, HOME: os.tmpdir(), MCAI_DATA_DIR: dir },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => d.toString().includes("open") && resolve());
    child.once("exit", (code) => reject(new Error(`open exited ${code} before answering: ${err}`)));
  });
  const ms = performance.now() - t0;
  const cpuMs = cpuMsOf(child.pid!);
  const peakRssMb = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) / 1024;
  child.stdin.end();
  if (child.exitCode === null) await new Promise((r) => child.once("exit", r));
  return { ms, cpuMs, peakRssMb, phases: {} };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function stats(samples: Sample[]): string {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const rss = Math.max(...samples.map((s) => s.peakRssMb));
  const cpu = median(samples.map((s) => s.cpuMs));
  const line = `median ${median(ms).toFixed(0).padStart(5)} ms   min ${ms[0].toFixed(0).padStart(5)}   max ${ms[ms.length - 1].toFixed(0).padStart(5)}   CPU ${cpu.toFixed(0).padStart(5)} ms   peak RSS ${rss.toFixed(0)} MB`;
  // A sample whose phases line came too late (a slow fresh start) has none: the median is of the others.
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.phases)))];
  if (!names.length) return line;
  const phases = names.map(
    (n) => `${n} ${median(samples.flatMap((s) => (n in s.phases ? [s.phases[n]] : []))).toFixed(0)}`,
  );
  return `${line}\n${"".padEnd(47)}phases (median ms): ${phases.join(", ")}`;
}

async function series(label: string, make: () => Promise<Sample>): Promise<void> {
  const out: Sample[] = [];
  for (let i = 0; i < RUNS; i++) out.push(await make());
  console.log(`${label.padEnd(46)} ${stats(out)}`);
}

/** Spawns a node and waits for a healthy /api/health; the caller stops it. */
async function spawnHealthy(args: string[], env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH!, HOME: os.tmpdir(), LOG_LEVEL: "warn", PORT: String(port), ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node exited ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/api/health`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  const stop = async () => {
    child.kill("SIGTERM");
    if (child.exitCode === null) await new Promise((r) => child.once("exit", r));
  };
  return { pid: child.pid!, url, stop };
}

async function postJson(url: string, body: unknown): Promise<{ ms: number; status: number; json: unknown }> {
  const t0 = performance.now();
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await r.json();
  return { ms: performance.now() - t0, status: r.status, json };
}

/**
 * Runs `fn` with the build's PGlite template hidden (its stamp renamed), so fresh starts run
 * initdb as before the template existed: the baseline of the fresh-start figures.
 */
async function withoutTemplate<T>(fn: () => Promise<T>): Promise<T> {
  const stamp = path.join(ROOT, "dist", "pglite-template.json");
  const hidden = `${stamp}.hidden`;
  fs.renameSync(stamp, hidden);
  try {
    return await fn();
  } finally {
    fs.renameSync(hidden, stamp);
  }
}

const IDLE_MS = 2000;

/**
 * EMBEDDED_VARIANTS="COMPUTE_THREADS=1;COMPUTE_THREAD_HEAP_MB=0": the embedded node again with each
 * (each variant one or more space-separated NAME=value). RSS phases, and in the times part the
 * start over an existing folder and a fresh one, interleaved with the default's.
 */
const VARIANTS: [string, Record<string, string>][] = (process.env.EMBEDDED_VARIANTS ?? "")
  .split(";")
  .filter((x) => x.trim())
  .map((v) => [
    v.trim(),
    Object.fromEntries(
      v
        .trim()
        .split(/\s+/)
        .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    ),
  ]);

/** Each series once per round, RUNS rounds (drift on a busy machine hits all alike), then prints them. */
async function interleaved(list: [string, () => Promise<Sample>][]): Promise<void> {
  const out: Sample[][] = list.map(() => []);
  for (let i = 0; i < RUNS; i++) for (const [j, [, make]] of list.entries()) out[j].push(await make());
  for (const [j, [label]] of list.entries()) console.log(`${label.padEnd(46)} ${stats(out[j])}`);
}

/**
 * An embedded all-services node over `dir`, with COMPUTE_IDLE_MS=2000: RSS idle, after the first
 * task (an FFT: it starts a thread, loads PFFFT's WASM and makes a plan), at most while it runs
 * 24 art jobs (512², 4 in flight), and after the load once the pool's threads were given back.
 */
async function embeddedPhases(
  bin: string,
  dir: string,
  env: Record<string, string> = {},
): Promise<{ phases: Phases; cold: number; warm: number; parts: string; jobsPerS: number }> {
  const node = await spawnHealthy([bin, "start"], {
    ...env,
    MCAI_DATA_DIR: dir,
    COMPUTE_IDLE_MS: String(IDLE_MS),
    RATE_LIMIT: "0",
  });
  try {
    await sleep(3000);
    const idle = rssMb(node.pid);
    const fft = { signal: Array.from({ length: 4096 }, (_, i) => Math.sin(i / 7)), sampleRate: 8000, peaks: 1 };
    const first = await postJson(`${node.url}/api/fft`, fft);
    if (first.status !== 200) throw new Error(`fft answered ${first.status}`);
    const firstTask = rssMb(node.pid);
    const warm: number[] = [];
    for (let i = 0; i < 7; i++) warm.push((await postJson(`${node.url}/api/fft`, fft)).ms);
    const t0 = performance.now();
    const load = await maxRssDuring(node.pid, () => artJobs(node.url, 24, 4));
    const jobsPerS = 24 / ((performance.now() - t0) / 1000);
    const parts = `${await memoryParts(node.url, rssMb(node.pid))}\n    by mapping (MB): ${rssByMapping(node.pid)}`;
    await sleep(IDLE_MS + 1500);
    const after = rssMb(node.pid);
    return {
      phases: { idle, "first task": firstTask, "under load": load.mb, "after load": after, peak: peakMb(node.pid) },
      cold: first.ms,
      warm: pct(warm, 50),
      parts,
      jobsPerS,
    };
  } finally {
    await node.stop();
  }
}

/** `n` art jobs through the queue, `inFlight` at a time, each awaited to its end. */
async function artJobs(url: string, n: number, inFlight: number): Promise<void> {
  let next = 0;
  // Unique per run: the queue answers a repeated identical request with the earlier result, so a
  // second run over the same folder would render nothing.
  const run = `${process.pid}-${Date.now()}`;
  const one = async (i: number) => {
    const body = { prompt: `startup bench ${run} ${i}`, style: "flow-field", options: { width: 512, height: 512 } };
    const r = await postJson(`${url}/api/art/generate-async`, body);
    if (r.status !== 202) throw new Error(`art submit answered ${r.status}`);
    // An anonymous submit gets an owner token: only that token sees the job.
    const { job_id: id, owner_token: token } = r.json as { job_id: string; owner_token: string };
    for (;;) {
      const res = await fetch(`${url}/api/job/${id}`, { headers: { "x-owner-token": token } });
      const job = (await res.json()) as { status?: string };
      if (job.status === "completed") return;
      if (res.status !== 200 || job.status === "failed" || job.status === "cancelled")
        throw new Error(`art job answered ${res.status}: ${JSON.stringify(job)}`);
      await sleep(50);
    }
  };
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) await one(next++);
    }),
  );
}

async function gatewayIdle(bin: string, env: Record<string, string>): Promise<Phases> {
  const node = await spawnHealthy([bin, "start", "--services", "api,metrics"], env);
  try {
    await sleep(3000);
    return { idle: rssMb(node.pid), peak: peakMb(node.pid) };
  } finally {
    await node.stop();
  }
}

/** Runs `a` and `b` alternately (RUNS each, so drift on a busy machine hits both alike) and prints both. */
async function pairedSeries(
  a: [string, () => Promise<Sample>],
  b: [string, () => Promise<Sample>] | undefined,
): Promise<void> {
  const outA: Sample[] = [];
  const outB: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    if (b) outB.push(await b[1]());
    outA.push(await a[1]());
  }
  if (b) console.log(`${b[0].padEnd(46)} ${stats(outB)}`);
  console.log(`${a[0].padEnd(46)} ${stats(outA)}`);
}

async function times(existing: string, ns: string, all: boolean): Promise<void> {
  const bare = path.join(os.tmpdir(), "mcai-bench-bare.js");
  fs.writeFileSync(
    bare,
    `require("http").createServer((q,s)=>s.end("{}")).listen(Number(process.env.PORT),"127.0.0.1")`,
  );
  console.log("\ntime to a healthy /api/health:");
  await series("baseline: bare node:http server", () => timeToHealthy([bare], {}));

  const gateway = (bin: string) => () =>
    timeToHealthy([bin, "start", "--services", "api,metrics"], { TRANSPORTER: REDIS_URL, NAMESPACE: ns });
  await pairedSeries(
    ["no-database node (api+metrics, Redis transp.)", gateway(BIN)],
    BASELINE_BIN ? ["  same, baseline build (BASELINE_DIST)", gateway(BASELINE_BIN)] : undefined,
  );
  const embedded = (bin: string) => () => timeToHealthy([bin, "start"], { MCAI_DATA_DIR: existing });
  await series("floor: Node + the embedded open alone", () => timeToOpen(BIN, existing));
  await pairedSeries(
    ["embedded, existing data dir", embedded(BIN)],
    BASELINE_BIN ? ["  same, baseline build (BASELINE_DIST)", embedded(BASELINE_BIN)] : undefined,
  );
  await series("  same, PGlite on the main thread (PGLITE_WORKER=0)", () =>
    timeToHealthy([BIN, "start"], { MCAI_DATA_DIR: existing, PGLITE_WORKER: "0" }),
  );
  if (VARIANTS.length) {
    // Each variant starts over its own existing folder (made with it), so a setting that changes
    // what the folder holds is measured as a node running with it would be.
    const dirs = VARIANTS.map(([, env]) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-bench-existing-"));
      return { dir, env };
    });
    for (const { dir, env } of dirs) await timeToHealthy([BIN, "start"], { ...env, MCAI_DATA_DIR: dir });
    const freshDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "mcai-bench-fresh-"));
    await interleaved([
      ["embedded, existing data dir (default)", embedded(BIN)],
      ...dirs.map(({ dir, env }, i): [string, () => Promise<Sample>] => [
        `  same with ${VARIANTS[i][0]}`,
        () => timeToHealthy([BIN, "start"], { ...env, MCAI_DATA_DIR: dir }),
      ]),
      ["embedded, fresh data dir (default)", () => timeToHealthy([BIN, "start"], { MCAI_DATA_DIR: freshDir() })],
      ...VARIANTS.map(([v, env]): [string, () => Promise<Sample>] => [
        `  same with ${v}`,
        () => timeToHealthy([BIN, "start"], { ...env, MCAI_DATA_DIR: freshDir() }),
      ]),
    ]);
  }
  if (!all) return;
  const fresh = () =>
    timeToHealthy([BIN, "start"], { MCAI_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "mcai-bench-fresh-")) });
  await series("embedded, fresh data dir (prebuilt template)", fresh);
  await withoutTemplate(() => series("embedded, fresh data dir (initdb: no template)", fresh));
  const db = await benchDatabase("mcai_bench_startup");
  await series("Postgres node (DATABASE_URL, migrated)", () =>
    timeToHealthy([BIN, "start"], { DATABASE_URL: db.url, DEMO_DATA: "false" }),
  );
  await series("idle all-services embedded node, 3 s after up", () =>
    timeToHealthy([BIN, "start"], { MCAI_DATA_DIR: existing }, 3000),
  );
  await series("  same, PGlite on the main thread (PGLITE_WORKER=0)", () =>
    timeToHealthy([BIN, "start"], { MCAI_DATA_DIR: existing, PGLITE_WORKER: "0" }, 3000),
  );
  await db.drop();
}

async function rss(existing: string, ns: string): Promise<void> {
  console.log("\nRSS per phase:");
  console.log(phasesLine("baseline: bare node:http (2000 GETs)", await bareBaseline()));
  const gwEnv = { TRANSPORTER: REDIS_URL, NAMESPACE: ns };
  if (BASELINE_BIN) console.log(phasesLine("  same, baseline build", await gatewayIdle(BASELINE_BIN, gwEnv)));
  console.log(phasesLine("gateway (api,metrics, Redis transp.)", await gatewayIdle(BIN, gwEnv)));
  const runs: [string, string, Record<string, string>][] = [
    ["embedded all-services (24 art jobs, 4 in flight)", BIN, {}],
  ];
  if (BASELINE_BIN) runs.unshift(["  same, baseline build", BASELINE_BIN, {}]);
  for (const [v, env] of VARIANTS) runs.push([`  same with ${v}`, BIN, env]);
  for (const [label, bin, env] of runs) {
    const e = await embeddedPhases(bin, existing, env);
    console.log(phasesLine(label, e.phases, `   (${e.jobsPerS.toFixed(2)} jobs/s)`));
    console.log(`  after load: ${e.parts}`);
    console.log(
      `  first task on a cold pool (POST /api/fft, 4096 points): ${e.cold.toFixed(1)} ms; warm median ${e.warm.toFixed(1)} ms; extra ${(e.cold - e.warm).toFixed(1)} ms`,
    );
  }
}

async function main(): Promise<void> {
  console.log(
    `bench/startup on ${machine()}, ${RUNS} runs each${BASELINE_BIN ? `; baseline build ${BASELINE_BIN}` : ""}`,
  );
  const ns = `bench${Date.now()}`;
  const existing = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-bench-existing-"));
  await timeToHealthy([BIN, "start"], { MCAI_DATA_DIR: existing });
  if (PARTS.includes("times") || PARTS.includes("cold")) await times(existing, ns, PARTS.includes("times"));
  if (PARTS.includes("rss")) await rss(existing, ns);
}

runMain(main);
