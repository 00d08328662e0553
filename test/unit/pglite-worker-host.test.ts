import { profilerArgs } from "../../services/lib/db/pglite-worker-host";

describe("pglite-worker-host.profilerArgs", () => {
  it.each([
    [
      ["--cpu-prof", "--cpu-prof-dir", "/tmp/p"],
      ["--cpu-prof", "--cpu-prof-dir", "/tmp/p"],
    ],
    [
      ["--cpu-prof-dir=/tmp/p", "--cpu-prof", "--cpu-prof-interval", "500"],
      ["--cpu-prof-dir=/tmp/p", "--cpu-prof", "--cpu-prof-interval", "500"],
    ],
    [["--max-old-space-size=512", "--cpu-prof", "--enable-source-maps"], ["--cpu-prof"]],
    [["--import", "tsx", "--max-semi-space-size=64"], []],
  ])("gives the database thread the profiler's flags of %j: %j", (argv, want) => {
    expect(profilerArgs(argv)).toEqual(want);
  });
});
