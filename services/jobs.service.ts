/**
 * jobs: a durable queue in Postgres for heavy work (art, music, cymatic, video, emotion).
 * Submit validates and answers at once; workers on every node that also runs `compute` claim
 * jobs with SKIP LOCKED, run them in the local pool, and store results and artifacts. A node that
 * leaves (Moleculer's disconnect, or a stale heartbeat) has its jobs put back in the queue.
 * Submit lives in jobs/submit.ts, the upkeep in jobs/maintenance.ts, the shapes in jobs/view.ts,
 * the SQL in jobs/store.ts, and what callers import in jobs/contract.ts.
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { configOf, dbOf } from "./lib/runtime";
import type { Db } from "./lib/db";
import { ConflictError, NotFoundError, UnprocessableError } from "./lib/errors";
import { listedOwner, visibleJob } from "./jobs/access";
import { HEAVY_KINDS, type HeavyKind, type ProgressEvent } from "./compute/contract";
import {
  IMPORT_KIND,
  JOB_KINDS,
  JOB_ID_PATTERN,
  JOB_STATUSES,
  type ArtifactParams,
  type CallerMeta,
  type JobEvent,
  type JobIdParams,
  type JobPage,
  type JobStatus,
  type JobView,
  type ListParams,
  type SubmitAnswer,
  type SubmitMeta,
  type SubmitParams,
  type ImportJobParams,
} from "./jobs/contract";
import { JobWorker } from "./jobs/worker";
import { JobMaintenance } from "./jobs/maintenance";
import { jobMetrics, type JobMetrics } from "./jobs/metrics";
import { IMPORT_PARAMS, retryWithinCaps, submitImportJob, submitJob, submitSchema } from "./jobs/submit";
import { alreadyFinished, jobPage, jobView, submitAnswer } from "./jobs/view";
import { cancelJob, getArtifact, listJobs, storeFault, type JobRow } from "./jobs/store";

interface JobsThis extends Service {
  db: Db;
  /** This node's workers: compute kinds (with compute), imports (with datasets). */
  workers: JobWorker[];
  maintenance: JobMaintenance;
  metrics: JobMetrics;
  onFinished(job: JobRow, status: JobStatus): void;
}

interface ArtifactMeta {
  ifNoneMatch?: string;
  $statusCode?: number;
  $responseType?: string;
  $responseHeaders?: Record<string, string>;
}

/** The largest job seq (a bigint). */
const MAX_SEQ = 9223372036854775807n;

const JOB_ID = {
  type: "string",
  pattern: JOB_ID_PATTERN,
  messages: { stringPattern: "'id' must be a job id (a UUID)" },
} as const;

/** `jobs.submit<Kind>`: its params are the kind's (see submitSchema); answers 202 at once. */
function submitAction<K extends HeavyKind>(kind: K) {
  return {
    params: submitSchema(kind),
    async handler(this: JobsThis, ctx: Context<SubmitParams<K>, SubmitMeta>): Promise<SubmitAnswer> {
      const { caller, idempotencyKey, ownerToken } = ctx.meta;
      const job = await submitJob(this.db, configOf(this.broker), kind, ctx.params, idempotencyKey, caller?.owner);
      if (job.status === "queued") await ctx.broadcast("jobs.submitted", {});
      ctx.meta.$statusCode = 202;
      return { ...submitAnswer(job), ...(ownerToken ? { owner_token: ownerToken } : {}) };
    },
  };
}

/** The job, or a 404. */
async function existingJob(db: Db, id: string): Promise<JobRow> {
  return visibleJob(db, id, undefined);
}

