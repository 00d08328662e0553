import { analyzeEmotion, EMOTIONS, tokenize } from "../../compute/lib/emotions";

describe("emotion catalog", () => {
  it("has at least 12 emotions, each with a brainwave frequency in its band and a Solfeggio frequency", () => {
    const bands = { delta: [0.5, 4], theta: [4, 8], alpha: [8, 13], beta: [13, 30], gamma: [30, 100] } as const;
    const solfeggio = [174, 285, 396, 417, 528, 639, 741, 852, 963];
    expect(EMOTIONS.length).toBeGreaterThanOrEqual(12);
    for (const e of EMOTIONS) {
      const [lo, hi] = bands[e.band];
      expect(e.neuroscience_hz).toBeGreaterThanOrEqual(lo);
      expect(e.neuroscience_hz).toBeLessThanOrEqual(hi);
      expect(solfeggio).toContain(e.metaphysical_hz);
      expect(EMOTIONS.map((x) => x.name)).toContain(e.counterpart);
    }
  });
});

describe("analyzeEmotion", () => {
  it("finds the dominant emotion and its frequencies", () => {
    const a = analyzeEmotion("I'm terrified and anxious about tomorrow's surgery, so scared");
    expect(a.dominant).toBe("fear");
    expect(a.frequencies).toEqual({ neuroscience_hz: 25, band: "beta", metaphysical_hz: 396 });
    expect(Object.values(a.scores).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 3);
  });

  it("turns a negated cue towards its counterpart, with less weight", () => {
    const a = analyzeEmotion("I am not sad");
    expect(a.matched).toEqual([{ word: "sad", emotion: "joy", weight: 1 / 3 }]);
    expect(analyzeEmotion("I don't trust them").matched[0].emotion).toBe("fear");
  });

  it("weighs an intensified cue more", () => {
    expect(analyzeEmotion("very happy").matched[0].weight).toBe(1.5);
    expect(analyzeEmotion("happy").matched[0].weight).toBe(1);
  });

  it("does not match words that only share a prefix with an exact cue", () => {
    expect(analyzeEmotion("the restaurant made a mission statement").matched).toEqual([]);
  });

  it("answers calm with confidence 0 when nothing matches", () => {
    const a = analyzeEmotion("The table has four legs.");
    expect(a).toMatchObject({ dominant: "calm", confidence: 0 });
    expect(Object.values(a.scores).every((v) => v === 0)).toBe(true);
  });

  it("tokenizes contractions into negations", () => {
    expect(tokenize("Don't stop, it's GREAT!")).toEqual(["do", "not", "stop", "it's", "great"]);
  });
});
