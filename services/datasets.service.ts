/**
 * datasets: examples in Postgres (pgvector where installed), keyset pages, hybrid search, imports,
 * versions and rotation. Every change bumps the dataset's version and broadcasts
 * `datasets.changed {domain, version}`.
 */
import type { Readable } from "node:stream";
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { dbOf, runtimeOf } from "./lib/runtime";
import { metricsOf } from "./lib/metrics";
import type { Db } from "./lib/db";
import type { DatasetSettings } from "./lib/config";
import { createEmbedders, callEmbeddingsApi, type Embedder } from "./datasets/embeddings";
import {
  BadRequestError,
  NotFoundError,
  PayloadTooLargeError,
  UnavailableError,
  UnprocessableError,
} from "./lib/errors";
import { DOMAIN_PARAM as DOMAIN, DOMAIN_RULE, isDomain } from "./datasets/contract";
import { encodeCursor, parseCursor } from "./datasets/cursor";
import {
  FORMATS,
  MalformedFileError,
  parseStream,
  toExample,
  type FileFormat,
  type RecordResult,
} from "./datasets/records";
import { importRecords, type ImportSummary } from "./datasets/importer";
import { runUploadJob, submitUpload } from "./datasets/import-jobs";
import { discard } from "./datasets/upload";
import type { SubmitMeta } from "./jobs/contract";
import { runSearch, type SearchMode, type SearchSettings } from "./datasets/search";
import { rotate, type RotationResult } from "./datasets/rotate";
import { exportStream } from "./datasets/export";
import { PlannerStats, type TableGroup, type VacuumCandidate } from "./datasets/planner-stats";
import { ReadCache, pageAnswerJson, type PageAnswer, type SearchAnswer } from "./datasets/read-cache";
import { answerJsonText, type JsonTextMeta } from "./lib/json-text";
import { DatasetVersion, datasetVersionEvents } from "./lib/dataset-version";
import {
  bumpVersion,
  deleteExample,
  ensureVectorIndex,
  getDataset,
  getExample,
  globalVersion,
  listDatasets,
  pageExamples,
  pageExamplesJson,
  sweepUploads,
  vectorIndexExists,
  type DatasetRow,
  type ExampleRow,
} from "./datasets/store";
import { exposePostingsCache, PostingsCache } from "./datasets/postings-cache";

/** The search settings of the configuration. */
function searchSettings(cfg: DatasetSettings): SearchSettings {
  return {
    bm25: { k1: cfg.bm25K1, b: cfg.bm25B },
    termLimit: cfg.bm25TermLimit,
    postingsBudget: cfg.bm25PostingsBudget,
    exactPostings: cfg.bm25ExactPostings,
    efSearch: cfg.efSearch,
    fusion: { lexicalWeight: cfg.hybridLexicalWeight, depth: cfg.hybridDepth },
  };
}
/** An upload that got no job within this many seconds (its node died in between) is removed just after a start and hourly. */
const UPLOAD_ORPHAN_S = 3600;
/** How long after a start its upload sweep runs (off the start's path). */
const START_SWEEP_DELAY_MS = 3000;
/** Largest JSON file read whole (JSONL and TXT stream). */
const JSON_MAX_BYTES = 256 * 1024 * 1024;

export interface ExamplesParams {
  domain: string;
  limit?: number;
  cursor?: string;
}
export interface SearchParams {
  q: string;
  domain?: string;
  k?: number;
  mode?: SearchMode;
}
export interface AddParams {
  domain: string;
  examples: unknown[];
}
export interface ImportMeta {
  domain?: string;
  format?: FileFormat;
  filename?: string;
  $params?: { domain?: string; format?: string; filename?: string };
}
export interface ExportParams {
  domain: string;
  archived?: boolean;
}
export interface RotateParams {
  max?: number;
  dryRun?: boolean;
}
export interface ChangedEvent {
  domain: string;
  version: number;
}

