import { eventually, freePort, getJson, killAll, nodePid, spawnMcai, type McaiProcess } from "../helpers/processes";
import { describeWithRedis, REDIS_URL, uniqueName } from "../helpers/servers";
import { expectStatus } from "../helpers/expect";

afterAll(killAll);

interface HealthNode {
  id: string;
  available: boolean;
  services: string[];
}

describeWithRedis("cluster over the Redis transporter", () => {
  const namespace = uniqueName("cluster");
  const env = {
    TRANSPORTER: REDIS_URL,
    NAMESPACE: namespace,
    HEARTBEAT_INTERVAL_S: "1",
    HEARTBEAT_TIMEOUT_S: "3",
    RATE_LIMIT: "0",
    // Each /metrics below must be a fresh merge: counters are compared between consecutive scrapes.
    METRICS_CACHE_MS: "0",
  };
  let port: number;
  let gateway: McaiProcess;
  const workers: Record<string, McaiProcess> = {};

  const startWorker = (id: string) => {
    workers[id] = spawnMcai(["start", "--services", "metrics", "--node-id", id], env);
    return workers[id].waitForOutput(/running metrics/);
  };
  const health = async () =>
    (await getJson(`http://127.0.0.1:${port}/api/health`)).body as {
      nodes: HealthNode[];
      db: unknown;
      transporter: string;
    };
  const available = async () => (await health()).nodes.filter((n) => n.available).map((n) => n.id);

  beforeAll(async () => {
    port = await freePort();
    gateway = spawnMcai(["start", "--services", "api", "--node-id", "gw", "--port", String(port)], env);
    await Promise.all([gateway.waitForOutput(/running api/), startWorker("w1"), startWorker("w2")]);
  });

  it("lists all three nodes and their services in /api/health", async () => {
    await eventually(async () => (await available()).length === 3, 10_000, "three nodes in health");
    const h = await health();
    expect(h.transporter).toBe("redis");
    expect(h.db).toBeNull();
    expect(h.nodes.map((n) => [n.id, n.services])).toEqual([
      ["gw", ["api", "metrics"]],
      ["w1", ["metrics"]],
      ["w2", ["metrics"]],
    ]);
  });

  it("merges every node's registry in /metrics, counters summed and series apart by node_id", async () => {
    const r = await getJson(`http://127.0.0.1:${port}/metrics`);
    expectStatus(r, 200);
    for (const id of ["gw", "w1", "w2"]) expect(r.body).toContain(`mcai_worker_memory_bytes{node_id="${id}"}`);
    // The gateway's own request counter is in it, and grows with requests.
    const count = (text: string) =>
      Number(
        /mcai_request_duration_seconds_count\{route="\/api\/health",method="GET",status="200",node_id="gw"\} (\d+)/.exec(
          text,
        )?.[1] ?? 0,
      );
    const before = count(r.body);
    await getJson(`http://127.0.0.1:${port}/api/health`);
    await getJson(`http://127.0.0.1:${port}/api/health`);
    expect(count((await getJson(`http://127.0.0.1:${port}/metrics`)).body)).toBe(before + 2);
    const summary = (await getJson(`http://127.0.0.1:${port}/api/metrics/summary`)).body;
    expect(summary.nodes.map((n: { node_id: string }) => n.node_id)).toEqual(["gw", "w1", "w2"]);
    expect(summary.routes.find((x: { route: string }) => x.route === "/api/health")).toMatchObject({
      method: "GET",
      count: expect.any(Number),
      p95_ms: expect.any(Number),
    });
  });

  it("drops a node killed with -9 within the heartbeat timeout and sends calls to the survivor", async () => {
    process.kill(nodePid(workers.w1), "SIGKILL");
    await workers.w1.exited;
    // Moleculer's heartbeat timeout is 3 s here, checked every interval (1 s); the wait is bounded
    // well above that for a busy machine, and a node never dropped fails it.
    await eventually(async () => !(await available()).includes("w1"), 20_000, "w1 gone from health");
    for (let i = 0; i < 10; i++) {
      const r = await getJson(`http://127.0.0.1:${port}/metrics`);
      expectStatus(r, 200);
      expect(r.body).toContain('node_id="w2"');
      expect(r.body).not.toContain('node_id="w1"');
    }
  });

  it("takes a restarted node back", async () => {
    await startWorker("w1");
    await eventually(async () => (await available()).includes("w1"), 10_000, "w1 back in health");
    await eventually(
      async () => String((await getJson(`http://127.0.0.1:${port}/metrics`)).body).includes('node_id="w1"'),
      10_000,
      "w1 in /metrics",
    );
  });

  it("`echo health | mcai repl` joins the cluster and prints its health", async () => {
    const repl = spawnMcai(["repl"], env, "health\n");
    expect(await repl.exited).toBe(0);
    const out = repl.output();
    const json = JSON.parse(out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1));
    expect(json.nodes.filter((n: HealthNode) => n.available).map((n: HealthNode) => n.id)).toEqual(
      expect.arrayContaining(["gw", "w1", "w2"]),
    );
    expect(json.transporter).toBe("redis");
  });
});

describeWithRedis("rate limit shared by two gateways over Redis", () => {
  const namespace = uniqueName("ratelimit");

  it("counts a client's requests across both gateways and answers 429 with Retry-After", async () => {
    const windowMs = 60_000;
    // Counters live in fixed windows: do not start within 5 s of a window's end.
    const left = windowMs - (Date.now() % windowMs);
    if (left < 5_000) await new Promise((r) => setTimeout(r, left + 50));
    const env = {
      REDIS_URL,
      NAMESPACE: namespace,
      TRANSPORTER: REDIS_URL,
      RATE_LIMIT: "4",
      RATE_LIMIT_WINDOW_MS: String(windowMs),
    };
    const ports = [await freePort(), await freePort()];
    const gws = ports.map((p, i) =>
      spawnMcai(["start", "--services", "api", "--node-id", `gw${i}`, "--port", String(p)], env),
    );
    await Promise.all(gws.map((g) => g.waitForOutput(/running api/)));
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await getJson(`http://127.0.0.1:${ports[i % 2]}/api/health`)).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
    // Each gateway alone has seen only two requests: a per-process store would let these through.
    for (const p of ports) {
      const r = await getJson(`http://127.0.0.1:${p}/api/health`);
      expectStatus(r, 429);
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(r.body.error.type).toBe("ERR_RATE_LIMITED");
    }
  });
});
