/**
 * The two cache tiers. L1 is the Moleculer cacher (MemoryLRU in one process, Redis shared by all
 * nodes), bounded in time so that a Redis outage is a miss, not a hang; after a failure L1 is
 * skipped for a second, so an outage costs each request nothing, not the bound. L2 is the table
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

  /** L1 get; a cacher that errs or is slow counts as a miss. */
  async getL1<T>(key: string): Promise<T | null> {
    return (await this.bounded(() => this.broker.cacher?.get(key) as Promise<T | null> | undefined, null)) ?? null;
  }

  /** L1 set, never waited on for longer than the bound. */
  async setL1(key: string, value: unknown, ttlS: number): Promise<void> {
    await this.bounded(() => this.broker.cacher?.set(key, value, ttlS) as Promise<unknown> | undefined, undefined);
  }

  /** L2 get (counts the access); null when absent or expired. */
  async getL2<T>(hash: string, version: number): Promise<T | null> {
    return takeL2<T>(this.db, hash, version);
  }

  async setL2(entry: L2Entry): Promise<void> {
    await putL2(this.db, entry);
  }

  /** `op`'s result, or `fallback` when the cacher errs, takes longer than the bound, or failed within L1_SKIP_MS. */
  private bounded<T>(op: () => Promise<T> | undefined, fallback: T): Promise<T> {
    if (this.l1Down.skipping) return Promise.resolve(fallback);
    const p = op();
    if (!p) return Promise.resolve(fallback);
    let timer: NodeJS.Timeout;
    const failed = () => {
      this.l1Down.failed();
      return fallback;
    };
    return Promise.race([
      p.catch(failed),
      new Promise<T>((r) => (timer = setTimeout(() => r(failed()), L1_TIMEOUT_MS))),
    ]).finally(() => clearTimeout(timer));
  }
}
