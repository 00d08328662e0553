import { ConfigError, loadConfig } from "../../services/lib/config";
import { DatasetVersion } from "../../services/lib/dataset-version";

/** A DatasetVersion over a fake clock and a datasets "database" the test sets; reads resolve when released. */
function harness(boundMs = 1000) {
  const h = {
    clock: 0,
    db: 1,
    reads: 0,
    pending: [] as (() => void)[],
    failNext: false,
  };
  const v = new DatasetVersion({
    boundMs,
    now: () => h.clock,
    read: () => {
      h.reads++;
      const seen = h.db;
      if (h.failNext) {
        h.failNext = false;
        return Promise.reject(new Error("datasets unreachable"));
      }
      return new Promise<number>((resolve) => h.pending.push(() => resolve(seen)));
    },
  });
  /** Releases every read in flight and lets their callbacks run. */
  const release = async () => {
    for (const r of h.pending.splice(0)) r();
    await new Promise((r) => setImmediate(r));
  };
  const current = async () => {
    const p = v.current();
    await release();
    return p;
  };
  return { h, v, release, current };
}

describe("knowledge DatasetVersion", () => {
  it("serves the version from memory while the last read is younger than the bound, without a read", async () => {
    const { h, current } = harness();
    expect(await current()).toBe(1);
    h.clock = 999;
    for (let i = 0; i < 100; i++) expect(await current()).toBe(1);
    expect(h.reads).toBe(1);
  });

  it("reads on the spot once the last read is as old as the bound, so a lost event is caught within it", async () => {
    const { h, current } = harness();
    await current();
    h.db = 7; // changed with no event
    h.clock = 999;
    expect(await current()).toBe(1);
    h.clock = 1000;
    expect(await current()).toBe(7);
    expect(h.reads).toBe(2);
  });

  it("moves at once on an event, and a read begun before the event does not take it back", async () => {
    const { h, v, release, current } = harness();
    await current();
    h.clock = 500;
    const read = v.refresh(); // sees db = 1
    h.db = 2;
    v.changed(2);
    await release();
    expect(await read).toBe(2);
    expect(await current()).toBe(2);
    expect(v.stats).toMatchObject({ value: 2, events: 1, reads: 2, read_failures: 0 });
  });

  it("keeps the newer read when an older one ends after it", async () => {
    const { h, v } = harness();
    const older = v.refresh(); // sees 1
    h.db = 3;
    h.clock = 10;
    const newer = v.refresh(true); // sees 3
    const [releaseOlder, releaseNewer] = h.pending;
    releaseNewer();
    expect(await newer).toBe(3);
    releaseOlder();
    expect(await older).toBe(3);
    expect(v.stats.value).toBe(3);
  });

  it("fails the asker when the version must be read and the read fails, and recovers after", async () => {
    const { h, v, current } = harness();
    h.failNext = true;
    await expect(v.current()).rejects.toThrow("datasets unreachable");
    expect(await current()).toBe(1);
    expect(v.stats).toMatchObject({ reads: 1, read_failures: 1 });
  });

  it("shares one read among the askers that need it at once", async () => {
    const { h, v, release } = harness();
    const all = Promise.all([v.current(), v.current(), v.current()]);
    await release();
    expect(await all).toEqual([1, 1, 1]);
    expect(h.reads).toBe(1);
  });
});

describe("config KNOWLEDGE_VERSION_CHECK_MS", () => {
  it("defaults to 1000 ms and takes a value in range", () => {
    expect(loadConfig({}).knowledge.versionCheckMs).toBe(1000);
    expect(loadConfig({ KNOWLEDGE_VERSION_CHECK_MS: "250" }).knowledge.versionCheckMs).toBe(250);
  });

  it.each([
    ["10", /^KNOWLEDGE_VERSION_CHECK_MS must be an integer from 50 to 600000, got 10$/],
    ["1s", /^KNOWLEDGE_VERSION_CHECK_MS must be an integer from 50 to 600000, got "1s"$/],
  ])("refuses KNOWLEDGE_VERSION_CHECK_MS=%s with a message naming it", (value, message) => {
    expect(() => loadConfig({ KNOWLEDGE_VERSION_CHECK_MS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ KNOWLEDGE_VERSION_CHECK_MS: value })).toThrow(message);
  });
});
