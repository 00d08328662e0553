import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { ServiceBroker } from "moleculer";
import { startTestNode, type TestNode } from "../helpers/node";
import { getJson, killAll, spawnMcai } from "../helpers/processes";
import { createDatabase, describeWithPg, dropDatabase } from "../helpers/servers";
import { ADMIN_KEY, loadCorpus } from "../helpers/datasets";
import { expectStatus } from "../helpers/expect";

afterAll(killAll);

describeWithPg("datasets on Postgres without pgvector", () => {
  let url: string;
  let t: TestNode;
  let broker: ServiceBroker;

  beforeAll(async () => {
    url = await createDatabase();
    t = await startTestNode({ DATABASE_URL: url, API_KEYS: ADMIN_KEY, RATE_LIMIT: "0", COMPUTE_THREADS: "1" }, [
      "api",
      "datasets",
      "compute",
    ]);
    broker = t.node.broker;
    await loadCorpus(broker);
  });
  afterAll(async () => {
    await t.node.stop();
    await dropDatabase(url);
  });

  it("answers hybrid search with lexical results and degraded: no pgvector", async () => {
    const r = (await getJson(`${t.url}/api/search?q=tempo`)).body;
    expect(r).toMatchObject({ mode: "hybrid", degraded: "no pgvector" });
    expect(r.hits.map((h: { content: string }) => h.content)).toEqual([
      "Allegro is a fast tempo marking",
      "Tempo is measured in beats per minute",
    ]);
  });

  it("answers vector search with a clear 501", async () => {
    const r = await getJson(`${t.url}/api/search?q=tempo&mode=vector`);
    expectStatus(r, 501);
    expect(r.body.error).toMatchObject({
      type: "ERR_NOT_IMPLEMENTED",
      message: "vector search needs pgvector, which this database does not have",
    });
  });

  it("walks pages exactly once while another connection inserts rows", async () => {
    await broker.call("datasets.add", {
      domain: "walk",
      examples: Array.from({ length: 400 }, (_, i) => ({ content: `walk ${i}` })),
    });
    const before = (
      await t.node.db!.query<{ id: string }>(
        "SELECT e.id::text AS id FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE d.domain_name = 'walk'",
      )
    ).rows.map((r) => r.id);
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    const writing = new AbortController();
    const writer = (async () => {
      for (let i = 0; !writing.signal.aborted && i < 200; i++) {
        await other.query(
          "INSERT INTO examples (dataset_id, content, content_hash) SELECT id, $1, md5($1) FROM datasets WHERE domain_name = 'walk'",
          [`concurrent ${i}`],
        );
      }
    })();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: { body: { examples: { id: string }[]; next_cursor: string | null } } = await getJson(
        `${t.url}/api/datasets/walk/examples?limit=7${cursor ? `&cursor=${cursor}` : ""}`,
      );
      seen.push(...r.body.examples.map((e) => e.id));
      cursor = r.body.next_cursor;
    } while (cursor);
    writing.abort();
    await writer;
    await other.end();
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of before) expect(seen).toContain(id);
  });

  it("rotates on one node at a time: a held lock skips, two nodes together move the excess once", async () => {
    await broker.call("datasets.add", {
      domain: "rot",
      examples: Array.from({ length: 50 }, (_, i) => ({ content: `rot ${i}` })),
    });
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query("SELECT pg_advisory_lock(hashtext('mcai.rotate'))");
    expect(await broker.call("datasets.rotate", { max: 20 })).toMatchObject({ skipped: true, domains: [] });
    await holder.query("SELECT pg_advisory_unlock(hashtext('mcai.rotate'))");
    await holder.end();

    const second = await startTestNode({ DATABASE_URL: url, RATE_LIMIT: "0" }, ["datasets"]);
    try {
      const results = (await Promise.all([
        broker.call("datasets.rotate", { max: 20 }),
        second.node.broker.call("datasets.rotate", { max: 20 }),
      ])) as { skipped: boolean; domains: { domain: string; moved: number }[] }[];
      const moved = results
        .flatMap((r) => r.domains.filter((d) => d.domain === "rot").map((d) => d.moved))
        .reduce((a, b) => a + b, 0);
      expect(moved).toBe(30);
    } finally {
      await second.node.stop();
    }
    const d = (await getJson(`${t.url}/api/datasets`)).body.datasets.find(
      (x: { domain: string }) => x.domain === "rot",
    );
    expect(d).toMatchObject({ example_count: 20, archived_count: 30 });
    const counts = await t.node.db!.query<{ live: number; archived: number }>(
      `SELECT (SELECT count(*) FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE d.domain_name = 'rot')::int AS live,
              (SELECT count(*) FROM examples_archive a JOIN datasets d ON d.id = a.dataset_id WHERE d.domain_name = 'rot')::int AS archived`,
    );
    expect(counts.rows[0]).toEqual({ live: 20, archived: 30 });
  });
});

