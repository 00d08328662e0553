/**
 * Search results in the shared cacher (MemoryLRU in one process, Redis shared by every node), keyed
 * by the global dataset version: a change gives every key a new version, so a result computed
 * before it is never served after it (at once where the `datasets.changed` event arrives, and never
 * later than the version bound where it was lost; see lib/dataset-version.ts). Old keys expire by
 * their TTL. A cacher that errs or is slow is a miss, never a failed search.
 */
import crypto from "node:crypto";
import type { ServiceBroker } from "moleculer";
import { Counter } from "prom-client";
import { metricsOf, registered } from "../lib/metrics";
import type { DatasetVersion } from "../lib/dataset-version";
import type { SearchHit, SearchMode } from "./search";

/** What a search answers (and what this cache keeps). */
export interface SearchAnswer {
  mode: SearchMode;
  k: number;
  degraded?: string;
  hits: SearchHit[];
}

/** A cacher call taking longer than this counts as a miss (set: is not waited on longer). */
const CACHER_TIMEOUT_MS = 100;

/** What identifies a search: every parameter that changes its result. */
export interface SearchKey {
  q: string;
  domain?: string;
  k: number;
  mode: string;
}

function bounded<T>(p: Promise<T> | undefined, fallback: T): Promise<T> {
  if (!p) return Promise.resolve(fallback);
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.catch(() => fallback),
    new Promise<T>((r) => (timer = setTimeout(() => r(fallback), CACHER_TIMEOUT_MS))),
  ]).finally(() => clearTimeout(timer));
}

export class SearchCache {
  private readonly lookups: Counter<"result">;

  constructor(
    private readonly broker: ServiceBroker,
    private readonly version: DatasetVersion,
    private readonly ttlS: number,
  ) {
    const registry = metricsOf(broker).registry;
    const name = "mcai_search_cache_lookups_total";
    this.lookups = registered(
      registry,
      name,
      () =>
        new Counter({
          name,
          help: "Search result cache lookups, by result (hit, miss)",
          labelNames: ["result"] as const,
          registers: [registry],
        }),
    );
  }

  /** The cached result of `key` under the current version (null on a miss), and the key to store under. */
  async get(key: SearchKey): Promise<{ hit: SearchAnswer | null; cacheKey: string } | null> {
    if (this.ttlS === 0 || !this.broker.cacher) return null;
    const version = await this.version.current();
    const hash = crypto
      .createHash("sha1")
      .update(JSON.stringify([key.mode, key.k, key.domain ?? "", key.q]))
      .digest("hex");
    const cacheKey = `datasets:search:v${version}:${hash}`;
    const hit = (await bounded(this.broker.cacher.get(cacheKey) as Promise<SearchAnswer | null>, null)) ?? null;
    this.lookups.inc({ result: hit === null ? "miss" : "hit" });
    return { hit, cacheKey };
  }

  async set(cacheKey: string, value: SearchAnswer): Promise<void> {
    await bounded(this.broker.cacher?.set(cacheKey, value, this.ttlS) as Promise<unknown> | undefined, undefined);
  }
}
