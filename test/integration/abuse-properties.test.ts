/**
 * Issue 12's abuse suite, property-based: fast-check generates bad requests from the gateway's own
 * OpenAPI document (every route it serves, see test/helpers/abuse-arbitraries.ts) in six classes:
 * bad bodies, bad query strings, cursors, path params, made-up keys, odd headers and methods; in
 * both modes (embedded PGlite; Postgres + Redis), with API keys on, a fixed seed and a bounded
 * number of runs.
 *
 * For every request: an answer within ANSWER_BOUND_MS; no 5xx but a 503 with Retry-After; an error
 * is the one JSON shape with a type and no database error text; a refused request changed nothing
 * in the database (rows of examples, the archive, datasets and their version, jobs and cancelled
 * jobs, feedback, imports). Per class: a made-up key is a 401 with no rate-limit bucket of its own;
 * a bad path param is a 4xx; a cursor no page gave out is a 4xx. Printed per mode: a table of
 * inputs, 4xx, 5xx, unanswered and the slowest answer per class; the event loop's delay p99 over the
 * run; RSS before and after. Two more properties: owners (two client keys, two anonymous owners,
 * with and without Idempotency-Key) see only their own jobs; the rate limit holds over two gateways
 * sharing Redis whatever the order of gateways and made-up keys.
 *
 * Replay a failure with ABUSE_SEED (and ABUSE_PATH, which fast-check prints); ABUSE_RUNS sets the
 * runs per class.
 */
import http from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import fc from "fast-check";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import {
  createDatabase,
  describeWithPgAndRedis,
  describeWithRedis,
  dropDatabase,
  REDIS_URL,
  uniqueName,
} from "../helpers/servers";
import { eventually } from "../helpers/processes";
import { ADMIN_KEY } from "../helpers/datasets";
import { OWNER } from "../helpers/jobs";
import {
  badBodies,
  badCursors,
  badPaths,
  badQueries,
  madeUpKey,
  madeUpKeys,
  oddHeaders,
  operationsOf,
  type CursorFixtures,
  type Fixtures,
  type Identities,
  type Probe,
} from "../helpers/abuse-arbitraries";

const SEED = Number(process.env.ABUSE_SEED ?? 20261201);
const RUNS = Number(process.env.ABUSE_RUNS ?? 1500);
const PATH = process.env.ABUSE_PATH;
/** An answer later than this counts as none. */
const ANSWER_BOUND_MS = 10_000;
/** RSS the run may keep after it ends (the PGlite heap and caches grow; a leak per request would pass it). */
const RSS_KEPT_BOUND_MB = 400;

const CLIENT_KEY = "abuse-client-key-0123456789";
const CLIENT_KEY_B = "abuse-client-key-b-0123456789";
/** The four owners of the owners property: two client keys, two anonymous owners. */
const OWNERS: Record<string, Record<string, string>> = {
  "key A": { "x-api-key": CLIENT_KEY },
  "key B": { "x-api-key": CLIENT_KEY_B },
  "anonymous A": { "x-owner-token": "abuse-anonymous-owner-a-0123456789abcdef" },
  "anonymous B": { "x-owner-token": "abuse-anonymous-owner-b-0123456789abcdef" },
};
const IDS: Identities = {
  adminKey: ADMIN_KEY,
  clientKey: CLIENT_KEY,
  ownerToken: OWNER["x-owner-token"],
};
const ENV = {
  API_KEYS: ADMIN_KEY,
  CLIENT_KEYS: `${CLIENT_KEY},${CLIENT_KEY_B}`,
  // The limiter runs (a made-up key must never reach it) but does not limit the suite.
  RATE_LIMIT: "1000000",
  RATE_LIMIT_STATIC: "1000000",
  RATE_LIMIT_METRICS: "1000000",
  COMPUTE_THREADS: "1",
  // Accepted jobs stay small: this suite is about input, jobs-bounds about heavy work.
  ART_MAX_SIZE: "64",
  CYMATIC_MAX_SIZE: "64",
  MUSIC_MAX_SECONDS: "2",
  VIDEO_MAX_FRAMES: "4",
  VIDEO_MAX_SIZE: "64",
};

const JSON_HEADERS = { "content-type": "application/json" };

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  ms: number;
}

