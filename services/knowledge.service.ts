/**
 * knowledge: answers queries from the datasets through two cache tiers shared by every node:
 * L1 the Moleculer cacher (Redis in a cluster), L2 the knowledge_cache table. Keys carry the
 * dataset version, so an answer made before a dataset change is never served after it. With
 * LLM_URL the answer is written by a model from the matches (timeout, circuit breaker), else it
 * is extractive. The emotion catalog and its frequency mappings live here too.
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { dbOf, runtimeOf } from "./lib/runtime";
import type { Db } from "./lib/db";
import { NotFoundError, UnavailableError, UnprocessableError } from "./lib/errors";
import { normalizeQuery, queryHash } from "./knowledge/normalize";
import { CacheTiers, type Tier } from "./knowledge/tiers";
import { complete, llmMessages, type Match } from "./knowledge/llm";
import { DOMAIN_PARAM } from "./datasets/contract";

export interface QueryParams {
  query: string;
  q?: string;
  domain?: string;
  k?: number;
}

export interface EmotionRow {
  name: string;
  neuroscience_hz: number;
  band: string;
  metaphysical_hz: number;
  counterpart: string;
  personality: string;
  music: Record<string, unknown>;
}

export interface Answer {
  answer: string;
  source: "cache" | "dataset" | "llm";
  cached: boolean;
  cache_tier?: Tier;
  matches: Match[];
  emotion: { name: string; scores: Record<string, number> };
  frequencies: { neuroscience_hz: number; metaphysical_hz: number };
  dataset_version: number;
  degraded?: boolean;
  took_ms: number;
}

interface KnowledgeThis extends Service {
  db: Db;
  /** How this node's warm-up ended, for cacheStats. */
  warmupOutcome: string;
  tiers: CacheTiers;
  emotions(): Promise<EmotionRow[]>;
  datasetVersion(ctx: Context): Promise<number>;
  compose(
    ctx: Context<QueryParams>,
    normalized: string,
    k: number,
    version: number,
  ): Promise<Omit<Answer, "took_ms" | "cached">>;
  warmup(): Promise<string>;
}

const settings = (s: Service) => runtimeOf(s.broker).config.knowledge;
const l1Key = (hash: string, version: number) => `knowledge:q:${hash}:v${version}`;
const DOMAIN = { ...DOMAIN_PARAM, optional: true } as const;

function extractive(matches: Match[]): string {
  if (!matches.length) return "I found nothing about that in the datasets yet.";
  const top = matches[0];
  return `${top.response ?? top.content} [1]`;
}

