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
 *
 * Each node also keeps what it read from (or gave to) the shared cacher in its own memory for
 * LOCAL_TTL_MS, under the same versioned keys: a repeat within that second costs no Redis round trip
 * and no decoding of the kept text (with Redis that was most of a repeated search's cost left).
 * The version in the key makes it as fresh as the shared cacher; a cache clear (which changes no
 * data) reaches it within LOCAL_TTL_MS.
 *
 * With Moleculer's Redis cacher the text goes to Redis as it is (`SET`, `GET` on the cacher's own
 * client, under its prefix, so a cache clear removes it too): through the cacher, its JSON
 * serializer wrote a page's ~28 KB text as a JSON string again (every quote escaped, then copied
 * to a Buffer) and a hit parsed it back, on the node's one thread. Those keys say so (`-raw`): a
 * node keeping serialized text never reads them as its own, nor they its.
 */
import crypto from "node:crypto";
import { Cachers, type ServiceBroker } from "moleculer";
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
  /** Whether the lexical ranking is proven exact (SearchResult.lexical_exact). */
  lexical_exact?: boolean;
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
 * The text JSON.stringify writes for a PageAnswer, around its examples' JSON array text as the
 * database wrote it (store.ts pageExamplesJson): the same keys in the same order.
 */
export function pageAnswerJson(
  domain: string,
  version: number,
  examplesJson: string,
  nextCursor: string | null,
): string {
  return `{"domain":${JSON.stringify(domain)},"version":${JSON.stringify(version)},"examples":${examplesJson},"next_cursor":${JSON.stringify(nextCursor)}}`;
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

/** How long a node serves a read from its own memory before asking the shared cacher again. */
const LOCAL_TTL_MS = 1000;
/** The bound on the text kept in a node's own memory (UTF-16 code units), oldest dropped first. */
const LOCAL_MAX_CHARS = 8 * 1024 * 1024;

/** The texts a node keeps itself, by key, in the order they were kept. */
export class LocalReads {
  private readonly entries = new Map<string, { json: string; until: number }>();
  private chars = 0;

  get(key: string, now: number): string | null {
    const e = this.entries.get(key);
    return e && e.until > now ? e.json : null;
  }

  set(key: string, json: string, now: number): void {
    this.drop(key);
    this.entries.set(key, { json, until: now + LOCAL_TTL_MS });
    this.chars += json.length;
    // Map order is insertion order: the oldest (and first to expire) come first.
    for (const [k, e] of this.entries) {
      if (this.chars <= LOCAL_MAX_CHARS && e.until > now) break;
      this.drop(k);
    }
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.chars -= e.json.length;
    this.entries.delete(key);
  }
}

/** A lookup's outcome: the JSON text kept (null on a miss) and the key to keep a fresh one under. */
export interface Lookup<T> {
  hit: T | null;
  cacheKey: string;
}

/** What ReadCache asks of the Redis cacher's ioredis client. */
interface RawRedis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ex: "EX", ttlS: number): Promise<unknown>;
}

/** The shared cacher's store of texts: as they are with Redis, through the cacher's serializer otherwise. */
interface TextStore {
  /** Marks the keys of this way of storing (see the header). */
  suffix: string;
  get(key: string): Promise<unknown> | undefined;
  set(key: string, text: string, ttlS: number): Promise<unknown> | undefined;
}

/** Each cacher's text store, made once its client is there (every cached read asks for it). */
const stores = new WeakMap<object, TextStore>();

/** The text store over `cacher`: Redis's own client once the cacher has started it, else the cacher. */
export function textStore(cacher: ServiceBroker["cacher"]): TextStore | undefined {
  if (!cacher) return undefined;
  const kept = stores.get(cacher);
  if (kept) return kept;
  const made = makeTextStore(cacher);
  // A Redis cacher without its client yet is asked again next time, not kept as the fallback.
  if (made.suffix || !(cacher instanceof Cachers.Redis)) stores.set(cacher, made);
  return made;
}

function makeTextStore(cacher: NonNullable<ServiceBroker["cacher"]>): TextStore {
  const redis = cacher instanceof Cachers.Redis ? (cacher.client as RawRedis | undefined) : undefined;
  if (redis && cacher instanceof Cachers.Redis) {
    const prefix = cacher.prefix ?? "";
    return {
      suffix: "-raw",
      get: (key) => redis.get(prefix + key),
      set: (key, text, ttlS) => redis.set(prefix + key, text, "EX", ttlS),
    };
  }
  return {
    suffix: "",
    get: (key) => cacher.get(key),
    set: (key, text, ttlS) => cacher.set(key, text, ttlS) as Promise<unknown>,
  };
}

export class ReadCache {
  private readonly lookups: Counter<"kind" | "result">;
  private readonly local = new LocalReads();

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
    const store = textStore(this.broker.cacher);
    if (this.ttlS[kind] === 0 || !store) return null;
    const version = await this.version.current();
    const hash = crypto.createHash("sha1").update(JSON.stringify(parts)).digest("base64url");
    const cacheKey = `datasets:${kind}-json${store.suffix}:v${version}:${hash}`;
    let hit = this.local.get(cacheKey, Date.now());
    if (hit === null) {
      const kept = await bounded(store.get(cacheKey), null);
      if (typeof kept === "string") {
        hit = kept;
        this.local.set(cacheKey, kept, Date.now());
      }
    }
    this.lookups.inc({ kind, result: hit === null ? "miss" : "hit" });
    return { hit, cacheKey };
  }

  /** Keeps `json`, the answer's JSON text as it is to be served on a hit. */
  async set(kind: ReadKind, cacheKey: string, json: string): Promise<void> {
    this.local.set(cacheKey, json, Date.now());
    await bounded(textStore(this.broker.cacher)?.set(cacheKey, json, this.ttlS[kind]), undefined);
  }
}
