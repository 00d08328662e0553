import { fuse, type Ranked } from "../../services/datasets/search";

/** A list best first, as the lexical and vector searches return them. */
const list = (...rows: [string, number][]): Ranked[] => rows.map(([id, score]) => ({ id, score }));

describe("datasets.search fuse", () => {
  it("scores w · bm25 / bm25_max + (1 − w) · cosine, best first, with each list's rank", () => {
    const lexical = list(["1", 10], ["2", 5]);
    const vector = list(["2", 0.9], ["1", 0.5]);
    expect(fuse(lexical, vector, 10, 0.5)).toEqual([
      { id: "1", score: 0.5 * 1 + 0.5 * 0.5, lexical: 1, vector: 2 },
      { id: "2", score: 0.5 * 0.5 + 0.5 * 0.9, lexical: 2, vector: 1 },
    ]);
  });

  it("gives a document missing from the vector list that list's lowest cosine", () => {
    const fused = fuse(list(["1", 4], ["3", 2]), list(["2", 0.8], ["1", 0.6]), 10, 0.5);
    expect(fused.find((h) => h.id === "3")).toEqual({
      id: "3",
      score: 0.5 * 0.5 + 0.5 * 0.6,
      lexical: 2,
      vector: null,
    });
  });

  it("gives a document missing from the lexical list a BM25 of 0", () => {
    const fused = fuse(list(["1", 4]), list(["2", 0.8], ["1", 0.6]), 10, 0.3);
    expect(fused.find((h) => h.id === "2")).toEqual({ id: "2", score: 0.7 * 0.8, lexical: null, vector: 1 });
  });

  it.each([
    [1, ["1", "2", "3"]],
    [0, ["3", "2", "1"]],
  ])("with lexical weight %d follows that list alone", (w, order) => {
    const fused = fuse(list(["1", 9], ["2", 6], ["3", 3]), list(["3", 0.9], ["2", 0.5], ["1", 0.1]), 10, w);
    expect(fused.map((h) => h.id)).toEqual(order);
  });

  it("keeps the best k, equal scores in id order", () => {
    const fused = fuse(list(["20", 1], ["3", 1], ["7", 1]), [], 2, 1);
    expect(fused.map((h) => [h.id, h.score])).toEqual([
      ["3", 1],
      ["7", 1],
    ]);
  });

  it("keeps the lexical match fraction and answers an empty list for two empty lists", () => {
    expect(fuse([{ id: "1", score: 2, match: 0.5 }], [], 5, 1)).toEqual([
      { id: "1", score: 1, match: 0.5, lexical: 1, vector: null },
    ]);
    expect(fuse([], [], 5, 0.5)).toEqual([]);
  });
});
