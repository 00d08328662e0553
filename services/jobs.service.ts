/**
 * jobs: a durable queue in Postgres for heavy work (art, music, cymatic, video, emotion).
 * Submit validates and answers at once; workers on every node that also runs `compute` claim
 * jobs with SKIP LOCKED, run them in the local pool, and store results and artifacts. A node that
 * leaves (Moleculer's disconnect, or a stale heartbeat) has its jobs put back in the queue.
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Errors } from "moleculer";
import type { Counter, Histogram } from "prom-client";
import { dbOf, runtimeOf } from "./lib/runtime";
import type { Db } from "./lib/db";
import { ConflictError, NotFoundError, UnavailableError, UnprocessableError } from "./lib/errors";
import { HEAVY_KINDS, KIND_PARAMS, type HeavyKind } from "./compute/contract";
import { checkKindLimits } from "./compute/limits";
import { jobParams } from "./jobs/kinds";
import { JobWorker } from "./jobs/worker";
import { jobMetrics } from "./jobs/metrics";
import {
  cancelJob,
  expire,
  findReusable,
  getArtifact,
  getByIdempotencyKey,
  getJob,
  insertJob,
  insertReused,
  listJobs,
  paramsHash,
  requeueOrphans,
  retryJob,
  type JobRow,
  type JobStatus,
} from "./jobs/store";

/** What clients see of a job. */
export interface JobView {
  job_id: string;
  kind: string;
  status: JobStatus;
  progress: number;
  attempts: number;
  result?: Record<string, unknown>;
  error?: string;
  reused_from?: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  version: number;
}

export interface SubmitMeta {
  idempotencyKey?: string;
  $statusCode?: number;
}

interface JobsThis extends Service {
  db: Db;
  worker?: JobWorker;
  timers: NodeJS.Timeout[];
  checkers: Record<string, (p: unknown) => true | { field?: string; message?: string }[] | Promise<unknown>>;
  finished: Counter<"kind" | "status">;
  duration: Histogram<"kind">;
  submit(ctx: Context<Record<string, unknown>, SubmitMeta>, kind: HeavyKind): Promise<Record<string, unknown>>;
  onFinished(job: JobRow, status: string): void;
  requeue(by: Parameters<typeof requeueOrphans>[1], why: string): Promise<void>;
}

const UUID = {
  type: "string",
  pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  messages: { stringPattern: "'id' must be a job id (a UUID)" },
} as const;

export function view(j: JobRow): JobView {
  const v: JobView = {
    job_id: j.id,
    kind: j.kind,
    status: j.status,
    progress: Math.round(j.progress * 1000) / 1000,
    attempts: j.attempts,
    created_at: j.created_at,
    started_at: j.started_at,
    finished_at: j.finished_at,
    version: j.version,
  };
  if (j.result) v.result = j.result;
  if (j.error && j.status !== "completed") v.error = j.error;
  if (j.reused_from) v.reused_from = j.reused_from;
  return v;
}

/** Database faults (connection refused, server gone) are transient for the caller: 503. */
function dbFault(err: unknown): never {
  if (err instanceof Errors.MoleculerError) throw err;
  throw new UnavailableError(`the job store is unavailable: ${(err as Error).message}`, { retryAfter: 2 });
}

function submitAction(kind: HeavyKind) {
  return {
    params: { options: { type: "object", optional: true } },
    async handler(this: JobsThis, ctx: Context<Record<string, unknown>, SubmitMeta>) {
      return this.submit(ctx, kind);
    },
  };
}