/** Sends a probe as is (node:http: its path is not normalised the way a URL is). */
function send(base: string, p: Probe): Promise<Answer | undefined> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      `${base}${p.path}`,
      {
        method: p.method,
        // Framed as a client frames a body: node:http sends a GET's or an OPTIONS' body unframed.
        headers:
          p.body === undefined ? p.headers : { ...p.headers, "content-length": String(Buffer.byteLength(p.body)) },
        timeout: ANSWER_BOUND_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
            ms: performance.now() - started,
          }),
        );
        res.on("error", () => resolve(undefined));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end(p.body);
  });
}

interface Tally {
  inputs: number;
  fourXx: number;
  fiveXx: number;
  unanswered: number;
  maxMs: number;
}

/** Postgres's own words for a data error: none may reach a client. */
const DATABASE_TEXT =
  /syntax error at or near|invalid input syntax|out of range for type|violates|unsupported Unicode|SQLSTATE/i;

const FINGERPRINT = `SELECT (SELECT count(*) FROM examples)::int AS examples,
  (SELECT count(*) FROM examples_archive)::int AS archived,
  (SELECT count(*) FROM datasets)::int AS datasets,
  (SELECT coalesce(max(version), 0) FROM datasets)::text AS version,
  (SELECT count(*) FROM jobs)::int AS jobs,
  (SELECT count(*) FROM jobs WHERE status = 'cancelled')::int AS cancelled,
  (SELECT count(*) FROM feedback)::int AS feedback,
  (SELECT count(*) FROM imports)::int AS imports`;

type Check = (p: Probe, a: Answer) => void | Promise<void>;

/** The properties every answer has, then the class's own. */
async function checkAnswer(p: Probe, a: Answer | undefined, extra?: Check): Promise<void> {
  const what = `${p.label}\n${p.method} ${p.path.slice(0, 200)}`;
  if (!a) throw new Error(`no answer within ${ANSWER_BOUND_MS} ms: ${what}`);
  const body = a.text.slice(0, 600);
  if (a.status >= 500 && !(a.status === 503 && a.headers["retry-after"]))
    throw new Error(`HTTP ${a.status}: ${what}\n${body}`);
  if (a.status >= 400 && p.method !== "HEAD") {
    let type: unknown;
    try {
      type = (JSON.parse(a.text) as { error?: { type?: unknown } }).error?.type;
    } catch {
      type = undefined;
    }
    if (typeof type !== "string" || !type)
      throw new Error(`HTTP ${a.status} without a JSON error type: ${what}\n${body}`);
  }
  if (DATABASE_TEXT.test(a.text)) throw new Error(`database text in the answer: ${what}\n${body}`);
  await extra?.(p, a);
}

interface Suite {
  t: TestNode;
  ops: ReturnType<typeof operationsOf>;
  fixtures: Fixtures;
  cursors: CursorFixtures;
  tallies: Record<string, Tally>;
}

/** Seeds two domains (pages and cursors to page) and reads what the generators need. */
async function prepare(t: TestNode): Promise<Omit<Suite, "t" | "tallies">> {
  const examples = (d: string) => Array.from({ length: 5 }, (_, i) => ({ content: `${d} example ${i}` }));
  await t.node.broker.call("datasets.add", { domain: "alpha", examples: examples("alpha") });
  await t.node.broker.call("datasets.add", { domain: "beta", examples: examples("beta") });
  const ids = await t.node.db!.query<{ domain_name: string; id: string }>(
    "SELECT domain_name, id::text AS id FROM datasets WHERE domain_name IN ('alpha', 'beta')",
  );
  const datasetId = (d: string) => ids.rows.find((r) => r.domain_name === d)!.id;
  const page = async (d: string) =>
    (await (await fetch(`${t.url}/api/datasets/${d}/examples?limit=2`)).json()) as {
      examples: { id: string }[];
      next_cursor: string;
    };
  const alpha = await page("alpha");
  const beta = await page("beta");
  const doc = (await (await fetch(`${t.url}/api/openapi.json`)).json()) as Parameters<typeof operationsOf>[0];
  return {
    ops: operationsOf(doc),
    fixtures: {
      domain: "alpha",
      exampleId: alpha.examples[0].id,
      jobId: "00000000-0000-4000-8000-000000000000",
      artifactId: "a".repeat(64),
      feedbackId: "1",
      file: "index.js",
      emotion: "joy",
    },
    cursors: {
      domain: "alpha",
      datasetId: datasetId("alpha"),
      otherDatasetId: datasetId("beta"),
      otherCursor: beta.next_cursor,
    },
  };
}

