/**
 * Rate-limit counters for moleculer-web. Its own MemoryStore counts per process, so N gateways
 * would let a client through N times; this store keeps fixed-window counters in Redis, shared by
 * every gateway of the namespace.
 */
import Redis from "ioredis";
import type { LoggerInstance } from "moleculer";

/** What moleculer-web asks of a store: `inc` (awaited) and `resetTime`. */
export interface RateLimitStore {
  resetTime: number;
  inc(key: string): Promise<number> | number;
  close?(): Promise<void>;
}

export interface RedisRateLimitStoreOptions {
  url: string;
  windowMs: number;
  prefix: string;
  logger: LoggerInstance;
}

/**
 * Fixed windows aligned on multiples of windowMs: every gateway agrees on the window from the
 * clock alone. When Redis does not answer within a bound the request is let through (fail open)
 * and the fault is logged: losing the limiter must not take the API down.
 */
export class RedisRateLimitStore implements RateLimitStore {
  resetTime = 0;
  private readonly redis: Redis;
  private lastWarn = 0;

  constructor(private readonly opts: RedisRateLimitStoreOptions) {
    this.redis = new Redis(opts.url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 250,
      connectTimeout: 2000,
    });
    this.redis.on("error", (err) => this.warn(err));
  }

  async inc(key: string): Promise<number> {
    const window = Math.floor(Date.now() / this.opts.windowMs);
    this.resetTime = (window + 1) * this.opts.windowMs;
    const redisKey = `${this.opts.prefix}:${window}:${key}`;
    try {
      const res = await this.redis
        .multi()
        .incr(redisKey)
        .pexpire(redisKey, this.opts.windowMs * 2)
        .exec();
      const count = res?.[0]?.[1];
      return typeof count === "number" ? count : 0;
    } catch (err) {
      this.warn(err as Error);
      return 0;
    }
  }

  private warn(err: Error): void {
    if (Date.now() - this.lastWarn < 10_000) return;
    this.lastWarn = Date.now();
    this.opts.logger.warn(`rate limiter: Redis unavailable, letting requests through (${err.message})`);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** moleculer-web's per-process store with the same shape, for single-gateway setups without Redis. */
export class MemoryRateLimitStore implements RateLimitStore {
  resetTime = 0;
  private readonly hits = new Map<string, number>();
  private window = -1;

  constructor(private readonly windowMs: number) {}

  inc(key: string): number {
    const window = Math.floor(Date.now() / this.windowMs);
    if (window !== this.window) {
      this.window = window;
      this.hits.clear();
      this.resetTime = (window + 1) * this.windowMs;
    }
    const n = (this.hits.get(key) ?? 0) + 1;
    this.hits.set(key, n);
    return n;
  }
}
