/**
 * Reads of the datasets service kept in the shared cacher (MemoryLRU in one process, Redis shared by
 * every node): search results and pages of examples, keyed by the global dataset version. A change
 * gives every key a new version, so a result computed before it is never served after it (at once
 * where the `datasets.changed` event arrives, and never later than the version bound where it was
 * lost; see lib/dataset-version.ts). Old keys expire by their TTL. A cacher that errs or is slow is
 * a miss, never a failed read.
 */
import crypto from "node:crypto";
import type { ServiceBroker } from "moleculer";
import { Counter } from "prom-client";
import { metricsOf, registered } from "../lib/metrics";
import type { DatasetVersion } from "../lib/dataset-version";
import type { SearchHit, SearchMode } from "./search";
import type { ExampleRow } from "./store";

/** What a search answers (and what the cache keeps). */
export interface SearchAnswer {
  mode: SearchMode;
  k: number;
  degraded?: string;
  hits: SearchHit[];
}

/** What a page of examples answers (and what the cache keeps). */
export interface PageAnswer {
  domain: string;
  version: number;
  examples: ExampleRow[];
  next_cursor: string | null;
}

/** The kinds of read kept, each with its own TTL. */
export type ReadKind = "search" | "page";

/** A cacher call taking longer than this counts as a miss (set: is not waited on longer). */
const CACHER_TIMEOUT_MS = 100;

function bounded<T>(p: Promise<T> | undefined, fallback: T): Promise<T> {
  if (!p) return Promise.resolve(fallback);
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.catch(() => fallback),
    new Promise<T>((r) => (timer = setTimeout(() => r(fallback), CACHER_TIMEOUT_MS))),
  ]).finally(() => clearTimeout(timer));
}

/** A lookup's outcome: the value kept (null on a miss) and the key to keep a fresh one under. */
export interface Lookup<T> {
  hit: T | null;
  cacheKey: string;
}

export class ReadCache {
  private readonly lookups: Counter<"kind" | "result">;

  /** @param ttlS life of each kind of read in the cacher, s; 0 = that kind is not cached. */
  constructor(
    private readonly broker: ServiceBroker,
    private readonly version: DatasetVersion,
    private readonly ttlS: Record<ReadKind, number>,
  ) {
    const registry = metricsOf(broker).registry;
    const name = "mcai_datasets_cache_lookups_total";
    this.lookups = registered(
      registry,
      name,
      () =>
        new Counter({
          name,
          help: "Lookups of cached dataset reads, by kind (search, page) and result (hit, miss)",
          labelNames: ["kind", "result"] as const,
          registers: [registry],
        }),
    );
  }

  /** The kept read identified by `parts` under the current version; null when this kind is not cached. */
  async get(kind: "search", parts: unknown[]): Promise<Lookup<SearchAnswer> | null>;
  async get(kind: "page", parts: unknown[]): Promise<Lookup<PageAnswer> | null>;
  async get(kind: ReadKind, parts: unknown[]): Promise<Lookup<SearchAnswer | PageAnswer> | null> {
    if (this.ttlS[kind] === 0 || !this.broker.cacher) return null;
    const version = await this.version.current();
    const hash = crypto.createHash("sha1").update(JSON.stringify(parts)).digest("base64url");
    const cacheKey = `datasets:${kind}:v${version}:${hash}`;
    const hit =
      (await bounded(this.broker.cacher.get(cacheKey) as Promise<SearchAnswer | PageAnswer | null>, null)) ?? null;
    this.lookups.inc({ kind, result: hit === null ? "miss" : "hit" });
    return { hit, cacheKey };
  }

  async set(kind: ReadKind, cacheKey: string, value: SearchAnswer | PageAnswer): Promise<void> {
    await bounded(this.broker.cacher?.set(cacheKey, value, this.ttlS[kind]) as Promise<unknown> | undefined, undefined);
  }
}
