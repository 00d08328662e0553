/**
 * Composing an answer on a cache miss: a hybrid search of the datasets, the query's emotion, and
 * then a decline when nothing matches well (no model call), else either the extractive answer (the
 * sentences of the top matches that best match the query, cited) or the LLM's answer written from
 * the matches through `knowledge.complete` (its circuit breaker), falling back to extractive, marked
 * degraded, when the model fails.
 */
import type { Context, LoggerInstance } from "moleculer";
import type { KnowledgeSettings } from "../lib/config";
import type { EmotionRow, Match, QueryParams, SearchHit, StoredAnswer } from "./contract";
import { llmMessages } from "./llm";
import { withoutFrame } from "./normalize";
import { asksYesOrNo, opensOnParticle, questionKind, scoreMatches, terms, withoutParticle } from "./sentences";

/** What a declined answer says. */
export const DECLINE_TEXT = "The datasets hold nothing on that yet.";
/** Matches whose sentences an extractive answer is made from. */
const EXTRACT_FROM = 3;
/** Most sentences in an extractive answer; a further one must score at least this share of the best. */
const MAX_SENTENCES = 3;
const FURTHER_SENTENCE_SHARE = 0.6;
/** Questions a decline suggests. */
const MAX_SUGGESTIONS = 3;

/**
 * Whether nothing matches well: no hits, or the best hit's `match` (the idf-weighted share of the
 * query's terms it holds) below `minMatch`. The best over all hits, not the first: fusion may rank a
 * vector-only hit first. A search that reports no `match` declines only when it has no hits.
 */
export function shouldDecline(hits: SearchHit[], minMatch: number): boolean {
  if (!hits.length) return true;
  if (hits.every((h) => h.match === undefined)) return false;
  return Math.max(...hits.map((h) => h.match ?? 0)) < minMatch;
}

/** The nearest matches' questions (their content), distinct, for a decline. */
export function suggestions(matches: Match[]): string[] {
  return [...new Set(matches.map((m) => m.content.trim()))].slice(0, MAX_SUGGESTIONS);
}

/**
 * How much a match's best sentence counts beside its question's fit when choosing the match that
 * leads (bench/answers: 0.5 and 1 tie on reworded demo questions, 1 wins on the paraphrases).
 */
const LEAD_SENTENCE_WEIGHT = 1;

/** Whether two sets hold the same items. */
function sameSet<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/**
 * The answer without a model: 1–3 sentences of the top matches' responses (content when a match has
 * none), each followed by `[n]`, n its match's position in `matches`. The match that leads is the one
 * whose question best fits the query (the idf-weighted share of the query's terms it holds) plus its
 * best sentence's share, ties to the better-ranked: a curated example's response answers its own
 * question. Its best sentence comes first, or its first sentence when the question fits the query at
 * least as well (the opening answers the question); further sentences score at least 0.6 of its best,
 * and those of other matches must add a query term the answer lacks (the question's count as held
 * when the opening leads). Sentences are quoted with their neighbours where they need them
 * (`quotable`); a "Yes." or "No." opening stays only when it is the lead's opening and the query asks
 * a yes-or-no question.
 */
