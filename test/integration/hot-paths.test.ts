import pg from "pg";
import { metricsOf } from "../../services/lib/metrics";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { ADMIN_KEY } from "../helpers/datasets";
import { eventually, getJson } from "../helpers/processes";
import {
  createDatabase,
  describeWithPg,
  describeWithPgAndRedis,
  dropDatabase,
  PG_URL,
  REDIS_URL,
  uniqueName,
} from "../helpers/servers";

const BOUND_MS = 500;

async function add(t: TestNode, domain: string, contents: string[]): Promise<void> {
  const r = await getJson(`${t.url}/api/datasets/${domain}/examples`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(contents.map((content) => ({ content }))),
  });
  expect({ status: r.status, body: r.body }).toMatchObject({ status: 200, body: { added: contents.length } });
}

const search = (t: TestNode, q: string, extra = "") =>
  getJson(`${t.url}/api/search?q=${encodeURIComponent(q)}&k=5${extra}`);

const ids = (body: { hits: { id: string }[] }) => body.hits.map((h) => h.id);

/** A node of its own (api, datasets, compute) on an in-memory PGlite, for one describe. */
const embeddedNode = async () =>
  startTestNode(
    { RATE_LIMIT: "0", COMPUTE_THREADS: "1", API_KEYS: ADMIN_KEY },
    ["api", "datasets", "compute"],
    await memoryDb(),
  );

describe("datasets.search cache (embedded)", () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await embeddedNode();
    await add(t, "music", ["Allegro is a fast tempo marking", "Largo is a very slow tempo", "A fugue has voices"]);
  });
  afterAll(() => t.node.stop());

  it("serves a repeat from the cache and recomputes after a change", async () => {
    const first = await search(t, "tempo marking");
    expect(first.status).toBe(200);
    expect(first.body.cached).toBe(false);
    const repeat = await search(t, "tempo marking");
    expect({ cached: repeat.body.cached, hits: repeat.body.hits }).toEqual({ cached: true, hits: first.body.hits });
    // Other parameters are other results.
    expect((await search(t, "tempo marking", "&mode=lexical")).body.cached).toBe(false);
    expect((await search(t, "tempo marking", "&domain=music")).body.cached).toBe(false);

    await add(t, "music", ["Presto is the fastest tempo marking of all"]);
    const after = await search(t, "tempo marking");
    expect(after.body.cached).toBe(false);
    expect(after.body.hits.map((h: { content: string }) => h.content)).toContain(
      "Presto is the fastest tempo marking of all",
    );
    expect(ids(after.body)).not.toEqual(ids(first.body));
    expect((await search(t, "tempo marking")).body.cached).toBe(true);
  });
});

describe("datasets.examples page cache (embedded)", () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await embeddedNode();
    await add(t, "pages", ["first example", "second example", "third example"]);
  });
  afterAll(() => t.node.stop());

  const pageLookups = async () => {
    const m = await metricsOf(t.node.broker).registry.getSingleMetric("mcai_datasets_cache_lookups_total")?.get();
    const of = (result: string) =>
      m?.values.find((v) => v.labels.kind === "page" && v.labels.result === result)?.value ?? 0;
    return { hits: of("hit"), misses: of("miss") };
  };

  it("serves a repeated page from the cache and a changed domain's page fresh", async () => {
    const url = `${t.url}/api/datasets/pages/examples?limit=2`;
    const before = await pageLookups();
    const first = await getJson(url);
    const repeat = await getJson(url);
    expect(repeat.body).toEqual(first.body);
    expect(await pageLookups()).toEqual({ hits: before.hits + 1, misses: before.misses + 1 });
    const next = await getJson(`${url}&cursor=${first.body.next_cursor}`);
    expect(next.body.examples.map((e: { content: string }) => e.content)).toEqual(["third example"]);

    await add(t, "pages", ["fourth example"]);
    const after = await getJson(`${url}&cursor=${first.body.next_cursor}`);
    expect({
      version: after.body.version > first.body.version,
      contents: after.body.examples.map((e: { content: string }) => e.content),
    }).toEqual({
      version: true,
      contents: ["third example", "fourth example"],
    });
  });
});

describe("embedded VACUUM after a rotation", () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await embeddedNode();
  });
  afterAll(() => t.node.stop());

  it("vacuums the heap only after a rotation, and the scheduled run cleans the indexes only when due", async () => {
    await add(
      t,
      "bulk",
      Array.from({ length: 300 }, (_, i) => `bulk example number ${i} about rhythm and tempo`),
    );
    const datasets = t.node.broker.getLocalService("datasets") as unknown as {
      vacuumDatabase(): Promise<{ table: string; dead: number; live: number }[]>;
    };
    const stats = async () =>
      Object.fromEntries(
        (
          await t.node.db!.query<{ name: string; vacuums: number; dead: number }>(
            `SELECT relname AS name, vacuum_count::int AS vacuums, n_dead_tup::int AS dead FROM pg_stat_user_tables
             WHERE relname IN ('examples', 'examples_archive', 'bm25_postings') ORDER BY relname`,
          )
        ).rows.map((x) => [x.name, { vacuums: x.vacuums, dead: x.dead }]),
      );
    // Whatever the node's start left behind is cleaned once; then there is nothing to do.
    await datasets.vacuumDatabase();
    expect(await datasets.vacuumDatabase()).toEqual([]);

    const before = await stats();
    const r = await getJson(`${t.url}/api/admin/datasets/rotate`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ max: 50 }),
    });
    expect({ status: r.status, moved: r.body.domains?.[0]?.moved }).toEqual({ status: 200, moved: 250 });
    // The heap-only VACUUM ran on each table; what it left are the dead line pointers of the moved
    // rows (its ANALYZE counts them as dead rows), owed an index cleanup.
    const after = await stats();
    expect(after).toEqual({
      examples: { vacuums: before.examples.vacuums + 1, dead: 250 },
      examples_archive: { vacuums: before.examples_archive.vacuums + 1, dead: 0 },
      bm25_postings: { vacuums: before.bm25_postings.vacuums + 1, dead: after.bm25_postings.dead },
    });
    expect(after.bm25_postings.dead).toBeGreaterThan(250);

    // 250 > 50 + 20% of 50 live rows: the scheduled run cleans the indexes, and nothing is left.
    const due = await datasets.vacuumDatabase();
    expect(due.find((d) => d.table === "examples")).toEqual({ table: "examples", dead: 250, live: 50 });
    expect(due.map((d) => d.table)).toEqual(expect.arrayContaining(["examples", "bm25_postings"]));
    expect(await stats()).toEqual({
      examples: { vacuums: after.examples.vacuums + 1, dead: 0 },
      examples_archive: after.examples_archive,
      bm25_postings: { vacuums: after.bm25_postings.vacuums + 1, dead: 0 },
    });
    // Done: the next scheduled run has nothing to do.
    expect(await datasets.vacuumDatabase()).toEqual([]);
  });
});

