import { LocalReads } from "../../services/datasets/read-cache";

describe("datasets.LocalReads", () => {
  it("serves a kept text for a second, then asks again", () => {
    const local = new LocalReads();
    local.set("k", '{"a":1}', 10_000);
    expect([
      local.get("k", 10_000),
      local.get("k", 10_999),
      local.get("k", 11_000),
      local.get("other", 10_000),
    ]).toEqual(['{"a":1}', '{"a":1}', null, null]);
  });

  it("drops the oldest texts past its bound on size", () => {
    const local = new LocalReads();
    const big = "x".repeat(5 * 1024 * 1024);
    local.set("first", big, 0);
    local.set("second", big, 1);
    local.set("small", "{}", 2);
    expect([local.get("first", 3), local.get("second", 3), local.get("small", 3)]).toEqual([null, big, "{}"]);
  });
});
