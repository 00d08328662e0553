import { fuse, type FusionCandidate } from "../../services/datasets/search";

/** A candidate with both exact scores and its rank in each list (null: not in that list). */
const c = (
  id: string,
  bm25: number,
  cosine: number,
  lexical: number | null,
  vector: number | null,
  match?: number,
): FusionCandidate => ({ id, bm25, cosine, lexical, vector, ...(match === undefined ? {} : { match }) });

describe("datasets.search fuse", () => {
  it("scores w · bm25 / bm25_max + (1 − w) · cosine, best first, with each list's rank", () => {
    const fused = fuse([c("1", 10, 0.5, 1, 2), c("2", 5, 0.9, 2, 1)], 10, 0.5);
    expect(fused).toEqual([
      { id: "1", score: 0.5 * 1 + 0.5 * 0.5, match: undefined, lexical: 1, vector: 2 },
      { id: "2", score: 0.5 * 0.5 + 0.5 * 0.9, match: undefined, lexical: 2, vector: 1 },
    ]);
  });

  it("uses the exact cosine of a lexical-only document and the exact BM25 of a vector-only one", () => {
    const fused = fuse([c("1", 4, 0.6, 1, 2), c("3", 2, 0.3, 2, null), c("2", 1, 0.8, null, 1)], 10, 0.5);
    expect(fused.find((h) => h.id === "3")).toEqual({
      id: "3",
      score: 0.5 * 0.5 + 0.5 * 0.3,
      match: undefined,
      lexical: 2,
      vector: null,
    });
    expect(fused.find((h) => h.id === "2")).toEqual({
      id: "2",
      score: 0.5 * 0.25 + 0.5 * 0.8,
      match: undefined,
      lexical: null,
      vector: 1,
    });
  });

  it.each([
    [1, ["1", "2", "3"]],
    [0, ["3", "2", "1"]],
  ])("with lexical weight %d follows that score alone", (w, order) => {
    const fused = fuse([c("1", 9, 0.1, 1, 3), c("2", 6, 0.5, 2, 2), c("3", 3, 0.9, 3, 1)], 10, w);
    expect(fused.map((h) => h.id)).toEqual(order);
  });

  it("keeps the best k, equal scores in id order", () => {
    const fused = fuse([c("20", 1, 0, 1, null), c("3", 1, 0, 2, null), c("7", 1, 0, 3, null)], 2, 1);
    expect(fused.map((h) => [h.id, h.score])).toEqual([
      ["3", 1],
      ["7", 1],
    ]);
  });

  it("keeps the lexical match fraction, and answers an empty list for no candidates", () => {
    expect(fuse([c("1", 2, 0, 1, null, 0.5)], 5, 1)).toEqual([
      { id: "1", score: 1, match: 0.5, lexical: 1, vector: null },
    ]);
    expect(fuse([], 5, 0.5)).toEqual([]);
  });

  it("scores all-zero BM25 candidates by cosine alone instead of dividing by zero", () => {
    const fused = fuse([c("1", 0, 0.2, null, 2), c("2", 0, 0.7, null, 1)], 5, 0.95);
    expect(fused.map((h) => h.id)).toEqual(["2", "1"]);
    expect(fused[0]?.score).toBeCloseTo(0.05 * 0.7, 12);
    expect(fused[1]?.score).toBeCloseTo(0.05 * 0.2, 12);
  });
});
