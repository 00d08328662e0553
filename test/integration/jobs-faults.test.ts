/**
 * Faults with real processes: a worker killed with -9, Redis restarted, Postgres restarted.
 * Nothing a client submitted is lost; each job ends with one result.
 */
import { createDatabase, describeWithPgAndRedis, dropDatabase, REDIS_URL, uniqueName } from "../helpers/servers";
import { eventually, freePort, getJson, killAll, nodePid, spawnMcai, type McaiProcess } from "../helpers/processes";
import pg from "pg";
import { OWNER, submit } from "../helpers/jobs";
import { canRunOwnPostgres, ownPostgres, ownRedis } from "../helpers/own-servers";
import { expectStatus } from "../helpers/expect";

afterAll(killAll);
jest.setTimeout(120_000);

const FAST = {
  HEARTBEAT_INTERVAL_S: "1",
  HEARTBEAT_TIMEOUT_S: "3",
  JOBS_POLL_MS: "100",
  JOBS_HEARTBEAT_S: "1",
  JOBS_STALE_S: "4",
  JOBS_RETRY_DELAY_S: "1",
  // 50 jobs of one owner at once: this suite is about losing none, not about the per-owner cap.
  JOBS_OWNER_MAX: "1000",
  COMPUTE_THREADS: "1",
  RATE_LIMIT: "0",
  LOG_LEVEL: "info",
};

async function submitMany(url: string, n: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await submit(url, "/api/art/generate-async", {
      prompt: `${tag} ${i}`,
      style: "flow-field",
      options: { width: 384, height: 384 },
    });
    expectStatus(r, 202);
    ids.push(r.body.job_id);
  }
  return ids;
}

async function statuses(url: string, ids: string[]): Promise<Partial<Record<string, number>>> {
  const out: Partial<Record<string, number>> = {};
  for (const id of ids) {
    const s = (await getJson(`${url}/api/job/${id}`, { headers: OWNER })).body.status ?? "unreachable";
    out[s] = (out[s] ?? 0) + 1;
  }
  return out;
}

