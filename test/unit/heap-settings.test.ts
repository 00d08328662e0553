/**
 * The V8 heap settings a node applies to itself (bin/heap-settings.ts): the flags they map to, and
 * that V8 takes them at run time (a child process, so this suite's own heap is untouched).
 */
import { execFileSync } from "node:child_process";
import { heapFlags } from "../../bin/heap-settings";

describe("heap settings", () => {
  it.each([
    [{ growingPercent: 20, semiSpaceGrowth: 1 }, ["--heap-growing-percent=20", "--semi-space-growth-factor=1"]],
    [{ growingPercent: 0, semiSpaceGrowth: 2 }, ["--semi-space-growth-factor=2"]],
    [{ growingPercent: 0, semiSpaceGrowth: 0 }, []],
  ])("maps %j to the V8 flags %j", (heap, flags) => {
    expect(heapFlags(heap)).toEqual(flags);
  });

  it("bounds the young generation of a process that sets them after start", () => {
    // 200 MB of short-lived objects: V8's default grows the young generation to its maximum
    // (3 × 16 MB on 64-bit); with growth factor 1 it stays at its initial size.
    const script = (flags: string) => `
      const v8 = require("v8");
      ${flags ? `v8.setFlagsFromString(${JSON.stringify(flags)});` : ""}
      let keep = [];
      for (let i = 0; i < 2e6; i++) { keep.push({ i, s: "x" + i }); if (keep.length > 1000) keep = []; }
      const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
      console.log(young.space_size);`;
    const youngBytes = (flags: string) => Number(execFileSync(process.execPath, ["-e", script(flags)]).toString());
    // Two semi-spaces of 1 MB, against 16 MB each.
    expect(youngBytes("--semi-space-growth-factor=1")).toBe(2 * 2 ** 20);
    expect(youngBytes("")).toBeGreaterThanOrEqual(16 * 2 ** 20);
  });
});