const jobsService: ServiceSchema<ServiceSettingSchema, JobsThis> = {
  name: "jobs",

  actions: {
    /**
     * Submit art: `{prompt, style, options: {width, height, seed, fresh}}` → 202 with the job's URLs.
     * @throws 422 bad params, 413 a size over its bound, 409 an Idempotency-Key used for other params.
     */
    submitArt: submitAction("art"),
    /** Submit music: `{prompt, duration (s), options: {seed, emotion, fresh}}`. @throws as submitArt */
    submitMusic: submitAction("music"),
    /** Submit a cymatic analysis: `{frequencies, options: {size, plate, preview, fresh}}`. @throws as submitArt */
    submitCymatic: submitAction("cymatic"),
    /** Submit a video: `{from_hz, to_hz, options: {frames, size, plate, fps, fresh}}`. @throws as submitArt */
    submitVideo: submitAction("video"),
    /** Submit an emotion analysis: `{text}`. @throws as submitArt */
    submitEmotion: submitAction("emotion"),

    /**
     * Queues the import of an upload the datasets service stored (not over HTTP: the gateway's
     * `POST /api/datasets/:domain/import` reaches it through datasets.submitImport). Answers 202.
     * @throws 409 an Idempotency-Key used for another file, 429/503 the caps (as submitArt)
     */
    submitImport: {
      visibility: "public",
      params: IMPORT_PARAMS,
      async handler(
        this: JobsThis,
        ctx: Context<ImportJobParams, SubmitMeta>,
      ): Promise<SubmitAnswer & { import_id: string }> {
        const { caller, idempotencyKey } = ctx.meta;
        const job = await submitImportJob(this.db, configOf(this.broker), ctx.params, idempotencyKey, caller);
        if (job.status === "queued") await ctx.broadcast("jobs.submitted", {});
        ctx.meta.$statusCode = 202;
        // The upload the job reads: another one when an Idempotency-Key gave an earlier job.
        return { ...submitAnswer(job), import_id: String(job.params.import_id) };
      },
    },

    /** A job's state. @throws 404 also when the caller does not own it (and is not admin) */
    get: {
      params: { id: JOB_ID },
      async handler(this: JobsThis, ctx: Context<JobIdParams, CallerMeta>): Promise<JobView> {
        return jobView(await visibleJob(this.db, ctx.params.id, ctx.meta.caller));
      },
    },

    /**
     * The caller's jobs (an admin's: everyone's), newest first, by status and kind; keyset pages.
     * @throws 422 a cursor not from a page
     */
    list: {
      params: {
        status: { type: "enum", values: [...JOB_STATUSES], optional: true },
        kind: { type: "enum", values: [...JOB_KINDS], optional: true },
        cursor: {
          type: "string",
          optional: true,
          pattern: /^[0-9]{1,19}$/,
          messages: { stringPattern: "'cursor' must be the next_cursor of the previous page" },
        },
        limit: { type: "number", integer: true, min: 1, max: 200, optional: true, convert: true },
      },
      async handler(this: JobsThis, ctx: Context<ListParams, CallerMeta>): Promise<JobPage> {
        const { status, kind, cursor } = ctx.params;
        // 19 digits can pass the largest bigint: such a cursor was never a page's.
        if (cursor !== undefined && BigInt(cursor) > MAX_SEQ)
          throw new UnprocessableError("'cursor' must be the next_cursor of the previous page", { field: "cursor" });
        const limit = ctx.params.limit ?? 50;
        const owner = listedOwner(ctx.meta.caller);
        if (owner === null) return jobPage([], false);
        const page = await listJobs(this.db, { owner, status, kind, beforeSeq: cursor, limit }).catch(storeFault);
        return jobPage(page.rows, page.more);
      },
    },

    /**
     * Cancels a job: a queued one never runs; a running one has its task aborted on whichever
     * node runs it. Its owner or an admin only. @throws 404 (also another owner's job), 409 when it
     * already finished.
     */
    cancel: {
      params: { id: JOB_ID },
      async handler(this: JobsThis, ctx: Context<JobIdParams, CallerMeta>): Promise<JobView> {
        const { id } = ctx.params;
        await visibleJob(this.db, id, ctx.meta.caller);
        const before = await cancelJob(this.db, id).catch(storeFault);
        if (!before) {
          const j = await existingJob(this.db, id);
          throw new ConflictError(alreadyFinished(id, j.status), { status: j.status });
        }
        if (before.status === "processing") await ctx.broadcast("compute.abort", { id });
        const j = await existingJob(this.db, id);
        this.onFinished(j, "cancelled");
        return jobView(j);
      },
    },

    /**
     * Retry of a failed or cancelled job, by its owner (within JOBS_OWNER_MAX) or an admin.
     * @throws 404 (also another owner's job), 409 a job that is not failed or cancelled, 429 the cap
     */
    retry: {
      params: { id: JOB_ID },
      async handler(this: JobsThis, ctx: Context<JobIdParams, CallerMeta>): Promise<JobView> {
        const { id } = ctx.params;
        const { caller } = ctx.meta;
        const job = await visibleJob(this.db, id, caller);
        const caps = caller && !caller.admin ? configOf(this.broker).jobs : undefined;
        const requeued = await retryWithinCaps(this.db, id, job.owner, caps);
        if (!requeued) {
          const j = await existingJob(this.db, id);
          throw new ConflictError(`job ${id} is ${j.status}: only failed or cancelled jobs are retried`, {
            status: j.status,
          });
        }
        // The row as the retry left it: re-reading would race a worker that claims it at once.
        const queued = jobView(requeued);
        await ctx.broadcast("jobs.submitted", {});
        return queued;
      },
    },

    /** A result file, with its content type; immutable (content-addressed). @throws 404 */
    artifact: {
      params: {
        id: { type: "string", pattern: /^[0-9a-f]{64}$/, messages: { stringPattern: "'id' must be an artifact id" } },
      },
      async handler(this: JobsThis, ctx: Context<ArtifactParams, ArtifactMeta>): Promise<Buffer> {
        const etag = `"${ctx.params.id}"`;
        ctx.meta.$responseHeaders = { ETag: etag, "Cache-Control": "public, max-age=31536000, immutable" };
        if (ctx.meta.ifNoneMatch === etag) {
          ctx.meta.$statusCode = 304;
          return Buffer.alloc(0);
        }
        const a = await getArtifact(this.db, ctx.params.id).catch(storeFault);
        if (!a) throw new NotFoundError(`no artifact ${ctx.params.id}`, { id: ctx.params.id });
        ctx.meta.$responseType = a.content_type;
        return a.bytes;
      },
    },
  },

  events: {
    /** A new job: wake this node's worker. */
    "jobs.submitted"(this: JobsThis) {
      this.workers.forEach((w) => w.wake());
    },
    /** Progress of a task this node runs for a job (a compute task, or an import: its id is the job's). */
    "compute.progress": {
      params: { id: "string", progress: "number" },
      handler(this: JobsThis, ctx: Context<Pick<ProgressEvent, "id" | "progress">>) {
        for (const w of this.workers) void w.progress(ctx.params.id, ctx.params.progress).catch(() => undefined);
      },
    },
    /** A node left the cluster: its jobs go back to the queue now, not after a timeout. */
    "$node.disconnected"(this: JobsThis, ctx: Context<{ node: { id: string }; unexpected: boolean }>) {
      void this.maintenance.requeue({ nodeId: ctx.params.node.id }, `node ${ctx.params.node.id} left`);
    },
  },

  methods: {
    /** A job reached a final status: counted on this node, and announced to the cluster. */
    onFinished(this: JobsThis, job: JobRow, status: JobStatus) {
      this.metrics.finished.inc({ kind: job.kind, status });
      if (status === "completed" && job.started_at)
        this.metrics.duration.observe({ kind: job.kind }, (Date.now() - new Date(job.started_at).getTime()) / 1000);
      void this.broker.broadcast<JobEvent>("job.progress", {
        job_id: job.id,
        status,
        progress: status === "completed" ? 1 : job.progress,
      });
    },
  },

  created(this: JobsThis) {
    this.db = dbOf(this.broker);
    this.workers = [];
    this.metrics = jobMetrics(this.broker, this.db);
    this.maintenance = new JobMaintenance(this.broker, this.db, configOf(this.broker).jobs, this.logger, () =>
      this.workers.flatMap((w) => w.runningIds),
    );
  },

  async started(this: JobsThis) {
    const config = configOf(this.broker);
    // Jobs claimed by an earlier run of this node (same id), or by anyone in a single-process setup,
    // cannot be running now.
    await this.maintenance.requeue(config.transporter ? { nodeId: this.broker.nodeID } : { staleS: 0 }, "start");
    // getLocalService is typed as always returning a Service, but returns undefined when absent.
    const local = (name: string) => (this.broker.getLocalService(name) as Service | undefined) !== undefined;
    const onFinished = (job: JobRow, status: JobStatus) => this.onFinished(job, status);
    this.workers = [];
    if (local("compute"))
      this.workers.push(
        new JobWorker(this.broker, this.db, config.jobs, () => config.computeThreads, this.logger, onFinished, [
          ...HEAVY_KINDS,
        ]),
      );
    // One import at a time per node: an import is database work, and batches of one are serial.
    if (local("datasets"))
      this.workers.push(
        new JobWorker(this.broker, this.db, config.jobs, () => 1, this.logger, onFinished, [IMPORT_KIND]),
      );
    this.workers.forEach((w) => w.start());
    this.maintenance.start();
  },

  async stopped(this: JobsThis) {
    this.maintenance.stop();
    await Promise.all(this.workers.map((w) => w.stop()));
  },
};

export default jobsService;
