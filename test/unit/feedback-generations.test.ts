import { FEEDBACK_BUCKETS, feedbackBuckets, queryTerms } from "../../services/knowledge/feedback";
import { FeedbackGenerations, type BucketGeneration } from "../../services/knowledge/feedback-generations";

/** FeedbackGenerations over a fake clock and a generation table the test sets; reads resolve when released. */
function harness(boundMs = 1000) {
  const h = {
    clock: 0,
    db: new Map<number, number>(),
    reads: 0,
    pending: [] as (() => void)[],
    failNext: false,
  };
  const g = new FeedbackGenerations({
    boundMs,
    now: () => h.clock,
    read: () => {
      h.reads++;
      const seen: BucketGeneration[] = [...h.db].map(([bucket, generation]) => ({ bucket, generation }));
      if (h.failNext) {
        h.failNext = false;
        return Promise.reject(new Error("database unreachable"));
      }
      return new Promise<BucketGeneration[]>((resolve) => h.pending.push(() => resolve(seen)));
    },
  });
  /** Releases every read in flight and lets their callbacks run. */
  const release = async () => {
    for (const r of h.pending.splice(0)) r();
    await new Promise((r) => setImmediate(r));
  };
  const of = async (buckets: number[]) => {
    const p = g.of(buckets);
    await release();
    return p;
  };
  return { h, g, release, of };
}

describe("knowledge FeedbackGenerations", () => {
  it("answers the sum of the buckets' generations from memory while the last read is younger than the bound", async () => {
    const { h, of } = harness();
    h.db.set(3, 2).set(5, 4);
    expect(await of([3, 5, 9])).toBe(6);
    h.clock = 999;
    for (let i = 0; i < 100; i++) expect(await of([3])).toBe(2);
    expect(h.reads).toBe(1);
  });

  it("reads on the spot once the last read is as old as the bound, so a lost broadcast is caught within it", async () => {
    const { h, of } = harness();
    expect(await of([3])).toBe(0);
    h.db.set(3, 1); // a vote on another node, its broadcast lost
    h.clock = 999;
    expect(await of([3])).toBe(0);
    h.clock = 1000;
    expect(await of([3])).toBe(1);
    expect(h.reads).toBe(2);
  });

  it("takes a vote's generations at once, and a read begun before the vote does not take them back", async () => {
    const { h, g, release, of } = harness();
    await of([3]);
    h.clock = 500;
    const read = g.refresh(); // sees no vote
    h.db.set(3, 1);
    g.raised([{ bucket: 3, generation: 1 }]);
    await release();
    await read;
    expect(await of([3])).toBe(1);
    expect(g.stats).toMatchObject({ buckets: 1, events: 1, reads: 2, read_failures: 0 });
  });

  it("keeps the higher generation of a bucket whatever order events come in", async () => {
    const { g, of } = harness();
    await of([]);
    g.raised([{ bucket: 7, generation: 5 }]);
    g.raised([{ bucket: 7, generation: 4 }]);
    expect(await of([7])).toBe(5);
  });

  it("follows the database back when a read saw no event (a database restored from a backup)", async () => {
    const { h, of } = harness();
    h.db.set(3, 9);
    expect(await of([3])).toBe(9);
    h.db.clear();
    h.clock = 1000;
    expect(await of([3])).toBe(0);
  });

  it("fails the caller when the read on the spot fails, and serves again once a read works", async () => {
    const { h, of } = harness();
    h.failNext = true;
    await expect(of([1])).rejects.toThrow("database unreachable");
    expect(await of([1])).toBe(0);
    expect(h.reads).toBe(2);
  });
});

describe("knowledge feedbackBuckets", () => {
  const buckets = (q: string) => feedbackBuckets(q, queryTerms(q));

  /** The bucket of one term alone (the one a query with it gets beside its whole-query bucket). */
  const termBucket = (term: string) => {
    const [whole] = feedbackBuckets("", []);
    return feedbackBuckets("", [term]).find((b) => b !== whole) ?? whole;
  };

  it.each([
    ["a query sharing a term", "tempo marking", "what is a fast tempo", () => termBucket("tempo")],
    ["the same query of stop words only", "what is it", "what is it", () => feedbackBuckets("what is it", [])[0]],
    ["the same query", "major scale", "major scale", () => feedbackBuckets("major scale", [])[0]],
  ])("puts a vote's query and %s in the bucket they share", (_case, voted, asked, shared) => {
    expect(buckets(voted)).toContain(shared());
    expect(buckets(asked)).toContain(shared());
  });

  it("gives sorted, distinct buckets in range, the same on every call", () => {
    const b = buckets("the tempo of a major scale in tempo");
    expect(b).toEqual([...new Set(b)].sort((x, y) => x - y));
    expect(b.every((x) => Number.isInteger(x) && x >= 0 && x < FEEDBACK_BUCKETS)).toBe(true);
    expect(buckets("the tempo of a major scale in tempo")).toEqual(b);
    // One per distinct term (tempo, major, scale) and one for the whole query, unless two collide.
    expect(b.length).toBeLessThanOrEqual(4);
  });
});