const knowledgeService: ServiceSchema<ServiceSettingSchema, KnowledgeThis> = {
  name: "knowledge",

  actions: {
    /**
     * An answer to a query: from L1, else L2, else composed from a hybrid search of the datasets
     * (and the LLM when configured), then stored in both tiers.
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
        const k = ctx.params.k ?? settings(this).kDefault;
        const version = await this.datasetVersion(ctx);
        const hash = queryHash(normalized, ctx.params.domain, k);
        const hit1 = await this.tiers.getL1<Omit<Answer, "took_ms" | "cached">>(l1Key(hash, version));
        this.tiers.count("l1", hit1 !== null);
        if (hit1) return { ...hit1, source: "cache", cached: true, cache_tier: "l1", took_ms: performance.now() - t0 };
        const hit2 = await this.tiers.getL2<Omit<Answer, "took_ms" | "cached">>(hash, version).catch(() => null);
        this.tiers.count("l2", hit2 !== null);
        if (hit2) {
          await this.tiers.setL1(l1Key(hash, version), hit2, settings(this).l1TtlS);
          return { ...hit2, source: "cache", cached: true, cache_tier: "l2", took_ms: performance.now() - t0 };
        }
        const fresh = await this.compose(ctx, normalized, k, version);
        // A degraded answer (the model failed) is not kept: the next asker gets the model's answer.
        if (!fresh.degraded) {
          await this.tiers.setL1(l1Key(hash, version), fresh, settings(this).l1TtlS);
          await this.tiers
            .setL2(hash, version, normalized, ctx.params.domain, fresh, fresh.source, settings(this).l2TtlS)
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
          return { text: await complete(settings(this), ctx.params.messages) };
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
        const version = await this.datasetVersion(ctx);
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
        await this.tiers.setL1(key, value, settings(this).l1TtlS);
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
        const l2Entries = (
          await this.db.query<{ n: number }>("SELECT count(*)::int AS n FROM knowledge_cache WHERE expires_at > now()")
        ).rows[0].n;
        return {
          node: this.broker.nodeID,
          warmup: this.warmupOutcome,
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
        const r = await this.db.query("DELETE FROM knowledge_cache");
        return { cleared: true, l2_entries: r.rowCount };
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
    /** A dataset changed: its cached first page goes (answers go by their versioned keys). */
    "datasets.changed": {
      params: { domain: "string" },
      async handler(this: KnowledgeThis, ctx: Context<{ domain: string }>) {
        await this.broker.cacher?.clean(`knowledge:ds:${ctx.params.domain}:*`)?.catch?.(() => undefined);
      },
    },
  },

  methods: {
    async emotions(this: KnowledgeThis) {
      const hit = await this.tiers.getL1<EmotionRow[]>("knowledge:emotions");
      if (hit) return hit;
      const rows = (
        await this.db.query<EmotionRow & Record<string, unknown>>(
          "SELECT name, neuroscience_hz::float8 AS neuroscience_hz, band, metaphysical_hz::float8 AS metaphysical_hz, counterpart, personality, music FROM emotions ORDER BY name",
        )
      ).rows;
      await this.tiers.setL1("knowledge:emotions", rows, settings(this).l1TtlS);
      return rows;
    },

    async datasetVersion(this: KnowledgeThis, ctx: Context) {
      return (await ctx.call<{ version: number }>("datasets.version")).version;
    },

    async compose(this: KnowledgeThis, ctx: Context<QueryParams>, normalized: string, k: number, version: number) {
      const [search, emotion, catalog] = await Promise.all([
        ctx.call<{ hits: Match[] }, Record<string, unknown>>("datasets.search", {
          q: normalized,
          domain: ctx.params.domain,
          k,
          mode: "hybrid",
        }),
        ctx.call<{ dominant: string; scores: Record<string, number> }, { text: string }>("compute.emotion", {
          text: ctx.params.query,
        }),
        this.emotions(),
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
        dataset_version: version,
      };
      if (!settings(this).llmUrl || !matches.length)
        return { ...base, answer: extractive(matches), source: "dataset" as const };
      try {
        const r = await ctx.call<{ text: string }, { messages: unknown[] }>(
          "knowledge.complete",
          { messages: llmMessages(ctx.params.query, matches, e.personality) },
          { timeout: settings(this).llmTimeoutMs + 1000 },
        );
        return { ...base, answer: r.text, source: "llm" as const };
      } catch (err) {
        this.logger.warn(`LLM answer failed, answering from the datasets: ${(err as Error).message}`);
        return { ...base, answer: extractive(matches), source: "dataset" as const, degraded: true };
      }
    },

    /**
     * Primes L1 with the emotion catalog, the domain list and the most-asked queries of the current
     * dataset version. The cache is shared: a marker key makes the next node skip the work.
     */
    async warmup(this: KnowledgeThis) {
      const s = settings(this);
      // Waits past the bound on purpose: started() stops waiting at the bound, and a warm-up that goes on
      // in the background after it does no harm.
      await this.broker.waitForServices(["datasets"], s.warmupMs * 5, 20);
      const version = (await this.broker.call<{ version: number }>("datasets.version")).version;
      const marker = `knowledge:warm:v${version}`;
      if (await this.tiers.getL1(marker)) return "skipped: the shared cache is already warm";
      await this.emotions();
      await this.tiers.setL1("knowledge:domains", await this.broker.call("datasets.list"), s.l1TtlS);
      const top = await this.db.query<{ query_hash: string; response: unknown }>(
        `SELECT query_hash, response FROM knowledge_cache WHERE dataset_version = $1 AND expires_at > now() ORDER BY access_count DESC LIMIT $2`,
        [version, s.warmupTop],
      );
      for (const row of top.rows) await this.tiers.setL1(l1Key(row.query_hash, version), row.response, s.l1TtlS);
      await this.tiers.setL1(marker, true, s.l1TtlS);
      return `primed the emotions, the domains and ${top.rows.length} queries`;
    },
  },

  created(this: KnowledgeThis) {
    this.db = dbOf(this.broker);
    this.tiers = new CacheTiers(this.broker, this.db);
  },

  async started(this: KnowledgeThis) {
    const bound = settings(this).warmupMs;
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
};

export default knowledgeService;
