import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ServiceBroker } from "moleculer";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { eventually, getJson } from "../helpers/processes";
import { waitFor } from "../helpers/jobs";
import { ADMIN_KEY, loadCorpus, watchChanges } from "../helpers/datasets";
import { expectStatus } from "../helpers/expect";
import { loadConfig } from "../../services/lib/config";

let t: TestNode;
let broker: ServiceBroker;
const auth = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };

beforeAll(async () => {
  t = await startTestNode(
    {
      API_KEYS: ADMIN_KEY,
      RATE_LIMIT: "0",
      COMPUTE_THREADS: "1",
      IMPORT_BODY_MAX_EXAMPLES: "100",
      DATASET_PAGE_MAX: "50",
    },
    ["api", "jobs", "datasets", "compute"],
    await memoryDb(),
  );
  broker = t.node.broker;
  await loadCorpus(broker);
});
afterAll(() => t.node.stop());

const content = (r: { hits: { content: string }[] }) => r.hits.map((h) => h.content);

describe("datasets search on PGlite with pgvector", () => {
  it("ranks lexical matches by BM25, with OR semantics", async () => {
    const r = (await getJson(`${t.url}/api/search?q=tempo&mode=lexical`)).body;
    // Both have "tempo" once; the shorter one (4 terms after stop words, against 5) ranks first.
    expect(content(r)).toEqual(["Allegro is a fast tempo marking", "Tempo is measured in beats per minute"]);
    expect(r.hits[0].ranks).toEqual({ lexical: 1, vector: null });
    expect(content((await getJson(`${t.url}/api/search?q=fast%20tempo&mode=lexical`)).body)).toEqual([
      "Allegro is a fast tempo marking",
      "Tempo is measured in beats per minute",
    ]);
  });

  it("ranks vector matches by cosine similarity of the query's embedding", async () => {
    const r = (await getJson(`${t.url}/api/search?q=${encodeURIComponent("a fast tempo marking")}&mode=vector&k=2`))
      .body;
    expect(content(r)).toEqual(["Allegro is a fast tempo marking", "Tempo is measured in beats per minute"]);
    expect(r.hits[0].score).toBeGreaterThan(r.hits[1].score);
    expect(r.hits[0].ranks).toEqual({ lexical: null, vector: 1 });
  });

  it("fuses both lists' scores in hybrid mode", async () => {
    const q = encodeURIComponent("tempo beats");
    const r = (await getJson(`${t.url}/api/search?q=${q}&k=2`)).body;
    expect(r.mode).toBe("hybrid");
    expect(r.degraded).toBeUndefined();
    expect(content(r)).toEqual(["Tempo is measured in beats per minute", "Allegro is a fast tempo marking"]);
    expect(r.hits[0].ranks).toEqual({ lexical: 1, vector: 1 });
    // First in both lists: w · (its BM25 over the best, 1) + (1 − w) · its cosine, w the default weight.
    const w = loadConfig({}).datasets.hybridLexicalWeight;
    const cosine = (await getJson(`${t.url}/api/search?q=${q}&k=1&mode=vector`)).body.hits[0].score;
    expect(r.hits[0].score).toBeCloseTo(w + (1 - w) * cosine, 10);
  });

  it("filters by domain", async () => {
    const r = (await getJson(`${t.url}/api/search?q=patterns&domain=art`)).body;
    expect(r.hits.every((h: { domain: string }) => h.domain === "art")).toBe(true);
    expect(r.hits[0].content).toBe("Mandala patterns repeat around a center");
  });

  it("still returns k hits when a domain filter removes most index neighbours", async () => {
    const big = Array.from({ length: 1500 }, (_, i) => ({ content: `common words about sound waves number ${i}` }));
    for (let i = 0; i < big.length; i += 100)
      await broker.call("datasets.add", { domain: "big", examples: big.slice(i, i + 100) });
    await broker.call("datasets.add", {
      domain: "small",
      examples: Array.from({ length: 25 }, (_, i) => ({ content: `rare entry ${i} on sound` })),
    });
    const r = (
      await getJson(
        `${t.url}/api/search?q=${encodeURIComponent("common words about sound waves")}&mode=vector&domain=small&k=20`,
      )
    ).body;
    expect(r.hits).toHaveLength(20);
    expect(r.hits.every((h: { domain: string }) => h.domain === "small")).toBe(true);
  });

  it("refuses bad queries with 4xx", async () => {
    expectStatus(await getJson(`${t.url}/api/search?q=`), 422);
    expect((await getJson(`${t.url}/api/search?q=x&k=1000`)).body.error).toMatchObject({
      type: "VALIDATION_ERROR",
      message: "k must be at most 100, got 1000",
    });
    expectStatus(await getJson(`${t.url}/api/search?q=x&mode=fuzzy`), 422);
    expectStatus(await getJson(`${t.url}/api/search?q=x&domain=nope`), 404);
    expectStatus(await getJson(`${t.url}/api/search?q=x&domain=Bad%20Name`), 422);
  });
});

