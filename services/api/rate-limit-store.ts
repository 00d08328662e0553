/**
 * Sliding-window rate limits: a request is let through when the client had fewer than `limit`
 * requests let through in the last `windowMs`, so no span of `windowMs` ever passes more than
 * `limit` (a fixed window passes up to 2× across its boundary). In Redis, one sorted set per client
 * holds the times of its accepted requests (at most `limit` entries), trimmed and checked by one
 * Lua script with Redis's own clock: every gateway of the namespace shares the count.
 *
 * rate-limiter-flexible (installed) was weighed: its Redis limiter counts fixed windows that start
 * at a key's first request, which lets 2× the limit through at a window boundary, and it has no
 * sliding window or shared token bucket; so this store stays ours (one script, ~40 lines).
 */
import crypto from "node:crypto";
import type Redis from "ioredis";
import type { LoggerInstance } from "moleculer";
import { SkipAfterFailure } from "../lib/skip-after-failure";

/** The outcome of one request against a client's limit. */
export interface RateLimitResult {
  allowed: boolean;
  /** Requests let through in the window, this one included when allowed. */
  count: number;
  /** Milliseconds until the oldest counted request leaves the window. */
  resetMs: number;
}

/** Where the limiter keeps its counts. */
export interface RateLimitStore {
  hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult>;
  close?(): Promise<void>;
}

export interface RedisRateLimitStoreOptions {
  url: string;
  prefix: string;
  logger: LoggerInstance;
}

// KEYS[1] the client's set; ARGV: limit, window (ms), a unique member. Returns {allowed, count, resetMs}.
const SLIDING_WINDOW_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local allowed = 0
if n < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  n = n + 1
  allowed = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local reset = window
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
return {allowed, n, reset}
`;

type SlidingRedis = Redis & {
  slidingWindow(key: string, limit: number, windowMs: number, member: string): Promise<[number, number, number]>;
};

/** After Redis failed a few times in a row, requests are let through without asking it for this long (then one asks again). */
const SKIP_AFTER_FAILURE_MS = 1000;
const LET_THROUGH: RateLimitResult = Object.freeze({ allowed: true, count: 0, resetMs: 0 });

/**
 * The shared store. When Redis does not answer within a bound the request is let through (fail
 * open) and the fault is logged at most every 10 s: losing the limiter must not take the API down.
 * After failures in a row Redis is not asked for SKIP_AFTER_FAILURE_MS: behind a pulled cable every call
 * times out, and each request would otherwise wait the bound first.
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly redis: SlidingRedis;
  private lastWarn = 0;
  private readonly down = new SkipAfterFailure(SKIP_AFTER_FAILURE_MS);

  constructor(private readonly opts: RedisRateLimitStoreOptions) {
    // ioredis (~120 ms of module loading) loads only for a shared store: a gateway with the
    // in-process limiter, an embedded node above all, never pays for it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: see above
    const RedisClient = require("ioredis") as typeof import("ioredis").default;
    this.redis = new RedisClient(opts.url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 250,
      connectTimeout: 2000,
    }) as SlidingRedis;
    this.redis.defineCommand("slidingWindow", { numberOfKeys: 1, lua: SLIDING_WINDOW_LUA });
    this.redis.on("error", (err) => this.warn(err));
  }

  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    if (this.down.skipping) return LET_THROUGH;
    try {
      const member = `${Date.now()}:${crypto.randomBytes(6).toString("hex")}`;
      const [allowed, count, resetMs] = await this.redis.slidingWindow(
        `${this.opts.prefix}:${key}`,
        limit,
        windowMs,
        member,
      );
      this.down.succeeded();
      return { allowed: allowed === 1, count, resetMs };
    } catch (err) {
      this.down.failed();
      this.warn(err as Error);
      return LET_THROUGH;
    }
  }

  private warn(err: Error): void {
    if (Date.now() - this.lastWarn < 10_000) return;
    this.lastWarn = Date.now();
    this.opts.logger.warn(`rate limiter: Redis unavailable, letting requests through (${err.message})`);
  }

  /** Resolves once the connection to Redis is up (a gateway serves before that, letting requests through). */
  ready(): Promise<void> {
    if (this.redis.status === "ready") return Promise.resolve();
    return new Promise((resolve) => this.redis.once("ready", () => resolve()));
  }

  close(): Promise<void> {
    this.redis.disconnect();
    return Promise.resolve();
  }
}

/** The same sliding window in this process, for a single gateway without Redis. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly hits = new Map<string, number[]>();
  private lastSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    const now = this.now();
    this.sweep(now, windowMs);
    const times = (this.hits.get(key) ?? []).filter((t) => t > now - windowMs);
    const allowed = times.length < limit;
    if (allowed) times.push(now);
    this.hits.set(key, times);
    const resetMs = times.length ? times[0] + windowMs - now : windowMs;
    return Promise.resolve({ allowed, count: times.length, resetMs });
  }

  /** Forgets clients with nothing in the window, at most once per window. */
  private sweep(now: number, windowMs: number): void {
    if (now - this.lastSweep < windowMs) return;
    this.lastSweep = now;
    for (const [key, times] of this.hits)
      if (!times.length || times[times.length - 1] <= now - windowMs) this.hits.delete(key);
  }
}
