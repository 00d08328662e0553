/**
 * BM25 postings lists (whole, or a term's best by impact: a bounded read's) kept in the node's memory, each under the version of its dataset it
 * was read at. A dataset's version is raised in the transaction of every change to its examples
 * (import, add, delete, rotation: bumpVersion), and a list is only used for the version the
 * query's statistics were read at, so a cached list is never a stale one: a change makes every
 * list of its dataset miss once. Bounded by bytes, least recently used out first.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { registered } from "../lib/metrics";

/**
 * One term's postings in a dataset (all of them, or its best by impact): example ids with their tf,
 * document length and impact, in no order.
 */
export interface PostingsList {
  ids: Float64Array;
  tf: Int32Array;
  len: Int32Array;
  impact: Float64Array;
}

interface Entry {
  version: number;
  list: PostingsList;
  bytes: number;
}

/** Bytes a list holds (its three arrays and a fixed overhead for the entry). */
export function listBytes(list: PostingsList): number {
  return list.ids.byteLength + list.tf.byteLength + list.len.byteLength + list.impact.byteLength + 200;
}

/** Bytes a posting takes in a kept list (id, tf, length, impact). */
export const POSTING_BYTES = 24;

export class PostingsCache {
  private readonly entries = new Map<string, Entry>();
  private used = 0;
  hits = 0;
  misses = 0;

  /** @param maxBytes what the lists may hold in all; a list above a quarter of it is not kept. */
  constructor(readonly maxBytes: number) {}

  /**
   * Whether a read of this many postings may go through memory: at most what the cache keeps of
   * one list (a quarter of its bound), so what a query brings into the node stays bounded by the
   * configuration whatever the term limit; a larger read ranks in the database.
   */
  fits(postings: number): boolean {
    return postings * POSTING_BYTES <= this.maxBytes / 4;
  }

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The list kept under `key` (a term id, and the limit of a bounded read) at this version of its
   * dataset, or undefined (a list of another version is dropped).
   */
  get(key: string, version: number): PostingsList | undefined {
    const e = this.entries.get(key);
    if (e?.version !== version) {
      if (e) this.remove(key, e);
      this.misses++;
      return undefined;
    }
    // Most recently used last.
    this.entries.delete(key);
    this.entries.set(key, e);
    this.hits++;
    return e.list;
  }

  /** Keeps a list as read at `version`, dropping the least recently used lists past the bound. */
  set(key: string, version: number, list: PostingsList): void {
    const bytes = listBytes(list);
    const old = this.entries.get(key);
    if (old) this.remove(key, old);
    if (bytes > this.maxBytes / 4) return;
    this.entries.set(key, { version, list, bytes });
    this.used += bytes;
    for (const [k, e] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.remove(k, e);
    }
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }

  private remove(key: string, e: Entry): void {
    this.entries.delete(key);
    this.used -= e.bytes;
  }
}

/** The cache each registry's metrics read (the latest one a datasets service there made). */
const exposed = new WeakMap<Registry, PostingsCache>();

/**
 * `mcai_search_postings_lists_total{result}` (lists looked up: hit, miss) and
 * `mcai_search_postings_cache_bytes` (what the kept lists hold), read from `cache` when scraped.
 */
export function exposePostingsCache(registry: Registry, cache: PostingsCache): void {
  exposed.set(registry, cache);
  const lists = "mcai_search_postings_lists_total";
  registered(
    registry,
    lists,
    () =>
      new Counter({
        name: lists,
        help: "Whole BM25 postings lists looked up in this node's memory, by result (hit, miss: read from the database)",
        labelNames: ["result"] as const,
        registers: [registry],
        collect() {
          const c = exposed.get(registry);
          this.reset();
          if (!c) return;
          this.inc({ result: "hit" }, c.hits);
          this.inc({ result: "miss" }, c.misses);
        },
      }),
  );
  const bytes = "mcai_search_postings_cache_bytes";
  registered(
    registry,
    bytes,
    () =>
      new Gauge({
        name: bytes,
        help: "Bytes of whole BM25 postings lists this node keeps in memory (SEARCH_POSTINGS_CACHE_MB)",
        registers: [registry],
        collect() {
          this.set(exposed.get(registry)?.bytes ?? 0);
        },
      }),
  );
}
