import { enableCompileCache } from "../../bin/compile-cache";

describe("compile-cache.enableCompileCache", () => {
  it("calls node:module's enableCompileCache where Node has it (22.1+)", () => {
    const calls: unknown[] = [];
    expect(enableCompileCache({ enableCompileCache: () => calls.push("on") })).toBe(true);
    expect(calls).toEqual(["on"]);
  });

  it("does nothing on a Node without it (20)", () => {
    expect(enableCompileCache({})).toBe(false);
  });

  it("never fails a start: a cache that cannot be turned on is skipped", () => {
    expect(
      enableCompileCache({
        enableCompileCache: () => {
          throw new Error("EACCES: the cache folder is not writable");
        },
      }),
    ).toBe(false);
  });
});
