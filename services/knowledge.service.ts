/**
 * knowledge: answers queries from the datasets through two cache tiers shared by every node:
 * L1 the Moleculer cacher (Redis in a cluster), L2 the knowledge_cache table. Keys carry the
 * dataset version, kept on this node (lib/dataset-version.ts), so an answer made before a
 * dataset change is not served after it: at once where its event arrives, and never later than
 * KNOWLEDGE_VERSION_CHECK_MS after it. With LLM_URL the answer is written by a model from the
 * matches (timeout, circuit breaker), else it is extractive. The emotion catalog and its frequency
 * mappings live here too.
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { configOf, dbOf } from "./lib/runtime";
import type { Db } from "./lib/db";
import { NotFoundError, UnavailableError, UnprocessableError } from "./lib/errors";
import { composeAnswer } from "./knowledge/answer";
import type { Answer, EmotionRow, QueryParams, StoredAnswer } from "./knowledge/contract";
import { DatasetVersion } from "./lib/dataset-version";
import { complete } from "./knowledge/llm";
import { normalizeQuery, queryHash } from "./knowledge/normalize";
import { DOMAIN_PARAM } from "./datasets/contract";
import { clearL2, emotionRows, liveL2Count, topL2 } from "./knowledge/store";
import { CacheTiers } from "./knowledge/tiers";

interface KnowledgeThis extends Service {
  db: Db;
  /** How this node's warm-up ended, for cacheStats. */
  warmupOutcome: string;
  tiers: CacheTiers;
  /** The dataset version kept on this node: a cache hit calls no other service. */
  datasetVersion: DatasetVersion;
  emotions(): Promise<EmotionRow[]>;
  warmup(): Promise<string>;
}

const l1Key = (hash: string, version: number) => `knowledge:q:${hash}:v${version}`;
const DOMAIN = { ...DOMAIN_PARAM, optional: true } as const;
// A cached decline stays a decline: "none" says no source answered, whoever kept it.
const cachedSource = (a: StoredAnswer): Answer["source"] => (a.source === "none" ? "none" : "cache");

const knowledgeService: ServiceSchema<ServiceSettingSchema, KnowledgeThis> = {
  name: "knowledge",

  actions: {
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
      async handler(this: KnowledgeThis, ctx: Context<QueryParams>): Promise<Answer> {
        const t0 = performance.now();
        const text = ctx.params.query ?? ctx.params.q;
        if (text === undefined) throw new UnprocessableError("query (or q) is required", { field: "query" });
        ctx.params.query = text;
        const normalized = normalizeQuery(text);
        if (!normalized) throw new UnprocessableError("query has no words", { field: "query" });
        const s = configOf(this.broker).knowledge;
        const k = ctx.params.k ?? s.kDefault;
        const version = await this.datasetVersion.current();
        const hash = queryHash(normalized, ctx.params.domain, k);
        const hit1 = await this.tiers.getL1<StoredAnswer>(l1Key(hash, version));
        this.tiers.count("l1", hit1 !== null);
        if (hit1)
          return {
            ...hit1,
            source: cachedSource(hit1),
            cached: true,
            cache_tier: "l1",
            took_ms: performance.now() - t0,
          };
        const hit2 = await this.tiers.getL2<StoredAnswer>(hash, version).catch(() => null);
        this.tiers.count("l2", hit2 !== null);
        if (hit2) {
          await this.tiers.setL1(l1Key(hash, version), hit2, s.l1TtlS);
          return {
            ...hit2,
            source: cachedSource(hit2),
            cached: true,
            cache_tier: "l2",
            took_ms: performance.now() - t0,
          };
        }
        const fresh = await composeAnswer(
          ctx,
          { normalized, k, version },
          { settings: s, emotions: () => this.emotions(), logger: this.logger },
        );
        // A degraded answer (the model failed) is not kept: the next asker gets the model's answer.
        if (!fresh.degraded) {
          await this.tiers.setL1(l1Key(hash, version), fresh, s.l1TtlS);
          await this.tiers
            .setL2({
              hash,
              version,
              query: normalized,
              domain: ctx.params.domain,
              response: fresh,
              source: fresh.source,
              ttlS: s.l2TtlS,
            })
            .catch((err) => this.logger.warn(`L2 write failed: ${(err as Error).message}`));
        }
        return { ...fresh, cached: false, took_ms: performance.now() - t0 };
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
     * A dataset changed: this node's version moves at once (answers go by their versioned keys), and
     * the domain's cached first page goes.
     */
    "datasets.changed": {
      params: { domain: "string", version: { type: "number", optional: true } },
      async handler(this: KnowledgeThis, ctx: Context<{ domain: string; version?: number }>) {
        if (ctx.params.version === undefined) this.datasetVersion.background(true);
        else this.datasetVersion.changed(ctx.params.version);
        await this.broker.cacher?.clean(`knowledge:ds:${ctx.params.domain}:*`)?.catch?.(() => undefined);
      },
    },

    /** Back on the transporter: events sent while it was away are lost, so read the version again. */
    "$transporter.connected": {
      handler(this: KnowledgeThis) {
        this.datasetVersion.background(true);
      },
    },

    /** A node with datasets joined or came back: it may have changed datasets while apart. */
    "$node.connected": {
      handler(this: KnowledgeThis, ctx: Context<{ node: { services?: { name: string }[] } }>) {
        if (ctx.params.node.services?.some((svc) => svc.name === "datasets")) this.datasetVersion.background(true);
      },
    },
  },

  methods: {
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
      await this.broker.waitForServices(["datasets"], s.warmupMs * 5, 20);
      const version = await this.datasetVersion.current();
      const marker = `knowledge:warm:v${version}`;
      if (await this.tiers.getL1(marker)) return "skipped: the shared cache is already warm";
      await this.emotions();
      await this.tiers.setL1("knowledge:domains", await this.broker.call("datasets.list"), s.l1TtlS);
      const top = await topL2(this.db, version, s.warmupTop);
      for (const row of top) await this.tiers.setL1(l1Key(row.query_hash, version), row.response, s.l1TtlS);
      await this.tiers.setL1(marker, true, s.l1TtlS);
      return `primed the emotions, the domains and ${top.length} queries`;
    },
  },

  created(this: KnowledgeThis) {
    this.db = dbOf(this.broker);
    this.tiers = new CacheTiers(this.broker, this.db);
    this.datasetVersion = new DatasetVersion({
      read: async () => (await this.broker.call<{ version: number }>("datasets.version")).version,
      boundMs: configOf(this.broker).knowledge.versionCheckMs,
      onReadFailure: (err) =>
        this.logger.warn(`dataset version check failed, hits read it on the spot meanwhile: ${err.message}`),
    });
  },

  async started(this: KnowledgeThis) {
    this.datasetVersion.start();
    const bound = configOf(this.broker).knowledge.warmupMs;
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      this.warmup().catch((err) => `failed: ${(err as Error).message}`),
      new Promise<string>((r) => (timer = setTimeout(() => r(`stopped at the ${bound} ms bound`), bound))),
    ]);
    clearTimeout(timer);
    this.warmupOutcome = outcome;
    this.logger.info(`warm-up ${outcome} (${Date.now() - t0} ms)`);
  },

  stopped(this: KnowledgeThis) {
    this.datasetVersion.stop();
  },
};

export default knowledgeService;
