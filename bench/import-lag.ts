/**
 * bench/import-lag: the main thread's event-loop delay while an embedded node (PGlite in its worker
 * thread) imports 3,000 rows through the API, as jobs-bounds.test.ts measures it: the node runs in
 * this process, the rows are POSTed (202, an import job) and the job is followed while /api/health
 * and /api/datasets are asked in turn. Prints the delay's p99 and max (monitorEventLoopDelay,
 * 10 ms resolution), the import's rows/s, and every stall of the loop over STALL_MS with its time.
 *
 *   npm run bench:import-lag            (RUNS=3 ROWS=3000 STALL_MS=30 PGLITE_WORKER=1)
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/import-lag.ts   (what the stalls run)
 */
import { monitorEventLoopDelay, performance as perf } from "node:perf_hooks";
import { loadConfig } from "../services/lib/config";
import { migrate, PgliteDb } from "../services/lib/db";
import { startNode } from "../bin/node";
import { machine, pct, runMain } from "./lib";

const RUNS = Number(process.env.RUNS ?? 3);
const ROWS = Number(process.env.ROWS ?? 3000);
const STALL_MS = Number(process.env.STALL_MS ?? 30);
const ADMIN_KEY = "bench-admin-key-0123456789abcdef";
const admin = { authorization: `Bearer ${ADMIN_KEY}` };

interface Answer {
  status: number;
  body: { job_id?: string; status?: string; result?: { added?: number } } | undefined;
}

async function getJson(url: string, init?: RequestInit): Promise<Answer> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Answer["body"]) : undefined };
}

async function run(template: Blob, worker: boolean, label: string): Promise<void> {
  const db = await PgliteDb.open("memory://", { loadDataDir: template, worker });
  await db.refreshCapabilities();
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    MEMORY_WARN_MB: "8192",
    API_KEYS: ADMIN_KEY,
    RATE_LIMIT: "0",
    COMPUTE_THREADS: "1",
    JOBS_POLL_MS: "50",
    EMBEDDINGS_BATCH: "200",
    PGLITE_WORKER: worker ? "1" : "0",
  });
  const node = await startNode(config, ["api", "jobs", "datasets", "compute"], { db });
  const api = node.broker.getLocalService("api") as unknown as { server: { address(): { port: number } } };
  const url = `http://127.0.0.1:${api.server.address().port}`;
  try {
    const body =
      Array.from({ length: ROWS }, (_, i) =>
        JSON.stringify({ content: `lag ${i}: tempo and pitch in example ${i}`, response: `answer ${i}` }),
      ).join("\n") + "\n";
    // Stalls: a timer every 5 ms that notes each late firing.
    const stalls: { at: number; ms: number }[] = [];
    let last = performance.now();
    const t0 = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      if (now - last - 5 > STALL_MS) stalls.push({ at: Math.round(last - t0), ms: Math.round(now - last - 5) });
      last = now;
    }, 5);
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    const elu0 = perf.eventLoopUtilization();
    const r = await getJson(`${url}/api/datasets/lag/import?format=jsonl&filename=lag.jsonl`, {
      method: "POST",
      headers: { ...admin, "content-type": "application/octet-stream" },
      body,
    });
    const accepted = performance.now() - t0;
    if (r.status !== 202) throw new Error(`import answered ${r.status}: ${JSON.stringify(r.body)}`);
    const times: number[] = [];
    let job: NonNullable<Answer["body"]> = {};
    while (job.status !== "completed" && job.status !== "failed") {
      for (const path of ["/api/health", "/api/datasets"]) {
        const q0 = performance.now();
        await getJson(`${url}${path}`);
        times.push(performance.now() - q0);
      }
      job = (await getJson(`${url}/api/job/${r.body?.job_id}`, { headers: admin })).body ?? {};
      await new Promise((res) => setTimeout(res, 50));
    }
    const ms = performance.now() - t0;
    const elu = perf.eventLoopUtilization(elu0);
    h.disable();
    clearInterval(timer);
    console.log(
      `${label}: ${job.status}, added ${job.result?.added}; upload answered after ${accepted.toFixed(0)} ms, ` +
        `done after ${ms.toFixed(0)} ms (${Math.round(ROWS / (ms / 1000))} rows/s); event-loop delay p99 ` +
        `${(h.percentile(99) / 1e6).toFixed(1)} ms, max ${(h.max / 1e6).toFixed(1)} ms; answers p99 ` +
        `${pct(times, 99).toFixed(0)} ms (${times.length}); main thread busy ${(elu.active / 1000).toFixed(2)} s ` +
        `(${(elu.utilization * 100).toFixed(0)}%)`,
    );
    console.log(
      `  stalls over ${STALL_MS} ms (at ms: ms): ${stalls.map((s) => `${s.at}:${s.ms}`).join(" ") || "none"}`,
    );
  } finally {
    await node.stop();
  }
}

async function main(): Promise<void> {
  console.log(machine());
  const worker = loadConfig({ PGLITE_WORKER: process.env.PGLITE_WORKER }).pglite.worker;
  const t = await PgliteDb.open("memory://", { worker });
  await migrate(t);
  const template = await t.dumpDataDir();
  await t.close();
  const label = process.env.LABEL ? `${process.env.LABEL} ` : "";
  for (let i = 0; i < RUNS; i++) await run(template, worker, `${label}run ${i + 1} (PGLITE_WORKER=${worker ? 1 : 0})`);
}

runMain(main);
