import { SkipAfterFailure } from "../../services/lib/skip-after-failure";

describe("SkipAfterFailure", () => {
  it("skips the store for skipMs after a failure, then lets the next call try it again", () => {
    let now = 1000;
    const down = new SkipAfterFailure(500, () => now);
    expect(down.skipping).toBe(false);
    down.failed();
    expect(down.skipping).toBe(true);
    now += 499;
    expect(down.skipping).toBe(true);
    now += 1;
    expect(down.skipping).toBe(false);
    // A failure while trying again starts a new pause from then.
    down.failed();
    now += 250;
    expect(down.skipping).toBe(true);
  });
});
