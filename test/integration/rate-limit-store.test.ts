import { ServiceBroker, type LoggerInstance } from "moleculer";
import { MemoryRateLimitStore, RedisRateLimitStore } from "../../services/api/rate-limit-store";
import { describeWithRedis, REDIS_URL, uniqueName } from "../helpers/servers";

/** A Moleculer logger (silent) whose warnings the test reads. */
function logger(): { log: LoggerInstance; warnings: string[] } {
  const log = new ServiceBroker({ logger: false }).getLogger("rate-limit-store");
  const warnings: string[] = [];
  jest.spyOn(log, "warn").mockImplementation((m: string) => warnings.push(m));
  return { log, warnings };
}

describe("RedisRateLimitStore without Redis", () => {
  it("lets requests through and warns when Redis does not answer", async () => {
    const { log, warnings } = logger();
    const store = new RedisRateLimitStore({ url: "redis://127.0.0.1:1", prefix: uniqueName("rl"), logger: log });
    try {
      expect((await store.hit("client", 1, 60_000)).allowed).toBe(true);
      expect((await store.hit("client", 1, 60_000)).allowed).toBe(true);
      expect(warnings.join("\n")).toMatch(/Redis unavailable, letting requests through/);
    } finally {
      await store.close();
    }
  });
});

describe("MemoryRateLimitStore", () => {
  it("never lets more than the limit through in any span of one window, boundaries included", async () => {
    let now = 1_000_000;
    const store = new MemoryRateLimitStore(() => now);
    const accepted: number[] = [];
    // 10 requests every 10 ms for 3 windows of 1000 ms, limit 50: a fixed window would pass 100
    // around each boundary.
    for (let t = 0; t < 3000; t += 10) {
      now = 1_000_000 + t;
      for (let i = 0; i < 10; i++) if ((await store.hit("c", 50, 1000)).allowed) accepted.push(now);
    }
    let worst = 0;
    for (let i = 0; i < accepted.length; i++) {
      let j = i;
      while (j < accepted.length && accepted[j] < accepted[i] + 1000) j++;
      worst = Math.max(worst, j - i);
    }
    expect(worst).toBe(50);
  });
});

describeWithRedis("RedisRateLimitStore", () => {
  it("counts per key in a sliding window, shared by two stores", async () => {
    const prefix = uniqueName("rl");
    const a = new RedisRateLimitStore({ url: REDIS_URL, prefix, logger: logger().log });
    const b = new RedisRateLimitStore({ url: REDIS_URL, prefix, logger: logger().log });
    try {
      await Promise.all([a.ready(), b.ready()]); // connected: the offline queue is off, so an early hit fails open
      expect(await a.hit("x", 2, 3_600_000)).toMatchObject({ allowed: true, count: 1 });
      expect(await b.hit("x", 2, 3_600_000)).toMatchObject({ allowed: true, count: 2 });
      const third = await a.hit("x", 2, 3_600_000);
      expect(third).toMatchObject({ allowed: false, count: 2 });
      expect(third.resetMs).toBeGreaterThan(3_500_000);
      expect(third.resetMs).toBeLessThanOrEqual(3_600_000);
      expect(await b.hit("y", 2, 3_600_000)).toMatchObject({ allowed: true, count: 1 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