/** Runs `numRuns` probes of `arb`, sequentially, checking each; tallies the class. */
async function runClass<P extends Probe>(
  s: Suite,
  name: string,
  arb: fc.Arbitrary<P>,
  extra?: (p: P, a: Answer) => void | Promise<void>,
) {
  const tally: Tally = { inputs: 0, fourXx: 0, fiveXx: 0, unanswered: 0, maxMs: 0 };
  s.tallies[name] = tally;
  const fingerprint = async () => JSON.stringify((await s.t.node.db!.query(FINGERPRINT)).rows[0]);
  await fc.assert(
    fc.asyncProperty(arb, async (p) => {
      const before = await fingerprint();
      const a = await send(s.t.url, p);
      tally.inputs++;
      if (!a) tally.unanswered++;
      else {
        tally.maxMs = Math.max(tally.maxMs, a.ms);
        if (a.status >= 500) tally.fiveXx++;
        else if (a.status >= 400) tally.fourXx++;
      }
      await checkAnswer(p, a, extra as Check | undefined);
      if (a && a.status >= 400) {
        const after = await fingerprint();
        if (after !== before)
          throw new Error(`a refused request (${a.status}) changed the database: ${p.label}\n${before}\n${after}`);
      }
    }),
    { seed: SEED, numRuns: RUNS, path: PATH, endOnFailure: true },
  );
}

function printSummary(mode: string, s: Suite, lagP99Ms: number, rssBeforeMb: number, rssAfterMb: number): void {
  const rows = Object.entries(s.tallies).map(
    ([name, c]) =>
      `${name.padEnd(20)} ${String(c.inputs).padStart(6)} ${String(c.fourXx).padStart(6)} ${String(c.fiveXx).padStart(4)} ` +
      `${String(c.unanswered).padStart(10)} ${c.maxMs.toFixed(0).padStart(9)}`,
  );
  console.log(
    [
      `abuse properties, ${mode} (seed ${SEED}, ${RUNS} runs per class, ${s.ops.length} routes from the OpenAPI document):`,
      `${"class".padEnd(20)} ${"inputs".padStart(6)} ${"4xx".padStart(6)} ${"5xx".padStart(4)} ${"unanswered".padStart(10)} ${"max ms".padStart(9)}`,
      ...rows,
      `event-loop delay p99 over the run: ${lagP99Ms.toFixed(1)} ms; RSS before ${rssBeforeMb.toFixed(0)} MB, after ${rssAfterMb.toFixed(0)} MB`,
    ].join("\n"),
  );
}

const mb = () => process.memoryUsage().rss / 2 ** 20;

