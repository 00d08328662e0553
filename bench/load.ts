/**
 * bench:load: the read paths of one node at 100 connections, one route at a time, on Postgres
 * (Redis cacher, as a cluster runs) and embedded (PGlite, memory cacher). Each route's req/s and
 * p99 are printed with their ratio to the gateway's own cached /api/emotions, measured in the same
 * run on the same node, and to bare node:http (measured first, in the same run). Targets (issue 17):
 * cached knowledge answer >= 0.6x emotions, repeated search >= 0.6x, /api/health >= 0.8x, a page
 * of 20 examples of ~1.5 KB >= 2,000 req/s with p99 <= 100 ms on Postgres, >= 1,000 req/s with
 * p99 <= 200 ms embedded. The examples are BEIR SciFact's abstracts (../shared/fixtures).
 *
 *   npm run bench:load                 DURATION=5 (s per route) EXAMPLES=5183 DRIVERS=postgres,pglite
 *                                      (pglite-main: embedded with PGlite on the main thread, PGLITE_WORKER=0)
 *   Uncached pages: a node restarted with an empty page cache (its own cache namespace) serves the
 *   page after each example in turn, each a distinct page and a cache miss as a user paging through
 *   a large domain costs (the lookup, the database read, the store); the node's hit and miss counts
 *   during the run are printed.
 *   PAGE_CACHE=off npm run bench:load  the same with the page cache off (DATASET_PAGE_CACHE_TTL_S=0):
 *                                      no lookup and no store, the domain's pages in turn
 *   PROFILE=1 npm run bench:load       the node serving uncached pages runs under the CPU profiler:
 *                                      where its time goes, by package (each thread: embedded, the
 *                                      PGlite worker thread's too)
 *   ONLY=uncached npm run bench:load   of the cached routes only emotions (the reference), then the
 *                                      uncached pages
 *   NODE_FLAGS="--max-semi-space-size=64" npm run bench:load
 *                                      the node serving uncached pages runs with these Node flags
 *                                      (the baseline's without: with BASELINE set to a copy of this
 *                                      build, what the flags change)
 *   BASELINE=/tmp/base ROUNDS=2 npm run bench:load
 *                                      the uncached pages served by the baseline's node and then this
 *                                      build's, twice in turn; each run prints the CPU per request of
 *                                      the node, its database's Postgres backends, Redis, autocannon
 *                                      (this process) and the whole machine, from /proc
 *   BASELINE=. CHANGE_ENV="DATABASE_POOL_MAX=4;DATABASE_POOL_MAX=20" npm run bench:load
 *                                      this build's node serving uncached pages runs with these
 *                                      settings (the baseline's without), once with each set of
 *                                      them (separated by ";") in each round
 *   DB_PREFIX=mcai_mine npm run bench:load
 *                                      the name of the database the run makes and drops (a suffix added)
 *   PROFILE=1 PROFILE_ROUTE=search npm run bench:load
 *                                      the same for the repeated (cached) search
 *   BASELINE=/work/main npm run bench:load
 *                                      each phase is run again, in the same run and on the same
 *                                      data, by another build (its dist/bin/mcai.js, built with
 *                                      `npm run build` there): the figures before a change
 *   MIXED=1 npm run bench:load         the former mixed workload (pages, searches, answers, job
 *                                      submits and polls) on 1 and 3 nodes over the Redis transporter
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { startMcai, benchDatabase, freePort, machine, REDIS_URL, runMain, sleep } from "./lib";
import { cpuPerRequest, sampleCpu } from "./cpu-by-process";
import { runMixed } from "./load-mixed";

const DURATION = Number(process.env.DURATION ?? 5);
const EXAMPLES = Number(process.env.EXAMPLES ?? 5183);
const DRIVERS = (process.env.DRIVERS ?? "postgres,pglite").split(",");
const PROFILE = process.env.PROFILE === "1";
/** The route the restarted (profiled) node serves: uncached pages, or with `search` the repeated search. */
const PROFILE_ROUTE = process.env.PROFILE_ROUTE ?? "page";
/** Another checkout whose build runs each phase again (the baseline); none by default. */
const BASELINE = process.env.BASELINE ? path.resolve(process.env.BASELINE, "dist", "bin", "mcai.js") : undefined;
/** The uncached pages with the page cache off (DATASET_PAGE_CACHE_TTL_S=0), as before: no cache lookup, no store. */
const PAGE_CACHE_OFF = process.env.PAGE_CACHE === "off";
/** Node flags of the node serving uncached pages (not the baseline's): NODE_FLAGS="--max-semi-space-size=64". */
const NODE_FLAGS = (process.env.NODE_FLAGS ?? "").split(" ").filter(Boolean);
/** Only the uncached pages (and emotions, their reference): the cached routes are skipped. */
const ONLY_UNCACHED = process.env.ONLY === "uncached";
/** Times the uncached pages are served by the baseline's node and then this build's, in turn. */
const ROUNDS = Number(process.env.ROUNDS ?? 1);
/**
 * Environments of this build's node serving uncached pages (not the baseline's), each a
 * space-separated NAME=value list, several separated by ";" (each round serves the pages once
 * with each, after the baseline): with BASELINE set to a copy of this build, what a setting changes.
 */
