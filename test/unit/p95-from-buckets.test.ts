import { p95FromBuckets } from "../../services/metrics/summary";

describe("metrics.summary p95FromBuckets", () => {
  it("answers null with no observations", () => {
    expect(p95FromBuckets([])).toBeNull();
    expect(
      p95FromBuckets([
        { le: 10, count: 0 },
        { le: Infinity, count: 0 },
      ]),
    ).toBeNull();
  });

  it("interpolates within the bucket that holds the 95th percentile", () => {
    // 100 observations: 50 ≤ 10, 90 ≤ 20, 100 ≤ 40. The 95th is halfway through (20, 40].
    expect(
      p95FromBuckets([
        { le: 10, count: 50 },
        { le: 20, count: 90 },
        { le: 40, count: 100 },
        { le: Infinity, count: 100 },
      ]),
    ).toBe(30);
  });

  it("interpolates from 0 in the first bucket", () => {
    expect(p95FromBuckets([{ le: 100, count: 20 }])).toBe(95);
  });

  it("answers the last finite bound when the 95th falls in +Inf", () => {
    expect(
      p95FromBuckets([
        { le: 5, count: 10 },
        { le: 50, count: 90 },
        { le: Infinity, count: 100 },
      ]),
    ).toBe(50);
  });

  it("reads the buckets in any order", () => {
    expect(
      p95FromBuckets([
        { le: Infinity, count: 100 },
        { le: 40, count: 100 },
        { le: 10, count: 50 },
        { le: 20, count: 90 },
      ]),
    ).toBe(30);
  });
});
