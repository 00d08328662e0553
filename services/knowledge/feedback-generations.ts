/**
 * The feedback generations as one node knows them (migration 0011), so that a cache hit costs no
 * database round trip. A vote that moves its example raises the generation of its query's buckets
 * (feedback.ts feedbackBuckets) in its own transaction; an answer is cached under the sum of its
 * query's bucket generations, so an answer made before a vote that changes it is not found after it. The
 * generations are kept in memory, as the dataset version is (lib/dataset-version.ts), and
 * - raised by the vote's node at once, and on the other nodes by its `knowledge.feedback.changed`;
 * - read again every half bound, and at once when the transporter (re)connects or a node joins,
 *   since broadcasts reach only the nodes the sender had discovered;
 * - trusted only while the last read began less than the bound ago: past that, the caller reads them
 *   on the spot. So no answer is served more than the bound after a vote that changes it, whatever
 *   broadcasts were lost.
 */

/** One bucket's generation. */
export interface BucketGeneration {
  bucket: number;
  generation: number;
}

export interface FeedbackGenerationStats {
  /** Buckets with a generation above 0. */
  buckets: number;
  /** Age of the last successful read (from when it began), ms; null before the first. */
  read_age_ms: number | null;
  bound_ms: number;
  events: number;
  reads: number;
  read_failures: number;
}

export interface FeedbackGenerationsOptions {
  /** Reads every bucket's generation from the database. */
  read: () => Promise<BucketGeneration[]>;
  /** How old (ms) the last read may be for the generations in memory to be used. */
  boundMs: number;
  /** Told of a failed background read once per run of failures (not before the first success). */
  onReadFailure?: (err: Error) => void;
  now?: () => number;
}

export class FeedbackGenerations {
  private generations = new Map<number, number>();
  /** When the last successful read began: what it read was current then or later. */
  private readStartedAt = Number.NEGATIVE_INFINITY;
  private inFlight: { promise: Promise<void>; startedAt: number } | null = null;
  private timer: NodeJS.Timeout | undefined;
  private failing = true;
  private events = 0;
  private reads = 0;
  private readFailures = 0;
  private readonly now: () => number;

  constructor(private readonly opts: FeedbackGenerationsOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /**
   * The generation of the answers that depend on `buckets`: the sum of theirs, from memory while the
   * last read is younger than the bound, else read now. @throws when that read fails.
   */
  async of(buckets: number[]): Promise<number> {
    if (this.now() - this.readStartedAt >= this.opts.boundMs) await this.refresh();
    let sum = 0;
    for (const b of buckets) sum += this.generations.get(b) ?? 0;
    return sum;
  }

  /** Generations a vote left (read after it committed): kept where higher than those in memory. */
  raised(generations: BucketGeneration[]): void {
    this.events++;
    this.merge(generations);
  }

  /**
   * Reads the generations. A read already in flight is shared when it began within the bound, unless
   * `fresh` (after a reconnect, a read begun before it may have missed what happened meanwhile).
   */
  refresh(fresh = false): Promise<void> {
    const startedAt = this.now();
    if (this.inFlight && !fresh && startedAt - this.inFlight.startedAt < this.opts.boundMs)
      return this.inFlight.promise;
    const eventsBefore = this.events;
    const promise = this.opts.read().then(
      (rows) => {
        this.reads++;
        this.failing = false;
        // A read that began before the last one applied brings nothing newer.
        if (startedAt < this.readStartedAt) return;
        // Generations only grow; a read replaces the map (a database restored from a backup goes back
        // with it) unless an event came during the read, which may carry what the read did not see.
        if (this.events === eventsBefore) this.generations = new Map();
        this.merge(rows);
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

  /** Reads now, then every half bound until stop(). */
  start(): void {
    this.stop();
    this.background();
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

  get stats(): FeedbackGenerationStats {
    const age = this.now() - this.readStartedAt;
    return {
      buckets: this.generations.size,
      read_age_ms: Number.isFinite(age) ? Math.round(age) : null,
      bound_ms: this.opts.boundMs,
      events: this.events,
      reads: this.reads,
      read_failures: this.readFailures,
    };
  }

  private merge(rows: BucketGeneration[]): void {
    for (const { bucket, generation } of rows)
      if (generation > (this.generations.get(bucket) ?? 0)) this.generations.set(bucket, generation);
  }

  private settled(entry: { promise: Promise<void>; startedAt: number }): void {
    if (this.inFlight === entry) this.inFlight = null;
  }
}