export function extractive(query: string, matches: Match[]): string {
  if (!matches.length) return DECLINE_TEXT;
  // A match asked exactly this question (its question's content terms are the query's) leads,
  // wherever the search ranked it: its response answers the question as asked.
  // Question words are stop words: "Who invented the theremin?" has the terms of "When was the
  // theremin invented?", so the kinds must agree too (or one of them be a query of keywords).
  const q = terms(query);
  const kind = questionKind(query);
  const sameKind = (question: string) => {
    const k = questionKind(question);
    return !kind || !k || k === kind;
  };
  const asked = q.size ? matches.findIndex((m) => sameSet(terms(m.content), q) && sameKind(m.content)) : -1;
  const top = matches.slice(0, Math.max(EXTRACT_FROM, asked + 1));
  const {
    sentences: all,
    fit,
    questionHolds,
  } = scoreMatches(
    query,
    top.map((m) => ({ question: m.content, text: m.response ?? m.content })),
  );
  const byScore = all.map((s, i) => ({ ...s, i })).sort((a, b) => b.score - a.score || a.match - b.match || a.i - b.i);
  const bestOf = (match: number) => byScore.find((s) => s.match === match);
  let lead = 0;
  let leadValue = -1;
  top.forEach((_, i) => {
    const v = fit[i] + LEAD_SENTENCE_WEIGHT * (bestOf(i)?.score ?? 0);
    if (asked < 0 ? v > leadValue : i === asked) [lead, leadValue] = [i, v];
  });
  const best = bestOf(lead);
  // No question or sentence shares a term with the query (a hit by meaning only): the best match's first sentence.
  if (!best || leadValue <= 0) return `${all.find((s) => s.match === 0)?.text ?? top[0].content} [1]`;
  // A question that fits the query at least as well as any sentence of its response: the response's opening answers it.
  const opening = fit[lead] >= best.score;
  const first = opening ? byScore.filter((s) => s.match === lead).sort((a, b) => a.i - b.i)[0] : best;
  const picked = [first];
  // The terms the answer covers: the picked sentences', and the question's when its opening answers it.
  const held = new Set([...first.holds, ...(opening ? questionHolds[lead] : [])]);
  for (const s of byScore) {
    if (picked.length >= MAX_SENTENCES || s.score === 0 || s.score < best.score * FURTHER_SENTENCE_SHARE) break;
    if (picked.some((p) => p.text === s.text)) continue;
    if (s.match !== lead && s.holds.every((t) => held.has(t))) continue;
    picked.push(s);
    for (const t of s.holds) held.add(t);
  }
  const isOpening = (s: (typeof picked)[number]) => s.i === all.findIndex((o) => o.match === s.match);
  // "Yes." or "No." answers its own example's question: kept only where the query asks that one. A
  // terse opening ("Seven.") likewise, unless the query asks another kind of question than the
  // example's ("what is a perfect fifth" of "How many semitones are in a perfect fifth?"); both only
  // when the answer opens on the lead's opening, whether its question or its sentence chose it.
  const keepsOpening = (s: (typeof picked)[number]) => {
    if (s !== first || s.match !== lead || !isOpening(s)) return false;
    if (asksYesOrNo(query)) return true;
    if (opensOnParticle(s.text)) return false;
    return !kind || kind === questionKind(top[lead].content);
  };
  return picked
    .map((s) => `${keepsOpening(s) ? s.text : withoutParticle(s.text, isOpening(s))} [${s.match + 1}]`)
    .join(" ");
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
  /** Reorders the search's hits by the feedback on them for this query. */
  rerank: (hits: SearchHit[]) => Promise<SearchHit[]>;
}

/** A fresh answer to `ctx.params.query` from the datasets of `input.version`. @throws what datasets.search and compute.emotion throw. */
export async function composeAnswer(
  ctx: Context<QueryParams>,
  input: ComposeInput,
  deps: ComposeDeps,
): Promise<StoredAnswer> {
  const question = withoutFrame(input.normalized);
  const [search, emotion, catalog] = await Promise.all([
    ctx.call<{ hits: SearchHit[] }, Record<string, unknown>>("datasets.search", {
      q: question,
      domain: ctx.params.domain,
      k: input.k,
      mode: "hybrid",
    }),
    ctx.call<{ dominant: string; scores: Record<string, number> }, { text: string }>("compute.emotion", {
      text: ctx.params.query,
    }),
    deps.emotions(),
  ]);
  const hits = await deps.rerank(search.hits);
  const matches = hits.map((h) => ({
    id: h.id,
    domain: h.domain,
    content: h.content,
    response: h.response,
    score: h.score,
    ...(h.feedback_shift ? { feedback_shift: h.feedback_shift } : {}),
  }));
  const e = catalog.find((x) => x.name === emotion.dominant) ?? catalog[0];
  const base = {
    matches,
    emotion: { name: emotion.dominant, scores: emotion.scores },
    frequencies: { neuroscience_hz: e.neuroscience_hz, metaphysical_hz: e.metaphysical_hz },
    dataset_version: input.version,
  };
  if (shouldDecline(hits, deps.settings.minMatch))
    return { ...base, answer: DECLINE_TEXT, source: "none" as const, suggestions: suggestions(matches) };
  if (!deps.settings.llmUrl) return { ...base, answer: extractive(question, matches), source: "dataset" as const };
  try {
    const r = await ctx.call<{ text: string }, { messages: unknown[] }>(
      "knowledge.complete",
      { messages: llmMessages(ctx.params.query, matches, e.personality) },
      { timeout: deps.settings.llmTimeoutMs + 1000 },
    );
    return { ...base, answer: r.text, source: "llm" as const };
  } catch (err) {
    deps.logger.warn(`LLM answer failed, answering from the datasets: ${(err as Error).message}`);
    return { ...base, answer: extractive(question, matches), source: "dataset" as const, degraded: true };
  }
}
