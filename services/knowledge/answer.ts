/**
 * Composing an answer on a cache miss: a hybrid search of the datasets, the query's emotion, and
 * then either the extractive answer (the best match, cited) or the LLM's answer written from the
 * matches through `knowledge.complete` (its circuit breaker), falling back to extractive, marked
 * degraded, when the model fails.
 */
import type { Context, LoggerInstance } from "moleculer";
import type { KnowledgeSettings } from "../lib/config";
import type { EmotionRow, Match, QueryParams, StoredAnswer } from "./contract";
import { llmMessages } from "./llm";

/** The answer without a model: the best match's response (or content), cited; a plain decline when none. */
export function extractive(matches: Match[]): string {
  if (!matches.length) return "I found nothing about that in the datasets yet.";
  const top = matches[0];
  return `${top.response ?? top.content} [1]`;
}

export interface ComposeInput {
  normalized: string;
  k: number;
  version: number;
}

export interface ComposeDeps {
  settings: KnowledgeSettings;
  /** The emotion catalog (cached by the caller). */
  emotions: () => Promise<EmotionRow[]>;
  logger: LoggerInstance;
}

/** A fresh answer to `ctx.params.query` from the datasets of `input.version`. @throws what datasets.search and compute.emotion throw. */
export async function composeAnswer(
  ctx: Context<QueryParams>,
  input: ComposeInput,
  deps: ComposeDeps,
): Promise<StoredAnswer> {
  const [search, emotion, catalog] = await Promise.all([
    ctx.call<{ hits: Match[] }, Record<string, unknown>>("datasets.search", {
      q: input.normalized,
      domain: ctx.params.domain,
      k: input.k,
      mode: "hybrid",
    }),
    ctx.call<{ dominant: string; scores: Record<string, number> }, { text: string }>("compute.emotion", {
      text: ctx.params.query,
    }),
    deps.emotions(),
  ]);
  const matches = search.hits.map((h) => ({
    id: h.id,
    domain: h.domain,
    content: h.content,
    response: h.response,
    score: h.score,
  }));
  const e = catalog.find((x) => x.name === emotion.dominant) ?? catalog[0];
  const base = {
    matches,
    emotion: { name: emotion.dominant, scores: emotion.scores },
    frequencies: { neuroscience_hz: e.neuroscience_hz, metaphysical_hz: e.metaphysical_hz },
    dataset_version: input.version,
  };
  if (!deps.settings.llmUrl || !matches.length)
    return { ...base, answer: extractive(matches), source: "dataset" as const };
  try {
    const r = await ctx.call<{ text: string }, { messages: unknown[] }>(
      "knowledge.complete",
      { messages: llmMessages(ctx.params.query, matches, e.personality) },
      { timeout: deps.settings.llmTimeoutMs + 1000 },
    );
    return { ...base, answer: r.text, source: "llm" as const };
  } catch (err) {
    deps.logger.warn(`LLM answer failed, answering from the datasets: ${(err as Error).message}`);
    return { ...base, answer: extractive(matches), source: "dataset" as const, degraded: true };
  }
}
