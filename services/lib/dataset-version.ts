/**
 * The global dataset version as one node knows it (knowledge for answers, datasets for search results), so that a cache hit costs no call to
 * another service. Cache keys carry the version; serving a hit under an old version would serve an
 * answer made before a dataset change. The version is kept in memory and
 * - raised by each `datasets.changed` event (versions only grow: they come from one sequence);
 * - re-read from `datasets.version` every half bound, and at once when the transporter (re)connects
 *   or a node with datasets (re)joins, since events sent meanwhile may have been lost;
 * - trusted only while its last read began less than the bound ago: past that, the caller reads it
 *   on the spot. So no answer is keyed by a version read more than the bound before it is served,
 *   whatever events were lost.
 */
import type { Context } from "moleculer";

export interface VersionStats {
  /** The version in memory; null before the first read or event. */
  value: number | null;
  /** Age of the last successful read (from when it began), ms; null before the first. */
  read_age_ms: number | null;
  bound_ms: number;
  events: number;
  reads: number;
  read_failures: number;
}

export interface DatasetVersionOptions {
  /** Reads the global version from the datasets service. */
  read: () => Promise<number>;
  /** How old (ms) the last read may be for the version in memory to be used. */
  boundMs: number;
  /** Told of a failed background read once per run of failures (not before the first success). */
  onReadFailure?: (err: Error) => void;
  now?: () => number;
}

export class DatasetVersion {
  private value: number | null = null;
  /** When the last successful read began: what it read was current then or later. */
  private readStartedAt = Number.NEGATIVE_INFINITY;
  private inFlight: { promise: Promise<number>; startedAt: number } | null = null;
  private timer: NodeJS.Timeout | undefined;
  // Reads fail while a starting node has not yet found datasets: report only after one has worked.
  private failing = true;
  private events = 0;
  private reads = 0;
  private readFailures = 0;
  private readonly now: () => number;

  constructor(private readonly opts: DatasetVersionOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** The version: from memory while the last read is younger than the bound, else read now. @throws when that read fails. */
  async current(): Promise<number> {
    if (this.value !== null && this.now() - this.readStartedAt < this.opts.boundMs) return this.value;
    return this.refresh();
  }

  /** A `datasets.changed` event: the version is at least `version` from now on. */
  changed(version: number): void {
    this.events++;
    if (this.value === null || version > this.value) this.value = version;
  }

  /**
   * Reads the version. A read already in flight is shared when it began within the bound, unless
   * `fresh` (after a reconnect, a read begun before it may have missed what happened meanwhile).
   */
  refresh(fresh = false): Promise<number> {
    const startedAt = this.now();
    if (this.inFlight && !fresh && startedAt - this.inFlight.startedAt < this.opts.boundMs)
      return this.inFlight.promise;
    const eventsBefore = this.events;
    const promise = this.opts.read().then(
      (v) => {
        this.reads++;
        this.failing = false;
        // A read that began before the last one applied brings nothing newer.
        if (startedAt < this.readStartedAt) return this.value ?? v;
        // An event during the read may carry a version the read did not see yet.
        this.value = this.events === eventsBefore || this.value === null ? v : Math.max(v, this.value);
        this.readStartedAt = startedAt;
        return this.value;
      },
      (err: unknown) => {
        this.readFailures++;
        throw err;
      },
    );
    const entry = { promise, startedAt };
    this.inFlight = entry;
    void promise.then(
      () => this.settled(entry),
      () => this.settled(entry),
    );
    return promise;
  }

  /** Re-reads every half bound until stop(). */
  start(): void {
    this.stop();
    this.timer = setInterval(() => this.background(), Math.max(1, Math.floor(this.opts.boundMs / 2)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A read now, not waited on; a failure is reported once per run of failures. */
  background(fresh = false): void {
    this.refresh(fresh).catch((err: unknown) => {
      if (!this.failing) this.opts.onReadFailure?.(err instanceof Error ? err : new Error(String(err)));
      this.failing = true;
    });
  }

  get stats(): VersionStats {
    const age = this.now() - this.readStartedAt;
    return {
      value: this.value,
      read_age_ms: Number.isFinite(age) ? Math.round(age) : null,
      bound_ms: this.opts.boundMs,
      events: this.events,
      reads: this.reads,
      read_failures: this.readFailures,
    };
  }

  private settled(entry: { promise: Promise<number>; startedAt: number }): void {
    if (this.inFlight === entry) this.inFlight = null;
  }
}

/**
 * The events that keep a service's DatasetVersion current, for its `events`: `datasets.changed`
 * (moves it to the event's version, or reads it again when the event has none), the transporter
 * back (events sent while it was away are lost: read again), and a node with datasets joining or
 * coming back (it may have changed datasets while apart). `onChanged` runs after a change, with
 * the domain, for what else the service keeps per domain.
 */
export function datasetVersionEvents<S extends object>(
  versionOf: (service: S) => DatasetVersion,
  onChanged?: (service: S, domain: string) => Promise<void>,
) {
  return {
    "datasets.changed": {
      params: { domain: "string", version: { type: "number", optional: true } },
      async handler(this: S, ctx: Context<{ domain: string; version?: number }>): Promise<void> {
        const version = versionOf(this);
        if (ctx.params.version === undefined) version.background(true);
        else version.changed(ctx.params.version);
        await onChanged?.(this, ctx.params.domain);
      },
    },
    "$transporter.connected": {
      handler(this: S): void {
        versionOf(this).background(true);
      },
    },
    "$node.connected": {
      handler(this: S, ctx: Context<{ node: { services?: { name: string }[] } }>): void {
        if (ctx.params.node.services?.some((svc) => svc.name === "datasets")) versionOf(this).background(true);
      },
    },
  };
}
