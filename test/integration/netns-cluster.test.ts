/**
 * A cluster across network namespaces, with partitions (root only). Postgres and Redis live in
 * a `svc` namespace; a gateway and two workers each in their own; links are pulled with
 * `ip link set … down` (the kernel here has no netem). Prints the time to detect and to recover.
 */
import fs from "node:fs";
import pg from "pg";
import { MCAI_BIN, sleep } from "../helpers/processes";
import { eventually } from "../helpers/processes";
import { httpIn, netnsUnavailable, postgresIn, redisIn, TestNetwork, type PostgresInNs } from "../helpers/netns";
import { watch, type Watched } from "../helpers/watched";
import { uniqueName } from "../helpers/servers";
import { expectStatus } from "../helpers/expect";
import { screenshotPath } from "../helpers/browser";

const why = netnsUnavailable();
if (why) console.log(`netns-cluster: skipped (${why})`);
jest.setTimeout(300_000);

const FAST = {
  HEARTBEAT_INTERVAL_S: "1",
  HEARTBEAT_TIMEOUT_S: "3",
  JOBS_POLL_MS: "100",
  JOBS_HEARTBEAT_S: "1",
  JOBS_STALE_S: "4",
  JOBS_RETRY_DELAY_S: "1",
  COMPUTE_THREADS: "1",
  RATE_LIMIT: "1000",
  LOG_LEVEL: "info",
  HOST: "127.0.0.1",
};
const PORT = 3000;
const ADMIN_KEY = "netns-admin-key-0123456789";
const API = `http://127.0.0.1:${PORT}/api`;
const figures: string[] = [];

interface JobRow {
  id: string;
  status: string;
  node_id: string | null;
  artifact_id: string | null;
  version: number;
  result: unknown;
}