describeWithPg("/api/health from a state refreshed in the background", () => {
  let t: TestNode;
  let url = "";
  beforeAll(async () => {
    url = await createDatabase();
    t = await startTestNode({ RATE_LIMIT: "0", DATABASE_URL: url, HEALTH_REFRESH_MS: "200" }, ["api", "metrics"]);
  });
  afterAll(async () => {
    await t.node.stop();
    await dropDatabase(url);
  });

  it("answers repeats without pinging the database each time", async () => {
    expect((await getJson(`${t.url}/api/health`)).body.status).toBe("ok");
    const db = t.node.db!;
    const query = db.query.bind(db);
    let pings = 0;
    const spy = jest.spyOn(db, "query").mockImplementation((text: string, params?: unknown[]) => {
      if (text === "SELECT 1") pings++;
      return query(text, params);
    });
    try {
      const n = 40;
      for (let i = 0; i < n; i++) {
        const h = await getJson(`${t.url}/api/health`);
        expect(h.body).toMatchObject({ status: "ok", age_ms: expect.any(Number) });
      }
      // One ping per refresh (every 200 ms), whatever the number of requests.
      expect(pings).toBeLessThan(n);
    } finally {
      spy.mockRestore();
    }
  });

  it("reports the database going down within the bound", async () => {
    const name = new URL(url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);
      // Refresh every 200 ms, ping bounded at 1 s: degraded within ~1.2 s; 10 s allows a busy machine.
      const h = await eventually(
        async () => {
          const r = await getJson(`${t.url}/api/health`);
          return r.body.status === "degraded" && r.body;
        },
        10_000,
        "health reporting the database down",
      );
      expect(h.problems.join()).toMatch(/database (unreachable|did not answer)/);
      await admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`);
      await eventually(
        async () => (await getJson(`${t.url}/api/health`)).body.status === "ok",
        10_000,
        "health back to ok",
      );
    } finally {
      await admin.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
      await admin.end();
    }
  });
});

describeWithPgAndRedis("search cache shared by two nodes through Redis", () => {
  const nodes: TestNode[] = [];
  let url = "";
  beforeAll(async () => {
    url = await createDatabase();
    // No transporter: node 0 learns of node 1's change by re-reading the version within the bound.
    const env = {
      RATE_LIMIT: "0",
      COMPUTE_THREADS: "1",
      API_KEYS: ADMIN_KEY,
      DATABASE_URL: url,
      CACHER: REDIS_URL,
      NAMESPACE: uniqueName("hot"),
      KNOWLEDGE_VERSION_CHECK_MS: String(BOUND_MS),
    };
    for (let i = 0; i < 2; i++)
      nodes.push(await startTestNode({ ...env, NODE_ID: `hot${i}` }, ["api", "datasets", "compute"]));
    // A node whose BM25 saturation differs: its scores differ, so it must not be served the others'.
    nodes.push(await startTestNode({ ...env, NODE_ID: "hot2", SEARCH_BM25_K1: "0.3" }, ["api", "datasets", "compute"]));
    await add(nodes[0], "music", ["Allegro is a fast tempo marking", "Largo is a very slow tempo"]);
    await new Promise((r) => setTimeout(r, BOUND_MS + 50));
  });
  afterAll(async () => {
    for (const n of nodes) await n.node.stop();
    await dropDatabase(url);
  });

  it("serves one node's result to the other, and a change on either invalidates it", async () => {
    const q = `tempo ${Date.now()}`;
    const first = await search(nodes[0], q);
    expect(first.body.cached).toBe(false);
    const other = await search(nodes[1], q);
    expect({ cached: other.body.cached, hits: other.body.hits }).toEqual({ cached: true, hits: first.body.hits });
    const otherSettings = await search(nodes[2], q);
    const scores = (body: { hits: { score: number }[] }) => body.hits.map((h) => h.score);
    expect(otherSettings.body.cached).toBe(false);
    expect(scores(otherSettings.body)).not.toEqual(scores(first.body));

    await add(nodes[1], "music", ["Presto is the fastest tempo"]);
    const fresh = await eventually(
      async () => {
        const r = await search(nodes[0], q);
        return r.body.cached === false && r.body;
      },
      10_000,
      "node 0 recomputing after node 1's change",
    );
    expect(fresh.hits.map((h: { content: string }) => h.content)).toContain("Presto is the fastest tempo");
  });
});
