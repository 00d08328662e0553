import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ServiceBroker } from "moleculer";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { getJson } from "../helpers/processes";
import { loadCorpus } from "../helpers/datasets";
import { EMOTIONS } from "../../compute/lib/emotions";
import { normalizeQuery, queryHash } from "../../services/knowledge/normalize";
import { putL2 } from "../../services/knowledge/store";
import { expectStatus } from "../helpers/expect";

let t: TestNode;
let broker: ServiceBroker;
const ask = (q: string, extra = "") => getJson(`${t.url}/api/knowledge?q=${encodeURIComponent(q)}${extra}`);

beforeAll(async () => {
  t = await startTestNode(
    { RATE_LIMIT: "0", COMPUTE_THREADS: "1" },
    ["api", "datasets", "compute", "knowledge"],
    await memoryDb(),
  );
  broker = t.node.broker;
  await loadCorpus(broker);
});
afterAll(() => t.node.stop());

describe("knowledge.query", () => {
  it("answers from the best match with its sources, emotion and frequencies", async () => {
    const r = await ask("How fast is an allegro tempo marking?");
    expectStatus(r, 200);
    expect(r.body).toMatchObject({ source: "dataset", cached: false, answer: "Allegro is a fast tempo marking [1]" });
    expect(r.body.matches[0]).toMatchObject({ content: "Allegro is a fast tempo marking", domain: "music" });
    expect(r.body.emotion.name).toEqual(expect.any(String));
    expect(r.body.frequencies).toEqual({ neuroscience_hz: expect.any(Number), metaphysical_hz: expect.any(Number) });
    expect(r.body.dataset_version).toBeGreaterThan(0);
    expect(r.body.took_ms).toEqual(expect.any(Number));
  });

  it("is a cache hit the second time, and for the same query in another case, spacing or punctuation", async () => {
    const first = await ask("what scale has no sharps");
    expect(first.body.cached).toBe(false);
    const again = await ask("what scale has no sharps");
    expect(again.body).toMatchObject({ cached: true, source: "cache", cache_tier: "l1", answer: first.body.answer });
    const variant = await getJson(`${t.url}/api/knowledge/query`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "  WHAT scale, has no   sharps?! " }),
    });
    expect(variant.body).toMatchObject({ cached: true, answer: first.body.answer });
    expect((await ask("what scale has sharps")).body.cached).toBe(false);
    expect((await ask("what scale has no sharps", "&k=3")).body.cached).toBe(false);
  });

  it("normalizes equal queries to one key and different ones apart", () => {
    expect(normalizeQuery("Hello,   WORLD!!")).toBe("hello world");
    expect(normalizeQuery("Ｈｅｌｌｏ world")).toBe("hello world");
    expect(queryHash("hello world", undefined, 5)).toBe(queryHash(normalizeQuery(" hello world? "), undefined, 5));
    expect(queryHash("hello world", "music", 5)).not.toBe(queryHash("hello world", undefined, 5));
    expect(queryHash("hello world", undefined, 5)).not.toBe(queryHash("hello there", undefined, 5));
  });

  it("does not serve an answer cached by an earlier revision of the answers", async () => {
    const version = (await ask("allegro tempo", "&k=5")).body.dataset_version as number;
    // Revision 1's key had no revision in it: an answer it stored must be missed after an upgrade.
    const normalized = normalizeQuery("how fast is allegro");
    const before = crypto.createHash("sha1").update(`${normalized}\u0000\u00005`).digest("hex");
    expect(queryHash(normalized, undefined, 5)).not.toBe(before);
    await putL2(t.node.db!, {
      hash: before,
      version,
      feedback: 0,
      query: normalized,
      terms: [],
      domain: undefined,
      response: { answer: "an answer composed by the build before", matches: [] },
      source: "dataset",
      ttlS: 3600,
    });
    const r = await ask("how fast is allegro", "&k=5");
    expect(r.body).toMatchObject({ cached: false, source: "dataset" });
    expect(r.body.answer).not.toContain("the build before");
  });

  it("misses after a dataset change, answering with the new version", async () => {
    const before = await ask("mandala patterns");
    const cached = await ask("mandala patterns");
    expect(cached.body.cached).toBe(true);
    await broker.call("datasets.add", {
      domain: "art",
      examples: [{ content: "Mandala patterns are drawn from the center outwards", response: "radial" }],
    });
    const after = await ask("mandala patterns");
    expect(after.body.cached).toBe(false);
    expect(after.body.dataset_version).toBeGreaterThan(before.body.dataset_version);
    expect(after.body.matches.map((m: { content: string }) => m.content)).toContain(
      "Mandala patterns are drawn from the center outwards",
    );
  });

  it("answers from L2 when L1 lost the entry, and puts it back in L1", async () => {
    const stats = () =>
      broker.call<{
        l1: { hits: number; misses: number };
        l2: { hits: number; entries: number };
      }>("knowledge.cacheStats");
    const before = await stats();
    await ask("flow fields particles");
    await broker.cacher!.clean("knowledge:q:**");
    expect((await ask("flow fields particles")).body).toMatchObject({ cached: true, cache_tier: "l2" });
    expect((await ask("flow fields particles")).body).toMatchObject({ cached: true, cache_tier: "l1" });
    const after = await stats();
    // One new entry; one hit in each tier (the L2 answer, then the L1 answer it put back).
    expect({
      l1Hits: after.l1.hits - before.l1.hits,
      l2Hits: after.l2.hits - before.l2.hits,
      entries: after.l2.entries - before.l2.entries,
    }).toEqual({ l1Hits: 1, l2Hits: 1, entries: 1 });
  });

  it("refuses bad params with 4xx", async () => {
    expectStatus(await getJson(`${t.url}/api/knowledge`), 422);
    expectStatus(await ask(""), 422);
    expect((await ask("?!")).body.error.message).toBe("query has no words");
    expectStatus(await ask("x", "&k=50"), 422);
    expectStatus(await ask("x", "&domain=Bad%20Name"), 422);
    expectStatus(await ask("x".repeat(1001)), 422);
  });
});

