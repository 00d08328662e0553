import type { LoggerInstance } from "moleculer";
import { RedisRateLimitStore } from "../../services/api/rate-limit-store";
import { describeWithRedis, REDIS_URL, uniqueName } from "../helpers/servers";

function logger(): LoggerInstance & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => undefined;
  return {
    warnings,
    warn: (m: string) => warnings.push(m),
    info: noop,
    debug: noop,
    error: noop,
    fatal: noop,
    trace: noop,
  } as unknown as LoggerInstance & { warnings: string[] };
}

describe("RedisRateLimitStore without Redis", () => {
  it("lets requests through and warns when Redis does not answer", async () => {
    const log = logger();
    const store = new RedisRateLimitStore({
      url: "redis://127.0.0.1:1",
      windowMs: 60_000,
      prefix: uniqueName("rl"),
      logger: log,
    });
    try {
      expect(await store.inc("client")).toBe(0);
      expect(await store.inc("client")).toBe(0);
      expect(log.warnings.join("\n")).toMatch(/Redis unavailable, letting requests through/);
    } finally {
      await store.close();
    }
  });
});

describeWithRedis("RedisRateLimitStore", () => {
  it("counts per key within a window, shared by two stores", async () => {
    const prefix = uniqueName("rl");
    const a = new RedisRateLimitStore({ url: REDIS_URL, windowMs: 3_600_000, prefix, logger: logger() });
    const b = new RedisRateLimitStore({ url: REDIS_URL, windowMs: 3_600_000, prefix, logger: logger() });
    try {
      await new Promise((r) => setTimeout(r, 200)); // connected (the offline queue is off)
      expect(await a.inc("x")).toBe(1);
      expect(await b.inc("x")).toBe(2);
      expect(await b.inc("y")).toBe(1);
      expect(a.resetTime % 3_600_000).toBe(0);
      expect(a.resetTime).toBeGreaterThan(Date.now());
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