/** The six classes, against the node `start` gives. */
function abuseSuite(mode: string, start: () => Promise<{ t: TestNode; cleanup: () => Promise<void> }>) {
  const s = { tallies: {} } as Suite;
  let cleanup: (() => Promise<void>) | undefined;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  let rssBefore = 0;

  beforeAll(async () => {
    const started = await start();
    cleanup = started.cleanup;
    Object.assign(s, { t: started.t }, await prepare(started.t));
    rssBefore = mb();
    lag.enable();
  });
  afterAll(async () => {
    lag.disable();
    if ((s as Partial<Suite>).ops) printSummary(mode, s, lag.percentile(99) / 1e6, rssBefore, mb());
    await cleanup?.();
  });

  it("answers made-up keys on every route with 401, and never gives them a rate-limit bucket", async () => {
    await runClass(s, "made-up keys", madeUpKeys(s.ops, s.fixtures), (p, a) => {
      if (a.status !== 401 || a.headers["x-rate-limit-remaining"] !== undefined)
        throw new Error(
          `made-up key got ${a.status} (rate headers: ${String(a.headers["x-rate-limit-remaining"])}): ${p.label}`,
        );
    });
  });

  it("refuses cursors no page gave out with a 4xx, and serves a forged cursor of the right domain", async () => {
    await runClass(s, "cursors", badCursors(s.cursors, IDS), (p, a) => {
      const ok = p.refused ? a.status >= 400 && a.status < 500 : a.status === 200;
      if (!ok) throw new Error(`cursor (${p.label}) got ${a.status}: ${p.path}\n${a.text.slice(0, 300)}`);
    });
  });

  it("answers path params that name nothing (traversal, SQL, overflow, bad Unicode) with a 4xx", async () => {
    const resolved = new Map<string, Answer | undefined>();
    await runClass(s, "path params", badPaths(s.ops, s.fixtures, IDS), async (p, a) => {
      if (a.status >= 400) return;
      // "/dashboard/%2e%2e" is "/" by the URL rules a browser follows: answered as that path, it is fine.
      const normal = new URL(p.path, s.t.url).pathname;
      if (normal !== p.path.split("?")[0]) {
        if (!resolved.has(normal)) resolved.set(normal, await send(s.t.url, { ...p, path: normal }));
        const same = resolved.get(normal);
        if (same && same.status === a.status && same.text === a.text) return;
      }
      throw new Error(`bad path param got ${a.status}: ${p.label}\n${a.text.slice(0, 300)}`);
    });
  });

  it("answers bad query strings on every GET and DELETE route without a 5xx", async () => {
    await runClass(s, "query strings", badQueries(s.ops, s.fixtures, IDS));
  });

  it("answers bad bodies on every POST route without a 5xx or a write", async () => {
    await runClass(s, "bodies", badBodies(s.ops, s.fixtures, IDS));
  });

  it("answers odd headers and methods on every route without a 5xx", async () => {
    await runClass(s, "headers, methods", oddHeaders(s.ops, s.fixtures, IDS));
  });

  it("shows every owner (two keys, two anonymous) its own jobs and only those, Idempotency-Key or not", async () => {
    let run = 0;
    const submits = fc.array(
      fc.record({
        who: fc.constantFrom(...Object.keys(OWNERS)),
        key: fc.constantFrom(undefined, "k1", "k2"),
        text: fc.constantFrom("a calm sea", "a storm at night"),
      }),
      { minLength: 1, maxLength: 6 },
    );
    await fc.assert(
      fc.asyncProperty(submits, async (list) => {
        run++;
        const mine: Record<string, string[]> = Object.fromEntries(Object.keys(OWNERS).map((w) => [w, []]));
        for (const { who, key, text } of list) {
          const headers = {
            ...JSON_HEADERS,
            ...OWNERS[who],
            ...(key ? { "idempotency-key": `run${run}-${key}` } : {}),
          };
          const r = await send(s.t.url, {
            method: "POST",
            path: "/api/emotion/analyze-async",
            headers,
            body: JSON.stringify({ text }),
            label: `${who} submits`,
          });
          if (!r || r.status >= 300) continue; // a cap (429/503) or a key reused with other params (409)
          const id = (JSON.parse(r.text) as { job_id: string }).job_id;
          const seen = await send(s.t.url, { method: "GET", path: `/api/job/${id}`, headers: OWNERS[who], label: "" });
          if (seen?.status !== 200)
            throw new Error(
              `${who} submitted job ${id} (key ${key}) and reads it as ${seen?.status}: another owner's job`,
            );
          mine[who].push(id);
        }
        for (const [who, headers] of Object.entries(OWNERS)) {
          for (const [other, ids] of Object.entries(mine))
            for (const id of other === who ? [] : ids)
              for (const [method, path] of [
                ["GET", `/api/job/${id}`],
                ["DELETE", `/api/job/${id}`],
                ["POST", `/api/job/${id}/retry`],
                ["GET", `/api/job/${id}/events`],
              ]) {
                const r = await send(s.t.url, { method, path, headers, label: "" });
                if (r?.status !== 404) throw new Error(`${who}: ${method} ${path} of ${other}'s job: ${r?.status}`);
              }
          const listed = await send(s.t.url, { method: "GET", path: "/api/jobs?limit=200", headers, label: "" });
          const ids = (JSON.parse(listed?.text ?? "{}") as { jobs?: { id: string }[] }).jobs?.map((j) => j.id) ?? [];
          const foreign = Object.entries(mine).flatMap(([o, js]) =>
            o === who ? [] : js.filter((j) => ids.includes(j)),
          );
          if (foreign.length) throw new Error(`${who} lists other owners' jobs ${foreign.join(", ")}`);
        }
      }),
      { seed: SEED, numRuns: Math.max(10, Math.round(RUNS / 25)), path: PATH, endOnFailure: true },
    );
  });

  it("gives back memory: RSS after the run stays within a bound of RSS before", () => {
    expect(Math.round(mb() - rssBefore)).toBeLessThan(RSS_KEPT_BOUND_MB);
  });
}

