import { ComputePool, type PoolStats } from "../../compute/pool";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { expectResponseStatus } from "../helpers/expect";

/**
 * Polls `read` until it returns `want` (or gives up after 30 s): thread exits are asynchronous, and a
 * thread still starting (tsx in a worker on a busy machine) is given back only once it is ready.
 */
async function until<T>(read: () => T | Promise<T>, want: T): Promise<T> {
  let v = await read();
  for (let i = 0; i < 1200 && v !== want; i++) {
    await new Promise((r) => setTimeout(r, 25));
    v = await read();
  }
  return v;
}

function embedInput(texts: string[], dim = 16) {
  return { texts, dim, out: new SharedArrayBuffer(texts.length * dim * 4) };
}

describe("compute pool threads", () => {
  let pool: ComputePool;
  afterEach(() => (pool as ComputePool | undefined)?.destroy()); // unset when a test failed before creating it

  it("starts no thread before its first task", async () => {
    pool = new ComputePool({ threads: 2, maxQueue: 4, idleMs: 60_000 });
    expect(pool.liveThreads).toBe(0);
    expect(pool.stats()).toMatchObject({ threads: 2, liveThreads: 0 });
    await pool.run("embed", embedInput(["first task"]));
    expect(pool.liveThreads).toBeGreaterThanOrEqual(1);
    expect(pool.liveThreads).toBeLessThanOrEqual(2);
  });

  it("gives idle threads back after the idle time, and starts one again for the next task", async () => {
    pool = new ComputePool({ threads: 2, maxQueue: 4, idleMs: 100 });
    await Promise.all([1, 2, 3, 4].map((i) => pool.run("embed", embedInput([`text ${i}`]))));
    expect(pool.liveThreads).toBeGreaterThanOrEqual(1);
    expect(await until(() => pool.liveThreads, 0)).toBe(0);
    const r = await pool.run<{ count: number }>("embed", embedInput(["again", "and again"]));
    expect(r.count).toBe(2);
    expect(pool.liveThreads).toBeGreaterThanOrEqual(1);
  });

  it("keeps idle threads while the idle time has not passed", async () => {
    pool = new ComputePool({ threads: 1, maxQueue: 4, idleMs: 60_000 });
    await pool.run("embed", embedInput(["stay"]));
    // A few turns of the event loop: a thread given back at once would be gone by now.
    for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 20));
    expect(pool.liveThreads).toBe(1);
  });

  it("ends a thread past its heap bound: its task fails, the pool runs the next one", async () => {
    pool = new ComputePool({ threads: 1, maxQueue: 4, idleMs: 60_000, heapMb: 32 });
    // 40 MB of strings cloned into the thread's heap: over a 32 MB old generation.
    const big = Array.from({ length: 40 }, (_, i) => `${i}`.padEnd(1 << 20, "x"));
    await expect(pool.run("embed", embedInput(big, 8))).rejects.toThrow(/out of memory|heap/i);
    const r = await pool.run<{ count: number }>("embed", embedInput(["after the bound", "still works"]));
    expect(r.count).toBe(2);
  });
});

describe("a compute node", () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode(
      { COMPUTE_THREADS: "2", COMPUTE_IDLE_MS: "100", RATE_LIMIT: "0" },
      ["api", "compute"],
      await memoryDb(),
    );
  });
  afterAll(() => t.node.stop());
  const stats = async () => await t.node.broker.call<PoolStats>("compute.stats");

  it("runs no pool thread until its first task, and none again once idle", async () => {
    expect(await stats()).toMatchObject({ threads: 2, liveThreads: 0 });
    const r = await fetch(`${t.url}/api/fft`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ signal: Array.from({ length: 256 }, (_, i) => Math.sin(i / 3)), sampleRate: 1000 }),
    });
    await expectResponseStatus(r, 200);
    expect((await stats()).liveThreads).toBeGreaterThanOrEqual(1);
    expect(await until(async () => (await stats()).liveThreads, 0)).toBe(0);
  });
});
