/**
 * Runs pool tasks for the compute service: admission (503 when the queue is full), abort by
 * operation id (job cancel, from any node), and one error class for whatever a worker threw.
 */
import type { LoggerInstance } from "moleculer";
import { ComputePool, PoolFullError, type TaskName } from "../../compute/pool";
import { AbortedError, ComputeFailedError, UnavailableError } from "../lib/errors";

export class TaskRunner {
  private readonly byId = new Map<string, Set<AbortController>>();

  constructor(
    readonly pool: ComputePool,
    private readonly logger: LoggerInstance,
  ) {}

  /** @throws UnavailableError (503, retry after 1 s) when `tasks` more would overfill the queue. */
  admit(tasks = 1): void {
    try {
      this.pool.admit(tasks);
    } catch (err) {
      if (err instanceof PoolFullError) throw new UnavailableError(err.message, { retryAfter: 1 });
      throw err;
    }
  }

  /**
   * Runs one task under operation `id` (when given, `abort(id)` stops it).
   * @throws AbortedError when aborted, ComputeFailedError when the task threw.
   */
  async run<R>(task: TaskName, input: unknown, id?: string): Promise<R> {
    const ac = new AbortController();
    if (id) {
      let set = this.byId.get(id);
      if (!set) this.byId.set(id, (set = new Set()));
      set.add(ac);
    }
    try {
      return await this.pool.run<R>(task, input, ac.signal);
    } catch (err) {
      if (ac.signal.aborted) throw new AbortedError(`compute task ${task} was aborted`, { task, id });
      this.logger.warn(`compute task ${task} failed: ${(err as Error).message}`);
      throw new ComputeFailedError(task, (err as Error).message);
    } finally {
      if (id) {
        const set = this.byId.get(id);
        set?.delete(ac);
        if (set?.size === 0) this.byId.delete(id);
      }
    }
  }

  /** Aborts every running task of operation `id`; true when there was one on this node. */
  abort(id: string): boolean {
    const set = this.byId.get(id);
    if (!set) return false;
    for (const ac of set) ac.abort(new Error(`operation ${id} aborted`));
    return true;
  }
}
