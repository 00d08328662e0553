import { migrate, PgDb, type Db } from "../../services/lib/db";
import { pageExamples, pageExamplesJson } from "../../services/datasets/store";
import { memoryDb } from "../helpers/pglite";
import { createDatabase, dropDatabase, PG_URL } from "../helpers/servers";

/** Rows whose fields a page's JSON must write as JSON.stringify does: escapes, nulls, nesting, instants. */
const ROWS: { content: string; response: string | null; metadata: unknown; createdAt: string }[] = [
  { content: "plain", response: null, metadata: {}, createdAt: "2026-03-04 05:06:07+00" },
  {
    content: 'a "quote", a \\ backslash, a line\nbreak, a\ttab, \u0001 \u001f controls',
    response: "r\u2028\u2029 / é 漢字 🎵",
    metadata: {},
    // Microseconds: a Date keeps milliseconds, truncated.
    createdAt: "2026-03-04 05:06:07.891999+00",
  },
  {
    content: "nested metadata",
    response: "",
    metadata: { n: 1.5, big: 12345678901, neg: -0.25, s: 'q"uo\\te', none: null, list: [1, "two", { three: true }] },
    // Given in another zone: written in UTC.
    createdAt: "2026-12-31 23:59:59.9999+05:30",
  },
  {
    content: "unicode metadata",
    response: null,
    metadata: { clé: "välue 🎵", empty: {}, arr: [] },
    createdAt: "1999-01-01 00:00:00.001+00",
  },
  { content: "last", response: "x", metadata: { a: { b: { c: [null] } } }, createdAt: "2026-01-01 12:00:00.5-08" },
];

const drivers: [string, () => Promise<{ db: Db; done: () => Promise<void> }>][] = [
  [
    "PGlite",
    async () => {
      const db = await memoryDb();
      return { db, done: () => db.close() };
    },
  ],
  ...(PG_URL
    ? [
        [
          "Postgres",
          async () => {
            const url = await createDatabase();
            const db = new PgDb({ connectionString: url, max: 2 });
            await migrate(db);
            await db.refreshCapabilities();
            return {
              db,
              done: async () => {
                await db.close();
                await dropDatabase(url);
              },
            };
          },
        ] as [string, () => Promise<{ db: Db; done: () => Promise<void> }>],
      ]
    : []),
];

describe.each(drivers)("datasets.pageExamplesJson on %s", (_driver, open) => {
  let db: Db;
  let done: () => Promise<void>;
  let ids: string[];

  beforeAll(async () => {
    ({ db, done } = await open());
    const d = await db.query<{ id: string }>(
      "INSERT INTO datasets (domain_name) VALUES ('music') RETURNING id::text AS id",
    );
    // Another domain after it: a page of the first must stop at its own rows.
    await db.query("INSERT INTO datasets (domain_name) VALUES ('other')");
    ids = [];
    for (const [i, r] of ROWS.entries()) {
      const x = await db.query<{ id: string }>(
        `INSERT INTO examples (dataset_id, content, response, metadata, content_hash, created_at)
         VALUES ($1, $2, $3, $4::jsonb, $5, $6::timestamptz) RETURNING id::text AS id`,
        [d.rows[0].id, r.content, r.response, JSON.stringify(r.metadata), `h${i}`, r.createdAt],
      );
      ids.push(x.rows[0].id);
    }
    await db.query(
      `INSERT INTO examples (dataset_id, content, metadata, content_hash)
       SELECT id, 'other domain', '{}', 'o' FROM datasets WHERE domain_name = 'other'`,
    );
  });
  afterAll(() => done());

  // Page sizes with a statement of their own and one past PAGE_LIMITS_PREPARED (LIMIT as a parameter).
  it.each([
    [1, "0"],
    [2, "0"],
    [2, "first"],
    [3, "second"],
    [5, "0"],
    [150, "0"],
    [2, "last"],
  ])("writes the rows of pageExamples (limit %d, after %s) as JSON.stringify does", async (limit, after) => {
    const afterId = after === "0" ? "0" : after === "first" ? ids[0] : after === "second" ? ids[1] : ids.at(-1)!;
    const rows = await pageExamples(db, "music", afterId, limit);
    const json = await pageExamplesJson(db, "music", afterId, limit);
    expect(rows).toBeDefined();
    const want = JSON.stringify(rows!.rows);
    expect({
      datasetId: json?.datasetId,
      version: json?.version,
      lastId: json?.lastId,
      more: json?.more,
      examples: JSON.parse(json!.examplesJson) as unknown,
    }).toEqual({
      datasetId: rows!.datasetId,
      version: rows!.version,
      lastId: rows!.rows.at(-1)?.id ?? null,
      more: rows!.more,
      examples: JSON.parse(want) as unknown,
    });
  });

  it("writes rows without metadata byte for byte as JSON.stringify (escapes, unicode, instants)", async () => {
    // The first two rows: metadata {} (jsonb writes other objects with spaces: `{"n": 1.5, …}`).
    const rows = await pageExamples(db, "music", "0", 2);
    const json = await pageExamplesJson(db, "music", "0", 2);
    expect(json?.examplesJson).toBe(JSON.stringify(rows!.rows));
  });

  it("answers the page's instants and metadata as the Date and object a driver reads", async () => {
    const json = await pageExamplesJson(db, "music", "0", ROWS.length);
    const examples = JSON.parse(json!.examplesJson) as { created_at: string; metadata: unknown }[];
    expect(examples.map((e) => [e.created_at, e.metadata])).toEqual(
      ROWS.map((r) => [new Date(r.createdAt.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00")).toJSON(), r.metadata]),
    );
  });

  it("reads pageExamples' instants as Date.toJSON's text, and its page as the driver's objects wrote it", async () => {
    const page = await pageExamples(db, "music", "0", ROWS.length);
    // What a page of rows read as objects, their instants as Dates, serialized to (before pageExamples
    // read rows as arrays and instants as text): byte for byte the same.
    const read = await db.query(
      `SELECT e.id::text AS id, d.domain_name AS domain, e.content, e.response, e.metadata, e.created_at
       FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE d.domain_name = 'music' ORDER BY e.id`,
    );
    expect(page!.rows.map((r) => typeof r.created_at)).toEqual(ROWS.map(() => "string"));
    expect(JSON.stringify(page!.rows)).toBe(JSON.stringify(read.rows));
  });

  it("answers undefined for an unknown domain, and an empty page after the last row", async () => {
    expect(await pageExamplesJson(db, "nope", "0", 20)).toBeUndefined();
    const end = await pageExamplesJson(db, "music", ids.at(-1)!, 20);
    expect({ examples: end?.examplesJson, lastId: end?.lastId, more: end?.more }).toEqual({
      examples: "[]",
      lastId: null,
      more: false,
    });
  });
});
