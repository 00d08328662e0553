/**
 * Export: JSONL that import reads back. A round trip (export, then import into an empty database)
 * gives the same rows by content hash, and importing the export into the database it came from
 * adds nothing. In-process nodes on PGlite here; the Postgres round trip runs the real CLI.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { brokerTarget, importTo } from "../../bin/datasets/target";
import { exportTo } from "../../bin/datasets/export";
import { exportStream } from "../../services/datasets/export";
import { batchInTurn, type Queryable } from "../../services/lib/db";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { ADMIN_KEY } from "../helpers/datasets";
import { spawnMcai } from "../helpers/processes";
import { createDatabase, describeWithPg, dropDatabase } from "../helpers/servers";

/** Examples with the shapes import maps: a response, none, metadata given whole and as loose fields. */
const SOURCE: Record<string, unknown[]> = {
  music: [
    { content: "The C major scale has no sharps or flats", response: "C D E F G A B", metadata: { level: 1 } },
    { content: "A minor scale sounds sad and dark", tags: ["minor", "mood"] },
    { prompt: "tempo?", completion: "Tempo is measured in beats per minute" },
    { content: 'Unicode: naïve café — ✓ "quoted"\nsecond line', response: { structured: true } },
    { content: "old one" },
    { content: "older one" },
  ],
  art: [{ content: "Mandala patterns repeat around a center" }, { content: "Flow fields trace particles" }],
};

const NODE_ENV = { API_KEYS: ADMIN_KEY, RATE_LIMIT: "0", COMPUTE_THREADS: "1" };

/** Every example as (domain, hash, response, metadata), live and archived apart, in a fixed order. */
async function snapshot(db: Queryable): Promise<{ live: string[]; archived: string[] }> {
  const q = async (table: string) =>
    (
      await db.query<{ row: string }>(
        `SELECT concat_ws(' ', d.domain_name, e.content_hash, coalesce(e.response, '<null>'), e.metadata::text) AS row
         FROM ${table} e JOIN datasets d ON d.id = e.dataset_id ORDER BY 1`,
      )
    ).rows.map((r) => r.row);
  return { live: await q("examples"), archived: await q("examples_archive") };
}

function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; out: string }> {
  const lines: string[] = [];
  const log = jest.spyOn(console, "log").mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
  return fn()
    .then((value) => ({ value, out: lines.join("\n") }))
    .finally(() => log.mockRestore());
}

