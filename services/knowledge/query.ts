/**
 * knowledge.query: an answer from L1, else L2, else composed from a search of the datasets (see
 * answer.ts) and kept in both tiers under the dataset version and the feedback generation of its
 * query (feedback-generations.ts).
 */
import type { Context, LoggerInstance, ServiceBroker } from "moleculer";
import type { Db } from "../lib/db";
import { UnprocessableError } from "../lib/errors";
import { configOf } from "../lib/runtime";
import type { DatasetVersion } from "../lib/dataset-version";
import { composeAnswer } from "./answer";
import type { Answer, EmotionRow, QueryParams, SearchHit, StoredAnswer } from "./contract";
import { answerId, feedbackBuckets, queryTerms } from "./feedback";
import type { FeedbackGenerations } from "./feedback-generations";
import { rankingMoved, rankingPrint, rankWithFeedback } from "./feedback-votes";
import { normalizeQuery, queryHash } from "./normalize";
import { dropL2 } from "./store";
import type { CacheTiers } from "./tiers";

/** What answerQuery uses of the knowledge service. */
export interface QueryHost {
  db: Db;
  broker: ServiceBroker;
  logger: LoggerInstance;
  tiers: CacheTiers;
  datasetVersion: DatasetVersion;
  feedbackGenerations: FeedbackGenerations;
  emotions(): Promise<EmotionRow[]>;
  dropL1(keys: string[]): Promise<void>;
}

/** The L1 key of an answer: its query hash under a dataset version and the feedback generation of its query. */
export const l1Key = (hash: string, version: number, feedback: number) =>
  `knowledge:q:${hash}:v${version}:f${feedback}`;

// A cached decline stays a decline: "none" says no source answered, whoever kept it.
const cachedSource = (a: StoredAnswer): Answer["source"] => (a.source === "none" ? "none" : "cache");

interface Asked {
  hash: string;
  version: number;
  /** The feedback generation of the query's buckets, and those buckets. */
  feedback: number;
  buckets: number[];
  answer_id: string;
  t0: number;
}

/** The answer kept in L1, else in L2 (then put in L1), else null. */
async function cachedAnswer(host: QueryHost, a: Asked, l1TtlS: number): Promise<Answer | null> {
  const hit1 = await host.tiers.getL1<StoredAnswer>(l1Key(a.hash, a.version, a.feedback));
  host.tiers.count("l1", hit1 !== null);
  if (hit1)
    return {
      ...hit1,
      answer_id: a.answer_id,
      source: cachedSource(hit1),
      cached: true,
      cache_tier: "l1",
      took_ms: performance.now() - a.t0,
    };
  const hit2 = await host.tiers.getL2<StoredAnswer>(a.hash, a.version, a.buckets).catch(() => null);
  host.tiers.count("l2", hit2 !== null);
  if (!hit2) return null;
  // L2 checked its generation against the database's: when this node's is behind, the answer is newer
  // than its key says, which serves it to no one who should not have it.
  await host.tiers.setL1(l1Key(a.hash, a.version, a.feedback), hit2, l1TtlS);
  return {
    ...hit2,
    answer_id: a.answer_id,
    source: cachedSource(hit2),
    cached: true,
    cache_tier: "l2",
    took_ms: performance.now() - a.t0,
  };
}

/**
 * The answer to `ctx.params.query` (or `q`): cached, or composed and then kept.
 * @throws 422 no query or no words in it; 503 when the datasets cannot be searched.
 */
export async function answerQuery(
  host: QueryHost,
  ctx: Context<Omit<QueryParams, "query"> & { query?: string }>,
): Promise<Answer> {
  const t0 = performance.now();
  const text = ctx.params.query ?? ctx.params.q;
  if (text === undefined) throw new UnprocessableError("query (or q) is required", { field: "query" });
  ctx.params.query = text;
  const normalized = normalizeQuery(text);
  if (!normalized) throw new UnprocessableError("query has no words", { field: "query" });
  const s = configOf(host.broker).knowledge;
  const k = ctx.params.k ?? s.kDefault;
  const version = await host.datasetVersion.current();
  const hash = queryHash(normalized, ctx.params.domain, k);
  const terms = queryTerms(normalized);
  const buckets = feedbackBuckets(normalized, terms);
  // Read before the votes are (on a miss, below): a vote they miss raises it past this.
  const feedback = await host.feedbackGenerations.of(buckets);
  const answer_id = answerId(hash, version);
  const cached = await cachedAnswer(host, { hash, version, feedback, buckets, answer_id, t0 }, s.l1TtlS);
  if (cached) return cached;
  let ranking: { hits: SearchHit[]; print: string } | undefined;
  const fresh = await composeAnswer(
    // `query` was set from `q` above.
    ctx as Context<QueryParams>,
    { normalized, k, version },
    {
      settings: s,
      emotions: () => host.emotions(),
      logger: host.logger,
      rerank: async (hits) => {
        const ranked = await rankWithFeedback(host.db, normalized, hits);
        // A copy: with no votes `ranked` is `hits` itself, which the answer may reorder after.
        ranking = { hits: [...hits], print: rankingPrint(ranked) };
        return ranked;
      },
    },
  );
  // A degraded answer (the model failed) is not kept: the next asker gets the model's answer.
  if (!fresh.degraded) {
    await host.tiers.setL1(l1Key(hash, version, feedback), fresh, s.l1TtlS);
    await host.tiers
      .setL2({
        hash,
        version,
        feedback,
        query: normalized,
        terms,
        domain: ctx.params.domain,
        response: fresh,
        source: fresh.source,
        ttlS: s.l2TtlS,
      })
      .catch((err: unknown) =>
        host.logger.warn(`L2 write failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    if (ranking) await dropIfVotedMeanwhile(host, normalized, ranking, hash, l1Key(hash, version, feedback));
  }
  return { ...fresh, answer_id, cached: false, took_ms: performance.now() - t0 };
}

/**
 * A vote that landed after the ranking was read and before the answer was kept dropped nothing (the
 * answer was not kept yet): the answer just kept is the pre-vote one. So, once it is kept, the votes
 * are read again; if they rank the hits otherwise now, it goes from both tiers. A vote landing after
 * this read finds the kept answer and drops it itself (its entityCreated).
 */
async function dropIfVotedMeanwhile(
  host: QueryHost,
  normalized: string,
  ranking: { hits: SearchHit[]; print: string },
  hash: string,
  key: string,
): Promise<void> {
  try {
    if (!(await rankingMoved(host.db, normalized, ranking.hits, ranking.print))) return;
    await dropL2(host.db, [hash]);
    // As a vote drops answers: here first, then on every knowledge node.
    const keys = [key];
    await host.dropL1(keys);
    await host.broker.broadcast("knowledge.feedback.changed", { keys });
  } catch (err) {
    host.logger.warn(`a vote came while an answer was kept; dropping it failed: ${(err as Error).message}`);
  }
}
