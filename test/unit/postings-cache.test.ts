import { listBytes, PostingsCache, type PostingsList } from "../../services/datasets/postings-cache";

function list(n: number, seed = 1): PostingsList {
  return {
    ids: Float64Array.from({ length: n }, (_, i) => seed * 1000 + i),
    tf: Int32Array.from({ length: n }, () => 1),
    len: Int32Array.from({ length: n }, () => 10),
    impact: Float64Array.from({ length: n }, () => 0.5),
  };
}

describe("PostingsCache", () => {
  it("answers a list only at the version it was kept under, and drops it on another", () => {
    const c = new PostingsCache(1 << 20);
    const a = list(10);
    c.set("7", 3, a);
    expect(c.get("7", 3)).toBe(a);
    expect(c.get("7", 4)).toBeUndefined();
    // The list of version 3 is gone, not kept beside a newer one.
    expect(c.get("7", 3)).toBeUndefined();
    expect({ size: c.size, bytes: c.bytes, hits: c.hits, misses: c.misses }).toEqual({
      size: 0,
      bytes: 0,
      hits: 1,
      misses: 2,
    });
  });

  it("stays within its bytes, the least recently used list out first", () => {
    const one = listBytes(list(100));
    // Room for five lists (a list is at most a quarter of the bound).
    const c = new PostingsCache(5 * one + 10);
    for (const t of ["1", "2", "3", "4", "5"]) c.set(t, 1, list(100, Number(t)));
    c.get("1", 1); // now the most recently used
    c.set("6", 1, list(100, 6));
    expect(["1", "2", "3", "4", "5", "6"].filter((t) => c.get(t, 1) !== undefined)).toEqual(["1", "3", "4", "5", "6"]);
    expect(c.bytes).toBe(5 * one);
    // Kept again under a new version: replaced, counted once.
    c.set("3", 2, list(100, 3));
    expect(c.bytes).toBe(5 * one);
    expect(c.get("3", 2)?.ids[0]).toBe(3000);
  });

  it("lets a read through memory only up to a quarter of its bound", () => {
    const c = new PostingsCache(4 * 24 * 1000);
    expect([c.fits(1000), c.fits(1001)]).toEqual([true, false]);
  });

  it("does not keep a list above a quarter of its bound", () => {
    const c = new PostingsCache(4 * listBytes(list(100)) - 1);
    c.set("big", 1, list(100));
    expect({ size: c.size, bytes: c.bytes, got: c.get("big", 1) }).toEqual({ size: 0, bytes: 0, got: undefined });
    c.set("small", 1, list(50));
    expect(c.get("small", 1)?.ids.length).toBe(50);
  });
});
