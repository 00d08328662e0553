import type { ServiceBroker } from "moleculer";
import type { Db } from "../../services/lib/db";
import { lexicalSearch, runSearch } from "../../services/datasets/search";
import { idf, termWeight } from "../../services/datasets/bm25";
import { PostingsCache } from "../../services/datasets/postings-cache";
import { metricsOf } from "../../services/lib/metrics";
import { startTestNode, type TestNode } from "../helpers/node";
import { computeEmbedder } from "../helpers/datasets";
import { memoryDb } from "../helpers/pglite";
import { createDatabase, dropDatabase, PG_URL } from "../helpers/servers";
import { recomputed, stored } from "../helpers/bm25-stats";

interface Hit {
  id: string;
  domain: string;
  content: string;
  score: number;
  match: number;
  ranks: { lexical: number | null; vector: number | null };
}
interface SearchAnswer {
  mode: string;
  degraded?: string;
  hits: Hit[];
}

/** Every driver the suite runs on: PGlite (pgvector) always, Postgres (no pgvector here) when it answers. */
const drivers: [string, boolean][] = [["PGlite", true], ...(PG_URL ? [["Postgres", false] as [string, boolean]] : [])];

describe.each(drivers)("datasets.search on %s", (driver, pglite) => {
  let t: TestNode;
  let broker: ServiceBroker;
  let db: Db;
  let url = "";

  beforeAll(async () => {
    const env = { RATE_LIMIT: "0", COMPUTE_THREADS: "1", SEARCH_BM25_K1: "1.2", SEARCH_BM25_B: "0.75" };
    if (pglite) t = await startTestNode(env, ["datasets", "compute"], await memoryDb());
    else {
      url = await createDatabase();
      t = await startTestNode({ ...env, DATABASE_URL: url }, ["datasets", "compute"]);
    }
    broker = t.node.broker;
    db = t.node.db!;
  });
  afterAll(async () => {
    await t.node.stop();
    if (url) await dropDatabase(url);
  });

  const search = (params: Record<string, unknown>) => broker.call<SearchAnswer, object>("datasets.search", params);
  const add = (domain: string, contents: string[]) =>
    broker.call("datasets.add", { domain, examples: contents.map((content) => ({ content })) });

  it("scores BM25 on a three-document corpus as computed by hand", async () => {
    await add("hand", ["apple banana apple", "banana cherry", "cherry date elderberry fig"]);
    const r = await search({ q: "apple cherry", domain: "hand", mode: "lexical" });
    // N = 3, lengths 3, 2, 4 (avgdl 3); df(appl) = 1, df(cherri) = 2; k1 = 1.2, b = 0.75.
    const appl = Math.log(1 + 2.5 / 1.5);
    const cherri = Math.log(1 + 1.5 / 2.5);
    expect(r.hits.map((h) => h.content)).toEqual(["apple banana apple", "banana cherry", "cherry date elderberry fig"]);
    const expected = [appl * (4.4 / 3.2), cherri * (2.2 / 1.9), cherri * (2.2 / 2.5)];
    r.hits.forEach((h, i) => expect(h.score).toBeCloseTo(expected[i], 10));
    expect(r.hits.map((h) => h.match)).toEqual([
      expect.closeTo(appl / (appl + cherri), 10),
      expect.closeTo(cherri / (appl + cherri), 10),
      expect.closeTo(cherri / (appl + cherri), 10),
    ]);
    expect(r.hits[0].ranks).toEqual({ lexical: 1, vector: null });
  });

  it("ranks with OR semantics: a query with a word no document has still finds the others", async () => {
    const r = await search({ q: "apple zzyzx", domain: "hand", mode: "lexical" });
    expect(r.hits.map((h) => h.content)).toEqual(["apple banana apple"]);
    // zzyzx is in no document: it carries the largest idf, so the match fraction drops below a half.
    const appl = Math.log(1 + 2.5 / 1.5);
    expect(r.hits[0].match).toBeCloseTo(appl / (appl + Math.log(1 + 3.5 / 0.5)), 10);
    expect((await search({ q: "zzyzx", domain: "hand", mode: "lexical" })).hits).toEqual([]);
    // "whats" without its apostrophe is the lexeme `what`, a stop word no example holds: not a term.
    const bare = await search({ q: "whats apple", domain: "hand", mode: "lexical" });
    expect(bare.hits.map((h) => [h.content, h.match])).toEqual([["apple banana apple", 1]]);
    expect((await search({ q: "the and of", domain: "hand", mode: "lexical" })).hits).toEqual([]);
  });

  it("searches a word in the spelling its datasets use more (colour / color, grey / gray)", async () => {
    await add("british", ["the colour wheel of Itten", "a grey haemoglobin sample", "colour theory", "a color chart"]);
    await add("american", ["color one", "color two", "colour three"]);
    const contents = async (q: string, domain: string) =>
      (await search({ q, domain, mode: "lexical" })).hits.map((h) => h.content).sort();
    // "colour" is held by two examples, "color" by one: "color" is searched as "colour", and the other way round.
    expect(await contents("color", "british")).toEqual(["colour theory", "the colour wheel of Itten"]);
    expect(await contents("colour", "british")).toEqual(["colour theory", "the colour wheel of Itten"]);
    expect(await contents("colour", "american")).toEqual(["color one", "color two"]);
    // A word the domain lacks, in the spelling it has: "gray" / "grey", "hemoglobin" / "haemoglobin".
    const gray = await search({ q: "gray hemoglobin wheel", domain: "british", mode: "lexical" });
    expect(gray.hits.map((h) => h.content).sort()).toEqual(["a grey haemoglobin sample", "the colour wheel of Itten"]);
    // The respelled terms count as held: the sample holds two of the three terms, not none.
    expect(gray.hits.find((h) => h.content === "a grey haemoglobin sample")!.match).toBeGreaterThan(0.5);
    // Neither spelling held: nothing changes. Another domain's words do not count.
    expect(await contents("colorimetry", "british")).toEqual([]);
    expect(await contents("colour", "hand")).toEqual([]);
  });

  it("requires a quoted phrase and leaves out -words", async () => {
    await add("phrases", ["the quick brown fox", "brown quick fox", "a quick fox jumps", "lazy brown dog"]);
    const contents = async (q: string) =>
      (await search({ q, domain: "phrases", mode: "lexical" })).hits.map((h) => h.content).sort();
    expect(await contents('"quick brown"')).toEqual(["the quick brown fox"]);
    expect(await contents('"quick brown" dog')).toEqual(["the quick brown fox"]);
    expect(await contents("fox -brown")).toEqual(["a quick fox jumps"]);
    expect(await contents('brown -"quick brown"')).toEqual(["brown quick fox", "lazy brown dog"]);
    expect(await contents("quick brown")).toEqual([
      "a quick fox jumps",
      "brown quick fox",
      "lazy brown dog",
      "the quick brown fox",
    ]);
  });

  it("computes idf over the datasets searched: one domain's, or all", async () => {
    await add("other", ["apple pie", "apple tart", "apple juice", "cherry pie"]);
    const all = await search({ q: "apple", mode: "lexical", k: 10 });
    const within = await search({ q: "apple", domain: "hand", mode: "lexical" });
    const docs = (await db.query<{ n: number }>("SELECT sum(bm25_docs)::int AS n FROM datasets")).rows[0].n;
    const len = (await db.query<{ n: number }>("SELECT sum(bm25_len)::int AS n FROM datasets")).rows[0].n;
    const df = (await db.query<{ n: number }>("SELECT sum(df)::int AS n FROM bm25_terms WHERE term = 'appl'")).rows[0]
      .n;
    const p = { k1: 1.2, b: 0.75 };
    const top = all.hits.find((h) => h.content === "apple banana apple")!;
    expect(top.score).toBeCloseTo(idf(docs, df) * termWeight(2, 3, len / docs, p), 10);
    expect(within.hits[0].score).toBeCloseTo(idf(3, 1) * termWeight(2, 3, 3, p), 10);
  });

  it("keeps the statistics exact through add, delete, concurrent writers and rotation", async () => {
    await add("stats", ["one two three", "two three four four", "five"]);
    await expect(recomputed(db)).resolves.toEqual(await stored(db));
    await Promise.all(
      Array.from({ length: 4 }, (_, w) =>
        add(
          "stats",
          Array.from({ length: 30 }, (_, i) => `writer ${w} row ${i} shares some words with the others ${i % 7}`),
        ),
      ),
    );
    await expect(recomputed(db)).resolves.toEqual(await stored(db));
    const one = await db.query<{ id: string }>(
      "SELECT e.id::text AS id FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE d.domain_name = 'stats' AND e.content = 'five'",
    );
    await broker.call("datasets.remove", { id: one.rows[0].id });
    await expect(recomputed(db)).resolves.toEqual(await stored(db));
    await broker.call("datasets.rotate", { max: 20 });
    await expect(recomputed(db)).resolves.toEqual(await stored(db));
    expect((await db.query("SELECT 1 FROM bm25_terms WHERE term = 'five'")).rowCount).toBe(0);
  });

  it("bounds a common term's list without changing the scores it returns", async () => {
    const texts = Array.from(
      { length: 300 },
      (_, i) => `common ${i % 3 === 0 ? "common common" : ""} term ${i % 5 === 0 ? "rare" : ""} filler${i % 11}`,
    );
    await add("bounded", texts);
    const o = { depth: 10, bm25: { k1: 1.2, b: 0.75 } };
    const datasetId = (
      await db.query<{ id: string }>("SELECT id::text AS id FROM datasets WHERE domain_name = 'bounded'")
    ).rows[0].id;
    const exact = await lexicalSearch(db, "common rare filler3", { ...o, datasetId, termLimit: 0 });
    const bounded = await lexicalSearch(db, "common rare filler3", { ...o, datasetId, termLimit: 20 });
    const exactAll = await lexicalSearch(db, "common rare filler3", { ...o, datasetId, termLimit: 0, depth: 300 });
    const truth = new Map(exactAll.ranked.map((r) => [r.id, r.score]));
    // Every score the bounded ranking returns is the document's exact BM25 score.
    for (const r of bounded.ranked) expect(r.score).toBeCloseTo(truth.get(r.id)!, 10);
    expect(bounded.ranked).toHaveLength(10);
    // At a limit no term's df passes, it is the exact ranking.
    const wide = await lexicalSearch(db, "common rare filler3", { ...o, datasetId, termLimit: 1000 });
    expect(wide.ranked).toEqual(exact.ranked);
    // The same bounded read from lists kept in memory (read cold, then kept): the same answer.
    const cache = new PostingsCache(1 << 20);
    for (const round of ["cold", "kept"]) {
      const kept = await lexicalSearch(db, "common rare filler3", { ...o, datasetId, termLimit: 20, postings: cache });
      expect({ round, ids: kept.ranked.map((r) => r.id), exact: kept.exact }).toEqual({
        round,
        ids: bounded.ranked.map((r) => r.id),
        exact: bounded.exact,
      });
      kept.ranked.forEach((r, i) => expect(r.score).toBeCloseTo(bounded.ranked[i].score, 10));
    }
    expect(cache.hits).toBeGreaterThan(0);
  });

  it("ranks exact reads from lists kept in memory as the database does, and sees a change of the dataset at once", async () => {
    await add(
      "kept",
      Array.from(
        { length: 60 },
        (_, i) =>
          `${"alpha ".repeat(1 + (i % 4))}${i % 3 === 0 ? "beta " : ""}${i % 5 === 0 ? "gamma gamma " : ""}row${i} ${"pad ".repeat(i % 9)}`,
      ),
    );
    const idOf = async (content: string) =>
      (
        await db.query<{ id: string }>(
          "SELECT e.id::text AS id FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE d.domain_name = 'kept' AND e.content = $1",
          [content],
        )
      ).rows[0]?.id;
    const datasetId = (await db.query<{ id: string }>("SELECT id::text AS id FROM datasets WHERE domain_name = 'kept'"))
      .rows[0].id;
    const cache = new PostingsCache(1 << 20);
    const o = { datasetId, depth: 15, bm25: { k1: 1.2, b: 0.75 }, termLimit: 0 };
    const q = "alpha beta gamma unknownword";
    const same = async (label: string) => {
      const inDb = await lexicalSearch(db, q, o);
      const kept = await lexicalSearch(db, q, { ...o, postings: cache });
      expect({ label, ids: kept.ranked.map((r) => r.id), exact: kept.exact }).toEqual({
        label,
        ids: inDb.ranked.map((r) => r.id),
        exact: true,
      });
      kept.ranked.forEach((r, i) => {
        expect(r.score).toBeCloseTo(inDb.ranked[i].score, 10);
        expect(r.match).toBeCloseTo(inDb.ranked[i].match!, 10);
      });
      return kept.ranked.map((r) => r.id);
    };
    // A cache too small for the query's postings is not asked at all: the database ranks, so what a
    // query brings into the node stays within the configured bound whatever the term limit.
    const tiny = new PostingsCache(4 * 24 * 10);
    const inDbFirst = await lexicalSearch(db, q, o);
    const viaTiny = await lexicalSearch(db, q, { ...o, postings: tiny });
    expect({ ids: viaTiny.ranked.map((r) => r.id), misses: tiny.misses, size: tiny.size }).toEqual({
      ids: inDbFirst.ranked.map((r) => r.id),
      misses: 0,
      size: 0,
    });
    await same("first read: the lists are read and kept");
    expect(cache.size).toBe(3);
    const hits = cache.hits;
    await same("second read: from memory");
    expect(cache.hits).toBe(hits + 3);
    // A new example that beats every other: seen by the next read (the dataset's version moved).
    await add("kept", ["alpha alpha alpha beta beta gamma gamma gamma"]);
    const top = await idOf("alpha alpha alpha beta beta gamma gamma gamma");
    expect((await same("after an add"))[0]).toBe(top);
    await broker.call("datasets.remove", { id: top });
    expect(await same("after a delete")).not.toContain(top);
    if (!pglite) return;
    // Vector and hybrid hits take their match fractions (and fusion the BM25 of vector-only
    // candidates) from the kept lists: the same hits as by primary key, also with the lists cold.
    const embed = computeEmbedder(broker);
    const settings = {
      bm25: o.bm25,
      termLimit: 0,
      postingsBudget: 0,
      exactPostings: 50_000,
      efSearch: 100,
      fusion: { lexicalWeight: 0.5, depth: 20 },
    };
    for (const mode of ["vector", "hybrid"] as const)
      for (const fresh of [true, false]) {
        const postings = fresh ? new PostingsCache(1 << 20) : cache;
        const req = { q: "alpha gamma row7 row12", datasetId, k: 12, mode };
        const byKey = await runSearch(db, embed, req, settings);
        const kept = await runSearch(db, embed, req, { ...settings, postings });
        expect(byKey.hits.some((h) => h.match > 0 && h.match < 1)).toBe(true);
        const shape = (hs: typeof byKey.hits) => hs.map((h) => ({ id: h.id, ranks: h.ranks, content: h.content }));
        expect({ mode, fresh, hits: shape(kept.hits) }).toEqual({ mode, fresh, hits: shape(byKey.hits) });
        kept.hits.forEach((h, i) => {
          expect(h.score).toBeCloseTo(byKey.hits[i].score, 10);
          expect(h.match).toBeCloseTo(byKey.hits[i].match, 10);
        });
      }
  });

  it("counts the node's kept lists looked up, and their bytes, in its metrics", async () => {
    const registry = metricsOf(broker).registry;
    const lists = async () => {
      const m = await registry.getSingleMetric("mcai_search_postings_lists_total")!.get();
      const of = (result: string) => m.values.find((v) => v.labels.result === result)?.value ?? 0;
      return { hit: of("hit"), miss: of("miss") };
    };
    const bytes = async () =>
      (await registry.getSingleMetric("mcai_search_postings_cache_bytes")!.get()).values[0].value;
    await add("metered", ["kiwi mango", "mango papaya", "papaya kiwi kiwi"]);
    const before = await lists();
    await search({ q: "kiwi papaya", domain: "metered", mode: "lexical" });
    const read = await lists();
    // Two lists read from the database and kept, then one of them found kept by another query.
    expect(read.miss - before.miss).toBe(2);
    expect(await bytes()).toBeGreaterThan(0);
    await search({ q: "kiwi", domain: "metered", mode: "lexical" });
    expect((await lists()).hit - read.hit).toBe(1);
  });

  it("proves a bounded ranking from lists kept in memory as from the database, its last check included", async () => {
    // 400 examples of three words each, "common" once in every one: its postings all have one
    // impact, so the bound of its unread ones equals its weight and the cheap checks cannot settle
    // it: the proof reaches its last check (the best partial score of each group of the documents
    // read but not rescored).
    const texts = Array.from({ length: 400 }, (_, i) => `common filler${i % 10} word${i}`);
    await add("proof", texts);
    const datasetId = (
      await db.query<{ id: string }>("SELECT id::text AS id FROM datasets WHERE domain_name = 'proof'")
    ).rows[0].id;
    const q = "common filler1 filler2 filler3 filler4 filler5 filler6 filler7 filler8 filler9";
    const o = { datasetId, depth: 10, bm25: { k1: 1.2, b: 0.75 }, termLimit: 50 };
    const cache = new PostingsCache(1 << 20);
    for (const budget of [0, 1_000_000]) {
      const inDb = await lexicalSearch(db, q, { ...o, postingsBudget: budget });
      for (const round of ["cold", "kept"]) {
        const kept = await lexicalSearch(db, q, { ...o, postingsBudget: budget, postings: cache });
        expect({ budget, round, exact: kept.exact, ids: kept.ranked.map((r) => r.id) }).toEqual({
          budget,
          round,
          exact: inDb.exact,
          ids: inDb.ranked.map((r) => r.id),
        });
      }
    }
  });

  it("reads a bounded term deeper until the ranking is proven exact, and says when the budget stopped it", async () => {
    // Every example has "common" (1-3 times), one in seven has "rare", and each its own length: no
    // two score alike, so the exact order is one order. A limit of 5 bounds both terms.
    const texts = Array.from(
      { length: 200 },
      (_, i) =>
        `${"common ".repeat(1 + (i % 3))}${i % 7 === 0 ? "rare " : ""}${Array.from({ length: i }, (_, j) => `pad${j}`).join(" ")}`,
    );
    await add("deepen", texts);
    const datasetId = (
      await db.query<{ id: string }>("SELECT id::text AS id FROM datasets WHERE domain_name = 'deepen'")
    ).rows[0].id;
    const o = { datasetId, depth: 10, bm25: { k1: 1.2, b: 0.75 } };
    const q = "common rare";
    const exact = await lexicalSearch(db, q, { ...o, termLimit: 0 });
    const proven = await lexicalSearch(db, q, { ...o, termLimit: 5, postingsBudget: 1_000_000 });
    const stopped = await lexicalSearch(db, q, { ...o, termLimit: 5, postingsBudget: 0 });
    const ids = (r: { ranked: { id: string }[] }) => r.ranked.map((x) => x.id);
    expect(exact.exact).toBe(true);
    expect({ exact: proven.exact, ids: ids(proven) }).toEqual({ exact: true, ids: ids(exact) });
    proven.ranked.forEach((r, i) => expect(r.score).toBeCloseTo(exact.ranked[i].score, 10));
    // One round of 5 postings a term cannot prove it (the same query, no budget to read deeper): its
    // 10 postings hold 9 examples, not the exact 10.
    expect({ exact: stopped.exact, n: stopped.ranked.length }).toEqual({ exact: false, n: 9 });
    // A query with few postings in all reads its lists whole whatever the term limit: "common" is in
    // all 200 examples, "rare" in 29, so 229 postings; one fewer allowed, and it is bounded again.
    const small = await lexicalSearch(db, q, { ...o, termLimit: 5, postingsBudget: 0, exactPostings: 229 });
    const over = await lexicalSearch(db, q, { ...o, termLimit: 5, postingsBudget: 0, exactPostings: 228 });
    expect({ exact: small.exact, ids: ids(small) }).toEqual({ exact: true, ids: ids(exact) });
    small.ranked.forEach((r, i) => expect(r.score).toBeCloseTo(exact.ranked[i].score, 10));
    expect({ exact: over.exact, n: over.ranked.length }).toEqual({ exact: false, n: 9 });
    // From lists kept in memory (the bounded ones their best postings by impact): the same rounds,
    // the same proof, the same answers.
    const cache = new PostingsCache(1 << 20);
    for (const round of ["cold", "kept"]) {
      const keptProven = await lexicalSearch(db, q, { ...o, termLimit: 5, postingsBudget: 1_000_000, postings: cache });
      const keptStopped = await lexicalSearch(db, q, { ...o, termLimit: 5, postingsBudget: 0, postings: cache });
      expect({ round, exact: keptProven.exact, ids: ids(keptProven) }).toEqual({ round, exact: true, ids: ids(exact) });
      expect({ round, exact: keptStopped.exact, ids: ids(keptStopped) }).toEqual({
        round,
        exact: false,
        ids: ids(stopped),
      });
    }
    // The answer says which it is.
    const settings = {
      bm25: o.bm25,
      termLimit: 5,
      postingsBudget: 0,
      exactPostings: 0,
      efSearch: 100,
      fusion: { lexicalWeight: 0.95, depth: 20 },
    };
    const embed = () => Promise.resolve(new Float32Array(384));
    const answer = (budget: number) =>
      runSearch(db, embed, { q, datasetId, k: 10, mode: "lexical" }, { ...settings, postingsBudget: budget });
    await expect(answer(0)).resolves.toMatchObject({ lexical_exact: false });
    await expect(answer(1_000_000)).resolves.toMatchObject({ lexical_exact: true });
    const http = await search({ q, domain: "deepen", k: 10, mode: "lexical" });
    expect({ exact: (http as { lexical_exact?: boolean }).lexical_exact, ids: http.hits.map((h) => h.id) }).toEqual({
      exact: true,
      ids: ids(exact),
    });
  });

  if (pglite) {
    it("fuses lexical and vector lists into hybrid hits with both ranks", async () => {
      const r = await search({ q: "cherry pie", domain: "other", k: 3 });
      expect(r.mode).toBe("hybrid");
      expect(r.degraded).toBeUndefined();
      expect(r.hits[0]).toMatchObject({ content: "cherry pie", match: 1, ranks: { lexical: 1, vector: 1 } });
      for (const h of r.hits) expect(h.match).toBeGreaterThanOrEqual(0);
      const v = await search({ q: "cherry pie", domain: "other", k: 3, mode: "vector" });
      expect(v.hits[0]).toMatchObject({ content: "cherry pie", match: 1, ranks: { lexical: null, vector: 1 } });
    });

    it("fuses no worse than the better of its two lists on a small labelled set", async () => {
      await add("labelled", LABELLED_DOCS);
      const ids = new Map(
        (
          await db.query<{ id: string; content: string }>(
            "SELECT e.id::text AS id, e.content FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE d.domain_name = 'labelled'",
          )
        ).rows.map((r) => [r.content, r.id]),
      );
      const ndcg = async (mode: string) => {
        let sum = 0;
        for (const [q, relevant] of LABELLED_QUERIES) {
          const hits = (await search({ q, domain: "labelled", k: 5, mode })).hits.map((h) => h.id);
          const rel = new Set(relevant.map((i) => ids.get(LABELLED_DOCS[i])!));
          let dcg = 0;
          hits.forEach((id, i) => (dcg += rel.has(id) ? 1 / Math.log2(i + 2) : 0));
          let ideal = 0;
          for (let i = 0; i < Math.min(5, rel.size); i++) ideal += 1 / Math.log2(i + 2);
          sum += dcg / ideal;
        }
        return sum / LABELLED_QUERIES.length;
      };
      const scores = { lexical: await ndcg("lexical"), vector: await ndcg("vector"), hybrid: await ndcg("hybrid") };
      // Each list misses something the other finds (typos defeat the lexical list, shared filler
      // words mislead the vector one), so the set can tell a fusion that adds from one that averages.
      expect(scores.lexical).toBeLessThan(1);
      expect(scores.vector).toBeLessThan(1);
      expect(scores.hybrid).toBeGreaterThanOrEqual(Math.max(scores.lexical, scores.vector));
    });

    it("keeps a strong lexical match on top against a closer vector neighbour", async () => {
      // The neighbour is mostly the query's word pieces (character n-grams), so the vector list
      // ranks it first; the match has both of the query's words, once each, inside a longer text.
      const match = "Low serum magnesium levels were measured in patients with frequent migraine attacks";
      const neighbour = "Magnesian migrainous magnet migrating deficits: a magnesite migrant story";
      await add("misleading", [
        match,
        neighbour,
        "Cymatics shows sound as patterns in sand",
        "Alpha waves span 8 to 12 Hz",
      ]);
      const q = { q: "magnesium migraine", domain: "misleading", k: 2 };
      const vector = await search({ ...q, mode: "vector" });
      expect(vector.hits.map((h) => h.content)).toEqual([neighbour, match]);
      const hybrid = await search({ ...q, mode: "hybrid" });
      expect(hybrid.hits.map((h) => [h.content, h.ranks])).toEqual([
        [match, { lexical: 1, vector: 2 }],
        [neighbour, { lexical: 2, vector: 1 }],
      ]);
    });

    it("reads a stored vector back as numbers through pgvector's parser", async () => {
      const r = await db.query<{ embedding: number[] }>(
        "SELECT e.embedding FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE d.domain_name = 'misleading' LIMIT 1",
      );
      const v = r.rows[0].embedding;
      expect(v).toHaveLength(384);
      // A unit vector, each component rounded to 6 decimals when written.
      expect(Math.hypot(...v)).toBeCloseTo(1, 4);
      for (const x of v) expect(Math.round(x * 1e6) / 1e6).toBe(x);
    });
  } else {
    it("answers hybrid with the lexical ranking and degraded: no pgvector", async () => {
      const r = await search({ q: "apple cherry", domain: "hand" });
      expect(r).toMatchObject({ mode: "hybrid", degraded: "no pgvector" });
      expect(r.hits.map((h) => h.content)).toEqual([
        "apple banana apple",
        "banana cherry",
        "cherry date elderberry fig",
      ]);
    });
  }
});

