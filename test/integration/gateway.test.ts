import http from "node:http";
import type { ServiceSchema } from "moleculer";
import metricsService from "../../services/metrics.service";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { getJson } from "../helpers/processes";
import { expectResponseStatus, expectStatus } from "../helpers/expect";

const KEY = "test-key-0123456789abcdef";

// An action with validated params, routed like the real ones, to see the gateway's 422.
const echoService: ServiceSchema = {
  name: "echo",
  actions: {
    echo: {
      params: { n: { type: "number", integer: true, min: 1, max: 10, convert: true } },
      handler: (ctx) => ({ n: (ctx.params as { n: number }).n }),
    },
  },
};

async function withEcho(t: TestNode): Promise<void> {
  t.node.broker.createService(echoService);
  await t.node.broker.waitForServices("echo");
  const api = t.node.broker.getLocalService("api") as unknown as { addRoute(r: object): void };
  api.addRoute({
    path: "/test",
    mappingPolicy: "restrict",
    aliases: { "POST echo": "echo.echo" },
    bodyParsers: { json: { limit: 2048 } },
  });
}

describe("api gateway", () => {
  let t: TestNode;

  beforeAll(async () => {
    t = await startTestNode(
      { API_KEYS: KEY, BODY_LIMIT_BYTES: "2048", RATE_LIMIT: "0", NODE_ID: "gw-test" },
      ["api", "metrics"],
      await memoryDb(),
    );
    await withEcho(t);
  });
  afterAll(() => t.node.stop());

  it("GET /api/health answers the documented shape", async () => {
    const r = await getJson(`${t.url}/api/health`);
    expectStatus(r, 200);
    expect(r.body).toMatchObject({
      status: "ok",
      nodeID: "gw-test",
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      db: { driver: "pglite", vector: true },
      transporter: null,
      cacher: "memory",
    });
    expect(r.body.nodes).toEqual([
      {
        id: "gw-test",
        available: true,
        local: true,
        version: r.body.version,
        services: ["api", "echo", "metrics"],
        rss_mb: expect.any(Number),
      },
    ]);
  });

  it("answers an unknown route with 404 in the error shape", async () => {
    for (const path of ["/api/nope", "/nope", "/api/api.health", "/api/$node/list"]) {
      const r = await getJson(`${t.url}${path}`);
      expectStatus(r, 404);
      expect(r.headers.get("content-type")).toMatch(/application\/json/);
      expect(r.body).toEqual({ error: { type: "ERR_NOT_FOUND", message: `no route GET ${path}`, data: null } });
    }
  });

  it("answers a body over the limit with 413 and does not call the action", async () => {
    const r = await getJson(`${t.url}/test/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ n: 1, pad: "x".repeat(4096) }),
    });
    expectStatus(r, 413);
    expect(r.body.error).toEqual({
      type: "ERR_PAYLOAD_TOO_LARGE",
      message: "request body is larger than 2048 bytes",
      data: { limit: 2048 },
    });
  });

  it("answers params that break a rule with 422 naming the field", async () => {
    const r = await getJson(`${t.url}/test/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ n: 11 }),
    });
    expectStatus(r, 422);
    expect(r.body.error.type).toBe("VALIDATION_ERROR");
    expect(r.body.error.message).toMatch(/'n' field must be less than or equal to 10/);
    expect(r.body.error.data.fields[0]).toMatchObject({ field: "n", type: "numberMax" });
    const ok = await getJson(`${t.url}/test/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ n: 3 }),
    });
    expect(ok).toMatchObject({ status: 200, body: { n: 3 } });
  });

  it("answers malformed JSON with 400", async () => {
    const r = await getJson(`${t.url}/test/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{n:",
    });
    expectStatus(r, 400);
    expect(r.body.error.type).toBe("ERR_BAD_REQUEST");
  });

  it("answers 503 when the route's service runs on no node", async () => {
    await t.node.broker.destroyService(t.node.broker.getLocalService("metrics"));
    try {
      const r = await getJson(`${t.url}/metrics`);
      expectStatus(r, 503);
      expect(r.headers.get("retry-after")).toBe("5");
      expect(r.body.error.type).toBe("ERR_UNAVAILABLE");
    } finally {
      t.node.broker.createService(metricsService as ServiceSchema);
      await t.node.broker.waitForServices("metrics");
    }
  });

  it("puts X-Request-Id on every response, keeping a well-formed one from the caller", async () => {
    const given = await getJson(`${t.url}/api/health`, { headers: { "x-request-id": "abc-123" } });
    expect(given.headers.get("x-request-id")).toBe("abc-123");
    const fresh = await getJson(`${t.url}/api/nope`);
    expect(fresh.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const hostile = await getJson(`${t.url}/api/health`, { headers: { "x-request-id": "<script>" } });
    expect(hostile.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  describe("admin routes", () => {
    const url = () => `${t.url}/api/admin/cache/clear`;

    it("refuse a request without a key with 401", async () => {
      const r = await getJson(url(), { method: "POST" });
      expectStatus(r, 401);
      expect(r.body.error.type).toBe("ERR_UNAUTHORIZED");
    });

    it("refuse a wrong key with 401 (an unknown key is never an identity of its own)", async () => {
      for (const headers of [
        { authorization: "Bearer wrong-key-000000000" },
        { "x-api-key": "wrong-key-000000000" },
      ] as Record<string, string>[]) {
        const r = await getJson(url(), { method: "POST", headers });
        expectStatus(r, 401);
        expect(r.body.error.type).toBe("ERR_UNAUTHORIZED");
      }
    });

    it("accept a configured key as Bearer or X-Api-Key", async () => {
      await t.node.broker.cacher!.set("probe", 1);
      const a = await getJson(url(), { method: "POST", headers: { authorization: `Bearer ${KEY}` } });
      expect(a).toMatchObject({ status: 200, body: { cleared: true } });
      expect(await t.node.broker.cacher!.get("probe")).toBeNull();
      const b = await getJson(url(), { method: "POST", headers: { "x-api-key": KEY } });
      expectStatus(b, 200);
    });

    it("leave public routes open without a key", async () => {
      expectStatus(await getJson(`${t.url}/api/health`), 200);
    });
  });

  it("sends no CORS headers unless origins are configured", async () => {
    const r = await fetch(`${t.url}/api/health`, { headers: { origin: "https://evil.example" } });
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("records each request in mcai_request_duration_seconds", async () => {
    await getJson(`${t.url}/api/health`);
    const text = (await getJson(`${t.url}/metrics`)).body as string;
    expect(text).toMatch(
      /mcai_request_duration_seconds_count\{route="\/api\/health",method="GET",status="200",node_id="gw-test"\} [1-9]/,
    );
    expect(text).toMatch(
      /mcai_request_duration_seconds_count\{route="unmatched",method="GET",status="404",node_id="gw-test"\} [1-9]/,
    );
  });
});

describe("api gateway with CORS and a rate limit", () => {
  let t: TestNode;

  beforeAll(async () => {
    t = await startTestNode(
      { CORS_ORIGINS: "https://app.example", RATE_LIMIT: "3", RATE_LIMIT_WINDOW_MS: "60000" },
      ["api"],
      await memoryDb(),
    );
  });
  afterAll(() => t.node.stop());

  it("allows a configured origin", async () => {
    const r = await fetch(`${t.url}/api/health`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "GET" },
    });
    await expectResponseStatus(r, 204);
    expect(r.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(r.headers.get("access-control-expose-headers")).toContain("X-Request-Id");
  });

  it("answers 429 with Retry-After past the limit, per client", async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof getJson>> | undefined;
    for (let i = 0; i < 5; i++) {
      last = await getJson(`${t.url}/api/health`);
      statuses.push(last.status);
    }
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(3);
    expect(statuses.slice(-2)).toEqual([429, 429]);
    expect(last!.body.error.type).toBe("ERR_RATE_LIMITED");
    const retry = Number(last!.headers.get("retry-after"));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    // A made-up key is not a way around the limit: 401, not a fresh budget.
    const other = await getJson(`${t.url}/api/health`, { headers: { "x-api-key": "another-client-key-000" } });
    expectStatus(other, 401);
  });
});

describe("api gateway on stop", () => {
  it("stops taking connections, finishes the request in flight, then stops", async () => {
    const t = await startTestNode({ RATE_LIMIT: "0" }, ["api"], await memoryDb());
    t.node.broker.createService({
      name: "slow",
      actions: { wait: { params: {}, handler: () => new Promise((r) => setTimeout(() => r({ done: true }), 800)) } },
    });
    await t.node.broker.waitForServices("slow");
    (t.node.broker.getLocalService("api") as unknown as { addRoute(r: object): void }).addRoute({
      path: "/test",
      aliases: { "GET slow": "slow.wait" },
    });

    const inFlight = getJson(`${t.url}/test/slow`);
    await new Promise((r) => setTimeout(r, 200));
    const stopped = t.node.stop();
    await new Promise((r) => setTimeout(r, 100));
    const refused = await new Promise<string>((resolve) => {
      const req = http.get(`${t.url}/api/health`, { agent: false }, () => resolve("answered"));
      req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    });
    expect(refused).toBe("ECONNREFUSED");
    expect(await inFlight).toMatchObject({ status: 200, body: { done: true } });
    await stopped;
  });
});

describe("memory guardrail", () => {
  it("warns, counts and shows the node degraded in health when RSS passes MEMORY_WARN_MB", async () => {
    const t = await startTestNode(
      { RATE_LIMIT: "0", MEMORY_WARN_MB: "1", NODE_ID: "heavy" },
      ["api", "metrics"],
      await memoryDb(),
    );
    try {
      const h = (await getJson(`${t.url}/api/health`)).body;
      expect(h.status).toBe("degraded");
      expect(h.nodes[0]).toMatchObject({ id: "heavy", degraded: true });
      expect(h.problems.join()).toMatch(/node heavy: memory \d+ MB is over its MEMORY_WARN_MB/);
      const text = (await getJson(`${t.url}/metrics`)).body as string;
      expect(Number(/mcai_memory_warnings_total\{node_id="heavy"\} (\d+)/.exec(text)?.[1])).toBeGreaterThan(0);
    } finally {
      await t.node.stop();
    }
    const fine = await startTestNode(
      { RATE_LIMIT: "0", MEMORY_WARN_MB: "100000" },
      ["api", "metrics"],
      await memoryDb(),
    );
    try {
      expect((await getJson(`${fine.url}/api/health`)).body.status).toBe("ok");
    } finally {
      await fine.node.stop();
    }
  });
});