describe("abuse properties, embedded (PGlite)", () => {
  abuseSuite("embedded", async () => {
    const t = await startTestNode(
      ENV,
      ["api", "jobs", "datasets", "knowledge", "metrics", "compute"],
      await memoryDb(),
    );
    return { t, cleanup: () => t.node.stop() };
  });
});

describeWithPgAndRedis("abuse properties, Postgres + Redis", () => {
  abuseSuite("postgres+redis", async () => {
    const url = await createDatabase("mcai_abuse");
    const t = await startTestNode({ ...ENV, DATABASE_URL: url, REDIS_URL, NAMESPACE: uniqueName("abuse") }, [
      "api",
      "jobs",
      "datasets",
      "knowledge",
      "metrics",
      "compute",
    ]);
    return {
      t,
      cleanup: async () => {
        await t.node.stop();
        await dropDatabase(url);
      },
    };
  });
});

describeWithRedis("abuse properties, the rate limit across two gateways sharing Redis", () => {
  const LIMIT = 5;
  // One client key per run: each run starts from a full budget, whatever the window.
  const KEYS = Array.from({ length: 80 }, (_, i) => `abuse-rate-client-${String(i).padStart(2, "0")}-0123456789`);
  const gateways: TestNode[] = [];

  beforeAll(async () => {
    const shared = {
      REDIS_URL,
      NAMESPACE: uniqueName("abuse_rl"),
      API_KEYS: ADMIN_KEY,
      CLIENT_KEYS: KEYS.join(","),
      RATE_LIMIT: String(LIMIT),
      RATE_LIMIT_WINDOW_MS: "600000",
    };
    for (const id of ["abuse-gw-a", "abuse-gw-b"])
      gateways.push(await startTestNode({ ...shared, NODE_ID: id }, ["api"], await memoryDb()));
    // Until its limiter has reached Redis a gateway lets requests through uncounted (fail open).
    for (const [i, g] of gateways.entries())
      await eventually(
        async () => {
          const r = await send(g.url, {
            method: "GET",
            path: "/api/health",
            headers: { "x-api-key": KEYS[KEYS.length - 1 - i] },
            label: "",
          });
          return Number(r?.headers["x-rate-limit-remaining"]) < LIMIT;
        },
        10_000,
        `gateway ${i} counting in Redis`,
      );
  });
  afterAll(async () => {
    for (const g of gateways) await g.node.stop();
  });

  it("lets through at most RATE_LIMIT of a client's requests over both gateways, and no made-up key", async () => {
    let run = 0;
    const steps = fc.array(fc.record({ gateway: fc.nat(1), madeUp: fc.option(madeUpKey, { freq: 2 }) }), {
      minLength: LIMIT + 1,
      maxLength: 4 * LIMIT,
    });
    const statuses: Record<number, number> = {};
    await fc.assert(
      fc.asyncProperty(steps, async (list) => {
        const key = KEYS[run++];
        let legit = 0;
        for (const { gateway, madeUp } of list) {
          const headers = madeUp ? madeUp.headers : { "x-api-key": key };
          const r = await send(gateways[gateway].url, { method: "GET", path: "/api/health", headers, label: "" });
          const got = r?.status ?? 0;
          statuses[got] = (got in statuses ? statuses[got] : 0) + 1;
          const want = madeUp ? 401 : ++legit <= LIMIT ? 200 : 429;
          if (got !== want)
            throw new Error(
              `${madeUp ? madeUp.kind : `request ${legit} of the client`} via gateway ${gateway}: ${got}, not ${want}`,
            );
        }
      }),
      { seed: SEED, numRuns: 40, path: PATH, endOnFailure: true },
    );
    console.log(
      `rate limit ${LIMIT} per window over two gateways, 40 random runs (seed ${SEED}): ${JSON.stringify(statuses)}`,
    );
  });
});
