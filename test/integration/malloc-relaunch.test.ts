/**
 * `mcai start` on a compute node starts itself once more with glibc's malloc settings
 * (bin/malloc-relaunch.ts): real processes from dist/, the node's environment read from /proc.
 */
import fs from "node:fs";
import { describeWithPg, describeWithRedis, PG_URL, REDIS_URL, uniqueName } from "../helpers/servers";
import { exitWithin, killAll, sleep, spawnMcai, type McaiProcess } from "../helpers/processes";

afterAll(killAll);

const EXIT_BOUND_MS = 30_000;
const onGlibcLinux = process.platform === "linux" && fs.readFileSync("/proc/self/maps", "utf8").includes("/libc.so.6");
const describeOnGlibc = onGlibcLinux ? describe : describe.skip;

/** The child processes of `pid`. */
function children(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The environment `pid` started with. */
function environ(pid: number): Record<string, string> {
  const pairs = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
  return Object.fromEntries(pairs.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

/** A process is gone (or a zombie waiting for its reaper: it runs no more). */
function gone(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!gone(pid) && Date.now() < deadline) await sleep(50);
  return gone(pid);
}

describeOnGlibc("mcai start relaunches a compute node with MALLOC_MMAP_THRESHOLD_", () => {
  const REDIS = describeWithRedis;

  /** A compute node on the Redis transporter, up; its parent and, when relaunched, the node. */
  async function computeNode(env: Record<string, string> = {}): Promise<{ p: McaiProcess; node: number }> {
    const p = spawnMcai(["start", "--services", "compute"], {
      TRANSPORTER: REDIS_URL,
      NAMESPACE: uniqueName("relaunch"),
      ...env,
    });
    await p.waitForOutput(/ running compute/, 60_000);
    const kids = children(p.pid);
    return { p, node: kids.length === 1 ? kids[0] : p.pid };
  }

  REDIS("on the Redis transporter", () => {
    it("runs the node as its one child with the variable set, and the node relaunches no further", async () => {
      const { p, node } = await computeNode();
      expect(node).not.toBe(p.pid);
      expect(environ(node)).toMatchObject({ MALLOC_MMAP_THRESHOLD_: "131072" });
      expect(environ(p.pid).MALLOC_MMAP_THRESHOLD_).toBeUndefined();
      // No third process: the node saw the variable and started its services itself.
      expect(children(node)).toEqual([]);
      p.kill("SIGTERM");
      expect(await exitWithin(p, EXIT_BOUND_MS)).toBe(0);
      expect(await goneWithin(node, 5000)).toBe(true);
    });

    it.each([
      ["MALLOC_RELAUNCH=off", { MALLOC_RELAUNCH: "off" }],
      ["a malloc variable of its own", { MALLOC_ARENA_MAX: "2" }],
      ["GLIBC_TUNABLES naming malloc", { GLIBC_TUNABLES: "glibc.malloc.mmap_threshold=262144" }],
      // Not from a parent (no pipe on fd 3): it neither relaunches nor fails watching a parent that is not there.
      ["MCAI_RELAUNCHED leaked into its environment", { MCAI_RELAUNCHED: "1" }],
    ])("with %s the node is the process itself", async (_what, env) => {
      const { p, node } = await computeNode(env);
      expect(node).toBe(p.pid);
      expect(environ(p.pid).MALLOC_MMAP_THRESHOLD_).toBeUndefined();
      p.kill("SIGTERM");
      expect(await exitWithin(p, EXIT_BOUND_MS)).toBe(0);
    });

    it.each(["SIGTERM", "SIGINT", "SIGHUP"] as const)(
      "passes %s to the node, which stops, and exits 0 as it did",
      async (signal) => {
        const { p, node } = await computeNode();
        p.kill(signal);
        expect(await exitWithin(p, EXIT_BOUND_MS)).toBe(signal === "SIGHUP" ? "SIGHUP" : 0);
        expect(await goneWithin(node, 5000)).toBe(true);
        if (signal !== "SIGHUP") expect(p.output()).toContain(`${signal}: draining requests and stopping`);
      },
    );

    it("ends with the node's signal when the node is killed", async () => {
      const { p, node } = await computeNode();
      process.kill(node, "SIGKILL");
      expect(await exitWithin(p, EXIT_BOUND_MS)).toBe("SIGKILL");
    });

    it("takes the node with it when it is killed itself (kill -9 of the program still ends it)", async () => {
      const { p, node } = await computeNode();
      p.kill("SIGKILL");
      expect(await exitWithin(p, EXIT_BOUND_MS)).toBe("SIGKILL");
      expect(await goneWithin(node, 5000)).toBe(true);
    });

    it("gives the node its standard input (start --repl reads commands from it)", async () => {
      const p = spawnMcai(
        ["start", "--services", "compute", "--repl"],
        { TRANSPORTER: REDIS_URL, NAMESPACE: uniqueName("relaunch"), LOG_LEVEL: "warn" },
        "info\n",
      );
      expect(await exitWithin(p, 60_000)).toBe(0);
      // `info` printed the broker's options: the relaunched node read the command from the pipe.
      expect(p.output()).toMatch(/maxChunkSize/);
    });
  });

  describeWithPg("on a database that does not exist", () => {
    it("exits with the node's exit code and message", async () => {
      const u = new URL(PG_URL);
      u.pathname = `/${uniqueName("absent")}`;
      const p = spawnMcai(["start", "--services", "jobs,compute"], { DATABASE_URL: u.toString() });
      // The node runs as the child until its start fails.
      let relaunched = false;
      while (!relaunched && p.proc.exitCode === null && p.proc.signalCode === null) {
        relaunched = children(p.pid).length === 1;
        await sleep(5);
      }
      expect(relaunched).toBe(true);
      expect(await exitWithin(p, EXIT_BOUND_MS)).toBe(1);
      expect(p.output()).toMatch(/mcai: database "absent_\w+" does not exist/);
    });
  });
});
