/**
 * State a node keeps in memory from a source it reads again on a bound, so that a cache hit costs no
 * call to another service or round trip (the dataset version, lib/dataset-version.ts; the feedback
 * generations, knowledge/feedback-generations.ts). Events move the state between reads; reads run
 * every half bound and at once when asked (after a reconnect); the state is trusted only while its
 * last read began less than the bound ago, so whatever events were lost, nothing older than the bound
 * is used. Subclasses say how a read and an event apply.
 */

/** What every bounded read reports, beside the subclass's own figures. */
export interface BoundedReadStats {
  /** Age of the last successful read (from when it began), ms; null before the first. */
  read_age_ms: number | null;
  bound_ms: number;
  events: number;
  reads: number;
  read_failures: number;
}

export interface BoundedReadOptions<R> {
  /** Reads the state from its source. */
  read: () => Promise<R>;
  /** How old (ms) the last read may be for the state in memory to be used. */
  boundMs: number;
  /** Told of a failed background read once per run of failures (not before the first success). */
  onReadFailure?: (err: Error) => void;
  now?: () => number;
}

export abstract class BoundedRead<R> {
  /** When the last successful read began: what it read was current then or later. */
  private readStartedAt = Number.NEGATIVE_INFINITY;
  private inFlight: { promise: Promise<void>; startedAt: number } | null = null;
  private timer: NodeJS.Timeout | undefined;
  // Reads fail while a starting node has not yet found its source: report only after one has worked.
  private failing = true;
  private events = 0;
  private reads = 0;
  private readFailures = 0;
  protected readonly now: () => number;

  constructor(private readonly opts: BoundedReadOptions<R>) {
    this.now = opts.now ?? (() => performance.now());
  }

  /**
   * Applies a read's result. `eventsDuring`: an event came while the read ran, so it may carry what
   * the read did not see yet.
   */
  protected abstract apply(result: R, eventsDuring: boolean): void;

  /** Whether the state's last read began less than the bound ago. */
  protected get withinBound(): boolean {
    return this.now() - this.readStartedAt < this.opts.boundMs;
  }

  /** Counts an event; the subclass applies it. */
  protected noteEvent(): void {
    this.events++;
  }

  /**
   * Reads the state. A read already in flight is shared when it began within the bound, unless
   * `fresh` (after a reconnect, a read begun before it may have missed what happened meanwhile).
   */
  protected read(fresh = false): Promise<void> {
    const startedAt = this.now();
    if (this.inFlight && !fresh && startedAt - this.inFlight.startedAt < this.opts.boundMs)
      return this.inFlight.promise;
    const eventsBefore = this.events;
    const promise = this.opts.read().then(
      (result) => {
        this.reads++;
        this.failing = false;
        // A read that began before the last one applied brings nothing newer.
        if (startedAt < this.readStartedAt) return;
        this.apply(result, this.events !== eventsBefore);
        this.readStartedAt = startedAt;
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

  /** Re-reads every half bound until stop(); `readNow` also reads at once. */
  start(readNow = false): void {
    this.stop();
    if (readNow) this.background();
    this.timer = setInterval(() => this.background(), Math.max(1, Math.floor(this.opts.boundMs / 2)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A read now, not waited on; a failure is reported once per run of failures. */
  background(fresh = false): void {
    this.read(fresh).catch((err: unknown) => {
      if (!this.failing) this.opts.onReadFailure?.(err instanceof Error ? err : new Error(String(err)));
      this.failing = true;
    });
  }

  protected get readStats(): BoundedReadStats {
    const age = this.now() - this.readStartedAt;
    return {
      read_age_ms: Number.isFinite(age) ? Math.round(age) : null,
      bound_ms: this.opts.boundMs,
      events: this.events,
      reads: this.reads,
      read_failures: this.readFailures,
    };
  }

  private settled(entry: { promise: Promise<void>; startedAt: number }): void {
    if (this.inFlight === entry) this.inFlight = null;
  }
}
