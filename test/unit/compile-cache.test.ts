import { enableCompileCache } from "../../bin/compile-cache";

describe("compile-cache.enableCompileCache", () => {
  it("calls node:module's enableCompileCache where Node has it (22.1+)", () => {
    const calls: unknown[] = [];
    expect(enableCompileCache({ enableCompileCache: () => calls.push("on") })).toBe(true);
    expect(calls).toEqual(["on"]);
  });

  it("says so when Node reports the cache failed (a status, not a throw)", () => {
    const constants = { compileCacheStatus: { FAILED: 0, ENABLED: 1 } };
    expect(enableCompileCache({ enableCompileCache: () => ({ status: 0 }), constants })).toBe(false);
    expect(enableCompileCache({ enableCompileCache: () => ({ status: 1 }), constants })).toBe(true);
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