describe("datasets pages", () => {
  it("walks every row exactly once in id order, with next_cursor null at the end", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { body: { examples: { id: string }[]; next_cursor: string | null } } = await getJson(
        `${t.url}/api/datasets/big/examples?limit=37${cursor ? `&cursor=${cursor}` : ""}`,
      );
      seen.push(...r.body.examples.map((e) => e.id));
      cursor = r.body.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).toHaveLength(1500);
    expect(new Set(seen).size).toBe(1500);
    expect(seen.map(Number)).toEqual([...seen.map(Number)].sort((a, b) => a - b));
    expect(pages).toBe(Math.ceil(1500 / 37));
  });

  it("returns each row at most once, and every earlier row, while rows are being added", async () => {
    const before = new Set<string>();
    for (let c: string | null = null, first = true; first || c; first = false) {
      const r: { body: { examples: { id: string }[]; next_cursor: string | null } } = await getJson(
        `${t.url}/api/datasets/small/examples?limit=50${c ? `&cursor=${c}` : ""}`,
      );
      r.body.examples.forEach((e) => before.add(e.id));
      c = r.body.next_cursor;
    }
    const writer = (async () => {
      for (let i = 0; i < 10; i++)
        await broker.call("datasets.add", {
          domain: "small",
          examples: Array.from({ length: 10 }, (_, j) => ({ content: `added while walking ${i}-${j}` })),
        });
    })();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: { body: { examples: { id: string }[]; next_cursor: string | null } } = await getJson(
        `${t.url}/api/datasets/small/examples?limit=3${cursor ? `&cursor=${cursor}` : ""}`,
      );
      seen.push(...r.body.examples.map((e) => e.id));
      cursor = r.body.next_cursor;
    } while (cursor);
    await writer;
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of before) expect(seen).toContain(id);
  });

  it("refuses bad limits and cursors with 4xx", async () => {
    expectStatus(await getJson(`${t.url}/api/datasets/big/examples?limit=0`), 422);
    expect((await getJson(`${t.url}/api/datasets/big/examples?limit=51`)).body.error.message).toBe(
      "limit must be at most 50, got 51",
    );
    expectStatus(await getJson(`${t.url}/api/datasets/big/examples?limit=abc`), 422);
    expect((await getJson(`${t.url}/api/datasets/big/examples?cursor=not-a-cursor`)).body.error).toMatchObject({
      type: "ERR_BAD_REQUEST",
    });
    expectStatus(await getJson(`${t.url}/api/datasets/none/examples`), 404);
    // A real cursor, of another domain's pages: refused, not a silent page of this domain.
    const big = (await getJson(`${t.url}/api/datasets/big/examples?limit=2`)).body;
    const crossed = await getJson(`${t.url}/api/datasets/small/examples?limit=2&cursor=${big.next_cursor}`);
    expectStatus(crossed, 400);
    expect(crossed.body.error).toMatchObject({ data: { field: "cursor" } });
  });

  it("gets one example, and 404s a missing one", async () => {
    const page = (await getJson(`${t.url}/api/datasets/music/examples?limit=1`)).body;
    const one = (await getJson(`${t.url}/api/examples/${page.examples[0].id}`)).body;
    expect(one).toMatchObject({
      id: page.examples[0].id,
      domain: "music",
      content: "The C major scale has no sharps or flats",
      response: "C D E F G A B",
    });
    expectStatus(await getJson(`${t.url}/api/examples/999999`), 404);
    expectStatus(await getJson(`${t.url}/api/examples/abc`), 422);
  });
});

