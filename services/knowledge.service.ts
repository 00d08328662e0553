/**
 * knowledge: answers queries from the datasets through two cache tiers shared by every node:
 * L1 the Moleculer cacher (Redis in a cluster), L2 the knowledge_cache table. Keys carry the
 * dataset version, kept on this node (lib/dataset-version.ts), so an answer made before a
 * dataset change is not served after it: at once where its event arrives, and never later than
 * KNOWLEDGE_VERSION_CHECK_MS after it. Keys carry the feedback generation of the query too
 * (knowledge/feedback-generations.ts), so an answer made before a vote that moves its ranking is not
 * served after it: at once on the voter's node and where its broadcast arrives, and never later than
 * KNOWLEDGE_VERSION_CHECK_MS after it on any node (L2 checks it in the database: at once). With
 * LLM_URL the answer is written by a model from the matches (timeout, circuit breaker), else it is
 * extractive. The emotion catalog and its frequency
 * mappings live here too, and the feedback on answers: an entity of moleculer-db (its mixin, over mcai's own
 * Postgres layer through PgEntityAdapter), whose entity events drop the cached answers a vote makes stale.
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import DbService from "moleculer-db";
import { configOf, dbOf } from "./lib/runtime";
import type { Db } from "./lib/db";
import { NotFoundError, UnavailableError, UnprocessableError } from "./lib/errors";
import type { Answer, EmotionRow, QueryParams } from "./knowledge/contract";
import { answerQuery, l1Key } from "./knowledge/query";
import { DatasetVersion, datasetVersionEvents } from "./lib/dataset-version";
import { complete } from "./knowledge/llm";
import { normalizeQuery } from "./knowledge/normalize";
import { DOMAIN_PARAM } from "./datasets/contract";
import {
  clearL2,
  emotionRows,
  feedbackGenerations,
  liveL2Count,
  raiseFeedbackGenerations,
  topL2,
} from "./knowledge/store";
import { CacheTiers } from "./knowledge/tiers";
import { PgEntityAdapter } from "./lib/db/entity-adapter";
import type { FeedbackListParams, FeedbackMeta, FeedbackParams, FeedbackRow } from "./knowledge/contract";
import { ANSWER_ID_PATTERN, FEEDBACK_FIELDS, FEEDBACK_TABLE, feedbackBuckets, queryTerms } from "./knowledge/feedback";
import { FeedbackGenerations, type BucketGeneration } from "./knowledge/feedback-generations";
import { dropCloseAnswers, shiftOf, shiftsAround, voteTarget, type NewVote } from "./knowledge/feedback-votes";
import { feedbackCounter } from "./knowledge/feedback-metrics";

interface KnowledgeThis extends Service {
  db: Db;
  /** moleculer-db's adapter: the feedback table. */
  adapter: PgEntityAdapter;
  /** How this node's warm-up ended, for cacheStats. */
  warmupOutcome: string;
  tiers: CacheTiers;
  /** The dataset version kept on this node: a cache hit calls no other service. */
  datasetVersion: DatasetVersion;
  /** The feedback generations kept on this node: a cache hit reads no database. */
  feedbackGenerations: FeedbackGenerations;
  emotions(): Promise<EmotionRow[]>;
  warmup(): Promise<string>;
  dropL1(keys: string[]): Promise<void>;
  /** moleculer-db's create: hooks, adapter insert, transform, entity event. */
  _create(ctx: Context, entity: Record<string, unknown>): Promise<FeedbackRow>;
  /** moleculer-db's get: adapter findById, transform; EntityNotFoundError (404) when absent. */
  _get(ctx: Context, params: { id: string }): Promise<FeedbackRow>;
  /** moleculer-db's find: adapter find, transform (fields). */
  _find(ctx: Context, params: Record<string, unknown>): Promise<FeedbackRow[]>;
}

/**
 * What beforeEntityCreate leaves for entityCreated: the voted example's shift before the vote, and whether
 * the vote's insert raised the feedback generations (it was to move the example).
 */
interface FeedbackLocals {
  feedbackShiftBefore?: number;
  feedbackRaised?: boolean;
}

const DOMAIN = { ...DOMAIN_PARAM, optional: true } as const;

// A dataset changed: this node's version moves at once (answers go by their versioned keys), and the
// domain's cached first page goes; the version is read again where an event may have been lost.
const versionEvents = datasetVersionEvents<KnowledgeThis>(
  (svc) => svc.datasetVersion,
  async (svc, domain) => {
    await svc.broker.cacher?.clean(`knowledge:ds:${domain}:*`).catch(() => undefined);
  },
);

