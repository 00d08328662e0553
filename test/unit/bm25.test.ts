import { idf, matchFraction, parseQuery, termWeight } from "../../services/datasets/bm25";
import { fuse, type Ranked } from "../../services/datasets/search";

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
  const lex: Ranked[] = [
    { id: "1", score: 8, match: 1 },
    { id: "2", score: 4, match: 0.5 },
  ];
  const vec: Ranked[] = [
    { id: "2", score: 0.9 },
    { id: "3", score: 0.6 },
  ];

  it("combines BM25 over its best with the cosine: w · bm25 / max + (1 − w) · cosine", () => {
    const f = fuse(lex, vec, 10, 0.75);
    expect(f.map((x) => [x.id, x.lexical, x.vector])).toEqual([
      ["1", 1, null],
      ["2", 2, 1],
      ["3", null, 2],
    ]);
    // "1" is missing from the vector list: it gets that list's lowest cosine, 0.6.
    expect(f[0].score).toBeCloseTo(0.75 * 1 + 0.25 * 0.6, 12);
    expect(f[1].score).toBeCloseTo(0.75 * 0.5 + 0.25 * 0.9, 12);
    // "3" is missing from the lexical list: BM25 0.
    expect(f[2].score).toBeCloseTo(0.25 * 0.6, 12);
  });

  it("keeps one list's order at weight 1 or 0, and cuts at k", () => {
    expect(fuse(lex, vec, 10, 1).map((f) => f.id)).toEqual(["1", "2", "3"]);
    expect(fuse(lex, vec, 10, 0).map((f) => f.id)).toEqual(["2", "1", "3"]);
    expect(fuse(lex, vec, 1, 0.75).map((f) => f.id)).toEqual(["1"]);
  });

  it("keeps the lexical match fraction where it is known", () => {
    const f = fuse(lex, vec, 3, 0.5);
    expect(f.find((x) => x.id === "2")!.match).toBe(0.5);
    expect(f.find((x) => x.id === "3")!.match).toBeUndefined();
  });

  it("ranks one list alone when the other is empty", () => {
    expect(fuse([], vec, 10, 0.75).map((f) => f.id)).toEqual(["2", "3"]);
    expect(fuse(lex, [], 10, 0.75).map((f) => f.id)).toEqual(["1", "2"]);
  });
});
