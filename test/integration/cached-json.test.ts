import Redis from "ioredis";
import { Cachers } from "moleculer";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { ADMIN_KEY } from "../helpers/datasets";
import { createDatabase, describeWithPgAndRedis, dropDatabase, REDIS_URL, uniqueName } from "../helpers/servers";

/** A response as the client reads it: status, the headers that describe the body, and the body's text. */
async function fetchText(url: string) {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  // Date and the request id differ by request; every other header must not.
  const headers: Record<string, string> = {};
  r.headers.forEach((v, k) => {
    if (k !== "date" && k !== "x-request-id") headers[k] = v;
  });
  return { status: r.status, headers, text };
}

async function add(t: TestNode, domain: string, examples: { content: string; metadata?: unknown }[]): Promise<void> {
  const r = await fetch(`${t.url}/api/datasets/${domain}/examples`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(examples),
  });
  expect({ status: r.status, body: (await r.json()) as unknown }).toMatchObject({
    status: 200,
    body: { added: examples.length },
  });
}

/** The values the node's memory cacher keeps under keys starting with `prefix`. */
async function kept(t: TestNode, prefix: string): Promise<unknown[]> {
  const cacher = t.node.broker.cacher as unknown as {
    getCacheKeys(): Promise<{ key: string }[]>;
    get(key: string): Promise<unknown>;
  };
  const keys = (await cacher.getCacheKeys()).map((k) => k.key).filter((k) => k.startsWith(prefix));
  return Promise.all(keys.map((k) => cacher.get(k)));
}

describe("cached reads sent as JSON text (embedded)", () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode(
      { RATE_LIMIT: "0", COMPUTE_THREADS: "1", API_KEYS: ADMIN_KEY },
      ["api", "datasets", "knowledge", "compute"],
      await memoryDb(),
    );
    await add(t, "music", [
      { content: "Allegro is a fast tempo marking", metadata: { source: "glossary", tags: ["tempo", "fast"] } },
      { content: 'Largo is a "very" slow tempo\nwith a line break and \u0001 a control character' },
      { content: "A fugue has voices", metadata: { n: 1.5, nested: { ok: true, none: null } } },
    ]);
  });
  afterAll(() => t.node.stop());

  it("answers a repeated search with the kept text: the first's body with cached true, and its headers", async () => {
    const url = `${t.url}/api/search?q=${encodeURIComponent("tempo marking")}&k=5`;
    const first = await fetchText(url);
    expect({ status: first.status, cached: (JSON.parse(first.text) as { cached: unknown }).cached }).toEqual({
      status: 200,
      cached: false,
    });
    const repeat = await fetchText(url);
    const text = first.text.replace('"cached":false', '"cached":true');
    expect(repeat).toEqual({
      ...first,
      headers: { ...first.headers, "content-length": String(Buffer.byteLength(text)) },
      text,
    });
    // What was sent is what the cacher keeps, as text: no parse and stringify on the way.
    expect(await kept(t, "datasets:search-json:")).toContain(repeat.text);
  });

  it("answers a fresh search after a change to the datasets", async () => {
    const url = `${t.url}/api/search?q=${encodeURIComponent("slow tempo")}&k=5`;
    await fetchText(url);
    expect((JSON.parse((await fetchText(url)).text) as { cached: boolean }).cached).toBe(true);
    await add(t, "music", [{ content: "Lento is a slow tempo too" }]);
    const after = JSON.parse((await fetchText(url)).text) as { cached: boolean; hits: { content: string }[] };
    expect({ cached: after.cached, added: after.hits.some((h) => h.content === "Lento is a slow tempo too") }).toEqual({
      cached: false,
      added: true,
    });
  });

  it("writes a page as the examples read one by one, kept and repeated as the same text", async () => {
    const url = `${t.url}/api/datasets/music/examples?limit=3`;
    const first = await fetchText(url);
    expect(first.status).toBe(200);
    const page = JSON.parse(first.text) as { examples: { id: string }[]; next_cursor: string | null };
    const one = await Promise.all(
      page.examples.map(async (e) => JSON.parse((await fetchText(`${t.url}/api/examples/${e.id}`)).text) as unknown),
    );
    expect(page.examples).toEqual(one);
    expect(page.next_cursor).toEqual(expect.any(String));
    expect(await fetchText(url)).toEqual(first);
    expect(await kept(t, "datasets:page-json:")).toContain(first.text);
  });

  it("gives a service calling datasets.examples for an HTTP request the page as an object", async () => {
    const http = JSON.parse((await fetchText(`${t.url}/api/datasets/music/examples?limit=20`)).text) as {
      examples: unknown[];
    };
    // knowledge.dataset calls datasets.examples with the gateway's meta: it must get an object, not text.
    const viaKnowledge = await fetchText(`${t.url}/api/knowledge/datasets/music`);
    expect({ status: viaKnowledge.status, body: JSON.parse(viaKnowledge.text) as unknown }).toMatchObject({
      status: 200,
      body: { examples: http.examples },
    });
    const direct = await t.node.broker.call<{ examples: unknown[] }, { domain: string; limit: number }>(
      "datasets.examples",
      { domain: "music", limit: 20 },
    );
    expect(direct.examples).toEqual(http.examples);
  });
});