describe("datasets export on PGlite", () => {
  let a: TestNode;
  let b: TestNode;
  let dbA: Queryable;
  let dbB: Queryable;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-export-"));

  beforeAll(async () => {
    const [x, y] = [await memoryDb(), await memoryDb()];
    dbA = x;
    dbB = y;
    a = await startTestNode(NODE_ENV, ["api", "datasets", "compute"], x);
    b = await startTestNode(NODE_ENV, ["datasets", "compute"], y);
    for (const [domain, examples] of Object.entries(SOURCE))
      await a.node.broker.call("datasets.add", { domain, examples });
    // Two of music's six go to the archive (the oldest: the first two added).
    await a.node.broker.call("datasets.rotate", { max: 4 });
  });
  afterAll(async () => {
    await a.node.stop();
    await b.node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("writes one JSONL file per domain, and the archive apart, with a summary table", async () => {
    const { value, out } = await quietly(() =>
      exportTo(brokerTarget(a.node, "node a", false), { out: dir, archived: true }),
    );
    expect(value).toBe(0);
    expect(out).toMatch(/^art\s+2\s+0\s+\d+$/m);
    expect(out).toMatch(/^music\s+4\s+2\s+\d+$/m);
    expect(fs.readdirSync(dir).sort()).toEqual(["archive", "art.jsonl", "music.jsonl"]);
    expect(fs.readdirSync(path.join(dir, "archive")).sort()).toEqual(["art.jsonl", "music.jsonl"]);
    const lines = fs
      .readFileSync(path.join(dir, "music.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({
      content: "Tempo is measured in beats per minute",
      response: null,
      metadata: { prompt: "tempo?" },
    });
    expect(lines[1]).toEqual({
      content: 'Unicode: naïve café — ✓ "quoted"\nsecond line',
      response: '{"structured":true}',
      metadata: {},
    });
  });

  it("imports into an empty database as the same rows (content hashes, responses, metadata)", async () => {
    const { value, out } = await quietly(() => importTo(brokerTarget(b.node, "node b", false), [dir]));
    expect(value).toBe(0);
    expect(out).toMatch(/^music\s+4\s+4\s+0\s+0$/m);
    const [from, to] = [await snapshot(dbA), await snapshot(dbB)];
    expect(from.live).toHaveLength(6);
    expect(to.live).toEqual(from.live);
    // The archive folder is skipped by import, as for any folder named "archive".
    expect(to.archived).toEqual([]);
    // Imported by name, the archived examples come back as live ones, the same by hash.
    await quietly(() => importTo(brokerTarget(b.node, "node b", false), [path.join(dir, "archive", "music.jsonl")]));
    const hashes = (rows: string[]) => rows.map((r) => r.split(" ").slice(0, 2).join(" "));
    expect(hashes((await snapshot(dbB)).live).sort()).toEqual(hashes([...from.live, ...from.archived]).sort());
  });

  it("adds nothing when the export goes back into the database it came from", async () => {
    const before = await snapshot(dbA);
    const versions = await dbA.query("SELECT domain_name, version FROM datasets ORDER BY 1");
    const { out } = await quietly(() => importTo(brokerTarget(a.node, "node a", false), [dir]));
    expect(out).toMatch(/^music\s+4\s+0\s+4\s+0$/m);
    expect(out).toMatch(/^art\s+2\s+0\s+2\s+0$/m);
    expect(await snapshot(dbA)).toEqual(before);
    expect((await dbA.query("SELECT domain_name, version FROM datasets ORDER BY 1")).rows).toEqual(versions.rows);
  });

  it("streams the same JSONL over HTTP to an admin, and refuses others", async () => {
    const res = await fetch(`${a.url}/api/datasets/music/export`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    expect(await res.text()).toBe(fs.readFileSync(path.join(dir, "music.jsonl"), "utf8"));
    const archived = await fetch(`${a.url}/api/datasets/music/export?archived=true`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(await archived.text()).toBe(fs.readFileSync(path.join(dir, "archive", "music.jsonl"), "utf8"));
    expect((await fetch(`${a.url}/api/datasets/music/export`)).status).toBe(401);
    const missing = await fetch(`${a.url}/api/datasets/nope/export`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { message: 'no dataset "nope"' } });
  });

  it("reads page by page as the reader pulls, never the whole domain at once", async () => {
    // 40 examples of 10 KB: 400 KB, several times what the stream buffers ahead (64 KB).
    const big = Array.from({ length: 40 }, (_, i) => ({ content: `${i} ${"x".repeat(10_000)}` }));
    await a.node.broker.call("datasets.add", { domain: "big", examples: big });
    const id = (await dbA.query<{ id: string }>("SELECT id::text AS id FROM datasets WHERE domain_name = 'big'"))
      .rows[0].id;
    let pages = 0;
    const counting: Queryable = {
      query: (text, params) => {
        pages++;
        return dbA.query(text, params);
      },
      batch: (statements) => batchInTurn(counting, statements),
    };
    const stream = await exportStream(counting, id, false, 1);
    const reader = stream[Symbol.asyncIterator]();
    let text = String((await reader.next()).value);
    // What was read when the first chunk came: the buffer's worth (a few pages), not the domain.
    expect(pages).toBeGreaterThanOrEqual(1);
    expect(pages).toBeLessThan(15);
    for (let r = await reader.next(); !r.done; r = await reader.next()) text += String(r.value);
    expect(pages).toBe(41); // 40 pages of one row, and the empty one that ends the walk
    expect(
      text
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { content: string }).content),
    ).toEqual(big.map((b) => b.content));

    // Rows of 10 KB against a page of 25,000 characters: three rows a page (the third reaches it),
    // whatever the row limit; the last page, short of both, ends the walk without an empty one.
    pages = 0;
    const bounded = await exportStream(counting, id, false, 1000, 25_000);
    let all = "";
    for await (const chunk of bounded) all += String(chunk);
    // The text is compared apart: a failure shows the page count, not 400 KB of lines.
    expect({ pages, sameText: all === text }).toEqual({ pages: 14, sameText: true });

    // A first page that fails rejects before any stream is given (HTTP answers the error, not a
    // 200 that breaks off), and over HTTP the export answers a 5xx with its message.
    const failing: Queryable = {
      query: () => Promise.reject(new Error("the page read failed")),
      batch: () => Promise.reject(new Error("the page read failed")),
    };
    await expect(exportStream(failing, id, false)).rejects.toThrow("the page read failed");
  });
});

describeWithPg("mcai export on Postgres", () => {
  let from: string;
  let to: string;
  const src = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-export-src-"));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-export-out-"));
  const env = (url: string) => ({ DATABASE_URL: url, LOG_LEVEL: "warn", COMPUTE_THREADS: "1" });

  beforeAll(async () => {
    [from, to] = [await createDatabase(), await createDatabase()];
    for (const [domain, examples] of Object.entries(SOURCE))
      fs.writeFileSync(path.join(src, `${domain}.jsonl`), examples.map((e) => JSON.stringify(e)).join("\n"));
    const p = spawnMcai(["import", src], env(from));
    expect(await p.exited).toBe(0);
  });
  afterAll(async () => {
    await dropDatabase(from);
    await dropDatabase(to);
    fs.rmSync(src, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  });

  async function rows(url: string): Promise<string[]> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const q: Queryable = {
        query: async (t, p) => {
          const r = await c.query(t, p);
          return { rows: r.rows, rowCount: r.rowCount ?? 0 };
        },
        batch: (statements) => batchInTurn(q, statements),
      };
      return (await snapshot(q)).live;
    } finally {
      await c.end();
    }
  }

  it("exports, imports into an empty database as the same rows, and back into the source adds nothing", async () => {
    const e = spawnMcai(["export", "--out", out], env(from));
    expect(await e.exited).toBe(0);
    expect(e.output()).toMatch(/^music\s+6\s+-\s+\d+$/m);
    const i = spawnMcai(["import", out], env(to));
    expect(await i.exited).toBe(0);
    expect(i.output()).toMatch(/^music\s+6\s+6\s+0\s+0$/m);
    const source = await rows(from);
    expect(source).toHaveLength(8);
    expect(await rows(to)).toEqual(source);
    const again = spawnMcai(["import", out], env(from));
    expect(await again.exited).toBe(0);
    expect(again.output()).toMatch(/^music\s+6\s+0\s+6\s+0$/m);
    expect(await rows(from)).toEqual(source);
  });

  it("exports one domain with --domain, and refuses bad usage with exit 2 and an unknown domain with 1", async () => {
    const one = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-export-one-"));
    const e = spawnMcai(["export", "--out", one, "--domain", "art"], env(from));
    expect(await e.exited).toBe(0);
    expect(fs.readdirSync(one)).toEqual(["art.jsonl"]);
    expect(await spawnMcai(["export"], env(from)).exited).toBe(2);
    expect(await spawnMcai(["export", "--out", one, "--domain", "Bad Name"], env(from)).exited).toBe(2);
    const unknown = spawnMcai(["export", "--out", one, "--domain", "nope"], env(from));
    expect(await unknown.exited).toBe(1);
    expect(unknown.output()).toMatch(/no dataset "nope"/);
    fs.rmSync(one, { recursive: true, force: true });
  });
});