/** A labelled set for fusion: documents, and queries with the indexes of their relevant documents. */
const LABELLED_DOCS = [
  "Chladni figures form when sand gathers on the nodal lines of a vibrating plate",
  "Cymatics studies visible sound and vibration patterns in water and sand",
  "The alpha band of brain waves spans eight to twelve hertz",
  "Theta waves between four and eight hertz appear in drowsiness and meditation",
  "A major triad stacks a major third and a perfect fifth",
  "The circle of fifths orders the twelve keys by ascending fifths",
  "Mandala art repeats motifs around a central point",
  "Complementary colours sit opposite each other on the colour wheel",
  "Binaural beats play two slightly different tones in each ear",
  "Solfeggio frequencies are a modern claim without clinical evidence",
  "The water in the glass and the sand on the plate and the waves in the sea",
];
const LABELLED_QUERIES: [string, number[]][] = [
  ["nodal lines on a vibrating plate", [0]],
  ["cymaticks", [1]],
  ["chladny figures", [0]],
  ["alpha brain waves", [2]],
  ["theta meditation", [3]],
  ["triads", [4]],
  ["circle of fifths keys", [5]],
  ["mandalla motifs", [6]],
  ["complementery colours", [7]],
  ["binaural beats", [8]],
  ["solfeggio evidence", [9]],
  ["sand and water in cymatics", [1]],
  ["waves in the sand", [1, 0]],
];
