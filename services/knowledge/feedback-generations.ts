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

import { BoundedRead, type BoundedReadOptions, type BoundedReadStats } from "../lib/bounded-read";

/** One bucket's generation. */
export interface BucketGeneration {
  bucket: number;
  generation: number;
}

export interface FeedbackGenerationStats extends BoundedReadStats {
  /** Buckets with a generation above 0. */
  buckets: number;
}

/** `read` reads every bucket's generation from the database. */
export type FeedbackGenerationsOptions = BoundedReadOptions<BucketGeneration[]>;

export class FeedbackGenerations extends BoundedRead<BucketGeneration[]> {
  private generations = new Map<number, number>();

  /**
   * The generation of the answers that depend on `buckets`: the sum of theirs, from memory while the
   * last read is younger than the bound, else read now. @throws when that read fails.
   */
  async of(buckets: number[]): Promise<number> {
    if (!this.withinBound) await this.refresh();
    let sum = 0;
    for (const b of buckets) sum += this.generations.get(b) ?? 0;
    return sum;
  }

  /** Generations a vote left (read after it committed): kept where higher than those in memory. */
  raised(generations: BucketGeneration[]): void {
    this.noteEvent();
    this.merge(generations);
  }

  /**
   * Reads the generations. A read already in flight is shared when it began within the bound, unless
   * `fresh` (after a reconnect, a read begun before it may have missed what happened meanwhile).
   */
  refresh(fresh = false): Promise<void> {
    return this.read(fresh);
  }

  /** Reads now, then every half bound until stop(). */
  override start(): void {
    super.start(true);
  }

  protected apply(rows: BucketGeneration[], eventsDuring: boolean): void {
    // Generations only grow; a read replaces the map (a database restored from a backup goes back
    // with it) unless an event came during the read, which may carry what the read did not see.
    if (!eventsDuring) this.generations = new Map();
    this.merge(rows);
  }

  get stats(): FeedbackGenerationStats {
    return { buckets: this.generations.size, ...this.readStats };
  }

  private merge(rows: BucketGeneration[]): void {
    for (const { bucket, generation } of rows)
      if (generation > (this.generations.get(bucket) ?? 0)) this.generations.set(bucket, generation);
  }
}
