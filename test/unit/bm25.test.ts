import { idf, impactWeightBound, matchFraction, parseQuery, termWeight } from "../../services/datasets/bm25";
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
    [
      "contractions typed without their apostrophe",
      "Whats the best frequency, dont guess",
      { text: "the best frequency, guess", filter: undefined, requires: false },
    ],
    ["a contraction inside a phrase", '"dont panic"', { text: "dont panic", filter: '"dont panic"', requires: true }],
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

describe("bm25.impactWeightBound", () => {
  /** A posting's impact as migration 0006 writes it (float8, stored as a real). */
  const impact = (tf: number, len: number, a0: number) => Math.fround(tf / (tf + 1.2 * (0.6 + (0.4 * len) / a0)));
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

  it("bounds the weight of every posting of at most that impact, whatever k1, b, avgdl and the avgdl it was written under", () => {
    let worst = 0;
    for (let i = 0; i < 20_000; i++) {
      const tf = 1 + Math.floor(rnd() * 20);
      const len = tf + Math.floor(rnd() * (rnd() < 0.5 ? 20 : 2000));
      const avgdlMin = 1 + rnd() * 300;
      const a0 = avgdlMin * (1 + rnd() * 3);
      const avgdl = 1 + rnd() * 400;
      const p = { k1: rnd() < 0.1 ? 0 : rnd() * 3, b: rnd() < 0.1 ? 0 : rnd() };
      const c = impact(tf, len, a0);
      const w = termWeight(tf, len, avgdl, p);
      const bound = impactWeightBound(c, avgdlMin, avgdl, p);
      worst = Math.max(worst, w / bound);
    }
    expect(worst).toBeLessThanOrEqual(1);
  });

  it("is the weight of a posting of that impact when the query weighs as the impacts were written", () => {
    const p = { k1: 1.2, b: 0.4 };
    for (const [tf, len] of [
      [1, 1],
      [1, 40],
      [3, 40],
      [2, 900],
    ]) {
      const c = impact(tf, len, 37.5);
      expect(impactWeightBound(c, 37.5, 37.5, p)).toBeCloseTo(termWeight(tf, len, 37.5, p), 5);
    }
  });

  it.each([
    ["an unknown avgdl the impacts were written under", null, { k1: 1.2, b: 0.4 }, 2.2],
    ["b = 0 (no length normalization)", 30, { k1: 0.9, b: 0 }, 1.9],
    ["k1 = 0 (every weight is 1)", 30, { k1: 0, b: 0.4 }, 1],
  ])("falls back to the saturation bound for %s", (_, avgdlMin, p, want) => {
    expect(impactWeightBound(0.3, avgdlMin, 30, p)).toBe(want);
  });
});
