/**
 * The job worker of one node: claims at most as many jobs as its compute pool has threads, runs
 * each through the local compute service, persists progress, retries with exponential backoff,
 * enforces the timeout by aborting the task, and stores results and artifacts. Woken by a poll
 * timer and by the `jobs.submitted` event.
 */
import type { LoggerInstance, ServiceBroker } from "moleculer";
import type { Db } from "../lib/db";
import type { JobSettings } from "../lib/config";
import type { HeavyKind } from "../compute/contract";
import { IMPORT_KIND, type JobEvent, type JobStatus } from "./contract";
import { KINDS, splitResult } from "./kinds";
import {
  claimJobs,
  completeJob,
  enforceResultsBudget,
  failAttempt,
  heartbeat,
  putArtifact,
  setProgress,
  type JobRow,
} from "./store";
import { storeCallBoundMs } from "./maintenance";

interface Running {
  job: JobRow;
  lastProgress: number;
}

export class JobWorker {
  private readonly running = new Map<string, Running>();
  private pollTimer?: NodeJS.Timeout;
  private beatTimer?: NodeJS.Timeout;
  private claiming = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly broker: ServiceBroker,
    private readonly db: Db,
    private readonly settings: JobSettings,
    private readonly capacity: () => number,
    private readonly logger: LoggerInstance,
    private readonly onFinished: (job: JobRow, status: JobStatus) => void,
    /** The kinds this worker claims: compute's on a node with compute, imports on one with datasets. */
    private readonly kinds: readonly string[],
  ) {}

  start(): void {
    this.pollTimer = setInterval(() => this.wake(), this.settings.pollMs);
    this.beatTimer = setInterval(() => {
      void heartbeat(this.db, this.broker.nodeID, [...this.running.keys()], storeCallBoundMs(this.settings)).catch(
        (err: unknown) => this.logger.warn(`job heartbeat failed: ${(err as Error).message}`),
      );
    }, this.settings.heartbeatS * 1000);
    this.wake();
  }

  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearInterval(this.beatTimer);
    return Promise.resolve();
  }

  get runningIds(): string[] {
    return [...this.running.keys()];
  }

  /** Claims what capacity allows; a wake during a claim runs one more round after it. */
  wake(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = true;
    void this.claimRound()
      .catch((err: unknown) => this.logger.warn(`claiming jobs failed: ${(err as Error).message}`))
      .finally(() => {
        this.claiming = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async claimRound(): Promise<void> {
    const free = this.capacity() - this.running.size;
    if (free <= 0) return;
    // Bounded: one claim hung on a dead connection would stop every later round (`claiming` stays set).
    const jobs = await claimJobs(this.db, this.broker.nodeID, free, this.kinds, storeCallBoundMs(this.settings));
    for (const job of jobs) {
      this.running.set(job.id, { job, lastProgress: 0 });
      this.emit(job, "processing", 0);
      void this.run(job).finally(() => {
        this.running.delete(job.id);
        this.wake();
      });
    }
  }

  /** Progress from the compute service (its events carry the job id as operation id). */
  async progress(id: string, progress: number): Promise<void> {
    const r = this.running.get(id);
    if (!r || progress <= r.lastProgress) return;
    r.lastProgress = progress;
    if (await setProgress(this.db, id, this.broker.nodeID, r.job.attempts, progress))
      this.emit(r.job, "processing", progress);
  }

  private emit(job: JobRow, status: JobStatus, progress: number): void {
    void this.broker.broadcast<JobEvent>("job.progress", { job_id: job.id, status, progress });
  }

  /** Drops the oldest result files beyond JOBS_RESULTS_MAX_MB. Logs a failure, never throws. */
  private async trimResults(): Promise<void> {
    try {
      const n = await enforceResultsBudget(this.db, this.settings.resultsMaxBytes);
      if (n) this.logger.info(`results budget: dropped the ${n} oldest result file(s)`);
    } catch (err) {
      this.logger.warn(`results budget sweep failed: ${(err as Error).message}`);
    }
  }

  /** Runs the job on this node: its compute task, or the import of its upload. */
  private execute(job: JobRow, timeoutMs: number): Promise<Record<string, unknown>> {
    // Always this node's compute: its file comes back as a Buffer by reference, not as base64.
    const opts = { nodeID: this.broker.nodeID, timeout: timeoutMs + 5000, retries: 0, meta: { fileAsBytes: true } };
    if (job.kind === IMPORT_KIND)
      return this.broker.call("datasets.runImportJob", { job_id: job.id, import_id: job.params.import_id }, opts);
    const kind = job.kind as HeavyKind;
    return this.broker.call<Record<string, unknown>, Record<string, unknown>>(
      `compute.${kind}`,
      { ...job.params, ...KINDS[kind].runParams, ...(kind === "emotion" ? {} : { operation_id: job.id }) },
      opts,
    );
  }

  private async run(job: JobRow): Promise<void> {
    const timeoutMs = job.timeout_s * 1000;
    // Set by the timer below: a write TypeScript's narrowing cannot see from here.
    let timedOut = false as boolean;
    const timer = setTimeout(() => {
      timedOut = true;
      void this.broker.broadcastLocal("compute.abort", { id: job.id });
    }, timeoutMs);
    try {
      const out = await this.execute(job, timeoutMs);
      clearTimeout(timer);
      const { summary, file } = job.kind === IMPORT_KIND ? { summary: out } : splitResult(job.kind as HeavyKind, out);
      const done = await this.db.transaction(async (tx) => {
        const artifactId = file ? await putArtifact(tx, file.bytes, file.contentType) : null;
        const result =
          file && artifactId
            ? {
                ...summary,
                artifact_url: `/api/artifacts/${artifactId}`,
                content_type: file.contentType,
                bytes: file.bytes.length,
              }
            : summary;
        return completeJob(tx, job.id, this.broker.nodeID, job.attempts, result, artifactId);
      });
      if (done) this.onFinished(job, "completed");
      if (done && file) void this.trimResults();
    } catch (err) {
      clearTimeout(timer);
      const message = timedOut ? `timed out after ${job.timeout_s} s` : (err as Error).message;
      const last = job.attempts >= job.max_attempts || (err as { code?: number }).code === 422;
      const delay = last ? null : this.settings.retryDelayS * 2 ** (job.attempts - 1);
      const status = await failAttempt(this.db, job.id, this.broker.nodeID, job.attempts, message, delay).catch(
        () => undefined,
      );
      if (status === "failed") this.onFinished(job, "failed");
      else if (status === "queued") {
        this.logger.info(`job ${job.id} attempt ${job.attempts} failed (${message}); retry in ${delay} s`);
        this.emit(job, "queued", 0);
      }
    }
  }
}