describe("datasets writes, versions and events", () => {
  it("adds through the admin API, skipping duplicates and rejecting non-examples, with exact counts", async () => {
    const seen = watchChanges(broker, "watch-add");
    const v0 = (await broker.call<{ version: number }>("datasets.version")).version;
    const body = [
      { content: "new one" },
      { prompt: "new two", response: "r", tag: "x" },
      { content: "new one" },
      { nothing: true },
    ];
    const r = await getJson(`${t.url}/api/datasets/fresh/examples`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify(body),
    });
    expect(r.body).toMatchObject({ domain: "fresh", read: 4, added: 2, duplicates: 1, rejected: 1 });
    expect(r.body.version).toBeGreaterThan(v0);
    expect((await broker.call<{ version: number }>("datasets.version")).version).toBe(r.body.version);
    await new Promise((res) => setTimeout(res, 50));
    expect(seen).toEqual([{ domain: "fresh", version: r.body.version }]);
    // The same again adds nothing: no new version, no event.
    const again = await getJson(`${t.url}/api/datasets/fresh/examples`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify(body),
    });
    expect(again.body).toMatchObject({ read: 4, added: 0, duplicates: 3, rejected: 1, version: null });
    await new Promise((res) => setTimeout(res, 50));
    expect(seen).toHaveLength(1);
    const list = (await getJson(`${t.url}/api/datasets`)).body.datasets.find(
      (d: { domain: string }) => d.domain === "fresh",
    );
    expect(list).toMatchObject({ example_count: 2, version: r.body.version });
  });

  it("writes nothing, not even the domain, for a body of only rejected records", async () => {
    const r = await getJson(`${t.url}/api/datasets/only-rejects/examples`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify([{ nothing: 1 }, { content: "" }]),
    });
    expect(r.body).toMatchObject({ domain: "only-rejects", read: 2, added: 0, rejected: 2, version: null });
    expect(
      (await getJson(`${t.url}/api/datasets`)).body.datasets.map((d: { domain: string }) => d.domain),
    ).not.toContain("only-rejects");
  });

  it("does not embed again what a re-import already has", async () => {
    const tasks = async () => (await broker.call<{ completed: number }>("compute.stats")).completed;
    const body = JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ content: `embedded once ${i}` })));
    await getJson(`${t.url}/api/datasets/embed-once/examples`, { method: "POST", headers: auth, body });
    const before = await tasks();
    const again = await getJson(`${t.url}/api/datasets/embed-once/examples`, { method: "POST", headers: auth, body });
    expect(again.body).toMatchObject({ read: 20, added: 0, duplicates: 20 });
    expect(await tasks()).toBe(before);
  });

  it("refuses writes without the admin key, too many examples, and bad domains, writing nothing", async () => {
    const v = (await broker.call<{ version: number }>("datasets.version")).version;
    expect(
      (
        await getJson(`${t.url}/api/datasets/fresh/examples`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "[]",
        })
      ).status,
    ).toBe(401);
    const many = Array.from({ length: 101 }, (_, i) => ({ content: `x${i}` }));
    const r = await getJson(`${t.url}/api/datasets/fresh/examples`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify(many),
    });
    expectStatus(r, 413);
    expect(r.body.error.message).toBe("examples has 101 items, over the limit of 100");
    expect(
      (
        await getJson(`${t.url}/api/datasets/Bad!/examples`, {
          method: "POST",
          headers: auth,
          body: '[{"content":"a"}]',
        })
      ).status,
    ).toBe(422);
    expect(
      (
        await getJson(`${t.url}/api/datasets/fresh/examples`, {
          method: "POST",
          headers: auth,
          body: '{"examples": "no"}',
        })
      ).status,
    ).toBe(422);
    expect((await broker.call<{ version: number }>("datasets.version")).version).toBe(v);
  });

  it("imports a JSONL stream through the admin API, and rolls back a malformed one whole", async () => {
    const post = (body: string, q: string) =>
      getJson(`${t.url}/api/datasets/streamed/import?${q}`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/octet-stream" },
        body,
      });
    const ok = await post('{"content":"s1"}\n{"content":"s2","response":"r"}\n', "format=jsonl&filename=s.jsonl");
    expect(ok.status).toBe(202);
    const job = await waitFor(t.url, ok.body.job_id, ["completed", "failed"], 30_000, {
      authorization: `Bearer ${ADMIN_KEY}`,
    });
    expect(job.result).toMatchObject({ domain: "streamed", file: "s.jsonl", read: 2, added: 2 });
    const bad = await post('{"content":"s3"}\n{"content":\n', "format=jsonl&filename=bad.jsonl");
    expectStatus(bad, 422);
    expect(bad.body.error.message).toMatch(/^bad\.jsonl: line 2: /);
    const page = (await getJson(`${t.url}/api/datasets/streamed/examples`)).body;
    expect(page.examples.map((e: { content: string }) => e.content)).toEqual(["s1", "s2"]);
    expectStatus(await post("[]", "format=csv"), 400);
  });

  it("deletes an example (admin), bumping the version", async () => {
    const page = (await getJson(`${t.url}/api/datasets/streamed/examples`)).body;
    const id = page.examples[0].id;
    expectStatus(await getJson(`${t.url}/api/examples/${id}`, { method: "DELETE" }), 401);
    const r = await getJson(`${t.url}/api/examples/${id}`, { method: "DELETE", headers: auth });
    expect(r.body).toMatchObject({ deleted: id, domain: "streamed" });
    expect(r.body.version).toBeGreaterThan(page.version);
    expectStatus(await getJson(`${t.url}/api/examples/${id}`), 404);
    expectStatus(await getJson(`${t.url}/api/examples/${id}`, { method: "DELETE", headers: auth }), 404);
  });
});

