import { SkipAfterFailure } from "../../services/lib/skip-after-failure";

describe("SkipAfterFailure", () => {
  it("skips the store for skipMs after `after` failures in a row, then lets the next call try it again", () => {
    let now = 1000;
    const down = new SkipAfterFailure(500, 3, () => now);
    expect(down.skipping).toBe(false);
    down.failed();
    down.failed();
    expect(down.skipping).toBe(false);
    down.failed();
    expect(down.skipping).toBe(true);
    now += 499;
    expect(down.skipping).toBe(true);
    now += 1;
    expect(down.skipping).toBe(false);
    // The call that tries again fails: still away, a new pause starts from then.
    down.failed();
    now += 250;
    expect(down.skipping).toBe(true);
  });

  it("does not skip for one late reply among successes: a success ends the streak", () => {
    const now = 1000;
    const down = new SkipAfterFailure(500, 3, () => now);
    for (let i = 0; i < 10; i++) {
      down.failed();
      down.failed();
      down.succeeded();
    }
    expect(down.skipping).toBe(false);
    down.failed();
    expect(down.skipping).toBe(false);
  });
});