describe("emotions", () => {
  it("lists the seeded catalog, the same as the compute catalog", async () => {
    const r = (await getJson(`${t.url}/api/emotions`)).body.emotions;
    expect(r.length).toBeGreaterThanOrEqual(12);
    for (const e of EMOTIONS) {
      expect(r.find((x: { name: string }) => x.name === e.name)).toMatchObject({
        neuroscience_hz: e.neuroscience_hz,
        band: e.band,
        metaphysical_hz: e.metaphysical_hz,
        personality: e.personality,
      });
    }
    expect((await getJson(`${t.url}/api/emotions/AWE`)).body).toMatchObject({ name: "awe", metaphysical_hz: 963 });
    expectStatus(await getJson(`${t.url}/api/emotions/boredom`), 404);
  });
});

describe("knowledge.dataset", () => {
  it("caches a domain's first page under the version, and refreshes after a change", async () => {
    const a = (await getJson(`${t.url}/api/knowledge/datasets/music`)).body;
    expect(a).toMatchObject({ cached: false, dataset: { domain: "music" } });
    expect((await getJson(`${t.url}/api/knowledge/datasets/music`)).body.cached).toBe(true);
    await broker.call("datasets.add", { domain: "music", examples: [{ content: "Largo is very slow" }] });
    await new Promise((r) => setTimeout(r, 50));
    const b = (await getJson(`${t.url}/api/knowledge/datasets/music`)).body;
    expect(b.cached).toBe(false);
    expect(b.examples.map((e: { content: string }) => e.content)).toContain("Largo is very slow");
    expectStatus(await getJson(`${t.url}/api/knowledge/datasets/none`), 404);
  });
});

describe("warm-up", () => {
  it("primes L1 with the most-asked queries so the first ask after a start is a hit", async () => {
    await ask("beats per minute");
    await ask("beats per minute");
    await broker.cacher!.clean("knowledge:**");
    const r = await broker.call<{ result: string }>("knowledge.warmup");
    expect(r.result).toMatch(/primed the emotions, the domains and [1-9]\d* queries/);
    expect((await ask("beats per minute")).body).toMatchObject({ cached: true, cache_tier: "l1" });
    expect((await broker.call<{ result: string }>("knowledge.warmup")).result).toMatch(/skipped/);
  });

  it("is bounded: a node whose datasets never come starts anyway, its warm-up stopped at the bound", async () => {
    expect((await broker.call<{ warmup: string }>("knowledge.cacheStats")).warmup).toMatch(/^primed the emotions/);
    const n = await startTestNode({ RATE_LIMIT: "0", KNOWLEDGE_WARMUP_MS: "300" }, ["knowledge"], await memoryDb());
    try {
      expect((await n.node.broker.call<{ warmup: string }>("knowledge.cacheStats")).warmup).toBe(
        "stopped at the 300 ms bound",
      );
    } finally {
      await n.node.stop();
    }
  });
});

describe("answers written by an LLM", () => {
  let server: http.Server;
  let mode: "ok" | "slow" | "fail" = "ok";
  let calls = 0;
  let n: TestNode;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        calls++;
        const reply = () =>
          res.writeHead(200, { "content-type": "application/json" }).end(
            JSON.stringify({
              choices: [
                { message: { content: `model answer to: ${JSON.parse(body).messages[1].content.split("\n")[0]}` } },
              ],
            }),
          );
        if (mode === "fail") res.writeHead(500).end("{}");
        else if (mode === "slow") setTimeout(reply, 1500);
        else reply();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    n = await startTestNode(
      { RATE_LIMIT: "0", COMPUTE_THREADS: "1", LLM_URL: url, LLM_TIMEOUT_MS: "300" },
      ["api", "datasets", "compute", "knowledge"],
      await memoryDb(),
    );
    await loadCorpus(n.node.broker);
  });
  afterAll(async () => {
    await n.node.stop();
    server.closeAllConnections();
    server.close();
  });
  const q = (s: string) =>
    n.node.broker.call<
      {
        source: string;
        answer: string;
        degraded?: boolean;
        cached: boolean;
      },
      object
    >("knowledge.query", { query: s });

  it("uses the model's answer when the endpoint answers", async () => {
    expect(await q("tempo marking")).toMatchObject({
      source: "llm",
      answer: "model answer to: Question: tempo marking",
    });
  });

  it("falls back to the extractive answer, degraded and not cached, when the endpoint is slow or fails", async () => {
    mode = "slow";
    expect(await q("minor scale sound")).toMatchObject({
      source: "dataset",
      degraded: true,
      answer: "A minor scale sounds sad and dark [1]",
    });
    mode = "fail";
    expect(await q("minor scale sound")).toMatchObject({ source: "dataset", degraded: true, cached: false });
  });

  it("opens the breaker after repeated failures (the endpoint is not called), and closes it when it recovers", async () => {
    mode = "fail";
    // Distinct questions (no cache hit) that the datasets answer well (no decline): each reaches the model.
    for (const s of ["sad", "dark", "sad dark"]) await q(`minor scale ${s}`);
    const before = calls;
    expect(await q("minor scale sounds")).toMatchObject({ degraded: true });
    expect(calls).toBe(before);
    mode = "ok";
    await new Promise((r) => setTimeout(r, 5500)); // the breaker's half-open time
    expect(await q("minor scale sounds dark")).toMatchObject({ source: "llm" });
    expect(calls).toBe(before + 1);
  });
});