const jobsService: ServiceSchema<ServiceSettingSchema, JobsThis> = {
  name: "jobs",

  actions: {
    /** Submit art: `{prompt, style, options: {width, height, seed, fresh}}` → 202 with the job's URLs. */
    submitArt: submitAction("art"),
    /** Submit music: `{prompt, duration (s), options: {seed, emotion, fresh}}`. */
    submitMusic: submitAction("music"),
    /** Submit a cymatic analysis: `{frequencies, options: {size, plate, preview, fresh}}`. */
    submitCymatic: submitAction("cymatic"),
    /** Submit a video: `{from_hz, to_hz, options: {frames, size, plate, fps, fresh}}`. */
    submitVideo: submitAction("video"),
    /** Submit an emotion analysis: `{text}`. */
    submitEmotion: submitAction("emotion"),

    /** A job's state. @throws 404 */
    get: {
      params: { id: UUID },
      async handler(this: JobsThis, ctx: Context<{ id: string }>): Promise<JobView> {
        const j = await getJob(this.db, ctx.params.id).catch(dbFault);
        if (!j) throw new NotFoundError(`no job ${ctx.params.id}`, { id: ctx.params.id });
        return view(j);
      },
    },

    /** Jobs, newest first, by status and kind; keyset pages. */
    list: {
      params: {
        status: { type: "enum", values: ["queued", "processing", "completed", "failed", "cancelled"], optional: true },
        kind: { type: "enum", values: [...HEAVY_KINDS], optional: true },
        cursor: {
          type: "string",
          optional: true,
          pattern: /^\d{1,19}$/,
          messages: { stringPattern: "'cursor' must be the next_cursor of the previous page" },
        },
        limit: { type: "number", integer: true, min: 1, max: 200, optional: true, convert: true },
      },
      async handler(
        this: JobsThis,
        ctx: Context<{ status?: JobStatus; kind?: string; cursor?: string; limit?: number }>,
      ) {
        const limit = ctx.params.limit ?? 50;
        const page = await listJobs(this.db, {
          status: ctx.params.status,
          kind: ctx.params.kind,
          beforeSeq: ctx.params.cursor,
          limit,
        }).catch(dbFault);
        return { jobs: page.rows.map(view), next_cursor: page.more ? page.rows[page.rows.length - 1].seq : null };
      },
    },

    /**
     * Cancels a job: a queued one never runs; a running one has its task aborted on whichever
     * node runs it. @throws 404, 409 when it already finished.
     */
    cancel: {
      params: { id: UUID },
      async handler(this: JobsThis, ctx: Context<{ id: string }>): Promise<JobView> {
        const before = await cancelJob(this.db, ctx.params.id).catch(dbFault);
        if (!before) {
          const j = await getJob(this.db, ctx.params.id);
          if (!j) throw new NotFoundError(`no job ${ctx.params.id}`, { id: ctx.params.id });
          throw new ConflictError(
            `job ${ctx.params.id} has already ${j.status === "completed" ? "completed" : j.status === "failed" ? "failed" : "been cancelled"}`,
            { status: j.status },
          );
        }
        if (before.status === "processing") await ctx.broadcast("compute.abort", { id: ctx.params.id });
        const j = (await getJob(this.db, ctx.params.id))!;
        this.onFinished(j, "cancelled");
        return view(j);
      },
    },

    /** An operator's retry of a failed or cancelled job (admin). @throws 404, 409 */
    retry: {
      admin: true,
      params: { id: UUID },
      async handler(this: JobsThis, ctx: Context<{ id: string }>): Promise<JobView> {
        if (!(await retryJob(this.db, ctx.params.id))) {
          const j = await getJob(this.db, ctx.params.id);
          if (!j) throw new NotFoundError(`no job ${ctx.params.id}`, { id: ctx.params.id });
          throw new ConflictError(`job ${ctx.params.id} is ${j.status}: only failed or cancelled jobs are retried`, {
            status: j.status,
          });
        }
        const queued = view((await getJob(this.db, ctx.params.id))!);
        await ctx.broadcast("jobs.submitted", {});
        return queued;
      },
    },

    /** A result file, with its content type; immutable (content-addressed). @throws 404 */
    artifact: {
      params: {
        id: { type: "string", pattern: /^[0-9a-f]{64}$/, messages: { stringPattern: "'id' must be an artifact id" } },
      },
      async handler(
        this: JobsThis,
        ctx: Context<
          { id: string },
          {
            ifNoneMatch?: string;
            $statusCode?: number;
            $responseType?: string;
            $responseHeaders?: Record<string, string>;
          }
        >,
      ) {
        const etag = `"${ctx.params.id}"`;
        ctx.meta.$responseHeaders = { ETag: etag, "Cache-Control": "public, max-age=31536000, immutable" };
        if (ctx.meta.ifNoneMatch === etag) {
          ctx.meta.$statusCode = 304;
          return Buffer.alloc(0);
        }
        const a = await getArtifact(this.db, ctx.params.id).catch(dbFault);
        if (!a) throw new NotFoundError(`no artifact ${ctx.params.id}`, { id: ctx.params.id });
        ctx.meta.$responseType = a.content_type;
        return a.bytes;
      },
    },
  },

  events: {
    /** A new job: wake this node's worker. */
    "jobs.submitted"(this: JobsThis) {
      this.worker?.wake();
    },
    /** Progress of a task this node runs for a job. */
    "compute.progress": {
      params: { id: "string", progress: "number" },
      handler(this: JobsThis, ctx: Context<{ id: string; progress: number }>) {
        void this.worker?.progress(ctx.params.id, ctx.params.progress).catch(() => undefined);
      },
    },
    /** A node left the cluster: its jobs go back to the queue now, not after a timeout. */
    "$node.disconnected"(this: JobsThis, ctx: Context<{ node: { id: string }; unexpected: boolean }>) {
      void this.requeue({ nodeId: ctx.params.node.id }, `node ${ctx.params.node.id} left`);
    },
  },

  methods: {
    async submit(this: JobsThis, ctx: Context<Record<string, unknown>, SubmitMeta>, kind: HeavyKind) {
      const { config } = runtimeOf(this.broker);
      const fresh = Boolean((ctx.params.options as { fresh?: unknown } | undefined)?.fresh);
      const params = jobParams(ctx.params);
      const check = await this.checkers[kind](params);
      if (check !== true) {
        const errors = check as { field?: string; message?: string }[];
        throw new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", errors as never);
      }
      checkKindLimits(kind, params, config.compute);
      const hash = paramsHash(kind, params);
      const key = ctx.meta.idempotencyKey;
      if (key !== undefined && !/^[\x21-\x7e]{1,200}$/.test(key))
        throw new UnprocessableError("Idempotency-Key must be 1-200 visible ASCII characters", {
          field: "Idempotency-Key",
        });
      const job = await this.db
        .transaction(async (tx) => {
          if (key) {
            const existing = await getByIdempotencyKey(tx, key);
            if (existing) {
              if (existing.kind !== kind || existing.params_hash !== hash)
                throw new ConflictError("this Idempotency-Key was used for a different request", {
                  field: "Idempotency-Key",
                });
              return existing;
            }
          }
          const spec = {
            kind,
            params,
            maxAttempts: config.jobs.attempts[kind] ?? config.jobs.attempts.default,
            timeoutS: config.jobs.timeoutS[kind] ?? config.jobs.timeoutS.default,
            idempotencyKey: key,
          };
          const earlier = fresh ? undefined : await findReusable(tx, kind, hash);
          return earlier ? insertReused(tx, spec, earlier) : insertJob(tx, spec);
        })
        .catch(dbFault);
      if (job.status === "queued") await ctx.broadcast("jobs.submitted", {});
      ctx.meta.$statusCode = 202;
      return {
        job_id: job.id,
        status: job.status,
        poll_url: `/api/job/${job.id}`,
        events_url: `/api/job/${job.id}/events`,
        ...(job.reused_from ? { reused_from: job.reused_from } : {}),
      };
    },

    onFinished(this: JobsThis, job: JobRow, status: string) {
      this.finished.inc({ kind: job.kind, status });
      if (status === "completed" && job.started_at)
        this.duration.observe({ kind: job.kind }, (Date.now() - new Date(job.started_at).getTime()) / 1000);
      void this.broker.broadcast("job.progress", {
        job_id: job.id,
        status,
        progress: status === "completed" ? 1 : job.progress,
      });
    },

    async requeue(this: JobsThis, by: Parameters<typeof requeueOrphans>[1], why: string) {
      try {
        const ids = await requeueOrphans(this.db, by);
        if (ids.length) {
          this.logger.warn(`${why}: ${ids.length} job(s) back in the queue`);
          await this.broker.broadcast("jobs.submitted", {});
        }
      } catch (err) {
        this.logger.warn(`requeue after "${why}" failed: ${(err as Error).message}`);
      }
    },
  },

  created(this: JobsThis) {
    this.db = dbOf(this.broker);
    this.timers = [];
    this.checkers = Object.fromEntries(
      HEAVY_KINDS.map((k) => {
        const { operation_id: _omit, ...schema } = KIND_PARAMS[k] as Record<string, unknown>;
        return [
          k,
          this.broker.validator!.compile({ ...schema, $$strict: "remove" } as never) as (
            p: unknown,
          ) => true | { field?: string; message?: string }[],
        ];
      }),
    );
    const m = jobMetrics(this.broker, this.db);
    this.finished = m.finished;
    this.duration = m.duration;
  },

  async started(this: JobsThis) {
    const { config } = runtimeOf(this.broker);
    // Jobs claimed by an earlier run of this node (same id), or by anyone in a single-process setup,
    // cannot be running now.
    await this.requeue(config.transporter ? { nodeId: this.broker.nodeID } : { staleS: 0 }, "start");
    if (this.broker.getLocalService("compute")) {
      this.worker = new JobWorker(
        this.broker,
        this.db,
        config.jobs,
        () => config.computeThreads,
        this.logger,
        (job, status) => this.onFinished(job, status),
      );
      this.worker.start();
    }
    // Jobs whose node stopped beating: gone without a disconnect seen, or this node's own whose
    // result could not be stored (the database was away).
    this.timers.push(
      setInterval(
        () =>
          void this.requeue(
            { staleS: config.jobs.staleS, exceptIds: this.worker?.runningIds ?? [] },
            "stale heartbeat",
          ),
        config.jobs.heartbeatS * 2000,
      ),
    );
    this.timers.push(
      setInterval(() => {
        void this.db
          .transaction(async (tx) => {
            const lock = await tx.query<{ ok: boolean }>(
              "SELECT pg_try_advisory_xact_lock(hashtext('mcai.jobs.expire')) AS ok",
            );
            return lock.rows[0].ok ? expire(tx, config.jobs.retentionDays) : undefined;
          })
          .then(
            (r) =>
              r &&
              (r.jobs || r.artifacts) &&
              this.logger.info(`retention: removed ${r.jobs} jobs and ${r.artifacts} artifacts`),
          )
          .catch((err) => this.logger.warn(`retention sweep failed: ${(err as Error).message}`));
      }, 3_600_000),
    );
    this.timers.forEach((t) => t.unref());
  },

  async stopped(this: JobsThis) {
    this.timers.forEach((t) => clearInterval(t));
    await this.worker?.stop();
  },
};

export default jobsService;
