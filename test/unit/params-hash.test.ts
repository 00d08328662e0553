import crypto from "node:crypto";
import { paramsHash } from "../../services/jobs/store";

describe("jobs.store paramsHash", () => {
  it("is the SHA-256 of the kind and the params with sorted keys", () => {
    const expected = crypto
      .createHash("sha256")
      .update(JSON.stringify(["fft", { a: 1, b: [2, { c: 3, d: 4 }] }]))
      .digest("hex");
    expect(paramsHash("fft", { b: [2, { d: 4, c: 3 }], a: 1 })).toBe(expected);
  });

  it("does not depend on key order, at any depth", () => {
    expect(paramsHash("music", { prompt: "calm", options: { fresh: true, seed: 1 } })).toBe(
      paramsHash("music", { options: { seed: 1, fresh: true }, prompt: "calm" }),
    );
  });

  it.each<[string, string, Record<string, unknown>, string, Record<string, unknown>]>([
    ["another kind", "music", { text: "happy" }, "emotion", { text: "happy" }],
    ["another value", "music", { text: "happy" }, "music", { text: "sad" }],
    ["another array order", "music", { tags: ["a", "b"] }, "music", { tags: ["b", "a"] }],
    ["a value's type", "music", { n: 1 }, "music", { n: "1" }],
    ["a key more", "music", { text: "happy" }, "music", { text: "happy", seed: 1 }],
  ])("differs for %s", (_what, kindA, paramsA, kindB, paramsB) => {
    expect(paramsHash(kindA, paramsA)).not.toBe(paramsHash(kindB, paramsB));
  });
});