describeWithPg("mcai import on Postgres", () => {
  let url: string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-import-"));

  beforeAll(async () => {
    url = await createDatabase();
    fs.writeFileSync(
      path.join(dir, "alpha.json"),
      JSON.stringify({
        examples: [{ content: "a1", response: "r1" }, { prompt: "a2" }, { content: "a1" }, { nope: 1 }],
      }),
    );
    fs.writeFileSync(path.join(dir, "beta.jsonl"), '{"content":"b1"}\n\n{"completion":"b2","prompt":"q"}\n');
    fs.writeFileSync(path.join(dir, "gamma.txt"), "first paragraph\nstill first\n\nsecond paragraph\n");
    fs.writeFileSync(path.join(dir, "broken.jsonl"), '{"content":"never written"}\n{oops\n');
    fs.mkdirSync(path.join(dir, "archive"));
    fs.writeFileSync(path.join(dir, "archive", "old.jsonl"), '{"content":"archived"}\n');
  });
  afterAll(() => dropDatabase(url));

  async function count(sql: string): Promise<number> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(sql)).rows[0].n;
    } finally {
      await c.end();
    }
  }

  it("imports every format with exact counts, skips the archive folder, reports the malformed file and exits 1", async () => {
    const p = spawnMcai(["import", dir], { DATABASE_URL: url, LOG_LEVEL: "warn", COMPUTE_THREADS: "1" });
    expect(await p.exited).toBe(1);
    const out = p.output();
    expect(out).toMatch(/^alpha\s+4\s+2\s+1\s+1$/m);
    expect(out).toMatch(/^beta\s+2\s+2\s+0\s+0$/m);
    expect(out).toMatch(/^gamma\s+2\s+2\s+0\s+0$/m);
    expect(out).toMatch(/failed \(nothing from it was written\): .*broken\.jsonl: line 2: /);
    expect(out).not.toMatch(/archived|old\.jsonl/);
    expect(await count("SELECT count(*)::int AS n FROM examples")).toBe(6);
    expect(await count("SELECT count(*)::int AS n FROM examples WHERE content = 'never written'")).toBe(0);
    expect(await count("SELECT count(*)::int AS n FROM datasets WHERE domain_name = 'broken'")).toBe(0);
  });

  it("adds nothing on a second import of the same files", async () => {
    fs.rmSync(path.join(dir, "broken.jsonl"));
    const p = spawnMcai(["import", dir], { DATABASE_URL: url, LOG_LEVEL: "warn", COMPUTE_THREADS: "1" });
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/^alpha\s+4\s+0\s+3\s+1$/m);
    expect(await count("SELECT count(*)::int AS n FROM examples")).toBe(6);
  });

  it("puts every file in one domain with --domain, and refuses bad usage with exit 2", async () => {
    const p = spawnMcai(["import", path.join(dir, "beta.jsonl"), path.join(dir, "gamma.txt"), "--domain", "merged"], {
      DATABASE_URL: url,
      LOG_LEVEL: "warn",
      COMPUTE_THREADS: "1",
    });
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/^merged\s+4\s+4\s+0\s+0$/m);
    expect(await spawnMcai(["import"], { DATABASE_URL: url }).exited).toBe(2);
    expect(await spawnMcai(["import", "/no/such/file"], { DATABASE_URL: url }).exited).toBe(2);
    expect(await spawnMcai(["import", dir, "--domain", "Bad Name"], { DATABASE_URL: url }).exited).toBe(2);
  });
});