const CHANGE_ENVS: Record<string, string>[] = (process.env.CHANGE_ENV ?? "").split(";").map((set) =>
  Object.fromEntries(
    set
      .split(" ")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  ),
);
/** The prefix of the Postgres database each run makes (and drops). */
const DB_PREFIX = process.env.DB_PREFIX ?? "mcai_bench_load";
const CONNECTIONS = 100;
/** Restarts of a node on the same data: each gets a cache namespace of its own. */
let restarts = 0;
const ADMIN_KEY = "bench-load-admin-key-0123456789";
const SCIFACT = path.resolve(__dirname, "..", "..", "shared", "fixtures", "ir", "scifact", "corpus.jsonl");

export interface Route {
  name: string;
  path: string | (() => string);
  /** At most this many requests: as many as there are distinct pages to ask for (each asked once). */
  amount?: number;
  /** Ratio to emotions it must reach, or an absolute bound per driver. */
  target?: { ratio: number } | { rps: number; p99: number };
}

export interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Responses in all. */
  total: number;
}

export function cannon(
  base: string,
  p: string | (() => string),
  connections = CONNECTIONS,
  amount?: number,
): Promise<Figures> {
  const t0 = performance.now();
  // The last response's time: with `amount` the run's length (autocannon ends it, and counts its
  // `duration`, on whole seconds).
  let last = t0;
  return new Promise((resolve, reject) => {
    const run = autocannon(
      {
        // A fixed path goes in the URL: autocannon has no `path` option (it would request "/").
        url: typeof p === "function" ? base : `${base}${p}`,
        connections,
        duration: DURATION,
        // At most this many requests (it ends sooner than DURATION when they are done).
        ...(amount ? { amount } : {}),
        ...(typeof p === "function"
          ? { requests: [{ method: "GET", setupRequest: (req: Record<string, unknown>) => ({ ...req, path: p() }) }] }
          : {}),
      } as autocannon.Options,
      (err, r) => {
        if (err) {
          reject(err as Error);
          return;
        }
        resolve({
          rps: amount ? r.requests.total / ((last - t0) / 1000) : r.requests.average,
          p50: r.latency.p50,
          p99: r.latency.p99,
          errors: r.errors + r.timeouts + r.non2xx,
          total: r.requests.total,
        });
      },
    );
    run.on("response", () => (last = performance.now()));
  });
}

async function bare(): Promise<Figures> {
  const server = http.createServer((_q, res) => res.end('{"ok":true}')).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const r = await cannon(`http://127.0.0.1:${(server.address() as { port: number }).port}`, "/");
  server.close();
  return r;
}

function line(name: string, f: Figures, emotions: Figures, bareRps: number, verdict = ""): string {
  const ratio = (x: number) => `${x.toFixed(2)}x`.padStart(6);
  return `    ${name.padEnd(30)} ${String(Math.round(f.rps)).padStart(6)} req/s  p50 ${String(f.p50).padStart(4)} ms  p99 ${String(f.p99).padStart(4)} ms  ${ratio(f.rps / emotions.rps)} emotions  ${ratio(f.rps / bareRps)} bare  errors ${f.errors}${verdict}`;
}

