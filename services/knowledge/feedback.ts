/**
 * Feedback on answers and how it moves the ranking. A vote is about one example for one query. The
 * votes that count for a query are those cast for it or for a close one (the Jaccard similarity of
 * their content terms at least CLOSE_QUERY_MIN), each weighted by that similarity, one per client and
 * example (its latest). Their sum moves the example by whole positions among the answer's matches:
 * one position per VOTES_PER_POSITION net votes, at most MAX_SHIFT positions either way, so a few
 * votes cannot bury the right answer (it stays within the top three an extractive answer reads).
 */
import type { EntityTable } from "../lib/db/entity-adapter";
import type { SearchHit } from "./contract";
import type { VoteRow } from "./store";
import { terms } from "./sentences";

/** Net (similarity-weighted) votes that move an example by one position. */
export const VOTES_PER_POSITION = 2;
/** The most positions feedback moves an example, up or down. */
export const MAX_SHIFT = 2;
/** Two queries are close when their content terms' Jaccard similarity is at least this. */
export const CLOSE_QUERY_MIN = 0.6;

/** The feedback table as moleculer-db's adapter serves it. */
export const FEEDBACK_TABLE: EntityTable = {
  table: "feedback",
  idField: "id",
  columns: {
    id: { select: "id::text", cast: "bigint", generated: true },
    query: {},
    query_terms: { cast: "text[]" },
    dataset_version: { select: "dataset_version::int", cast: "bigint" },
    answer_id: {},
    example_id: { select: "example_id::text", cast: "bigint" },
    example_ids: { select: "example_ids::text[]", cast: "bigint[]" },
    helpful: { cast: "boolean" },
    comment: {},
    client_key: {},
    created_at: { generated: true },
    raised_buckets: { cast: "integer[]" },
  },
};

/** The fields a stored feedback row shows (its terms and buckets are indexes, not data). */
export const FEEDBACK_FIELDS = Object.keys(FEEDBACK_TABLE.columns).filter(
  (c) => c !== "query_terms" && c !== "raised_buckets",
);

/** How many feedback generation buckets there are (migration 0011). */
export const FEEDBACK_BUCKETS = 1024;

/** FNV-1a, 32 bits: a cheap, stable hash of a string, the same on every node. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The feedback generation buckets of a query, sorted and distinct: one per content term and one for
 * the whole query. A vote raises its query's buckets; an answer depends on its query's. A vote counts
 * for a query when they share a term or are the same query (store.ts votesFor), so they then share a
 * bucket. Two terms may share a bucket too: a vote then renews a few more answers than it changes.
 */
export function feedbackBuckets(normalized: string, qTerms: string[]): number[] {
  const buckets = new Set([`=${normalized}`, ...qTerms].map((t) => fnv1a(t) % FEEDBACK_BUCKETS));
  return [...buckets].sort((a, b) => a - b);
}

/** A query's content terms, sorted (what the feedback and L2 rows keep). */
export function queryTerms(normalized: string): string[] {
  return [...terms(normalized)].sort();
}

/** Jaccard similarity of two term lists; two queries of stop words only are close when they are equal. */
export function similarity(a: string[], b: string[], sameQuery: boolean): number {
  if (sameQuery) return 1;
  if (!a.length || !b.length) return 0;
  const setB = new Set(b);
  const both = a.filter((t) => setB.has(t)).length;
  return both / (a.length + b.length - both);
}

/** The positions feedback moves each example for a query (+ up, − down); examples without votes are absent. */
export function shifts(query: string, qTerms: string[], votes: VoteRow[]): Map<string, number> {
  // One vote per client and example: the latest (votes come oldest first; votesFor reads only those).
  const latest = new Map<string, VoteRow>();
  for (const v of votes) latest.set(`${v.client_key}\u0000${v.example_id}`, v);
  const net = new Map<string, number>();
  for (const v of latest.values()) {
    const w = similarity(qTerms, v.query_terms, v.query === query);
    if (w < CLOSE_QUERY_MIN) continue;
    net.set(v.example_id, (net.get(v.example_id) ?? 0) + (v.helpful ? w : -w));
  }
  const out = new Map<string, number>();
  for (const [id, n] of net) {
    // A little slack so that two votes weighted 1.0 each make exactly one position despite rounding.
    const steps = Math.min(MAX_SHIFT, Math.floor((Math.abs(n) + 1e-9) / VOTES_PER_POSITION));
    if (steps) out.set(id, Math.sign(n) * steps);
  }
  return out;
}

/**
 * The hits reordered by their shifts: a hit shifted by s passes the |s| hits next to it (its position
 * moves by s, and half a place more, so that it lands past them rather than beside them). A moved hit
 * carries `feedback_shift`; the rest keep their order. Whatever the shifts of the others, no hit ends
 * more than MAX_SHIFT places from where search put it: one promoted past a demoted one would otherwise
 * push it further down (or pull itself further up) than its own votes can.
 */
export function rerank<T extends SearchHit>(hits: T[], by: Map<string, number>): (T & { feedback_shift?: number })[] {
  if (!by.size) return hits;
  const wanted = hits.map((h, i) => {
    const shift = by.get(h.id) ?? 0;
    return { h, i, shift, at: i - shift - 0.5 * Math.sign(shift) };
  });
  // Slot by slot: the hit search put MAX_SHIFT places above must go now; else the preferred (lowest
  // `at`) of those search put at most MAX_SHIFT places below. Deadlines differ, so one is always free.
  const out: (T & { feedback_shift?: number })[] = [];
  const left = new Set(wanted);
  for (let p = 0; p < hits.length; p++) {
    let pick: (typeof wanted)[number] | undefined;
    for (const w of left) {
      if (w.i === p - MAX_SHIFT) {
        pick = w;
        break;
      }
      if (w.i <= p + MAX_SHIFT && (!pick || w.at < pick.at)) pick = w;
    }
    const { h, shift } = pick as (typeof wanted)[number];
    left.delete(pick as (typeof wanted)[number]);
    out.push(shift ? { ...h, feedback_shift: shift } : h);
  }
  return out;
}

const ANSWER_ID = /^a([0-9]{1,15})-([0-9a-f]{40})$/;
/** The pattern of an answer id, for the params schema. */
export const ANSWER_ID_PATTERN = ANSWER_ID;

/** The id of an answer: its cache key (query hash) and dataset version, which find it in L2 again. */
export function answerId(hash: string, version: number): string {
  return `a${version}-${hash}`;
}

/** The hash and version of an answer id; null when it is not one. */
export function parseAnswerId(id: string): { hash: string; version: number } | null {
  const m = ANSWER_ID.exec(id);
  return m ? { version: Number(m[1]), hash: m[2] } : null;
}
