/**
 * A remote store that keeps failing or timing out is skipped for a short while: callers take their
 * fallback at once (a cache miss, a rate limit let through) instead of each waiting out the
 * timeout while the store is away, as behind a pulled cable, where nothing errs and every call
 * only times out. After the pause the next call tries the store again, so recovery needs nothing.
 *
 * The pause starts after `after` failures in a row, not one: on a busy machine a single reply can
 * miss its bound (a garbage collection, a stalled event loop), and one late reply must not switch
 * the store off for everyone (for the rate limiter: open it to every client) for skipMs. A success
 * ends the streak; a failure of the call that tries again after a pause starts the next pause at once.
 */
export class SkipAfterFailure {
  private until = Number.NEGATIVE_INFINITY;
  private streak = 0;

  constructor(
    /** How long (ms) calls skip the store once it failed `after` times in a row. */
    readonly skipMs: number,
    /** Failures in a row that start the pause. */
    readonly after = 3,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether calls should skip the store now. */
  get skipping(): boolean {
    return this.now() < this.until;
  }

  /** A call failed or timed out: after `after` in a row, skip the store for the next `skipMs`. */
  failed(): void {
    this.streak++;
    if (this.streak >= this.after) this.until = this.now() + this.skipMs;
  }

  /** A call succeeded: the store answers, the streak of failures is over. */
  succeeded(): void {
    this.streak = 0;
  }
}