describe("rotation", () => {
  it("moves the oldest examples beyond the limit to the archive, keeping live + archived", async () => {
    await broker.call("datasets.add", {
      domain: "rot",
      examples: Array.from({ length: 30 }, (_, i) => ({ content: `r${i}` })),
    });
    const dry = await broker.call<
      {
        domains: { domain: string; moved: number }[];
      },
      object
    >("datasets.rotate", { max: 10, dryRun: true });
    expect(dry.domains.find((d) => d.domain === "rot")).toEqual({ domain: "rot", moved: 20 });
    const r = (
      await getJson(`${t.url}/api/admin/datasets/rotate`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ max: 10 }),
      })
    ).body;
    expect(r.domains.find((d: { domain: string }) => d.domain === "rot")).toMatchObject({ moved: 20 });
    const d = (await getJson(`${t.url}/api/datasets`)).body.datasets.find(
      (x: { domain: string }) => x.domain === "rot",
    );
    expect(d).toMatchObject({ example_count: 10, archived_count: 20 });
    const left = (await getJson(`${t.url}/api/datasets/rot/examples`)).body.examples.map(
      (e: { content: string }) => e.content,
    );
    expect(left).toEqual(Array.from({ length: 10 }, (_, i) => `r${i + 20}`));
    const db = t.node.db!;
    expect(
      (
        await db.query(
          "SELECT count(*)::int AS n FROM examples_archive a JOIN datasets d ON d.id = a.dataset_id WHERE d.domain_name = 'rot'",
        )
      ).rows[0].n,
    ).toBe(20);
    expect(
      (await db.query("SELECT count(*)::int AS n FROM examples_archive WHERE embedding IS NOT NULL")).rows[0].n,
    ).toBeGreaterThanOrEqual(20);
  });
});

