/**
 * A remote store that failed or timed out is skipped for a short while: callers take their
 * fallback at once (a cache miss, a rate limit let through) instead of each waiting out the
 * timeout while the store is away, as behind a pulled cable, where nothing errs and every call
 * only times out. After the pause the next call tries the store again, so recovery needs nothing.
 */
export class SkipAfterFailure {
  private until = Number.NEGATIVE_INFINITY;

  constructor(
    /** How long (ms) calls skip the store after a failure. */
    readonly skipMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether calls should skip the store now. */
  get skipping(): boolean {
    return this.now() < this.until;
  }

  /** A call failed or timed out: skip the store for the next `skipMs`. */
  failed(): void {
    this.until = this.now() + this.skipMs;
  }
}