(why ? describe.skip : describe)("cluster across network namespaces, with partitions", () => {
  let net: TestNetwork;
  // Undefined until beforeAll made them: teardown runs whatever got made.
  let pgsrv: PostgresInNs | undefined;
  let db: pg.Client | undefined;
  const store = () => db!;
  const nodes: Record<string, Watched> = {};

  const health = async () =>
    // A timed-out request has a text body: no nodes.
    (await httpIn(net.ns("gw"), `${API}/health`)).body as { nodes?: { id: string; available: boolean }[] };
  const available = async () =>
    ((await health().catch(() => ({ nodes: [] }))).nodes ?? [])
      .filter((n) => n.available)
      .map((n) => n.id)
      .sort();
  const rows = async (ids: string[]) =>
    (
      await store().query<JobRow>(
        `SELECT id::text AS id, status, node_id, artifact_id, version, result FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY id`,
        [ids],
      )
    ).rows;
  const artifacts = async () =>
    (await store().query<{ n: number }>("SELECT count(*)::int AS n FROM artifacts")).rows[0].n;
  const held = async (node: string) =>
    (await store().query("SELECT 1 FROM jobs WHERE status = 'processing' AND node_id = $1", [node])).rowCount ?? 0;

  async function submitMany(n: number, tag: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await httpIn(net.ns("gw"), `${API}/art/generate-async`, {
        method: "POST",
        json: { prompt: `${tag} ${i}`, style: "flow-field", options: { width: 384, height: 384 } },
      });
      expectStatus(r, 202);
      ids.push(r.body.job_id);
    }
    return ids;
  }

  async function allCompleted(ids: string[], timeoutMs: number): Promise<JobRow[]> {
    return eventually(
      async () => {
        const r = await rows(ids);
        if (r.every((x) => x.status === "completed") && r.length === ids.length) return r;
        // Not yet: the states, shown when the wait runs out.
        const states = r.map((x) => `${x.status}@${x.node_id ?? "-"}`).join(", ");
        throw new Error(`${r.length} jobs: ${states}`);
      },
      timeoutMs,
      `all ${ids.length} jobs completed`,
    );
  }

  /**
   * Submits jobs two at a time until one of them completes on `node` (within `timeoutMs`): a node
   * just back from a partition first waits out its writes from before it (TCP retransmits), so a
   * fixed batch could all go to the other worker. Returns every id submitted.
   */
  async function untilOneRunsOn(node: string, tag: string, timeoutMs: number): Promise<string[]> {
    const ids: string[] = [];
    const deadline = Date.now() + timeoutMs;
    for (let round = 0; ; round++) {
      const batch = await submitMany(2, `${tag} ${round}`);
      ids.push(...batch);
      const done = await allCompleted(batch, 60_000);
      if (done.some((r) => r.node_id === node)) return ids;
      if (Date.now() > deadline) throw new Error(`no job ran on ${node} within ${timeoutMs} ms`);
    }
  }

  /** Each job completed once, each with its own stored image, and no stray image stored. */
  async function expectEachOnce(ids: string[], before: number): Promise<void> {
    const r = await rows(ids);
    expect(r.map((x) => x.status)).toEqual(ids.map(() => "completed"));
    expect(new Set(r.map((x) => x.artifact_id)).size).toBe(ids.length);
    expect(await artifacts()).toBe(before + ids.length);
  }

  function start(name: string, services: string, extra: string[] = []): Promise<void> {
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME ?? "/tmp",
      ...FAST,
      TRANSPORTER: redisUrl,
      REDIS_URL: redisUrl,
      CACHER: redisUrl,
      NAMESPACE: namespace,
      DATABASE_URL: pgsrv!.url("mcai"),
      API_KEYS: ADMIN_KEY,
    };
    nodes[name] = watch(
      net.spawnIn(name, [process.execPath, MCAI_BIN, "start", "--services", services, "--node-id", name, ...extra], {
        env,
      }),
    );
    return nodes[name].waitForOutput(/running/, 60_000);
  }

  let redisUrl = "";
  const namespace = uniqueName("netns");

  beforeAll(async () => {
    net = new TestNetwork();
    try {
      net.addHost("svc", 1);
      net.addHost("gw", 10);
      net.addHost("w1", 11);
      net.addHost("w2", 12);
      redisUrl = await redisIn(net, "svc");
      pgsrv = postgresIn(net, "svc");
      const admin = new pg.Client({ ...pgsrv.socket, database: "postgres" });
      await admin.connect();
      await admin.query("CREATE DATABASE mcai");
      await admin.end();
      db = new pg.Client({ ...pgsrv.socket, database: "mcai" });
      await db.connect();
      await start("gw", "api,jobs,knowledge,datasets", ["--port", String(PORT)]);
      await Promise.all([start("w1", "jobs,compute"), start("w2", "jobs,compute")]);
      await eventually(async () => (await available()).length === 3, 20_000, "three nodes in health");
    } catch (err) {
      await teardown();
      throw err;
    }
  });

  async function teardown(): Promise<void> {
    await db?.end().catch(() => undefined);
    await net.destroy();
    pgsrv?.stop();
  }

  // A case that fails midway must not leave its partition for the next ones: every link back up.
  afterEach(() => {
    for (const host of ["gw", "w1", "w2"]) for (const link of ["redis", "pg"] as const) net.setLink(host, link, true);
  });

  afterAll(async () => {
    for (const f of figures) console.log(f);
    // Each node's output, to read after a failure (test/out is ignored by git).
    for (const [name, node] of Object.entries(nodes))
      fs.writeFileSync(screenshotPath(`netns-${name}.log`), node.output());
    await teardown();
  });

  it("worker-1 cut off while it runs jobs: dropped, its jobs finish on worker-2 once each; it rejoins and stores nothing twice", async () => {
    const before = await artifacts();
    const ids = await submitMany(16, "partition");
    await eventually(async () => (await held("w1")) > 0, 30_000, "w1 holding a job");
    const t0 = Date.now();
    net.setLink("w1", "redis", false);
    net.setLink("w1", "pg", false);
    await eventually(async () => !(await available()).includes("w1"), 15_000, "w1 dropped from health");
    const detectMs = Date.now() - t0;
    await eventually(
      () =>
        Promise.resolve(
          /(node w1 left|stale heartbeat): [1-9]\d* job\(s\) back in the queue/.test(
            nodes.gw.output() + nodes.w2.output(),
          ),
        ),
      15_000,
      "w1's jobs back in the queue",
    );
    const requeueMs = Date.now() - t0;
    const done = await allCompleted(ids, 120_000);
    const doneMs = Date.now() - t0;
    await expectEachOnce(ids, before);
    const t1 = Date.now();
    net.setLink("w1", "redis", true);
    net.setLink("w1", "pg", true);
    await eventually(async () => (await available()).includes("w1"), 30_000, "w1 back in health");
    const rejoinMs = Date.now() - t1;
    // w1 works again (its Postgres connections are back), and its writes from before the cut have landed by now.
    const more = await untilOneRunsOn("w1", "after", 90_000);
    const workingMs = Date.now() - t1;
    await sleep(5_000);
    expect(await rows(ids)).toEqual(done);
    await expectEachOnce([...ids, ...more], before);
    figures.push(
      `netns-cluster: worker-1 cut: dropped after ${detectMs} ms, its jobs requeued after ${requeueMs} ms, all 16 done after ${doneMs} ms; back in health ${rejoinMs} ms and running jobs ${workingMs} ms after the link came back`,
    );
  });

  it("gateway cut from Redis: it answers from Postgres, refuses compute cleanly, takes jobs, and recovers by itself", async () => {
    const gw = net.ns("gw");
    const ask = (q: string) => httpIn(gw, `${API}/knowledge?q=${encodeURIComponent(q)}`, { timeoutS: 5 });
    const added = await httpIn(gw, `${API}/datasets/cymatics/examples`, {
      method: "POST",
      headers: { "x-api-key": ADMIN_KEY },
      json: {
        examples: [
          {
            content: "What is a Chladni pattern?",
            response: "A Chladni pattern is the figure sand draws along the nodal lines of a vibrating plate.",
          },
          { content: "Who discovered Chladni figures?", response: "Ernst Chladni published them in 1787." },
        ],
      },
    });
    expect(added.status).toBe(200);
    // One question the datasets answer and one they decline, each asked once before the cut: both are in L2.
    const answered = "what is a chladni pattern";
    const declined = "who won the 1998 world cup";
    expect((await ask(answered)).body).toMatchObject({ source: "dataset", cached: false });
    expect((await ask(declined)).body).toMatchObject({ source: "none", cached: false });

    // Jobs running on the workers when the gateway is cut: the gateway sees their nodes leave and puts
    // them back in the queue while they still run; the completion guards keep each result once.
    const before = await artifacts();
    const running = await submitMany(10, "redis cut running");
    await eventually(async () => (await held("w1")) + (await held("w2")) > 0, 30_000, "a worker holding a job");
    const t0 = Date.now();
    net.setLink("gw", "redis", false);
    const detected = eventually(
      async () => (await available()).join() === "gw",
      15_000,
      "gateway sees the workers gone",
    ).then(() => Date.now() - t0);
    const served: string[] = [];
    let slowestMs = 0;
    const tiers = new Set<string>();
    // The rate limit fails open and L1 is skipped after its first timeout: every answer comes from L2 at once.
    for (let i = 0; i < 10; i++) {
      const r0 = Date.now();
      const h = await httpIn(gw, `${API}/health`, { timeoutS: 5 });
      const a = await ask(answered);
      const d = await ask(declined);
      slowestMs = Math.max(slowestMs, (Date.now() - r0) / 3);
      served.push(`health ${h.status}`, `answered ${a.status}`, `declined ${d.status}`);
      tiers.add(a.body.cache_tier).add(d.body.cache_tier);
      expect(a.body).toMatchObject({ source: "cache", cached: true });
      expect(d.body).toMatchObject({ source: "none", cached: true });
      await sleep(300);
    }
    expect(served.filter((s) => !s.endsWith(" 200"))).toEqual([]);
    expect([...tiers]).toEqual(["l2"]);
    const detectMs = await detected;
    // A question never asked needs compute.emotion, on the workers only: a clean 503 that names it.
    const fresh = await ask("how do flow fields move particles");
    expect(fresh.status).toBe(503);
    expect(fresh.body.error.message).toMatch(/compute\.emotion/);
    // A job is stored in Postgres: taken now, run by a worker (they still reach Postgres and each other).
    const during = await submitMany(2, "redis cut");
    await allCompleted(during, 60_000);

    const t1 = Date.now();
    net.setLink("gw", "redis", true);
    await eventually(async () => (await available()).length === 3, 60_000, "three nodes again");
    const rejoinMs = Date.now() - t1;
    await eventually(
      async () => (await ask("how do flow fields move particles")).status === 200,
      30_000,
      "fresh answers again",
    );
    const answersMs = Date.now() - t1;
    const after = await submitMany(2, "redis back");
    await allCompleted(after, 60_000);
    await allCompleted(running, 60_000);
    await expectEachOnce([...running, ...during, ...after], before);
    const requeued = /node w[12] left: [1-9]\d* job\(s\) back in the queue/.test(nodes.gw.output());
    figures.push(
      `netns-cluster: gateway cut from Redis: ${served.length}/${served.length} requests served (knowledge from l2; the slowest, curl's start included, ${Math.round(slowestMs)} ms), workers seen gone after ${detectMs} ms${requeued ? " (their running jobs requeued by the gateway, each still done once)" : ""}, jobs taken and run meanwhile; cluster whole ${rejoinMs} ms and fresh answers ${answersMs} ms after the link came back`,
    );
  });

  it("a worker cut from Postgres mid-job: the job is retried elsewhere, nothing lost", async () => {
    const before = await artifacts();
    const ids = await submitMany(10, "pg cut");
    await eventually(async () => (await held("w2")) > 0, 30_000, "w2 holding a job");
    const heldIds = (
      await store().query<{ id: string }>(
        "SELECT id::text AS id FROM jobs WHERE status = 'processing' AND node_id = 'w2'",
      )
    ).rows.map((r) => r.id);
    const t0 = Date.now();
    net.setLink("w2", "pg", false);
    await eventually(
      async () => (await rows(heldIds)).every((r) => r.node_id !== "w2" || r.status !== "processing"),
      30_000,
      "w2's job taken back",
    );
    const detectMs = Date.now() - t0;
    const done = await allCompleted(ids, 120_000);
    const doneMs = Date.now() - t0;
    const t1 = Date.now();
    net.setLink("w2", "pg", true);
    const more = await untilOneRunsOn("w2", "pg back", 90_000);
    const recoverMs = Date.now() - t1;
    await sleep(5_000);
    expect(await rows(ids)).toEqual(done);
    await expectEachOnce([...ids, ...more], before);
    figures.push(
      `netns-cluster: worker-2 cut from Postgres: its job taken back after ${detectMs} ms, all 10 done after ${doneMs} ms; w2 ran jobs again ${recoverMs} ms after the link came back`,
    );
  });
});