const knowledgeService: ServiceSchema<ServiceSettingSchema, KnowledgeThis> = {
  name: "knowledge",
  mixins: [DbService],
  // A placeholder for moleculer-db's created(); created() below gives each service instance its own.
  adapter: new PgEntityAdapter(FEEDBACK_TABLE),

  settings: {
    idField: "id",
    fields: FEEDBACK_FIELDS,
  },

  actions: {
    // moleculer-db's generic CRUD actions are not part of knowledge's API: feedback, feedbackGet and
    // feedbackList below go through its methods (_create, _get, _find), hooks and entity events instead.
    find: false,
    count: false,
    list: false,
    create: false,
    insert: false,
    get: false,
    update: false,
    remove: false,

    /**
     * An answer to a query: from L1, else L2, else composed from a hybrid search of the datasets
     * (and the LLM when configured), or declined (source "none", with suggestions) when nothing
     * matches well (KNOWLEDGE_MIN_MATCH), then stored in both tiers: a decline too, by dataset version.
     * @throws 422 bad params; 503 when the datasets cannot be searched.
     */
    query: {
      params: {
        query: { type: "string", min: 1, max: 1000, optional: true },
        // GET /api/knowledge?q=… passes the query as q.
        q: { type: "string", min: 1, max: 1000, optional: true },
        domain: DOMAIN,
        k: { type: "number", integer: true, min: 1, max: 20, optional: true, convert: true },
      },
      // `query` or `q` comes (the params schema allows either): answerQuery sets `query` from `q`.
      handler(this: KnowledgeThis, ctx: Context<Omit<QueryParams, "query"> & { query?: string }>): Promise<Answer> {
        return answerQuery(this, ctx);
      },
    },

    /**
     * Stores a vote on an answer (201 with the stored row). The vote is on `example_id`, else on the top
     * match of the answer `answer_id` names; it moves that example for this query and close ones (see
     * knowledge/feedback.ts), and when it changes the ranking the cached answers of those queries go.
     * @throws 422 bad params (the field named, comment at most 2,000 characters), answer_id of another
     * query, example_id not among its matches; 404 answer_id no longer kept.
     */
    feedback: {
      params: {
        query: { type: "string", min: 1, max: 1000 },
        answer_id: { type: "string", pattern: ANSWER_ID_PATTERN, optional: true },
        example_id: { type: "string", pattern: /^[1-9][0-9]{0,17}$/, optional: true },
        helpful: { type: "boolean" },
        comment: { type: "string", max: 2000, optional: true },
      },
      async handler(this: KnowledgeThis, ctx: Context<FeedbackParams, FeedbackMeta>): Promise<FeedbackRow> {
        const normalized = normalizeQuery(ctx.params.query);
        if (!normalized) throw new UnprocessableError("query has no words", { field: "query" });
        const target = await voteTarget(this.db, normalized, {
          answerId: ctx.params.answer_id,
          exampleId: ctx.params.example_id,
          currentVersion: () => this.datasetVersion.current(),
        });
        const row = await this._create(ctx, {
          query: normalized,
          query_terms: queryTerms(normalized),
          ...target,
          answer_id: ctx.params.answer_id ?? null,
          helpful: ctx.params.helpful,
          comment: ctx.params.comment ?? null,
          // Calls from inside the cluster (REPL, CLI) have no HTTP client.
          client_key: ctx.meta.client ?? `node:${this.broker.nodeID}`,
        });
        ctx.meta.$statusCode = 201;
        ctx.meta.$location = `/api/admin/feedback/${row.id}`;
        return row;
      },
    },

    /** One stored vote (admin), through moleculer-db's get. @throws 404 */
    feedbackGet: {
      admin: true,
      params: { id: { type: "string", pattern: /^[1-9][0-9]{0,17}$/ } },
      async handler(this: KnowledgeThis, ctx: Context<{ id: string }>): Promise<FeedbackRow> {
        try {
          return await this._get(ctx, { id: ctx.params.id });
        } catch (err) {
          if ((err as { code?: number }).code === 404)
            throw new NotFoundError(`no feedback ${ctx.params.id}`, { id: ctx.params.id });
          throw err;
        }
      },
    },

    /**
     * Stored votes, newest first, in keyset pages (admin): `cursor` is the previous page's `next_cursor`.
     * @throws 422 bad params.
     */
    feedbackList: {
      admin: true,
      params: {
        cursor: { type: "string", pattern: /^[1-9][0-9]{0,17}$/, convert: true, optional: true },
        helpful: { type: "boolean", convert: true, optional: true },
        limit: { type: "number", integer: true, min: 1, max: 100, convert: true, optional: true },
      },
      async handler(
        this: KnowledgeThis,
        ctx: Context<FeedbackListParams>,
      ): Promise<{ feedback: FeedbackRow[]; next_cursor: string | null }> {
        const limit = ctx.params.limit ?? 50;
        const query: Record<string, unknown> = {};
        if (ctx.params.helpful !== undefined) query.helpful = ctx.params.helpful;
        if (ctx.params.cursor !== undefined) query.id = { $lt: ctx.params.cursor };
        const rows = await this._find(ctx, { query, sort: "-id", limit: limit + 1 });
        const page = rows.slice(0, limit);
        return { feedback: page, next_cursor: rows.length > limit ? page[page.length - 1].id : null };
      },
    },

    /** The model's answer from the matches, behind Moleculer's circuit breaker. */
    complete: {
      visibility: "public",
      params: { messages: { type: "array", items: "object", min: 1 } },
      circuitBreaker: {
        enabled: true,
        threshold: 0.5,
        minRequestCount: 3,
        windowTime: 30,
        halfOpenTime: 5000,
        check: () => true,
      },
      async handler(
        this: KnowledgeThis,
        ctx: Context<{ messages: { role: string; content: string }[] }>,
      ): Promise<{ text: string }> {
        try {
          return { text: await complete(configOf(this.broker).knowledge, ctx.params.messages) };
        } catch (err) {
          throw new UnavailableError(`LLM unavailable: ${(err as Error).message}`);
        }
      },
    },

    /** The emotion catalog with frequencies and personality templates (cached). */
    emotions: {
      params: {},
      async handler(this: KnowledgeThis): Promise<{ emotions: EmotionRow[] }> {
        return { emotions: await this.emotions() };
      },
    },

    /** One emotion. @throws 404 */
    emotion: {
      params: { name: { type: "string", min: 1, max: 64 } },
      async handler(this: KnowledgeThis, ctx: Context<{ name: string }>): Promise<EmotionRow> {
        const e = (await this.emotions()).find((x) => x.name === ctx.params.name.toLowerCase());
        if (!e) throw new NotFoundError(`no emotion "${ctx.params.name}"`, { name: ctx.params.name });
        return e;
      },
    },

    /** A domain's metadata and first page, cached under the dataset version. @throws 404 */
    dataset: {
      params: { domain: { ...DOMAIN, optional: false } },
      async handler(this: KnowledgeThis, ctx: Context<{ domain: string }>) {
        const version = await this.datasetVersion.current();
        const key = `knowledge:ds:${ctx.params.domain}:v${version}`;
        const hit = await this.tiers.getL1<Record<string, unknown>>(key);
        if (hit) return { ...hit, cached: true };
        const page = await ctx.call<Record<string, unknown>, { domain: string; limit: number }>("datasets.examples", {
          domain: ctx.params.domain,
          limit: 20,
        });
        const list = await ctx.call<{ datasets: { domain: string }[] }>("datasets.list");
        const meta = list.datasets.find((d) => d.domain === ctx.params.domain);
        const value = { dataset: meta, examples: page.examples, next_cursor: page.next_cursor };
        await this.tiers.setL1(key, value, configOf(this.broker).knowledge.l1TtlS);
        return { ...value, cached: false };
      },
    },

    /** Hits, misses and entries per tier (hits and misses of this node since it started). */
    cacheStats: {
      params: {},
      async handler(this: KnowledgeThis) {
        const { l1, l2 } = this.tiers.stats;
        const rate = (s: { hits: number; misses: number }) =>
          s.hits + s.misses ? Math.round((s.hits / (s.hits + s.misses)) * 1000) / 1000 : null;
        const l2Entries = await liveL2Count(this.db);
        return {
          node: this.broker.nodeID,
          warmup: this.warmupOutcome,
          dataset_version: this.datasetVersion.stats,
          feedback_generations: this.feedbackGenerations.stats,
          l1: { ...l1, hit_rate: rate(l1) },
          l2: { ...l2, hit_rate: rate(l2), entries: l2Entries },
        };
      },
    },

    /** Empties both tiers (admin). */
    cacheClear: {
      admin: true,
      params: {},
      async handler(this: KnowledgeThis) {
        await this.broker.cacher?.clean("knowledge:**");
        return { cleared: true, l2_entries: await clearL2(this.db) };
      },
    },

    /** Primes L1 (emotions, domains, the most-asked queries); see started(). */
    warmup: {
      params: {},
      visibility: "public",
      async handler(this: KnowledgeThis) {
        return { result: await this.warmup() };
      },
    },
  },

  events: {
    /**
     * A vote was stored: every knowledge node takes the generations it raised (its answers go by their
     * keys; a node that misses this reads them within the bound), and, when it changed the ranking,
     * drops these cached answers from its cacher (one shared Redis needs it once; per-node memory cachers
     * each need it).
     */
    "knowledge.feedback.changed": {
      params: {
        keys: { type: "array", items: "string" },
        generations: {
          type: "array",
          optional: true,
          items: { type: "object", props: { bucket: "number", generation: "number" } },
        },
      },
      async handler(this: KnowledgeThis, ctx: Context<{ keys: string[]; generations?: BucketGeneration[] }>) {
        if (ctx.params.generations) this.feedbackGenerations.raised(ctx.params.generations);
        await this.dropL1(ctx.params.keys);
      },
    },

    ...versionEvents,

    // A broadcast reaches only the nodes its sender has discovered: a node that was away, or is joining,
    // missed the votes' events meanwhile. It reads the feedback generations again (and the dataset version).
    "$transporter.connected": {
      handler(this: KnowledgeThis) {
        versionEvents["$transporter.connected"].handler.call(this);
        this.feedbackGenerations.background(true);
      },
    },
    "$node.connected": {
      handler(this: KnowledgeThis, ctx: Context<{ node: { services?: { name: string }[] } }>) {
        versionEvents["$node.connected"].handler.call(this, ctx);
        this.feedbackGenerations.background(true);
      },
    },
  },

  /**
   * moleculer-db hook: the voted example's shift before the vote, to tell whether the vote changes it;
   * when it is to move it, the vote's insert raises the feedback generations of its query (its trigger,
   * in its transaction), so that every node stops finding the answers cached before it.
   */
  async beforeEntityCreate(this: KnowledgeThis, entity: Record<string, unknown>, ctx: Context) {
    const locals = ctx.locals as FeedbackLocals;
    if (typeof entity.example_id !== "string") return entity;
    const vote = entity as unknown as NewVote;
    const { before, after } = await shiftsAround(this.db, vote);
    locals.feedbackShiftBefore = before;
    locals.feedbackRaised = after !== before;
    return { ...entity, raised_buckets: after !== before ? feedbackBuckets(vote.query, vote.query_terms) : [] };
  },

  /**
   * moleculer-db entity event (its cache clean does nothing here, see clearCache): counts the vote and, when
   * it moved its example, takes the feedback generations it raised (here at once, on the other knowledge
   * nodes by the event; a node the event misses reads them within KNOWLEDGE_VERSION_CHECK_MS) and drops the
   * cached answers of this query and close ones (L2 here, L1 on every knowledge node), which would
   * otherwise wait for their TTL.
   */
  async entityCreated(this: KnowledgeThis, row: FeedbackRow, ctx: Context) {
    feedbackCounter(this.broker).inc({ helpful: String(row.helpful) });
    const locals = ctx.locals as FeedbackLocals;
    if (locals.feedbackShiftBefore === undefined || !row.example_id) return;
    try {
      const moved = (await shiftOf(this.db, row.query, row.example_id)) !== locals.feedbackShiftBefore;
      if (!moved && !locals.feedbackRaised) return;
      const buckets = feedbackBuckets(row.query, queryTerms(row.query));
      // The insert raised them when the vote was to move its example alone; when another vote on it landed
      // meanwhile and the two moved it together, they are raised now.
      const generations = locals.feedbackRaised
        ? await feedbackGenerations(this.db, buckets)
        : await raiseFeedbackGenerations(this.db, buckets);
      // Here first, awaited: the voter's next ask on this node must not find the old answer.
      this.feedbackGenerations.raised(generations);
      const keys = moved ? await dropCloseAnswers(this.db, row.query, l1Key) : [];
      await this.dropL1(keys);
      await this.broker.broadcast("knowledge.feedback.changed", { keys, generations });
    } catch (err) {
      // The vote is stored: failing the request now would only make the client send it again. Nodes read
      // the generations its insert raised within KNOWLEDGE_VERSION_CHECK_MS.
      this.logger.warn(
        `feedback ${row.id} is stored, but its cached answers were not dropped: ${(err as Error).message}`,
      );
    }
  },

  methods: {
    /**
     * moleculer-db's clearCache, which it awaits before each entity event: there it broadcasts
     * `cache.clean.knowledge` and cleans `knowledge.**` from the cacher (a SCAN of all of Redis) on every
     * vote. knowledge caches no action results (its keys are `knowledge:…` by dataset version), so that
     * cleans nothing; and with the cacher away it would fail (or hang) a vote already stored. The answers
     * a vote makes stale go in entityCreated.
     */
    clearCache() {
      return Promise.resolve();
    },

    /** Drops L1 keys; a cacher that is away loses nothing here (the keys go by their TTL). */
    async dropL1(this: KnowledgeThis, keys: string[]) {
      if (!keys.length || !this.broker.cacher) return;
      try {
        await this.broker.cacher.del(keys);
      } catch (err) {
        this.logger.warn(`dropping ${keys.length} cached answers failed: ${(err as Error).message}`);
      }
    },

    async emotions(this: KnowledgeThis) {
      const hit = await this.tiers.getL1<EmotionRow[]>("knowledge:emotions");
      if (hit) return hit;
      const rows = await emotionRows(this.db);
      await this.tiers.setL1("knowledge:emotions", rows, configOf(this.broker).knowledge.l1TtlS);
      return rows;
    },

    /**
     * Primes L1 with the emotion catalog, the domain list and the most-asked queries of the current
     * dataset version. The cache is shared: a marker key makes the next node skip the work.
     */
    async warmup(this: KnowledgeThis) {
      const s = configOf(this.broker).knowledge;
      // Waits past the bound on purpose: started() stops waiting at the bound, and a warm-up that goes on
      // in the background after it does no harm.
      await this.broker.waitForServices(["datasets"], s.warmupMs * 5, 5);
      const version = await this.datasetVersion.current();
      const marker = `knowledge:warm:v${version}`;
      // On a busy machine the shared cache answers slower than the hit path's bound: the marker is
      // read (and written) with the warm-up's bound, once L1 answers, or both nodes would prime.
      await this.tiers.l1Ready(s.warmupMs);
      if (await this.tiers.getL1(marker, s.warmupMs)) return "skipped: the shared cache is already warm";
      await this.emotions();
      await this.tiers.setL1("knowledge:domains", await this.broker.call("datasets.list"), s.l1TtlS);
      const top = await topL2(this.db, version, s.warmupTop);
      for (const row of top)
        await this.tiers.setL1(l1Key(row.query_hash, version, row.feedback_generation), row.response, s.l1TtlS);
      await this.tiers.setL1(marker, true, s.l1TtlS, s.warmupMs);
      return `primed the emotions, the domains and ${top.length} queries`;
    },
  },

  created(this: KnowledgeThis) {
    this.db = dbOf(this.broker);
    // The schema's adapter is one object for every broker that loads this file (tests start several):
    // each service instance gets its own, bound to its broker's database.
    this.adapter = new PgEntityAdapter(FEEDBACK_TABLE);
    this.adapter.init(this.broker);
    // Made now, so /metrics names the series (and Grafana finds it) before the first vote.
    feedbackCounter(this.broker);
    this.tiers = new CacheTiers(this.broker, this.db);
    this.datasetVersion = new DatasetVersion({
      read: async () => (await this.broker.call<{ version: number }>("datasets.version")).version,
      boundMs: configOf(this.broker).knowledge.versionCheckMs,
      onReadFailure: (err) =>
        this.logger.warn(`dataset version check failed, hits read it on the spot meanwhile: ${err.message}`),
    });
    this.feedbackGenerations = new FeedbackGenerations({
      // Read on the spot only once the background reads have failed for the bound: the database is away.
      read: () =>
        feedbackGenerations(this.db).catch((err: unknown) => {
          throw new UnavailableError(`feedback generations unreadable: ${(err as Error).message}`);
        }),
      boundMs: configOf(this.broker).knowledge.versionCheckMs,
      onReadFailure: (err) =>
        this.logger.warn(`feedback generation check failed, hits read them on the spot meanwhile: ${err.message}`),
    });
  },

  async started(this: KnowledgeThis) {
    this.datasetVersion.start();
    this.feedbackGenerations.start();
    const bound = configOf(this.broker).knowledge.warmupMs;
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      this.warmup().catch((err: unknown) => `failed: ${err instanceof Error ? err.message : String(err)}`),
      new Promise<string>((r) => (timer = setTimeout(() => r(`stopped at the ${bound} ms bound`), bound))),
    ]);
    clearTimeout(timer);
    this.warmupOutcome = outcome;
    this.logger.info(`warm-up ${outcome} (${Date.now() - t0} ms)`);
  },

  stopped(this: KnowledgeThis) {
    this.datasetVersion.stop();
    this.feedbackGenerations.stop();
  },
};

export default knowledgeService;
