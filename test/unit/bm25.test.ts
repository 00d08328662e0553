import { idf, matchFraction, parseQuery, termWeight } from "../../services/datasets/bm25";
import { fuse, type FusionCandidate } from "../../services/datasets/search";
import { loadConfig } from "../../services/lib/config";

describe("bm25.parseQuery", () => {
  it.each([
    ["plain words", "quick brown fox", { text: "quick brown fox", filter: undefined, requires: false }],
    [
      "a quoted phrase",
      'the "quick brown" fox',
      { text: "the quick brown fox", filter: '"quick brown"', requires: true },
    ],
    [
      "an unclosed quote runs to the end",
      'fox "quick brown',
      { text: "fox quick brown", filter: '"quick brown"', requires: true },
    ],
    ["an excluded word", "fox -lazy dog", { text: "fox dog", filter: "-lazy", requires: false }],
    ["an excluded phrase", 'fox -"lazy dog"', { text: "fox", filter: '-"lazy dog"', requires: false }],
    [
      "a hyphen inside a word",
      "anti-inflammatory drugs",
      { text: "anti-inflammatory drugs", filter: undefined, requires: false },
    ],
    ["a lone hyphen", "fox - dog", { text: "fox - dog", filter: undefined, requires: false }],
    ["an empty phrase", 'fox ""', { text: "fox", filter: undefined, requires: false }],
  ])("reads %s", (_, q, expected) => {
    expect(parseQuery(q)).toEqual(expected);
  });
});

describe("bm25 formulas", () => {
  it("computes idf as ln(1 + (N − df + 0.5) / (df + 0.5))", () => {
    expect(idf(3, 1)).toBeCloseTo(Math.log(8 / 3), 12);
    expect(idf(3, 2)).toBeCloseTo(Math.log(1.6), 12);
    expect(idf(10, 10)).toBeGreaterThan(0);
    expect(idf(1000, 1)).toBeGreaterThan(idf(1000, 10));
  });

  it("computes the term weight tf·(k1+1) / (tf + k1·(1 − b + b·len/avgdl))", () => {
    const p = { k1: 1.2, b: 0.75 };
    expect(termWeight(2, 3, 3, p)).toBeCloseTo(4.4 / 3.2, 12);
    expect(termWeight(1, 2, 3, p)).toBeCloseTo(2.2 / 1.9, 12);
    expect(termWeight(1, 4, 3, p)).toBeCloseTo(2.2 / 2.5, 12);
    // b = 0: the length does not matter; k1 = 0: only presence does.
    expect(termWeight(1, 100, 3, { k1: 1.2, b: 0 })).toBeCloseTo(termWeight(1, 1, 3, { k1: 1.2, b: 0 }), 12);
    expect(termWeight(5, 7, 3, { k1: 0, b: 0.75 })).toBe(1);
  });

  it("weighs the match fraction by idf, counting terms no document has", () => {
    const idfs = new Map([
      ["appl", 2],
      ["cherri", 1],
      ["zzyzx", 3],
    ]);
    expect(matchFraction(["appl", "cherri", "zzyzx"], idfs)).toBe(1);
    expect(matchFraction(["appl"], idfs)).toBeCloseTo(2 / 6, 12);
    expect(matchFraction(["cherri", "cherri"], idfs)).toBeCloseTo(1 / 6, 12);
    expect(matchFraction([], idfs)).toBe(0);
    expect(matchFraction(["x"], new Map())).toBe(0);
  });
});

describe("search.fuse", () => {
  // "1" is in the lexical list only, "3" in the vector list only: each carries its other score, computed exactly.
  const candidates: FusionCandidate[] = [
    { id: "1", bm25: 8, cosine: 0.3, lexical: 1, vector: null, match: 1 },
    { id: "2", bm25: 4, cosine: 0.9, lexical: 2, vector: 1, match: 0.5 },
    { id: "3", bm25: 1, cosine: 0.6, lexical: null, vector: 2 },
  ];

  it("combines BM25 over its best with the cosine: w · bm25 / max + (1 − w) · cosine", () => {
    const f = fuse(candidates, 10, 0.75);
    expect(f.map((x) => [x.id, x.lexical, x.vector])).toEqual([
      ["1", 1, null],
      ["2", 2, 1],
      ["3", null, 2],
    ]);
    expect(f.map((x) => x.score)).toEqual([
      0.75 * 1 + 0.25 * 0.3,
      0.75 * 0.5 + 0.25 * 0.9,
      0.75 * (1 / 8) + 0.25 * 0.6,
    ]);
  });

  it("keeps one list's order at weight 1 or 0, and cuts at k", () => {
    expect(fuse(candidates, 10, 1).map((f) => f.id)).toEqual(["1", "2", "3"]);
    expect(fuse(candidates, 10, 0).map((f) => f.id)).toEqual(["2", "3", "1"]);
    expect(fuse(candidates, 1, 0.75).map((f) => f.id)).toEqual(["1"]);
  });

  it("keeps the lexical match fraction where it is known", () => {
    const f = fuse(candidates, 3, 0.5);
    expect(f.find((x) => x.id === "2")!.match).toBe(0.5);
    expect(f.find((x) => x.id === "3")!.match).toBeUndefined();
  });

  it("ranks by the cosine alone when no candidate has a BM25 score", () => {
    const f = fuse(
      candidates.map((c) => ({ ...c, bm25: 0 })),
      10,
      0.95,
    );
    expect(f.map((x) => [x.id, x.score])).toEqual([
      ["2", (1 - 0.95) * 0.9],
      ["3", (1 - 0.95) * 0.6],
      ["1", (1 - 0.95) * 0.3],
    ]);
  });

  it("keeps a strong lexical match above a closer vector neighbour at the default weight", () => {
    // BM25 8 against 2 (its only term in a tenth of the text) outweighs a cosine of 0.95 against 0.2.
    const f = fuse(
      [
        { id: "10", bm25: 8, cosine: 0.2, lexical: 1, vector: 2 },
        { id: "11", bm25: 2, cosine: 0.95, lexical: 2, vector: 1 },
      ],
      2,
      loadConfig({}).datasets.hybridLexicalWeight,
    );
    expect(f.map((x) => x.id)).toEqual(["10", "11"]);
  });
});
