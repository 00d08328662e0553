/**
 * Which `mcai start` relaunches itself with glibc's malloc settings (bin/malloc-relaunch.ts); the
 * relaunch itself is in test/integration/malloc-relaunch.test.ts.
 */
import { wantsRelaunch } from "../../bin/malloc-relaunch";
import { loadConfig } from "../../services/lib/config";

const PG = "postgres://h/db";

describe("malloc relaunch", () => {
  it.each([
    ["a compute worker on Postgres", { SERVICES: "jobs,compute", DATABASE_URL: PG }, true],
    ["a compute-only node", { SERVICES: "compute", TRANSPORTER: "redis://h" }, true],
    ["every service on Postgres", { DATABASE_URL: PG }, true],
    ["every service, embedded (its cold start would pay)", {}, false],
    ["a compute worker, embedded", { SERVICES: "jobs,compute" }, false],
    ["a gateway", { SERVICES: "api,metrics", TRANSPORTER: "redis://h" }, false],
    ["a gateway with MALLOC_RELAUNCH=on", { SERVICES: "api,metrics", MALLOC_RELAUNCH: "on" }, true],
    ["embedded with MALLOC_RELAUNCH=on", { MALLOC_RELAUNCH: "on" }, true],
    ["a compute worker with MALLOC_RELAUNCH=off", { SERVICES: "compute", MALLOC_RELAUNCH: "off" }, false],
    ["a worker whose environment sets MALLOC_ARENA_MAX", { SERVICES: "compute", MALLOC_ARENA_MAX: "2" }, false],
    [
      "a worker whose environment sets MALLOC_MMAP_THRESHOLD_",
      { SERVICES: "compute", MALLOC_MMAP_THRESHOLD_: "65536" },
      false,
    ],
    [
      "a worker with GLIBC_TUNABLES for malloc",
      { SERVICES: "compute", GLIBC_TUNABLES: "glibc.malloc.arena_max=2" },
      false,
    ],
    [
      "a worker with GLIBC_TUNABLES for something else",
      { SERVICES: "compute", GLIBC_TUNABLES: "glibc.rtld.nns=2" },
      true,
    ],
    ["the relaunched node itself (no second relaunch)", { SERVICES: "compute", MCAI_RELAUNCHED: "1" }, false],
    ["a node told on, relaunched already", { MALLOC_RELAUNCH: "on", MCAI_RELAUNCHED: "1" }, false],
  ])("%s: %j -> %s", (_what, env, expected) => {
    expect(wantsRelaunch(loadConfig(env), () => true)).toBe(expected);
  });

  it("never on a system without glibc", () => {
    expect(wantsRelaunch(loadConfig({ SERVICES: "compute", MALLOC_RELAUNCH: "on" }), () => false)).toBe(false);
  });
});
