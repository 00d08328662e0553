import crypto from "node:crypto";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { describeWithRedis, REDIS_URL, uniqueName } from "../helpers/servers";

const KEY = "gateway-rate-key-0123456789";

async function status(url: string, headers: Record<string, string> = {}, method = "GET"): Promise<number> {
  const r = await fetch(url, { method, headers });
  await r.arrayBuffer();
  return r.status;
}

function count(statuses: number[]): Record<number, number> {
  const c: Record<number, number> = {};
  for (const s of statuses) c[s] = (c[s] ?? 0) + 1;
  return c;
}

describe("gateway.rateLimit on one gateway", () => {
  let t: TestNode;

  beforeAll(async () => {
    t = await startTestNode(
      {
        API_KEYS: KEY,
        RATE_LIMIT: "5",
        RATE_LIMIT_STATIC: "3",
        RATE_LIMIT_METRICS: "2",
        RATE_LIMIT_WINDOW_MS: "60000",
      },
      ["api", "metrics"],
      await memoryDb(),
    );
  });
  afterAll(() => t.node.stop());

  it("answers 401 to every made-up key, as X-Api-Key or Bearer, and never 200", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const key = crypto.randomBytes(12).toString("hex");
      statuses.push(await status(`${t.url}/api/health`, { "x-api-key": key }));
      statuses.push(await status(`${t.url}/api/health`, { authorization: `Bearer ${key}` }));
    }
    console.log(`random keys: ${JSON.stringify(count(statuses))}`);
    expect(statuses.every((s) => s === 401)).toBe(true);
  });

  it("limits the static files, /metrics and the API each with its own budget", async () => {
    const page: number[] = [];
    for (let i = 0; i < 5; i++) page.push(await status(`${t.url}/`));
    const metrics: number[] = [];
    for (let i = 0; i < 4; i++) metrics.push(await status(`${t.url}/metrics`));
    const missing = await status(`${t.url}/no-such-page`);
    expect(page).toEqual([200, 200, 200, 429, 429]);
    expect(metrics).toEqual([200, 200, 429, 429]);
    // A 404 draws on the static budget too: it is spent.
    expect(missing).toBe(429);
    // The API budget is its own.
    expect(await status(`${t.url}/api/health`)).toBe(200);
  });

  it("gives a valid key its own budget, with Retry-After and rate headers at 429", async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 7; i++) {
      last = await fetch(`${t.url}/api/health`, { headers: { "x-api-key": KEY } });
      await last.arrayBuffer();
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(Number(last!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(last!.headers.get("x-rate-limit-limit")).toBe("5");
    expect(last!.headers.get("x-rate-limit-remaining")).toBe("0");
  });
});

describeWithRedis("gateway.rateLimit across two gateways sharing Redis", () => {
  let a: TestNode;
  let b: TestNode;

  async function pair(env: Record<string, string>): Promise<void> {
    const shared = { REDIS_URL, NAMESPACE: uniqueName("rl"), ...env };
    a = await startTestNode({ ...shared, NODE_ID: "gw-a" }, ["api"], await memoryDb());
    b = await startTestNode({ ...shared, NODE_ID: "gw-b" }, ["api"], await memoryDb());
    await new Promise((r) => setTimeout(r, 300)); // both limiters connected to Redis
  }
  afterEach(async () => {
    // Unset when pair() failed before them.
    await (a as TestNode | undefined)?.node.stop();
    await (b as TestNode | undefined)?.node.stop();
  });

  it("holds the limit for a client that alternates between the gateways", async () => {
    await pair({ RATE_LIMIT: "10", RATE_LIMIT_WINDOW_MS: "60000" });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push(await status(`${(i % 2 ? a : b).url}/api/health`));
    console.log(`two gateways, limit 10, 30 requests: ${JSON.stringify(count(statuses))}`);
    expect(count(statuses)).toEqual({ 200: 10, 429: 20 });
  });

  it("never lets more than the limit through in any span of one window, across window boundaries", async () => {
    // Limit 10 per 1000 ms; requests as fast as they come for 3.5 s, to both gateways. A fixed
    // window lets 20 through around each boundary.
    await pair({ RATE_LIMIT: "10", RATE_LIMIT_WINDOW_MS: "1000" });
    const accepted: number[] = [];
    let sent = 0;
    const end = Date.now() + 3500;
    while (Date.now() < end) {
      const s = await status(`${(sent++ % 2 ? a : b).url}/api/health`);
      if (s === 200) accepted.push(Date.now());
      else expect(s).toBe(429);
    }
    // Times are taken at the client, after the answer: a span a little under the window (900 ms)
    // absorbs the answer's delay.
    let worst = 0;
    for (let i = 0; i < accepted.length; i++) {
      let j = i;
      while (j < accepted.length && accepted[j] < accepted[i] + 900) j++;
      worst = Math.max(worst, j - i);
    }
    console.log(`sliding window, limit 10/s: ${sent} sent, ${accepted.length} accepted, most in any 0.9 s: ${worst}`);
    expect(worst).toBeLessThanOrEqual(10);
    expect(accepted.length).toBeGreaterThanOrEqual(30);
  });
});