interface DatasetsThis extends Service {
  db: Db;
  /** Import jobs running here that were cancelled: they stop before their next batch. */
  cancelledImports: Set<string>;
  embedders: { bulk: Embedder; query: Embedder };
  plannerStats: PlannerStats;
  /** The global dataset version as this node knows it: search results and pages are cached under it. */
  searchVersion: DatasetVersion;
  readCache: ReadCache;
  /** Whole BM25 lists by dataset version, for exact lexical reads (SEARCH_POSTINGS_CACHE_MB; undefined: off). */
  postings?: PostingsCache;
  rotateTimer?: NodeJS.Timeout;
  vacuumTimer?: NodeJS.Timeout;
  uploadSweepTimer?: NodeJS.Timeout;
  /** The start's upload sweep, run a moment after the start rather than in it; stopped() waits for it. */
  startSweep?: Promise<void>;
  startSweepTimer?: NodeJS.Timeout;
  config(): ReturnType<typeof runtimeOf>["config"];
  bulkEmbedder(): Embedder | undefined;
  changed(ctx: Context, domain: string, version: number | null): Promise<void>;
  analyze(changed: Partial<Record<TableGroup, number>>, deleted?: boolean): Promise<void>;
  vacuumDatabase(): Promise<VacuumCandidate[]>;
  sweepUploads(): Promise<void>;
  importMeta(ctx: Context<unknown, ImportMeta>): { domain: string; format: FileFormat; file: string };
  runImport(
    ctx: Context,
    domain: string,
    file: string,
    records: AsyncIterable<RecordResult> | Iterable<RecordResult>,
  ): Promise<ImportSummary>;
}