describeWithPgAndRedis("cached reads kept in Redis as the text sent", () => {
  const nodes: TestNode[] = [];
  let url = "";
  let redis: Redis;
  const namespace = uniqueName("raw");

  beforeAll(async () => {
    url = await createDatabase();
    const env = {
      RATE_LIMIT: "0",
      COMPUTE_THREADS: "1",
      API_KEYS: ADMIN_KEY,
      DATABASE_URL: url,
      CACHER: REDIS_URL,
      NAMESPACE: namespace,
    };
    for (let i = 0; i < 2; i++)
      nodes.push(await startTestNode({ ...env, NODE_ID: `raw${i}` }, ["api", "datasets", "compute"]));
    await add(nodes[0], "music", [
      { content: 'Largo is a "very" slow tempo\nwith a line break', metadata: { tags: ["slow"], n: 1.5 } },
      { content: "Allegro is a fast tempo marking" },
      { content: "A fugue has voices" },
    ]);
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    redis.disconnect();
    for (const n of nodes) await n.node.stop();
    await dropDatabase(url);
  });

  /** What Redis holds under the namespace's keys of `kind`, as stored (no decoding). */
  async function stored(kind: string): Promise<string[]> {
    const prefix = (nodes[0].node.broker.cacher as Cachers.Redis).prefix ?? "";
    const keys = await redis.keys(`${prefix}datasets:${kind}-json-raw:*`);
    return Promise.all(keys.map(async (k) => (await redis.get(k)) ?? ""));
  }

  it("stores a page as its text, which another node serves as it is", async () => {
    const url0 = `${nodes[0].url}/api/datasets/music/examples?limit=2`;
    const first = await fetchText(url0);
    expect({
      status: first.status,
      examples: (JSON.parse(first.text) as { examples: unknown[] }).examples.length,
    }).toEqual({ status: 200, examples: 2 });
    expect(await stored("page")).toEqual([first.text]);
    // Node 1 has not read it: it comes from Redis, sent as the same text with the same headers.
    expect(await fetchText(url0.replace(nodes[0].url, nodes[1].url))).toEqual(first);
  });

  it("stores a search result as its text, which another node serves as cached", async () => {
    const q = `${nodes[0].url}/api/search?q=tempo&k=5`;
    const first = await fetchText(q);
    expect(first.status).toBe(200);
    const kept = await stored("search");
    const other = await fetchText(q.replace(nodes[0].url, nodes[1].url));
    expect({ status: other.status, body: JSON.parse(other.text) as unknown }).toEqual({
      status: 200,
      body: { ...(JSON.parse(first.text) as object), cached: true },
    });
    expect(kept).toEqual([other.text]);
  });
});
