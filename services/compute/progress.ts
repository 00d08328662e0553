/**
 * Progress of a long task: the worker writes thousandths into an Int32 in shared memory; the
 * service reads it a few times a second and emits `compute.progress {id, task, progress}`.
 */
import type { Context } from "moleculer";
import type { ProgressEvent } from "./contract";

export const PROGRESS_INTERVAL_MS = 250;

export interface ProgressWatch {
  buffer: SharedArrayBuffer;
  stop(): void;
}

/** Watches a progress cell; emits only when `id` is set and the value moved. */
export function watchProgress(ctx: Context, task: string, id: string | undefined): ProgressWatch {
  const buffer = new SharedArrayBuffer(4);
  if (!id) return { buffer, stop: () => undefined };
  const cell = new Int32Array(buffer);
  let last = -1;
  const timer = setInterval(() => {
    const v = Atomics.load(cell, 0);
    if (v === last) return;
    last = v;
    void ctx.emit<ProgressEvent>("compute.progress", { id, task, progress: v / 1000 });
  }, PROGRESS_INTERVAL_MS);
  timer.unref();
  return { buffer, stop: () => clearInterval(timer) };
}