describe("OpenAI-compatible embeddings", () => {
  it("embeds through the endpoint, fails an import whole when it errors, and opens the breaker", async () => {
    let calls = 0;
    let failing = false;
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        calls++;
        if (failing) {
          res.writeHead(500).end("{}");
          return;
        }
        const { input, dimensions } = JSON.parse(body) as { input: string[]; dimensions: number };
        const data = input.map((s, index) => ({
          index,
          embedding: Array.from({ length: dimensions }, (_, i) => (i === s.length % dimensions ? 1 : 0)),
        }));
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const n = await startTestNode(
      {
        RATE_LIMIT: "0",
        EMBEDDINGS_URL: `http://127.0.0.1:${port}/v1`,
        EMBEDDING_DIM: "384",
        EMBEDDINGS_TIMEOUT_MS: "2000",
      },
      ["datasets"],
      await memoryDb(),
    );
    try {
      const ok = await n.node.broker.call<{ added: number }, object>("datasets.add", {
        domain: "remote",
        examples: [{ content: "abc" }, { content: "abcd" }],
      });
      expect(ok.added).toBe(2);
      expect(calls).toBe(1);
      const near = await n.node.broker.call<
        {
          hits: { content: string }[];
        },
        object
      >("datasets.search", { q: "xyz", mode: "vector", k: 1 });
      expect(near.hits[0].content).toBe("abc"); // same length: the stand-in's same unit vector
      failing = true;
      // Each failing import answers 503 and writes nothing; after enough failures the breaker
      // opens and the endpoint is no longer called at all.
      const reached: number[] = [];
      for (let i = 0; i < 6; i++) {
        const before = calls;
        await expect(
          n.node.broker.call("datasets.add", { domain: "remote", examples: [{ content: `fails ${i}` }] }),
        ).rejects.toMatchObject({ code: 503, type: "ERR_UNAVAILABLE" });
        reached.push(calls - before);
      }
      expect(reached[0]).toBe(1);
      expect(reached.slice(-2)).toEqual([0, 0]);
      expect((await n.node.db!.query("SELECT count(*)::int AS n FROM examples")).rows[0].n).toBe(2);
    } finally {
      await n.node.stop();
      server.close();
    }
  });
});

describe("query embeddings", () => {
  it("are cached in the shared cacher: the same query embeds once", async () => {
    const stats = async () => (await broker.call<{ completed: number }>("compute.stats")).completed;
    const q = `a query never asked before ${Date.now()}`;
    const before = await stats();
    await broker.call("datasets.search", { q, mode: "vector" });
    const once = await stats();
    await broker.call("datasets.search", { q, mode: "vector" });
    expect(once - before).toBe(1);
    expect(await stats()).toBe(once);
  });
});

describe("scheduled rotation", () => {
  it("runs by itself when a limit and an interval are set", async () => {
    const n = await startTestNode(
      { RATE_LIMIT: "0", COMPUTE_THREADS: "1", DATASET_MAX_EXAMPLES_PER_DOMAIN: "5", DATASET_ROTATE_INTERVAL_S: "1" },
      ["datasets", "compute"],
      await memoryDb(),
    );
    try {
      await n.node.broker.call("datasets.add", {
        domain: "sched",
        examples: Array.from({ length: 12 }, (_, i) => ({ content: `s${i}` })),
      });
      await eventually(
        async () => {
          const d = (
            await n.node.broker.call<{
              datasets: { domain: string; example_count: number; archived_count: number }[];
            }>("datasets.list")
          ).datasets[0];
          return d.example_count === 5 && d.archived_count === 7;
        },
        5000,
        "scheduled rotation",
      );
    } finally {
      await n.node.stop();
    }
  });
});
