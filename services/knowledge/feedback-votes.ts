/**
 * Feedback meeting the database: the votes that rerank an answer's hits, what an answer id refers to,
 * and which cached answers a vote makes stale.
 */
import type { Queryable } from "../lib/db";
import { NotFoundError, UnprocessableError } from "../lib/errors";
import type { SearchHit } from "./contract";
import { CLOSE_QUERY_MIN, parseAnswerId, queryTerms, rerank, shifts, similarity } from "./feedback";
import { closeL2, dropL2, keptAnswer, votesFor, type VoteRow } from "./store";

/** The hits of a search for `normalized`, reordered by the feedback on them. */
export async function rankWithFeedback<T extends SearchHit>(
  db: Queryable,
  normalized: string,
  hits: T[],
): Promise<(T & { feedback_shift?: number })[]> {
  if (!hits.length) return hits;
  const qTerms = queryTerms(normalized);
  const votes = await votesFor(
    db,
    normalized,
    qTerms,
    hits.map((h) => h.id),
  );
  return rerank(hits, shifts(normalized, qTerms, votes));
}

/** What the votes made of ranked hits: each hit and its shift, in order. */
export function rankingPrint(ranked: { id: string; feedback_shift?: number }[]): string {
  return ranked.map((h) => `${h.id}:${h.feedback_shift ?? 0}`).join(",");
}

/** Whether the votes now rank `hits` otherwise than they did when `print` was taken. */
export async function rankingMoved(
  db: Queryable,
  normalized: string,
  hits: SearchHit[],
  print: string,
): Promise<boolean> {
  return rankingPrint(await rankWithFeedback(db, normalized, hits)) !== print;
}

/** The positions feedback moves `exampleId` for `normalized` now (0 when none). */
export async function shiftOf(db: Queryable, normalized: string, exampleId: string): Promise<number> {
  const qTerms = queryTerms(normalized);
  const votes = await votesFor(db, normalized, qTerms, [exampleId]);
  return shifts(normalized, qTerms, votes).get(exampleId) ?? 0;
}

/** A vote about to be stored, as ranking reads it. */
export type NewVote = Omit<VoteRow, "id">;

/**
 * The shift of a vote's example for its query now, and once the vote is stored (if no other vote on it
 * lands meanwhile): whether the vote is to move it.
 */
export async function shiftsAround(db: Queryable, vote: NewVote): Promise<{ before: number; after: number }> {
  const votes = await votesFor(db, vote.query, vote.query_terms, [vote.example_id]);
  const shiftWith = (vs: VoteRow[]) => shifts(vote.query, vote.query_terms, vs).get(vote.example_id) ?? 0;
  // Last: the latest of its client, which replaces that client's earlier vote on the example.
  return { before: shiftWith(votes), after: shiftWith([...votes, { id: "0", ...vote }]) };
}

/** What a vote refers to: the dataset version, the matches shown, and the example voted on. */
export interface VoteTarget {
  dataset_version: number;
  example_ids: string[];
  example_id: string | null;
}

/**
 * The target of a vote. With `answerId`, the answer kept in L2 gives the version and the matches shown,
 * and the vote is on `exampleId` (one of them) or else the top match; without, on `exampleId` alone.
 * @throws 404 when the answer is no longer kept; 422 when it answered another query, or the example
 * was not among its matches.
 */
export async function voteTarget(
  db: Queryable,
  normalized: string,
  p: { answerId?: string; exampleId?: string; currentVersion: () => Promise<number> },
): Promise<VoteTarget> {
  if (p.answerId === undefined)
    return {
      dataset_version: await p.currentVersion(),
      example_ids: p.exampleId ? [p.exampleId] : [],
      example_id: p.exampleId ?? null,
    };
  const ref = parseAnswerId(p.answerId);
  const kept = ref && (await keptAnswer(db, ref.hash, ref.version));
  if (!ref || !kept)
    throw new NotFoundError(`no answer ${p.answerId}: it expired or was never kept`, { answer_id: p.answerId });
  if (kept.query_text !== normalized)
    throw new UnprocessableError("answer_id is the answer to another query", { field: "answer_id" });
  const shown = (kept.response.matches ?? []).map((m) => m.id);
  if (p.exampleId !== undefined && !shown.includes(p.exampleId))
    throw new UnprocessableError("example_id was not among that answer's matches", { field: "example_id" });
  return {
    dataset_version: ref.version,
    example_ids: shown,
    example_id: p.exampleId ?? (shown.length ? shown[0] : null),
  };
}

/**
 * Drops the L2 answers of `normalized` and of close queries (every dataset version), and returns the L1
 * keys of those answers, which every knowledge node drops from its cacher.
 */
export async function dropCloseAnswers(
  db: Queryable,
  normalized: string,
  l1Key: (hash: string, version: number, feedback: number) => string,
): Promise<string[]> {
  const qTerms = queryTerms(normalized);
  const close = (await closeL2(db, normalized, qTerms)).filter(
    (r) => similarity(qTerms, r.query_terms ?? [], r.query_text === normalized) >= CLOSE_QUERY_MIN,
  );
  await dropL2(
    db,
    close.map((r) => r.query_hash),
  );
  return close.map((r) => l1Key(r.query_hash, r.dataset_version, r.feedback_generation));
}
