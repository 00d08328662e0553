/**
 * What callers of the knowledge service see: its query params and answer, the emotion rows.
 * Types only: importing this file loads nothing.
 */
import type { Match } from "./llm";

// Match is defined beside the LLM call that formats it into the prompt.
export type { Match };

/**
 * A hit of `datasets.search` as knowledge reads it: a match and, when the search reports it, `match`,
 * the idf-weighted share (0..1) of the query's terms the hit holds.
 */
export interface SearchHit extends Match {
  match?: number;
  /** Positions feedback moved this hit for the query (+ up, − down); absent when it moved none. */
  feedback_shift?: number;
}

/** Which cache tier answered: l1 the shared Moleculer cacher, l2 the knowledge_cache table. */
export type Tier = "l1" | "l2";

/** Params of `knowledge.query`: `query` (or `q`, as GET passes it), an optional domain and k. */
export interface QueryParams {
  query: string;
  q?: string;
  domain?: string;
  k?: number;
}

/** One emotion of the catalog with its frequencies and personality template. */
export interface EmotionRow {
  name: string;
  neuroscience_hz: number;
  band: string;
  metaphysical_hz: number;
  counterpart: string;
  personality: string;
  music: Record<string, unknown>;
}

/** What `knowledge.query` returns. */
export interface Answer {
  answer: string;
  /**
   * Who answered: the datasets (extractive), the LLM, the cache, or "none" when the datasets hold
   * nothing that matches well (a decline, also when it comes from the cache: `cached` says so).
   */
  source: "cache" | "dataset" | "llm" | "none";
  cached: boolean;
  cache_tier?: Tier;
  matches: (Match & { feedback_shift?: number })[];
  emotion: { name: string; scores: Record<string, number> };
  frequencies: { neuroscience_hz: number; metaphysical_hz: number };
  dataset_version: number;
  degraded?: boolean;
  /** With source "none": the questions of the nearest matches, which the datasets do answer. */
  suggestions?: string[];
  /** Names this answer in feedback: `a<dataset version>-<query hash>`. */
  answer_id: string;
  took_ms: number;
}

/** An answer as the cache tiers keep it: without the fields that describe one asking. */
export type StoredAnswer = Omit<Answer, "took_ms" | "cached" | "answer_id">;

/** Params of `knowledge.feedback`. */
export interface FeedbackParams {
  query: string;
  answer_id?: string;
  example_id?: string;
  helpful: boolean;
  comment?: string;
}

/** A stored vote, as `knowledge.feedback` answers it and `knowledge.feedbackList` lists it. */
export interface FeedbackRow {
  id: string;
  query: string;
  dataset_version: number;
  answer_id: string | null;
  example_id: string | null;
  example_ids: string[];
  helpful: boolean;
  comment: string | null;
  client_key: string;
  created_at: string;
}

/** Params of `knowledge.feedbackList`: newest first, `cursor` the last id of the previous page. */
export interface FeedbackListParams {
  cursor?: string;
  helpful?: boolean;
  limit?: number;
}

/** Meta the gateway sets on `knowledge.feedback`: the client key (API key id or hashed address). */
export interface FeedbackMeta {
  client?: string;
  $statusCode?: number;
  $location?: string;
}
