/**
 * Reads of the datasets service kept in the shared cacher (MemoryLRU in one process, Redis shared by
 * every node): search results and pages of examples, keyed by the global dataset version. A change
 * gives every key a new version, so a result computed before it is never served after it (at once
 * where the `datasets.changed` event arrives, and never later than the version bound where it was
 * lost; see lib/dataset-version.ts). Old keys expire by their TTL. A cacher that errs or is slow is
 * a miss, never a failed read.
 *
 * What is kept is the answer's JSON text, as the gateway sends it (lib/json-text.ts): a hit is
 * written to the client without being parsed and serialized again. The keys say so (`search-json`),
 * so a node that kept objects under the former keys and one that keeps text never read each other's.
 */
import crypto from "node:crypto";
import type { ServiceBroker } from "moleculer";
import { Counter } from "prom-client";
import { metricsOf, registered } from "../lib/metrics";
import type { DatasetVersion } from "../lib/dataset-version";
import type { SearchHit, SearchMode } from "./search";
import { encodeCursor } from "./cursor";
import type { ExamplePage, ExampleRow } from "./store";

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

/**
 * The JSON of a page's answer (a PageAnswer), written from its rows as JSON.stringify would write
 * the answer with ExampleRow objects (metadata as jsonb's text, which may space its separators):
 * no row object is made only to be serialized. `next_cursor` is null on the last page.
 */
export function pageJson(domain: string, page: ExamplePage): string {
  const d = JSON.stringify(domain);
  const rows = page.rows.map(
    (r) =>
      `{"id":${JSON.stringify(r.id)},"domain":${d},"content":${JSON.stringify(r.content)},"response":${JSON.stringify(r.response)},"metadata":${r.metadata},"created_at":"${new Date(r.created_ms).toISOString()}"}`,
  );
  const last = page.rows.at(-1);
  const next = page.more && last ? encodeCursor(page.datasetId, last.id) : null;
  return `{"domain":${d},"version":${JSON.stringify(page.version)},"examples":[${rows.join(",")}],"next_cursor":${JSON.stringify(next)}}`;
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

/** A lookup's outcome: the JSON text kept (null on a miss) and the key to keep a fresh one under. */
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
  async get(kind: ReadKind, parts: unknown[]): Promise<Lookup<string> | null> {
    if (this.ttlS[kind] === 0 || !this.broker.cacher) return null;
    const version = await this.version.current();
    const hash = crypto.createHash("sha1").update(JSON.stringify(parts)).digest("base64url");
    const cacheKey = `datasets:${kind}-json:v${version}:${hash}`;
    const kept = await bounded(this.broker.cacher.get(cacheKey) as Promise<unknown>, null);
    const hit = typeof kept === "string" ? kept : null;
    this.lookups.inc({ kind, result: hit === null ? "miss" : "hit" });
    return { hit, cacheKey };
  }

  /** Keeps `json`, the answer's JSON text as it is to be served on a hit. */
  async set(kind: ReadKind, cacheKey: string, json: string): Promise<void> {
    await bounded(this.broker.cacher?.set(cacheKey, json, this.ttlS[kind]) as Promise<unknown> | undefined, undefined);
  }
}
