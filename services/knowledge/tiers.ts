/**
 * The two cache tiers. L1 is the Moleculer cacher (MemoryLRU in one process, Redis shared by all
 * nodes), bounded in time so that a Redis outage is a miss, not a hang; after failures in a row L1
 * is skipped for a second (lib/skip-after-failure.ts), so an outage costs each request nothing, not the
 * bound, while one late reply on a busy machine switches nothing off. L2 is the table
 * knowledge_cache in Postgres, which survives Redis restarts. Hits and misses are counted per tier.
 */
import type { ServiceBroker } from "moleculer";
import { Counter, type Registry } from "prom-client";
import type { Db } from "../lib/db";
import { metricsOf, registered } from "../lib/metrics";
import { SkipAfterFailure } from "../lib/skip-after-failure";
import type { Tier } from "./contract";
import { putL2, takeL2, type L2Entry } from "./store";

const L1_TIMEOUT_MS = 100;
const L1_SKIP_MS = 1000;

export interface TierStats {
  hits: number;
  misses: number;
}

function counter(registry: Registry, name: string, help: string): Counter<"tier"> {
  return registered(
    registry,
    name,
    () => new Counter({ name, help, labelNames: ["tier"] as const, registers: [registry] }),
  );
}

export class CacheTiers {
  readonly stats: Record<Tier, TierStats> = { l1: { hits: 0, misses: 0 }, l2: { hits: 0, misses: 0 } };
  private readonly hitsTotal: Counter<"tier">;
  private readonly missesTotal: Counter<"tier">;
  private readonly l1Down = new SkipAfterFailure(L1_SKIP_MS);

  constructor(
    private readonly broker: ServiceBroker,
    private readonly db: Db,
  ) {
    const registry = metricsOf(broker).registry;
    this.hitsTotal = counter(
      registry,
      "mcai_cache_hits_total",
      "Knowledge cache hits, by tier (l1: the shared cacher, l2: Postgres)",
    );
    this.missesTotal = counter(registry, "mcai_cache_misses_total", "Knowledge cache misses, by tier");
  }

  count(tier: Tier, hit: boolean): void {
    this.stats[tier][hit ? "hits" : "misses"]++;
    (hit ? this.hitsTotal : this.missesTotal).inc({ tier });
  }

  /**
   * Whether L1 answers within `ms`. A Redis cacher may still be connecting while the node starts
   * (its commands wait in the client's queue): a decision read from L1 then (the warm-up's marker)
   * waits for it rather than taking the 100 ms bound's miss for "not there".
   */
  async l1Ready(ms: number): Promise<boolean> {
    if (!this.broker.cacher) return false;
    return this.bounded(() => this.broker.cacher?.get("knowledge:l1-ready").then(() => true), false, ms);
  }

  /** L1 get; a cacher that errs or is slower than `boundMs` counts as a miss. */
  async getL1<T>(key: string, boundMs = L1_TIMEOUT_MS): Promise<T | null> {
    return (
      (await this.bounded(() => this.broker.cacher?.get(key) as Promise<T | null> | undefined, null, boundMs)) ?? null
    );
  }

  /** L1 set, never waited on for longer than `boundMs`. */
  async setL1(key: string, value: unknown, ttlS: number, boundMs = L1_TIMEOUT_MS): Promise<void> {
    await this.bounded(
      () => this.broker.cacher?.set(key, value, ttlS) as Promise<unknown> | undefined,
      undefined,
      boundMs,
    );
  }

  /** L2 get (counts the access); null when absent, expired, or older than a vote on the query's `buckets`. */
  async getL2<T>(hash: string, version: number, buckets: number[]): Promise<T | null> {
    return takeL2<T>(this.db, hash, version, buckets);
  }

  async setL2(entry: L2Entry): Promise<void> {
    await putL2(this.db, entry);
  }

  /** `op`'s result, or `fallback` when the cacher errs, takes longer than `ms`, or is being skipped after failures in a row. */
  private bounded<T>(op: () => Promise<T> | undefined, fallback: T, ms = L1_TIMEOUT_MS): Promise<T> {
    if (this.l1Down.skipping) return Promise.resolve(fallback);
    const p = op();
    if (!p) return Promise.resolve(fallback);
    let timer: NodeJS.Timeout;
    // Each call counts once: the first of its reply, its error and its bound.
    let counted = false;
    const outcome = (ok: boolean) => {
      if (counted) return;
      counted = true;
      if (ok) this.l1Down.succeeded();
      else this.l1Down.failed();
    };
    const failed = () => {
      outcome(false);
      return fallback;
    };
    const answered = p.then((v) => {
      outcome(true);
      return v;
    }, failed);
    return Promise.race([answered, new Promise<T>((r) => (timer = setTimeout(() => r(failed()), ms)))]).finally(() =>
      clearTimeout(timer),
    );
  }
}