const datasetsService: ServiceSchema<ServiceSettingSchema, DatasetsThis> = {
  name: "datasets",

  actions: {
    /** Every dataset with its version and counts, and the global version. */
    list: {
      params: {},
      async handler(this: DatasetsThis): Promise<{ version: number; datasets: DatasetRow[] }> {
        const datasets = await listDatasets(this.db);
        return { version: datasets.reduce((v, d) => Math.max(v, d.version), 0), datasets };
      },
    },

    /**
     * One keyset page of a domain's examples in id order. `next_cursor` is null on the last page.
     * Rows present when a walk starts come exactly once; rows added during it at most once. Pages
     * are kept in the shared cacher under the dataset version (DATASET_PAGE_CACHE_TTL_S).
     * @throws 404 unknown domain, 400 bad cursor, 422 bad limit.
     */
    examples: {
      params: {
        domain: DOMAIN,
        limit: { type: "number", integer: true, min: 1, optional: true, convert: true },
        cursor: { type: "string", optional: true, max: 64 },
      },
      async handler(this: DatasetsThis, ctx: Context<ExamplesParams, JsonTextMeta>): Promise<PageAnswer> {
        const max = this.config().datasets.pageMax;
        const limit = ctx.params.limit ?? Math.min(100, max);
        if (limit > max)
          throw new UnprocessableError(`limit must be at most ${max}, got ${limit}`, { field: "limit", limit: max });
        const cursor = ctx.params.cursor ? parseCursor(ctx.params.cursor) : undefined;
        const after = cursor?.lastId ?? "0";
        const cache = await this.readCache.get("page", [ctx.params.domain, cursor?.datasetId ?? "", after, limit]);
        if (cache?.hit) return answerJsonText(ctx, cache.hit) as PageAnswer;
        const { domain } = ctx.params;
        const checked = <P extends { datasetId: string }>(page: P | undefined): P => {
          if (!page) throw new NotFoundError(`no dataset "${domain}"`, { domain });
          if (cursor && cursor.datasetId !== page.datasetId)
            throw new BadRequestError("cursor belongs to another domain's pages: pass back this domain's next_cursor", {
              field: "cursor",
            });
          return page;
        };
        if (this.db.driver === "pglite") {
          // Embedded, PGlite writes the examples' JSON itself (see pageExamplesJson): the text is kept and sent.
          const p = checked(await pageExamplesJson(this.db, domain, after, limit));
          const next = p.more && p.lastId ? encodeCursor(p.datasetId, p.lastId) : null;
          const text = pageAnswerJson(domain, p.version, p.examplesJson, next);
          if (cache) await this.readCache.set("page", cache.cacheKey, text);
          return answerJsonText(ctx, text) as PageAnswer;
        }
        const page = checked(await pageExamples(this.db, domain, after, limit));
        const last = page.rows.at(-1);
        const answer: PageAnswer = {
          domain,
          version: page.version,
          examples: page.rows,
          next_cursor: page.more && last ? encodeCursor(page.datasetId, last.id) : null,
        };
        if (!cache) return answer;
        // Serialized once, here: kept as text, and sent as it is to the gateway.
        const json = JSON.stringify(answer);
        await this.readCache.set("page", cache.cacheKey, json);
        return answerJsonText(ctx, json, answer) as PageAnswer;
      },
    },

    /** One example. @throws 404 */
    get: {
      params: {
        id: {
          type: "string",
          pattern: /^[0-9]{1,18}$/,
          messages: { stringPattern: "'id' must be an example id (digits)" },
        },
      },
      async handler(this: DatasetsThis, ctx: Context<{ id: string }>): Promise<ExampleRow> {
        const row = await getExample(this.db, ctx.params.id);
        if (!row) throw new NotFoundError(`no example ${ctx.params.id}`, { id: ctx.params.id });
        return row;
      },
    },

    /** Deletes an example (admin); bumps its dataset's version. @throws 404 */
    remove: {
      admin: true,
      params: {
        id: {
          type: "string",
          pattern: /^[0-9]{1,18}$/,
          messages: { stringPattern: "'id' must be an example id (digits)" },
        },
      },
      async handler(this: DatasetsThis, ctx: Context<{ id: string }>) {
        const done = await this.db.transaction(async (tx) => {
          const d = await deleteExample(tx, ctx.params.id);
          if (!d) return undefined;
          return { ...d, version: await bumpVersion(tx, d.datasetId, -1) };
        });
        if (!done) throw new NotFoundError(`no example ${ctx.params.id}`, { id: ctx.params.id });
        await this.analyze({ examples: 1 }, true);
        await this.changed(ctx, done.domain, done.version);
        return { deleted: ctx.params.id, domain: done.domain, version: done.version };
      },
    },

    /**
     * Adds examples from a JSON body (admin): `[...]` or `{"examples": [...]}`, at most
     * IMPORT_BODY_MAX_EXAMPLES. Duplicates are skipped. @throws 413 too many, 422 not an array.
     */
    add: {
      admin: true,
      params: { domain: DOMAIN, examples: { type: "array", min: 1 } },
      async handler(this: DatasetsThis, ctx: Context<AddParams>) {
        const max = this.config().datasets.bodyMaxExamples;
        if (ctx.params.examples.length > max)
          throw new PayloadTooLargeError(`examples has ${ctx.params.examples.length} items, over the limit of ${max}`, {
            field: "examples",
            limit: max,
          });
        const maxChars = this.config().datasets.maxTextChars;
        return this.runImport(
          ctx,
          ctx.params.domain,
          "request body",
          ctx.params.examples.map((e) => toExample(e, maxChars)),
        );
      },
    },

    /**
     * Imports a file sent as a stream (admin; the CLI uses it through HTTP or the transporter).
     * meta: `domain`, `format` (json, jsonl, txt), `filename`; over HTTP they come as URL params.
     * @throws 422 malformed file (nothing written), 400 bad meta.
     */
    import: {
      admin: true,
      params: {},
      // The request body is the stream; these come as URL params (checked in the handler) and
      // are what the OpenAPI document shows.
      streamParams: {
        format: { type: "enum", values: FORMATS },
        filename: { type: "string", optional: true, max: 255 },
      },
      async handler(this: DatasetsThis, ctx: Context<Readable, ImportMeta>) {
        const { domain, format, file } = this.importMeta(ctx);
        const maxChars = this.config().datasets.maxTextChars;
        return this.runImport(ctx, domain, file, parseStream(file, format, ctx.params, maxChars, JSON_MAX_BYTES));
      },
    },

    /**
     * A domain's examples as JSONL (admin), in the shape `import` reads back, streamed in keyset
     * pages; `archived` gives the archived examples instead of the live ones. Over HTTP the
     * response is `application/x-ndjson`. @throws 404 unknown domain.
     */
    export: {
      admin: true,
      responseType: "application/x-ndjson",
      params: { domain: DOMAIN, archived: { type: "boolean", optional: true, convert: true } },
      async handler(
        this: DatasetsThis,
        ctx: Context<ExportParams, { $responseType?: string; $responseHeaders?: Record<string, string> }>,
      ): Promise<Readable> {
        const dataset = await getDataset(this.db, ctx.params.domain);
        if (!dataset) throw new NotFoundError(`no dataset "${ctx.params.domain}"`, { domain: ctx.params.domain });
        const archived = ctx.params.archived ?? false;
        ctx.meta.$responseType = "application/x-ndjson; charset=utf-8";
        ctx.meta.$responseHeaders = {
          "Content-Disposition": `attachment; filename="${dataset.domain}${archived ? ".archive" : ""}.jsonl"`,
          "X-Example-Count": String(archived ? dataset.archived_count : dataset.example_count),
        };
        return exportStream(this.db, dataset.id, archived);
      },
    },

    /**
     * `POST /api/datasets/:domain/import` (admin): stores the file and queues an import job,
     * answering 202 at once with the job's URLs (progress over GET /api/job/:id and its events).
     * The file is parsed while it is stored: a malformed one is refused before any job exists.
     * @throws 400 bad meta, 422 malformed file, 413 over IMPORT_MAX_MB (nothing kept in each case)
     */
    submitImport: {
      admin: true,
      params: {},
      // The request body is the file; these come as URL params (checked in importMeta) and are
      // what the OpenAPI document shows.
      streamParams: {
        format: { type: "enum", values: FORMATS },
        filename: { type: "string", optional: true, max: 255 },
      },
      async handler(this: DatasetsThis, ctx: Context<Readable, ImportMeta & SubmitMeta>) {
        const cfg = this.config().datasets;
        try {
          const { domain, format, file } = this.importMeta(ctx);
          const answer = await submitUpload(this.db, ctx, ctx.params, {
            domain,
            format,
            filename: file,
            maxBytes: cfg.importMaxBytes,
            maxChars: cfg.maxTextChars,
            maxJsonBytes: JSON_MAX_BYTES,
          });
          ctx.meta.$statusCode = 202;
          return answer;
        } catch (err) {
          await discard(ctx.params);
          if (err instanceof MalformedFileError)
            throw new UnprocessableError(err.message, { file: err.file, where: err.where });
          throw err;
        }
      },
    },

    /** Runs the import job `job_id` of upload `import_id` (called by this node's job worker). */
    runImportJob: {
      visibility: "public",
      params: { job_id: "uuid", import_id: "uuid" },
      async handler(this: DatasetsThis, ctx: Context<{ job_id: string; import_id: string }>) {
        const { job_id: jobId } = ctx.params;
        const cfg = this.config();
        try {
          const s = await runUploadJob(
            {
              db: this.db,
              ctx,
              embedder: this.bulkEmbedder(),
              batchSize: cfg.embeddings.batchSize,
              rebuildMin: cfg.datasets.importRebuildMin,
              aborted: () => this.cancelledImports.has(jobId),
            },
            { maxChars: cfg.datasets.maxTextChars, maxJsonBytes: JSON_MAX_BYTES },
            jobId,
            ctx.params.import_id,
          );
          await this.analyze({ examples: s.added });
          await this.changed(ctx, s.domain, s.version);
          return s;
        } finally {
          this.cancelledImports.delete(jobId);
        }
      },
    },

    /**
     * Hybrid, lexical or vector search, optionally within a domain. Vector and hybrid need
     * pgvector: without it vector answers 501 and hybrid answers lexical with `degraded`. Results
     * are kept in the shared cacher under the dataset version and the search settings (`cached: true`
     * on a repeat); one degraded because the embeddings failed is not kept.
     * @throws 404 unknown domain, 422 k over SEARCH_K_MAX, 501 vector without pgvector.
     */
    search: {
      params: {
        q: { type: "string", min: 1, max: 500, trim: true },
        domain: { ...DOMAIN, optional: true },
        k: { type: "number", integer: true, min: 1, optional: true, convert: true },
        mode: { type: "enum", values: ["hybrid", "lexical", "vector"], optional: true },
        // Search answers one list of k hits; a cursor from a page (or made up) is refused, not ignored.
        cursor: {
          type: "forbidden",
          messages: { forbidden: "search has no pages: drop 'cursor' and ask for more hits with k" },
        },
      },
      async handler(
        this: DatasetsThis,
        ctx: Context<SearchParams, JsonTextMeta>,
      ): Promise<SearchAnswer & { cached: boolean }> {
        const cfg = this.config().datasets;
        const k = ctx.params.k ?? 10;
        if (k > cfg.searchKMax)
          throw new UnprocessableError(`k must be at most ${cfg.searchKMax}, got ${k}`, {
            field: "k",
            limit: cfg.searchKMax,
          });
        const mode = ctx.params.mode ?? "hybrid";
        const settings = searchSettings(cfg);
        // The settings are part of the key: nodes sharing the cacher may run with different ones.
        const cache = await this.readCache.get("search", [mode, k, ctx.params.domain ?? "", ctx.params.q, settings]);
        if (cache?.hit) return answerJsonText(ctx, cache.hit) as SearchAnswer & { cached: boolean };
        let datasetId: string | undefined;
        if (ctx.params.domain) {
          const d = await getDataset(this.db, ctx.params.domain);
          if (!d) throw new NotFoundError(`no dataset "${ctx.params.domain}"`, { domain: ctx.params.domain });
          datasetId = d.id;
        }
        const embed = async (text: string) => (await this.embedders.query.embed(ctx, [text]))[0];
        const r = await runSearch(
          this.db,
          embed,
          { q: ctx.params.q, datasetId, k, mode },
          { ...settings, postings: this.postings },
        );
        const answer: SearchAnswer = { mode, k, ...r };
        // What a repeat answers, as it is sent: the same body with `cached: true`.
        if (cache && r.degraded !== "embeddings unavailable")
          await this.readCache.set("search", cache.cacheKey, JSON.stringify({ ...answer, cached: true }));
        return { ...answer, cached: false };
      },
    },

    /** The global version (the largest dataset version): cache keys include it. */
    version: {
      params: {},
      async handler(this: DatasetsThis): Promise<{ version: number }> {
        return { version: await globalVersion(this.db) };
      },
    },

    /**
     * Moves each domain's oldest examples beyond `max` (default DATASET_MAX_EXAMPLES_PER_DOMAIN) to
     * the archive (admin). One node at a time; another node's run in progress gives `skipped`.
     */
    rotate: {
      admin: true,
      params: {
        max: { type: "number", integer: true, min: 1, optional: true, convert: true },
        dryRun: { type: "boolean", optional: true, convert: true },
      },
      async handler(this: DatasetsThis, ctx: Context<RotateParams>): Promise<RotationResult> {
        const max = ctx.params.max ?? this.config().datasets.maxExamplesPerDomain;
        if (!max)
          throw new UnprocessableError("no limit: pass max or set DATASET_MAX_EXAMPLES_PER_DOMAIN", { field: "max" });
        const r = await rotate(this.db, max, ctx.params.dryRun ?? false);
        const moved = r.dryRun ? 0 : r.domains.reduce((n, d) => n + d.moved, 0);
        await this.analyze({ examples: moved, archive: moved }, true);
        for (const d of r.domains) if (d.version) await this.changed(ctx, d.domain, d.version);
        return r;
      },
    },

    /** The OpenAI-compatible embeddings endpoint, behind Moleculer's circuit breaker. */
    embedRemote: {
      visibility: "public",
      params: { texts: { type: "array", items: "string", min: 1 } },
      circuitBreaker: {
        enabled: true,
        threshold: 0.5,
        minRequestCount: 3,
        windowTime: 30,
        halfOpenTime: 10_000,
        check: () => true,
      },
      async handler(this: DatasetsThis, ctx: Context<{ texts: string[] }>) {
        try {
          return { vectors: await callEmbeddingsApi(this.config().embeddings, ctx.params.texts) };
        } catch (err) {
          throw new UnavailableError(`embeddings endpoint failed: ${(err as Error).message}`);
        }
      },
    },
  },

  events: {
    // A dataset changed on some node: cached search results and pages of older versions are not
    // served from now on (and the version is read again where an event may have been lost).
    ...datasetVersionEvents<DatasetsThis>((svc) => svc.searchVersion),

    /** A job was cancelled: if it is an import running here, it stops before its next batch. */
    "compute.abort": {
      params: { id: "string" },
      handler(this: DatasetsThis, ctx: Context<{ id: string }>) {
        this.cancelledImports.add(ctx.params.id);
        // Only imports running here consult the set; others' ids leave it after a while.
        setTimeout(() => this.cancelledImports.delete(ctx.params.id), 60_000).unref();
      },
    },
  },

  methods: {
    config(this: DatasetsThis) {
      return runtimeOf(this.broker).config;
    },

    /** The domain, format and file name of an import (meta, or URL params over HTTP). @throws 400 */
    importMeta(this: DatasetsThis, ctx: Context<unknown, ImportMeta>) {
      const m = { ...ctx.meta.$params, ...ctx.meta };
      const domain = m.domain ?? "";
      const format = (m.format ?? "") as FileFormat;
      const file = m.filename ?? `upload.${format}`;
      if (!isDomain(domain)) throw new BadRequestError(`domain must be ${DOMAIN_RULE}`, { field: "domain" });
      if (!FORMATS.includes(format))
        throw new BadRequestError(`format must be one of ${FORMATS.join(", ")}`, { field: "format" });
      return { domain, format, file };
    },

    /** Deletes the uploads no import job will read (see sweepUploads). Logs a failure, never throws. */
    async sweepUploads(this: DatasetsThis) {
      try {
        const swept = await sweepUploads(this.db, UPLOAD_ORPHAN_S, this.config().jobs.retentionDays);
        if (swept) this.logger.info(`removed ${swept} upload(s) no import job will read`);
      } catch (err) {
        this.logger.warn(`upload sweep failed: ${(err as Error).message}`);
      }
    },

    bulkEmbedder(this: DatasetsThis) {
      return this.db.capabilities.vector ? this.embedders.bulk : undefined;
    },

    async changed(this: DatasetsThis, ctx: Context, domain: string, version: number | null) {
      if (version === null) return;
      // This node's own cached reads move to the new version before the write answers.
      this.searchVersion.changed(version);
      await ctx.broadcast<ChangedEvent>("datasets.changed", { domain, version });
    },

    /**
     * Keeps planner statistics fresh after a write has committed (see PlannerStats). A failure
     * is logged, not thrown: the write itself stands.
     */
    async analyze(this: DatasetsThis, changed: Partial<Record<TableGroup, number>>, deleted?: boolean) {
      const started = performance.now();
      try {
        const { groups, vacuumed } = await this.plannerStats.after(changed, deleted ?? false);
        const ms = Math.round(performance.now() - started);
        // A VACUUM holds PGlite's one connection: its cost is worth seeing at info level.
        if (vacuumed)
          this.logger.info(`VACUUM (ANALYZE, INDEX_CLEANUP OFF) of ${groups.join(", ")} after a bulk delete: ${ms} ms`);
        else if (groups.length) this.logger.debug(`analyzed ${groups.join(", ")} in ${ms} ms`);
      } catch (err) {
        this.logger.warn(`ANALYZE after a write failed: ${(err as Error).message}`);
      }
    },

    /**
     * Embedded mode's scheduled VACUUM (ANALYZE) with index cleanup, of the tables whose dead rows
     * pass autovacuum's rule only (PlannerStats.vacuumDue); its cost logged. Returns those tables.
     */
    async vacuumDatabase(this: DatasetsThis) {
      const started = performance.now();
      try {
        const due = await this.plannerStats.vacuumDue();
        const ms = Math.round(performance.now() - started);
        if (due.length)
          this.logger.info(
            `scheduled VACUUM (ANALYZE) of ${due.map((d) => `${d.table} (${d.dead} dead of ${d.live})`).join(", ")}: ${ms} ms`,
          );
        else this.logger.debug(`scheduled VACUUM: no table past 50 + 20% dead rows (${ms} ms)`);
        return due;
      } catch (err) {
        this.logger.warn(`scheduled VACUUM failed: ${(err as Error).message}`);
        return [];
      }
    },

    async runImport(
      this: DatasetsThis,
      ctx: Context,
      domain: string,
      file: string,
      records: AsyncIterable<RecordResult> | Iterable<RecordResult>,
    ) {
      try {
        const s = await importRecords(
          {
            db: this.db,
            ctx,
            embedder: this.bulkEmbedder(),
            batchSize: this.config().embeddings.batchSize,
            rebuildMin: this.config().datasets.importRebuildMin,
          },
          domain,
          file,
          records,
        );
        await this.analyze({ examples: s.added });
        await this.changed(ctx, domain, s.version);
        return s;
      } catch (err) {
        if (err instanceof MalformedFileError)
          throw new UnprocessableError(err.message, { file: err.file, where: err.where });
        throw err;
      }
    },
  },

  created(this: DatasetsThis) {
    this.db = dbOf(this.broker);
    this.cancelledImports = new Set();
    // PGlite has no autovacuum: in embedded mode this service vacuums after bulk deletes.
    this.plannerStats = new PlannerStats(this.db, this.db.driver === "pglite");
    this.embedders = createEmbedders(this.broker, this.config().embeddings);
    this.searchVersion = new DatasetVersion({
      read: () => globalVersion(this.db),
      boundMs: this.config().knowledge.versionCheckMs,
      onReadFailure: (err) => this.logger.warn(`dataset version read failed: ${err.message}`),
    });
    const cfg = this.config().datasets;
    this.readCache = new ReadCache(this.broker, this.searchVersion, {
      search: cfg.searchCacheTtlS,
      page: cfg.pageCacheTtlS,
    });
    if (cfg.postingsCacheMb > 0) {
      this.postings = new PostingsCache(cfg.postingsCacheMb * 1024 * 1024);
      exposePostingsCache(metricsOf(this.broker).registry, this.postings);
    }
  },

  async started(this: DatasetsThis) {
    // An import that dropped the HNSW index and died before building it again (see importer.ts).
    if (this.db.capabilities.vector && !(await vectorIndexExists(this.db))) {
      this.logger.warn("the HNSW index is missing (an import stopped before it was built again): building it");
      await ensureVectorIndex(this.db);
    }
    // Off the start's path: a sweep is housekeeping (its failure is only logged), and its DELETE on
    // a cold database held the start back (the knowledge warm-up waits for this service, and the
    // first health check's ping queues behind it in PGlite's one worker).
    this.startSweepTimer = setTimeout(() => {
      this.startSweep = this.sweepUploads();
    }, START_SWEEP_DELAY_MS);
    this.startSweepTimer.unref();
    // Also while running: an upload whose node died before its submit is another node's to remove,
    // and a cluster's other nodes may run for weeks without a restart.
    this.uploadSweepTimer = setInterval(() => void this.sweepUploads(), UPLOAD_ORPHAN_S * 1000);
    this.uploadSweepTimer.unref();
    const cfg = this.config().datasets;
    this.searchVersion.start();
    if (this.db.driver === "pglite" && cfg.vacuumIntervalS > 0) {
      this.vacuumTimer = setInterval(() => void this.vacuumDatabase(), cfg.vacuumIntervalS * 1000);
      this.vacuumTimer.unref();
    }
    if (cfg.rotateIntervalS > 0 && cfg.maxExamplesPerDomain > 0) {
      this.rotateTimer = setInterval(() => {
        this.broker.call<RotationResult, RotateParams>("datasets.rotate", {}, { nodeID: this.broker.nodeID }).then(
          (r) =>
            r.domains.length &&
            this.logger.info(`rotation moved ${r.domains.map((d) => `${d.moved} from ${d.domain}`).join(", ")}`),
          (err: unknown) =>
            this.logger.warn(`scheduled rotation failed: ${err instanceof Error ? err.message : String(err)}`),
        );
      }, cfg.rotateIntervalS * 1000);
      this.rotateTimer.unref();
    }
  },

  async stopped(this: DatasetsThis) {
    clearInterval(this.rotateTimer);
    clearInterval(this.vacuumTimer);
    clearInterval(this.uploadSweepTimer);
    clearTimeout(this.startSweepTimer);
    this.searchVersion.stop();
    // The database closes after the services stop: the start's sweep ends before it.
    await this.startSweep;
  },
};

export default datasetsService;
