/**
 * The two cache tiers. L1 is the Moleculer cacher (MemoryLRU in one process, Redis shared by all
 * nodes), bounded in time so that a Redis outage is a miss, not a hang. L2 is the table
 * knowledge_cache in Postgres, which survives Redis restarts. Hits and misses are counted per tier.
 */
import type { ServiceBroker } from "moleculer";
import { Counter, type Registry } from "prom-client";
import type { Db } from "../lib/db";
import { metricsOf, registered } from "../lib/metrics";

const L1_TIMEOUT_MS = 100;

export type Tier = "l1" | "l2";

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

function bounded<T>(p: Promise<T> | undefined, fallback: T): Promise<T> {
  if (!p) return Promise.resolve(fallback);
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.catch(() => fallback),
    new Promise<T>((r) => (timer = setTimeout(() => r(fallback), L1_TIMEOUT_MS))),
  ]).finally(() => clearTimeout(timer));
}

export class CacheTiers {
  readonly stats: Record<Tier, TierStats> = { l1: { hits: 0, misses: 0 }, l2: { hits: 0, misses: 0 } };
  private readonly hitsTotal: Counter<"tier">;
  private readonly missesTotal: Counter<"tier">;

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
    return (await bounded(this.broker.cacher?.get(key) as Promise<T | null> | undefined, null)) ?? null;
  }

  /** L1 set, never waited on for longer than the bound. */
  async setL1(key: string, value: unknown, ttlS: number): Promise<void> {
    await bounded(this.broker.cacher?.set(key, value, ttlS) as Promise<unknown> | undefined, undefined);
  }

  async getL2<T>(hash: string, version: number): Promise<T | null> {
    const r = await this.db.query<{ response: T }>(
      `UPDATE knowledge_cache SET accessed_at = now(), access_count = access_count + 1
       WHERE query_hash = $1 AND dataset_version = $2 AND expires_at > now() RETURNING response`,
      [hash, version],
    );
    return r.rows[0]?.response ?? null;
  }

  async setL2(
    hash: string,
    version: number,
    query: string,
    domain: string | undefined,
    response: unknown,
    source: string,
    ttlS: number,
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO knowledge_cache (query_hash, dataset_version, query_text, domain, response, source, expires_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, now() + make_interval(secs => $7))
       ON CONFLICT (query_hash, dataset_version) DO UPDATE SET response = EXCLUDED.response, source = EXCLUDED.source, expires_at = EXCLUDED.expires_at`,
      [hash, version, query, domain ?? null, JSON.stringify(response), source, ttlS],
    );
  }
}
