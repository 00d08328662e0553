/**
 * The queue's upkeep on every jobs node: jobs of nodes that are gone go back to the queue (at
 * start, on a node's disconnect, and on a timer for stale heartbeats), and a retention sweep
 * deletes old finished jobs and the artifacts no job refers to.
 */
import type { LoggerInstance, ServiceBroker } from "moleculer";
import type { JobSettings } from "../lib/config";
import type { Db } from "../lib/db";
import { expireOnce, requeueOrphans } from "./store";

/** Whose jobs go back to the queue: a node's, or those whose heartbeat is older than `staleS`. */
export type Orphans = Parameters<typeof requeueOrphans>[1];

const RETENTION_SWEEP_MS = 3_600_000;

/**
 * How long the queue's upkeep waits for Postgres on a claim, a heartbeat or a requeue (each a
 * quick statement): a connection whose server vanished behind a pulled link would otherwise hang
 * the call until TCP gives up, minutes later, and with it every later claim of the worker's loop
 * or the requeue of a departed node's jobs. A call that times out is tried again on the next
 * round; a claim that committed unseen goes back to the queue as stale.
 */
export function storeCallBoundMs(settings: JobSettings): number {
  return Math.max(5_000, settings.staleS * 1000);
}

export class JobMaintenance {
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly broker: ServiceBroker,
    private readonly db: Db,
    private readonly settings: JobSettings,
    private readonly logger: LoggerInstance,
    /** The jobs this node runs now: their heartbeat may lag while the store was away. */
    private readonly runningIds: () => string[],
  ) {}

  /** Puts `by`'s jobs back in the queue and wakes the workers. Logs a failure, never throws. */
  async requeue(by: Orphans, why: string): Promise<void> {
    try {
      const ids = await requeueOrphans(this.db, by, storeCallBoundMs(this.settings));
      if (ids.length) {
        this.logger.warn(`${why}: ${ids.length} job(s) back in the queue`);
        await this.broker.broadcast("jobs.submitted", {});
      }
    } catch (err) {
      this.logger.warn(`requeue after "${why}" failed: ${(err as Error).message}`);
    }
  }

  /** Deletes what the retention allows, on one node at a time. Logs a failure, never throws. */
  async sweep(): Promise<void> {
    try {
      const r = await expireOnce(this.db, this.settings.retentionDays);
      if (r && (r.jobs || r.artifacts))
        this.logger.info(`retention: removed ${r.jobs} jobs and ${r.artifacts} artifacts`);
    } catch (err) {
      this.logger.warn(`retention sweep failed: ${(err as Error).message}`);
    }
  }

  /** Starts the timers; they do not keep the process alive. */
  start(): void {
    const { staleS, heartbeatS } = this.settings;
    // Jobs whose node stopped beating: gone without a disconnect seen, or this node's own whose
    // result could not be stored (the database was away).
    const stale = setInterval(
      () => void this.requeue({ staleS, exceptIds: this.runningIds() }, "stale heartbeat"),
      heartbeatS * 2000,
    );
    const retention = setInterval(() => void this.sweep(), RETENTION_SWEEP_MS);
    this.timers = [stale, retention];
    this.timers.forEach((t) => t.unref());
  }

  stop(): void {
    this.timers.forEach((t) => clearInterval(t));
    this.timers = [];
  }
}