function verdict(r: Route, f: Figures, emotions: Figures): string {
  if (!r.target) return "";
  if ("ratio" in r.target) {
    const ok = f.rps / emotions.rps >= r.target.ratio;
    return `  ${ok ? "meets" : "MISSES"} >= ${r.target.ratio}x`;
  }
  const ok = f.rps >= r.target.rps && f.p99 <= r.target.p99;
  return `  ${ok ? "meets" : "MISSES"} >= ${r.target.rps} req/s, p99 <= ${r.target.p99} ms`;
}

/** SciFact's abstracts (mean ~1.5 KB), `n` of them, posted in batches of 500. */
async function load(base: string, n: number): Promise<void> {
  const docs = fs
    .readFileSync(SCIFACT, "utf8")
    .split("\n")
    .filter(Boolean)
    .slice(0, n)
    .map((l) => ({ content: (JSON.parse(l) as { content: string }).content }));
  for (let i = 0; i < docs.length; i += 500) {
    const r = await fetch(`${base}/api/datasets/scifact/examples`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": ADMIN_KEY },
      body: JSON.stringify({ examples: docs.slice(i, i + 500) }),
    });
    if (!r.ok) throw new Error(`import: ${r.status} ${await r.text()}`);
  }
}

type McaiNode = ReturnType<typeof startMcai>;

/** The node's page cache lookups so far (its /metrics), by result. */
async function pageLookups(base: string): Promise<{ hit: number; miss: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const count = (result: string) =>
    Number(
      new RegExp(`mcai_datasets_cache_lookups_total\\{[^}]*kind="page"[^}]*result="${result}"[^}]*\\} (\\d+)`).exec(
        text,
      )?.[1] ?? 0,
    );
  return { hit: count("hit"), miss: count("miss") };
}

/** Embedded: a rotation that moves 1,000 rows, and the VACUUM (ANALYZE) after it, as the node logs it. */
async function rotationCost(base: string, node: McaiNode, max: number): Promise<void> {
  const t0 = performance.now();
  const r = await fetch(`${base}/api/admin/datasets/rotate`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": ADMIN_KEY },
    body: JSON.stringify({ max }),
  });
  const ms = performance.now() - t0;
  await sleep(200);
  const logged = /VACUUM \(ANALYZE\) of [^\n]*: \d+ ms/.exec(node.out())?.[0] ?? "no VACUUM logged";
  console.log(
    `    rotation to ${max} rows (status ${r.status}): ${Math.round(ms)} ms in all; the node logged: ${logged}`,
  );
}

async function startNode(
  env: Record<string, string>,
  nodeArgs: string[] = [],
  logLevel = "warn",
  bin?: string,
): Promise<{ node: McaiNode; base: string }> {
  const port = await freePort();
  const node = startMcai(
    ["--services", "api,datasets,knowledge,compute,metrics", "--node-id", "n1", "--port", String(port)],
    env,
    logLevel,
    nodeArgs,
    bin,
  );
  await node.ready;
  return { node, base: `http://127.0.0.1:${port}` };
}

async function stopNode(node: McaiNode): Promise<void> {
  if (node.proc.exitCode !== null || node.proc.signalCode !== null) return;
  node.proc.kill("SIGTERM");
  await new Promise((r) => node.proc.once("exit", r));
}

/**
 * Runs the routes in turn and prints them against the first (emotions) and bare node:http, and
 * against `before` (the baseline build's figures of the same routes) when given.
 */
async function runRoutes(
  base: string,
  title: string,
  routes: Route[],
  bareRps: number,
  emotions?: Figures,
  before?: Figures[],
) {
  const figures: Figures[] = [];
  for (const r of routes) figures.push(await cannon(base, r.path, CONNECTIONS, r.amount));
  const ref = emotions ?? figures[0];
  console.log(title);
  routes.forEach((r, i) => {
    const vs = before ? `  ${(figures[i].rps / before[i].rps).toFixed(2)}x baseline` : "";
    console.log(line(r.name, figures[i], ref, bareRps, verdict(r, figures[i], ref) + vs));
  });
  return figures;
}

