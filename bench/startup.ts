/**
 * bench/startup: time from process start to a healthy /api/health, for each kind of node, and
 * the peak RSS of an idle all-services node. Baseline in the same run: a bare node:http server.
 *
 *   npm run bench:startup            (uses DATABASE_URL / REDIS_URL, else 127.0.0.1)
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchDatabase, freePort, machine, runMain } from "./lib";

const ROOT = path.resolve(__dirname, "..");
const BIN = path.join(ROOT, "dist", "bin", "mcai.js");
const RUNS = Number(process.env.RUNS ?? 5);
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

interface Sample {
  ms: number;
  peakRssMb: number;
}

/** Spawns a node, polls its health every 5 ms, returns the time to the first 200, then stops it. */
async function timeToHealthy(args: string[], env: Record<string, string>, idleMs = 0): Promise<Sample> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH!, HOME: os.tmpdir(), LOG_LEVEL: "warn", PORT: String(port), ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
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
  if (idleMs) await new Promise((r) => setTimeout(r, idleMs));
  const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
  const peakRssMb = Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  return { ms, peakRssMb };
}

function stats(samples: Sample[]): string {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const med = ms[Math.floor(ms.length / 2)];
  const rss = Math.max(...samples.map((s) => s.peakRssMb));
  return `median ${med.toFixed(0).padStart(5)} ms   min ${ms[0].toFixed(0).padStart(5)}   max ${ms[ms.length - 1].toFixed(0).padStart(5)}   peak RSS ${rss.toFixed(0)} MB`;
}

async function series(label: string, make: () => Promise<Sample>): Promise<void> {
  const out: Sample[] = [];
  for (let i = 0; i < RUNS; i++) out.push(await make());
  console.log(`${label.padEnd(46)} ${stats(out)}`);
}

async function main(): Promise<void> {
  console.log(`bench/startup on ${machine()}, ${RUNS} runs each`);
  const bare = path.join(os.tmpdir(), "mcai-bench-bare.js");
  fs.writeFileSync(
    bare,
    `require("http").createServer((q,s)=>s.end("{}")).listen(Number(process.env.PORT),"127.0.0.1")`,
  );
  await series("baseline: bare node:http server", () => timeToHealthy([bare], {}));

  const ns = `bench${Date.now()}`;
  await series("no-database node (api+metrics, Redis transp.)", () =>
    timeToHealthy([BIN, "start", "--services", "api,metrics"], { TRANSPORTER: REDIS_URL, NAMESPACE: ns }),
  );

  const existing = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-bench-existing-"));
  await timeToHealthy([BIN, "start"], { MCAI_DATA_DIR: existing });
  await series("embedded, existing data dir", () => timeToHealthy([BIN, "start"], { MCAI_DATA_DIR: existing }));
  await series("embedded, fresh data dir (initdb)", () =>
    timeToHealthy([BIN, "start"], { MCAI_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "mcai-bench-fresh-")) }),
  );
  const db = await benchDatabase("mcai_bench_startup");
  await series("Postgres node (DATABASE_URL, migrated)", () =>
    timeToHealthy([BIN, "start"], { DATABASE_URL: db.url, DEMO_DATA: "false" }),
  );
  await series("idle all-services embedded node, 3 s after up", () =>
    timeToHealthy([BIN, "start"], { MCAI_DATA_DIR: existing }, 3000),
  );
  await db.drop();
}

runMain(main);
