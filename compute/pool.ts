/**
 * The node's worker-thread pool (Piscina): one pool, one file per task under compute/tasks, a
 * bounded queue, an AbortSignal on every task, and the figures the metrics service shows.
 */
import os from "node:os";
import path from "node:path";
import type { ResourceLimits } from "node:worker_threads";
import { Piscina } from "piscina";

/** Task names: compute/tasks/<name>.task.(ts|js). */
export type TaskName =
  | "fft"
  | "fft-batch"
  | "embed"
  | "cymatic-field"
  | "cymatic-finish"
  | "art"
  | "music"
  | "video-frames"
  | "video-encode"
  | "emotion";

export interface PoolOptions {
  /** Most worker threads at once (default: available parallelism). The pool starts with none. */
  threads?: number;
  /** A thread idle this long (ms) is given back; the next task starts a new one. */
  idleMs?: number;
  /** Tasks waiting beyond the running ones before `run` refuses more. */
  maxQueue: number;
  /** Lower priority of the pool's threads (Unix nice), so request handling stays ahead of heavy work. */
  nice?: number;
  /**
   * Most V8 old-generation heap per thread, MB (0 = V8's default). Typed arrays and Buffers (the
   * images, sounds and fields) live outside it; a thread past it is ended and its task fails, the
   * pool and the process go on.
   */
  heapMb?: number;
  /** Most V8 young-generation heap per thread, MB (0 = V8's default, 48 MB on 64-bit). */
  youngMb?: number;
  /** Called after every task with its name and seconds (success or failure). */
  onTaskDone?: (task: TaskName, seconds: number, ok: boolean) => void;
}

export interface PoolStats {
  /** Most threads the pool may run. */
  threads: number;
  /** Threads alive now (0 before the first task and after an idle spell). */
  liveThreads: number;
  /** Share of thread time spent running tasks since the pool started, 0..1. */
  utilization: number;
  queueSize: number;
  running: number;
  completed: number;
  failed: number;
}

/** The queue is at its bound: the caller should come back later (HTTP 503 with Retry-After). */
export class PoolFullError extends Error {
  constructor(readonly queueSize: number) {
    super(`the compute queue is full (${queueSize} tasks waiting)`);
    this.name = "PoolFullError";
  }
}

// Under jest and tsx this file is .ts and so are the tasks (loaded through tsx); from dist, .js.
const EXT = path.extname(__filename);
const TASKS_DIR = path.join(__dirname, "tasks");

export function taskFile(task: TaskName): string {
  return path.join(TASKS_DIR, `${task}.task${EXT}`);
}

/** Worker resourceLimits from the pool's heap bounds; undefined when V8's defaults stand. */
function resourceLimits(opts: PoolOptions): ResourceLimits | undefined {
  if (!opts.heapMb && !opts.youngMb) return undefined;
  return {
    ...(opts.heapMb ? { maxOldGenerationSizeMb: opts.heapMb } : {}),
    ...(opts.youngMb ? { maxYoungGenerationSizeMb: opts.youngMb } : {}),
  };
}

export class ComputePool {
  private readonly piscina: Piscina;
  private running = 0;
  private failed = 0;

  constructor(private readonly opts: PoolOptions) {
    const threads = opts.threads ?? os.availableParallelism();
    this.piscina = new Piscina({
      // Lazy: no thread (nor its WASM instances and FFT plans) before the first task, and a
      // thread that sits idle for idleMs is given back.
      minThreads: 0,
      maxThreads: threads,
      // Our own bound (see admit) covers multi-task operations; Piscina's is a backstop.
      maxQueue: Math.max(opts.maxQueue * 2, 16),
      idleTimeout: opts.idleMs ?? 30_000,
      execArgv: EXT === ".ts" ? ["--import", "tsx"] : [],
      // Run-time histograms: Piscina's `utilization` (a metric) is 0 without them.
      recordTiming: true,
      niceIncrement: opts.nice ?? 0,
      resourceLimits: resourceLimits(opts),
    });
  }

  get threads(): number {
    return this.piscina.maxThreads;
  }

  /** Threads alive now. */
  get liveThreads(): number {
    return this.piscina.threads.length;
  }

  /**
   * Refuses work when the queue holds `maxQueue` tasks or more, counting `tasks` about to be added.
   * @throws PoolFullError
   */
  admit(tasks = 1): void {
    // `running` counts every task handed to Piscina and not settled: executing or queued.
    const queuedAfter = this.running + tasks - this.threads;
    if (queuedAfter > this.opts.maxQueue) throw new PoolFullError(Math.max(0, this.running - this.threads));
  }

  /** Runs one task. Aborting `signal` rejects at once and stops the worker running it. */
  async run<R>(task: TaskName, input: unknown, signal?: AbortSignal): Promise<R> {
    const started = process.hrtime.bigint();
    this.running++;
    let ok = false;
    try {
      const r = (await this.piscina.run(input, {
        filename: taskFile(task),
        signal: signal ?? null,
      })) as R;
      ok = true;
      return r;
    } finally {
      this.running--;
      if (!ok) this.failed++;
      this.opts.onTaskDone?.(task, Number(process.hrtime.bigint() - started) / 1e9, ok);
    }
  }

  stats(): PoolStats {
    return {
      threads: this.threads,
      liveThreads: this.liveThreads,
      utilization: this.piscina.utilization,
      queueSize: this.piscina.queueSize,
      running: this.running,
      completed: this.piscina.completed,
      failed: this.failed,
    };
  }

  async destroy(): Promise<void> {
    await this.piscina.destroy();
  }
}
