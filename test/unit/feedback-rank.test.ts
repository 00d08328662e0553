import {
  answerId,
  MAX_SHIFT,
  parseAnswerId,
  queryTerms,
  rerank,
  shifts,
  similarity,
} from "../../services/knowledge/feedback";
import type { VoteRow } from "../../services/knowledge/store";

let nextId = 1;
const vote = (example_id: string, helpful: boolean, client_key: string, query = "tempo"): VoteRow => ({
  id: String(nextId++),
  example_id,
  helpful,
  client_key,
  query,
  query_terms: queryTerms(query),
});
const hits = (...ids: string[]) => ids.map((id) => ({ id, domain: "d", content: id, response: null, score: 1 }));

describe("knowledge feedback ranking", () => {
  it("moves nothing for one vote, one place for two clients' votes", () => {
    expect(shifts("tempo", ["tempo"], [vote("1", false, "a")])).toEqual(new Map());
    expect(shifts("tempo", ["tempo"], [vote("1", false, "a"), vote("1", false, "b")])).toEqual(new Map([["1", -1]]));
  });

  it("counts one vote per client and example: its latest", () => {
    const votes = [vote("1", false, "a"), vote("1", false, "a"), vote("1", false, "a")];
    expect(shifts("tempo", ["tempo"], votes)).toEqual(new Map());
    const changed = [vote("1", false, "a"), vote("1", false, "b"), vote("1", true, "b")];
    expect(shifts("tempo", ["tempo"], changed)).toEqual(new Map());
  });

  it("bounds the move at MAX_SHIFT places however many votes", () => {
    const many = Array.from({ length: 50 }, (_, i) => vote("1", false, `c${i}`));
    expect(shifts("tempo", ["tempo"], many).get("1")).toBe(-MAX_SHIFT);
  });

  it("weighs votes of close queries by their similarity and ignores distant ones", () => {
    const q = "allegro tempo";
    const t = queryTerms(q);
    // "tempo": Jaccard 1/2 with "allegro tempo", below 0.6: ignored.
    expect(shifts(q, t, [vote("1", false, "a", "tempo"), vote("1", false, "b", "tempo")])).toEqual(new Map());
    // "the allegro tempo?": the same terms: full weight.
    const close = [vote("1", false, "a", "the allegro tempo"), vote("1", false, "b", "what is allegro tempo")];
    expect(shifts(q, t, close)).toEqual(new Map([["1", -1]]));
  });

  it.each([
    [["a", "b"], ["a", "b"], 1],
    [["a", "b"], ["a", "c"], 1 / 3],
    [["a"], [], 0],
  ])("similarity(%j, %j) = %d", (a, b, expected) => {
    expect(similarity(a, b, false)).toBeCloseTo(expected, 10);
  });

  it("reranks: a hit shifted by s passes |s| neighbours, the rest keep their order", () => {
    const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
    expect(ids(rerank(hits("a", "b", "c", "d"), new Map([["a", -1]])))).toEqual(["b", "a", "c", "d"]);
    expect(ids(rerank(hits("a", "b", "c", "d"), new Map([["a", -2]])))).toEqual(["b", "c", "a", "d"]);
    expect(ids(rerank(hits("a", "b", "c", "d"), new Map([["d", 2]])))).toEqual(["a", "d", "b", "c"]);
    expect(rerank(hits("a", "b"), new Map([["a", -1]]))[1]).toMatchObject({ id: "a", feedback_shift: -1 });
  });

  it("keeps every hit within MAX_SHIFT places when a promoted hit passes a demoted one", () => {
    const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
    // b demoted 2, e promoted 2: sorted by wish alone, each would move 3 places (a, e, c, d, b).
    expect(
      ids(
        rerank(
          hits("a", "b", "c", "d", "e"),
          new Map([
            ["b", -2],
            ["e", 2],
          ]),
        ),
      ),
    ).toEqual(["a", "c", "e", "b", "d"]);
  });

  it("never moves any hit more than MAX_SHIFT places, for every combination of shifts on five hits", () => {
    const names = ["a", "b", "c", "d", "e"];
    const far: string[] = [];
    for (let code = 0; code < 5 ** names.length; code++) {
      const by = new Map(names.map((n, i) => [n, (Math.floor(code / 5 ** i) % 5) - MAX_SHIFT]));
      const order = rerank(hits(...names), by).map((h) => h.id);
      expect([...order].sort()).toEqual(names);
      names.forEach((n, i) => {
        if (Math.abs(order.indexOf(n) - i) > MAX_SHIFT) far.push(`${JSON.stringify([...by])}: ${order.join("")}`);
      });
    }
    expect(far).toEqual([]);
  });

  it("round-trips answer ids and refuses others", () => {
    const hash = "0123456789abcdef0123456789abcdef01234567";
    expect(parseAnswerId(answerId(hash, 42))).toEqual({ hash, version: 42 });
    expect(parseAnswerId("a42-xyz")).toBeNull();
  });
});