/**
 * One driver: a node with its caches on serves every route; then a node on the same data with an
 * empty page cache serves distinct pages spread over the whole domain (each one a miss: a lookup,
 * a database read, a store; PAGE_CACHE=off: no cache), under the CPU profiler when PROFILE is set. With BASELINE, the baseline build serves each phase first,
 * on the same data, and the figures after say how they compare.
 */
async function driverRun(driver: string, bareRps: number): Promise<void> {
  const env: Record<string, string> = { RATE_LIMIT: "0", DEMO_DATA: "false", API_KEYS: ADMIN_KEY };
  let drop: () => Promise<void> = () => Promise.resolve();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-load-"));
  const profDir = path.join(dir, "profile");
  if (driver === "postgres") {
    const db = await benchDatabase(DB_PREFIX);
    Object.assign(env, { DATABASE_URL: db.url, CACHER: REDIS_URL, NAMESPACE: new URL(db.url).pathname.slice(1) });
    drop = () => db.drop();
  } else env.MCAI_DATA_DIR = path.join(dir, "data");
  // "pglite-main": PGlite on the node's main thread (PGLITE_WORKER=0), the baseline of its worker thread.
  if (driver === "pglite-main") env.PGLITE_WORKER = "0";
  // At info: the node logs the time of each VACUUM, which the embedded run reports.
  let { node, base } = await startNode(env, [], "info");
  try {
    const t0 = performance.now();
    await load(base, EXAMPLES);
    console.log(
      `  ${driver}: ${EXAMPLES} SciFact abstracts loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const cursors: string[] = ["0"];
    // Every example's id: "the page after example i" for each i is a distinct page (and cache key).
    const ids: string[] = [];
    let bytes = 0;
    for (let c: string | null = ""; c !== null;) {
      const page = (await (
        await fetch(`${base}/api/datasets/scifact/examples?limit=20${c ? `&cursor=${c}` : ""}`)
      ).json()) as { examples: { id: string; content: string }[]; next_cursor: string | null };
      ids.push(...page.examples.map((e) => e.id));
      if (!bytes) bytes = page.examples.reduce((n, e) => n + Buffer.byteLength(e.content), 0) / page.examples.length;
      c = page.next_cursor;
      if (c) cursors.push(c);
    }
    const pagePath = (i: number) => `/api/datasets/scifact/examples?limit=20${i ? `&cursor=${cursors[i]}` : ""}`;
    const question = "diffusion tensor imaging of white matter";
    const pageTarget = driver === "postgres" ? { rps: 2000, p99: 100 } : { rps: 1000, p99: 200 };
    const kb = (bytes / 1024).toFixed(1);
    let n = 0;
    const cachedRoutes: Route[] = [
      { name: "GET /api/emotions (cached)", path: "/api/emotions" },
      {
        name: "GET /api/knowledge (cached)",
        path: `/api/knowledge?q=${encodeURIComponent(question)}`,
        target: { ratio: 0.6 },
      },
      { name: "GET /api/search (repeated)", path: "/api/search?q=diffusion+tensor&k=10", target: { ratio: 0.6 } },
      { name: "GET /api/health", path: "/api/health", target: { ratio: 0.8 } },
      { name: `GET page of 20, ~${kb} KB each (1st)`, path: pagePath(0), target: pageTarget },
      { name: `GET page of 20, ~${kb} KB each (2 pages)`, path: () => pagePath(n++ % 2), target: pageTarget },
    ];
    // ONLY=uncached: of the cached routes only emotions, the reference of the uncached pages' ratio.
    if (ONLY_UNCACHED) cachedRoutes.splice(1);
    // Warm what the cached routes serve, as in steady state.
    const warm = async () => {
      for (const r of cachedRoutes.slice(0, 5)) await fetch(`${base}${r.path as string}`);
      await fetch(`${base}${pagePath(1)}`);
    };
    const title = `  ${driver}, 1 node, ${CONNECTIONS} connections, ${DURATION} s per route:`;
    let before: Figures[] | undefined;
    if (BASELINE) {
      await stopNode(node);
      ({ node, base } = await startNode(env, [], "warn", BASELINE));
      await warm();
      before = await runRoutes(base, `${title} BASELINE (${BASELINE})`, cachedRoutes, bareRps);
      await stopNode(node);
      ({ node, base } = await startNode(env, [], "info"));
    }
    await warm();
    const figures = await runRoutes(base, title, cachedRoutes, bareRps, undefined, before);
    if (driver === "pglite" && !ONLY_UNCACHED) await rotationCost(base, node, cursors.length * 20 - 1000);
    await stopNode(node);
    // The dataset id, as the cursors carry it ("e2:<dataset id>:<last id>", base64url).
    const datasetId = Buffer.from(cursors[1], "base64url").toString().split(":")[1];
    const afterId = (i: number) => Buffer.from(`e2:${datasetId}:${ids[i]}`).toString("base64url");
    const uncached: Route = {
      name: `GET page of 20, ~${kb} KB each (any)`,
      path: PAGE_CACHE_OFF
        ? () => pagePath(n++ % cursors.length)
        : () => `/api/datasets/scifact/examples?limit=20&cursor=${afterId(n++ % ids.length)}`,
      // Each page once: past that a fast node would be served its own kept pages.
      amount: PAGE_CACHE_OFF ? undefined : ids.length,
      target: pageTarget,
    };
    const searched: Route = {
      name: "GET /api/search (repeated)",
      path: "/api/search?q=diffusion+tensor&k=10",
      target: { ratio: 0.6 },
    };
    const second = PROFILE_ROUTE === "search" ? searched : uncached;
    const secondTitle =
      PROFILE_ROUTE === "search"
        ? `  ${driver}, the same node restarted:`
        : PAGE_CACHE_OFF
          ? `  ${driver}, page cache off (DATASET_PAGE_CACHE_TTL_S=0): ${cursors.length} distinct pages in turn, each a database read:`
          : `  ${driver}, page cache on, an empty cache: the page after each of the ${ids.length} examples in turn, each a cache miss (a lookup, a database read, a store):`;
    const restarted = async (bin?: string, nodeArgs: string[] = [], extraEnv: Record<string, string> = {}) => {
      const fresh: Record<string, string> = PAGE_CACHE_OFF
        ? { DATASET_PAGE_CACHE_TTL_S: "0" }
        : // A namespace of its own: the shared cacher holds nothing this node will ask for.
          { NAMESPACE: `${(env.NAMESPACE as string | undefined) ?? "mcai"}-${++restarts}` };
      ({ node, base } = await startNode({ ...env, ...fresh, ...extraEnv }, nodeArgs, "warn", bin));
      // Steady state: every page read once (a fresh node's first reads fill its buffers), as pages
      // of 19 with the cache on: kept under other keys than the pages of 20 measured.
      for (let i = 0; i < cursors.length; i++)
        await fetch(`${base}${pagePath(i).replace("limit=20", PAGE_CACHE_OFF ? "limit=20" : "limit=19")}`);
      if (PROFILE_ROUTE === "search") await fetch(`${base}${searched.path as string}`);
    };
    const database = driver === "postgres" ? env.NAMESPACE : undefined;
    // One round: the baseline's node, then this build's, each restarted with an empty cache.
    for (let round = 1; round <= ROUNDS; round++) {
      const roundTitle = ROUNDS > 1 ? `${secondTitle} (round ${round} of ${ROUNDS})` : secondTitle;
      let secondBefore: Figures[] | undefined;
      if (BASELINE) {
        await restarted(BASELINE);
        const l0 = await pageLookups(base);
        const c0 = await sampleCpu(node.proc.pid as number, database);
        secondBefore = await runRoutes(base, `${roundTitle} BASELINE`, [second], bareRps, before?.[0]);
        const c1 = await sampleCpu(node.proc.pid as number, database);
        const l = await pageLookups(base);
        if (PROFILE_ROUTE !== "search")
          console.log(`    its page cache lookups: ${l.miss - l0.miss} misses, ${l.hit - l0.hit} hits`);
        console.log(`    ${cpuPerRequest(c0, c1, secondBefore[0].total)}`);
        await stopNode(node);
      }
      for (const [i, changeEnv] of CHANGE_ENVS.entries()) {
        const last = round === ROUNDS && i === CHANGE_ENVS.length - 1;
        const profiled = PROFILE && last ? ["--cpu-prof", "--cpu-prof-dir", profDir] : [];
        await restarted(undefined, [...NODE_FLAGS, ...profiled], changeEnv);
        const lookups0 = await pageLookups(base);
        const c0 = await sampleCpu(node.proc.pid as number, database);
        const settings = Object.entries(changeEnv).map(([k, v]) => `${k}=${v}`);
        const title = settings.length ? `${roundTitle} ${settings.join(" ")}` : roundTitle;
        const [after] = await runRoutes(base, title, [second], bareRps, figures[0], secondBefore);
        const c1 = await sampleCpu(node.proc.pid as number, database);
        if (PROFILE_ROUTE !== "search") {
          const l = await pageLookups(base);
          console.log(
            `    the node's page cache lookups during the run: ${l.miss - lookups0.miss} misses, ${l.hit - lookups0.hit} hits`,
          );
        }
        console.log(`    ${cpuPerRequest(c0, c1, after.total)}`);
        if (!last) await stopNode(node);
      }
    }
  } finally {
    await stopNode(node);
    if (PROFILE) summarizeProfile(profDir);
    await drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

/** Self time of the node's CPU profile by package (or by our own top folder): where the time goes. */
function summarizeProfile(dir: string): void {
  // One profile per thread: the main thread's, and the PGlite worker thread's when embedded.
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")) : [];
  if (!files.length) console.log("    (no CPU profile written)");
  for (const file of files) summarizeThread(path.join(dir, file));
}

function summarizeThread(file: string): void {
  const prof = JSON.parse(fs.readFileSync(file, "utf8")) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  const functions = new Map<string, number>();
  let all = 0;
  prof.samples.forEach((id, i) => {
    const n = byId.get(id);
    if (!n) return;
    const dt = prof.timeDeltas[i] ?? 0;
    all += dt;
    const key = bucket(n.callFrame);
    totals.set(key, (totals.get(key) ?? 0) + dt);
    const fn = `${n.callFrame.functionName || "(anonymous)"} ${path.basename(n.callFrame.url)}`.slice(0, 44);
    functions.set(fn, (functions.get(fn) ?? 0) + dt);
  });
  console.log(
    `    CPU profile of the node, ${path.basename(file)} (${(all / 1e6).toFixed(1)} s sampled), self time by package:`,
  );
  [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 14)
    .forEach(([k, v]) => console.log(`      ${k.padEnd(44)} ${((100 * v) / all).toFixed(1).padStart(5)} %`));
  console.log("      by function:");
  [...functions]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .forEach(([k, v]) => console.log(`        ${k.padEnd(44)} ${((100 * v) / all).toFixed(1).padStart(5)} %`));
}

function bucket(f: { functionName: string; url: string }): string {
  // PGlite's Postgres, compiled to WebAssembly: one bucket, not one per function.
  if (f.functionName.startsWith("wasm-function") || f.url.startsWith("wasm://")) return "PGlite's Postgres (WASM)";
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f.url);
  if (m) return m[1];
  if (f.url.includes("/dist/")) return `mcai ${f.url.split("/dist/")[1].split("/").slice(0, 2).join("/")}`;
  if (f.url.startsWith("node:")) return `${f.url} (${f.functionName || "?"})`.slice(0, 44);
  if (f.functionName.startsWith("(")) return f.functionName;
  return f.functionName ? `native ${f.functionName}` : "native";
}

async function main(): Promise<void> {
  console.log(`bench/load on ${machine()}`);
  if (process.env.MIXED === "1") return runMixed();
  const b = await bare();
  console.log(`  baseline: bare node:http, ${CONNECTIONS} connections: ${Math.round(b.rps)} req/s, p99 ${b.p99} ms`);
  for (const d of DRIVERS) await driverRun(d, b.rps);
  await sleep(100);
}

if (require.main === module) runMain(main);