async function allCompleted(url: string, ids: string[], timeoutMs: number): Promise<void> {
  await eventually(
    async () => (await statuses(url, ids)).completed === ids.length,
    timeoutMs,
    `all ${ids.length} jobs completed`,
  );
  for (const id of ids) {
    const j = (await getJson(`${url}/api/job/${id}`, { headers: OWNER })).body;
    expect(j.result.artifact_url).toMatch(/^\/api\/artifacts\//);
    expect(j.error).toBeUndefined();
  }
}

describeWithPgAndRedis("jobs when a worker node is killed with -9", () => {
  it("puts its jobs back in the queue at once; all 50 complete, each with one result", async () => {
    const db = await createDatabase();
    const env = { ...FAST, TRANSPORTER: REDIS_URL, NAMESPACE: uniqueName("faults"), DATABASE_URL: db };
    const port = await freePort();
    try {
      const gw = spawnMcai(["start", "--services", "api,jobs", "--node-id", "gw", "--port", String(port)], env);
      await gw.waitForOutput(/running/);
      const w1 = spawnMcai(["start", "--services", "jobs,compute", "--node-id", "w1"], env);
      const w2 = spawnMcai(["start", "--services", "jobs,compute", "--node-id", "w2"], env);
      await Promise.all([w1, w2].map((p: McaiProcess) => p.waitForOutput(/running/)));
      const url = `http://127.0.0.1:${port}`;
      await eventually(
        async () =>
          (await getJson(`${url}/api/health`)).body.nodes.filter((n: { available: boolean }) => n.available).length ===
          3,
        10_000,
        "three nodes",
      );
      const ids = await submitMany(url, 50, "kill");
      await eventually(async () => ((await statuses(url, ids)).completed ?? 0) >= 5, 30_000, "5 jobs done");
      // Kill w1 while it holds jobs: "mid-run" must mean something.
      const store = new pg.Client({ connectionString: db });
      await store.connect();
      try {
        const held = async () =>
          (
            await store.query<{ id: string }>(
              "SELECT id::text AS id FROM jobs WHERE status = 'processing' AND node_id = 'w1'",
            )
          ).rows.map((r) => r.id);
        await eventually(async () => (await held()).length > 0, 15_000, "w1 holding a job");
        process.kill(nodePid(w1), "SIGKILL");
        await w1.exited;
        const requeued = /(node w1 left|stale heartbeat): [1-9]\d* job\(s\) back in the queue/;
        await eventually(
          () => Promise.resolve(requeued.test(gw.output() + w2.output())),
          15_000,
          "w1's jobs back in the queue",
        ).catch(async (err: unknown) => {
          // What the survivors logged, and the jobs' states, for a failure that is not reproduced alone.
          const states = await store.query<{ status: string; node_id: string | null; n: number }>(
            "SELECT status, node_id, count(*)::int AS n FROM jobs GROUP BY 1, 2 ORDER BY 1, 2",
          );
          // A backend of the killed node still working (e.g. waiting on a lock) keeps its rows locked.
          const backends = await store.query(
            `SELECT pid, state, wait_event_type, wait_event, now() - xact_start AS in_xact, left(query, 120) AS query
             FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
          );
          const tail = (out: string) => out.split("\n").slice(-60).join("\n");
          throw new Error(
            `${(err as Error).message}\njobs: ${JSON.stringify(states.rows)}\nbackends: ${JSON.stringify(backends.rows)}\n--- gw ---\n${tail(gw.output())}\n--- w2 ---\n${tail(w2.output())}`,
          );
        });
        await allCompleted(url, ids, 90_000);
        // One result each: every job completed once, each with its own stored image.
        const r = await store.query<{ n: number; done: number; artifacts: number; missing: number }>(
          `SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'completed')::int AS done,
                  count(DISTINCT artifact_id)::int AS artifacts,
                  count(*) FILTER (WHERE artifact_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.id = artifact_id))::int AS missing
           FROM jobs`,
        );
        expect(r.rows[0]).toEqual({ n: 50, done: 50, artifacts: 50, missing: 0 });
      } finally {
        await store.end();
      }
    } finally {
      await killAll();
      await dropDatabase(db);
    }
  });
});

describeWithPgAndRedis("jobs when Redis restarts", () => {
  it("loses no job: everything submitted before completes after", async () => {
    const redis = await ownRedis();
    const db = await createDatabase();
    const env = { ...FAST, TRANSPORTER: redis.url, NAMESPACE: uniqueName("redis"), DATABASE_URL: db };
    const port = await freePort();
    try {
      const gw = spawnMcai(["start", "--services", "api,jobs", "--node-id", "gw", "--port", String(port)], env);
      await gw.waitForOutput(/running/);
      const w = spawnMcai(["start", "--services", "jobs,compute", "--node-id", "w"], env);
      await w.waitForOutput(/running/);
      const url = `http://127.0.0.1:${port}`;
      await eventually(
        async () =>
          (await getJson(`${url}/api/health`)).body.nodes.filter((n: { available: boolean }) => n.available).length ===
          2,
        10_000,
        "two nodes",
      );
      const ids = await submitMany(url, 30, "redis");
      await eventually(async () => ((await statuses(url, ids)).completed ?? 0) >= 3, 30_000, "3 jobs done");
      await redis.stop();
      await new Promise((r) => setTimeout(r, 2000));
      await redis.start();
      await allCompleted(url, ids, 90_000);
    } finally {
      await killAll();
      await redis.stop();
      await dropDatabase(db);
    }
  });
});

(canRunOwnPostgres ? describe : describe.skip)("jobs when Postgres restarts", () => {
  it("answers 503 while it is down, and completes everything accepted before", async () => {
    const pgsrv = await ownPostgres();
    const port = await freePort();
    try {
      const node = spawnMcai(["start", "--services", "api,jobs,compute", "--node-id", "solo", "--port", String(port)], {
        ...FAST,
        DATABASE_URL: pgsrv.url,
      });
      await node.waitForOutput(/running/);
      const url = `http://127.0.0.1:${port}`;
      const ids = await submitMany(url, 20, "pg");
      await eventually(async () => ((await statuses(url, ids)).completed ?? 0) >= 3, 30_000, "3 jobs done");
      await pgsrv.stop();
      const during = await submit(url, "/api/art/generate-async", { prompt: "during the outage", style: "waves" });
      expectStatus(during, 503);
      expect(during.headers.get("retry-after")).toBe("2");
      expect(during.body.error.type).toBe("ERR_UNAVAILABLE");
      expectStatus(await getJson(`${url}/api/job/${ids[0]}`, { headers: OWNER }), 503);
      await new Promise((r) => setTimeout(r, 1500));
      // The node rode out the outage: it is still the same process.
      expect({
        exit: node.proc.exitCode,
        signal: node.proc.signalCode,
        output: node.proc.exitCode === null ? "" : node.output(),
      }).toEqual({ exit: null, signal: null, output: "" });
      await pgsrv.start();
      await allCompleted(url, ids, 90_000);
    } finally {
      await killAll();
      await pgsrv.stop().catch(() => undefined);
    }
  });
});
