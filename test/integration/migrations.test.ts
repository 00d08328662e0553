import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { migrate, PgDb, readMigrations, type Migration } from "../../services/lib/db";
import { memoryDb } from "../helpers/pglite";
import { freePort, getJson, spawnMcai, killAll } from "../helpers/processes";
import { createDatabase, describeWithPg, dropDatabase } from "../helpers/servers";

afterAll(killAll);

describe("readMigrations", () => {
  function dirWith(files: string[]): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-mig-"));
    for (const f of files) fs.writeFileSync(path.join(dir, f), "SELECT 1;");
    return dir;
  }

  it("reads the project's migrations in order, starting at 0001", () => {
    const all = readMigrations();
    expect(all[0]).toMatchObject({ id: 1, name: "0001_runtime" });
    expect(all.map((m) => m.id)).toEqual(all.map((_, i) => i + 1));
  });

  it("refuses a badly named file and a gap in the sequence", () => {
    expect(() => readMigrations(dirWith(["0001_a.sql", "2_b.sql"]))).toThrow(/must be named NNNN_snake_case.sql/);
    expect(() => readMigrations(dirWith(["0001_a.sql", "0003_c.sql"]))).toThrow(/out of sequence: expected 0002/);
  });
});

const slowPair = (table: string): Migration[] => [
  { id: 1, name: "0001_slow", sql: `SELECT pg_sleep(0.5); CREATE TABLE ${table} (id int PRIMARY KEY);` },
  { id: 2, name: "0002_row", sql: `INSERT INTO ${table} VALUES (1);` },
];

describe("migrate on PGlite", () => {
  it("applies pending migrations once; a second run applies nothing", async () => {
    const db = await memoryDb();
    try {
      const first = await migrate(db);
      expect(first.applied).toEqual([]);
      const extra = [
        ...readMigrations(),
        { id: readMigrations().length + 1, name: "9999_probe", sql: "CREATE TABLE probe (x int);" },
      ];
      expect((await migrate(db, extra)).applied).toEqual(["9999_probe"]);
      expect((await migrate(db, extra)).applied).toEqual([]);
      expect(db.capabilities.vector).toBe(true);
    } finally {
      await db.close();
    }
  });

  it("keeps a new example's vector inline in its row (0013: storage MAIN), where pgvector's default moves it out", async () => {
    const db = await memoryDb();
    try {
      const storage = await db.query<{ s: string }>(
        "SELECT attstorage AS s FROM pg_attribute WHERE attrelid = 'examples'::regclass AND attname = 'embedding'",
      );
      expect(storage.rows).toEqual([{ s: "m" }]);
      const ds = await db.query<{ id: string }>(
        "INSERT INTO datasets (domain_name) VALUES ('toast') RETURNING id::text",
      );
      // ~1.4 KB that compresses little beside a vector(384) of 1,544 bytes: over the ~2 KB TOAST
      // threshold, so something must leave the row (in metadata, which no tsvector copies).
      let seed = 7;
      const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      const blob = Array.from({ length: 1400 }, () => Math.floor(next() * 36).toString(36)).join("");
      const vector = `[${Array.from({ length: 384 }, () => (next() * 2 - 1).toFixed(6)).join(",")}]`;
      // Read back after the insert: RETURNING sees the row before it is toasted.
      const insert = async (n: number) => {
        const { rows } = await db.query<{ id: string }>(
          `INSERT INTO examples (dataset_id, content, content_hash, metadata, embedding)
           VALUES ($1, $2, md5($2), jsonb_build_object('blob', $3::text), $4::vector) RETURNING id::text`,
          [ds.rows[0].id, `example ${n}`, blob, vector],
        );
        const r = await db.query<{ vec: string | null; meta: string | null; size: number }>(
          `SELECT pg_column_toast_chunk_id(embedding)::text AS vec, pg_column_toast_chunk_id(metadata)::text AS meta,
             pg_column_size(embedding) AS size FROM examples WHERE id = $1`,
          [rows[0].id],
        );
        return r.rows[0];
      };
      // The metadata went out of line, the vector stayed in the row (uncompressed: 4 · 384 + 8 bytes).
      expect(await insert(1)).toEqual({ vec: null, meta: expect.any(String), size: 1544 });
      // pgvector's default storage (what the column had before 0013) moves the vector out instead.
      await db.query("ALTER TABLE examples ALTER COLUMN embedding SET STORAGE EXTENDED");
      expect(await insert(2)).toMatchObject({ vec: expect.any(String), meta: null });
    } finally {
      await db.close();
    }
  });

  it("rolls a failing migration back whole, recording nothing", async () => {
    const db = await memoryDb();
    try {
      const base = readMigrations();
      const bad = [
        ...base,
        { id: base.length + 1, name: "0002_bad", sql: "CREATE TABLE half (x int); SELECT * FROM missing_table;" },
      ];
      await expect(migrate(db, bad)).rejects.toThrow(/missing_table/);
      const t = await db.query("SELECT to_regclass('half') AS t");
      expect(t.rows[0].t).toBeNull();
      const ledger = await db.query("SELECT count(*)::int AS n FROM mcai_migrations");
      expect(ledger.rows[0].n).toBe(base.length);
    } finally {
      await db.close();
    }
  });
});

describeWithPg("migrate on Postgres", () => {
  let url: string;
  beforeAll(async () => {
    url = await createDatabase();
  });
  afterAll(() => dropDatabase(url));

  it("two migrators at once on a fresh database both succeed and each migration is applied once", async () => {
    const a = new PgDb({ connectionString: url });
    const b = new PgDb({ connectionString: url });
    try {
      const [ra, rb] = await Promise.all([migrate(a, slowPair("race")), migrate(b, slowPair("race"))]);
      expect([...ra.applied, ...rb.applied].sort()).toEqual(["0001_slow", "0002_row"]);
      const rows = await a.query("SELECT id FROM mcai_migrations ORDER BY id");
      expect(rows.rows.map((r) => r.id)).toEqual([1, 2]);
      expect((await a.query("SELECT count(*)::int AS n FROM race")).rows[0].n).toBe(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("two `mcai migrate` processes on one fresh database both exit 0, each migration applied once", async () => {
    const fresh = await createDatabase();
    try {
      const procs = [spawnMcai(["migrate"], { DATABASE_URL: fresh }), spawnMcai(["migrate"], { DATABASE_URL: fresh })];
      const codes = await Promise.all(procs.map((p) => p.exited));
      expect(codes).toEqual([0, 0]);
      const outs = procs.map((p) => p.output());
      expect(outs.filter((o) => /applied 0001_runtime/.test(o))).toHaveLength(1);
      expect(outs.filter((o) => /up to date/.test(o))).toHaveLength(1);
      expect(outs.join("\n")).toMatch(/pgvector: no \(vector search off\)/);
      const db = new PgDb({ connectionString: fresh });
      try {
        const n = await db.query("SELECT id, count(*)::int AS n FROM mcai_migrations GROUP BY id");
        expect(n.rows.every((r) => r.n === 1)).toBe(true);
        expect(n.rows).toHaveLength(readMigrations().length);
        // This Postgres has no pgvector: the schema applied anyway, and the layer says so.
        expect(await db.refreshCapabilities()).toEqual({ vector: false });
      } finally {
        await db.close();
      }
    } finally {
      await dropDatabase(fresh);
    }
  });
});

describeWithPg("migration 0012 over postings written before it", () => {
  it("fills bm25_impact_avgdl_min with at most the smallest avgdl they were written under, and its trigger keeps it after", async () => {
    const fresh = await createDatabase();
    const db = new PgDb({ connectionString: fresh });
    try {
      const all = readMigrations();
      await migrate(
        db,
        all.filter((m) => m.id < 12),
      );
      const id = (
        await db.query<{ id: string }>("INSERT INTO datasets (domain_name) VALUES ('avgdl') RETURNING id::text AS id")
      ).rows[0].id;
      const add = (texts: string[]) =>
        db.query(
          "INSERT INTO examples (dataset_id, content, content_hash) SELECT $1, t, md5(t) FROM unnest($2::text[]) AS t",
          [id, texts],
        );
      // Each batch's postings are written under the avgdl after it (0006): long documents, then short ones.
      const avgdl = async () =>
        (
          await db.query<{ a: number }>(
            "SELECT greatest(bm25_len::float8 / greatest(bm25_docs, 1), 1) AS a FROM datasets WHERE id = $1",
            [id],
          )
        ).rows[0].a;
      const words = (n: number, seed: number) =>
        Array.from({ length: n }, (_, i) => `lexeme${(seed * 31 + i * 7) % 97}x`).join(" ");
      await add([1, 2, 3].map((i) => words(40 + i, i)));
      const first = await avgdl();
      await add([4, 5, 6, 7, 8, 9].map((i) => words(3, i)));
      const written = await avgdl();
      expect(written).toBeLessThan(first);

      await migrate(db, all);
      const min = async () =>
        (await db.query<{ m: number | null }>("SELECT bm25_impact_avgdl_min AS m FROM datasets WHERE id = $1", [id]))
          .rows[0].m;
      // Solved from the stored impacts: never above the avgdl used (or the bound would not hold), and close to it.
      const solved = await min();
      expect(solved).not.toBeNull();
      expect(solved!).toBeLessThanOrEqual(written);
      expect(solved!).toBeGreaterThan(written * 0.999);

      // After 0012 the trigger keeps it: shorter documents lower the avgdl, and the minimum with it.
      await add([10, 11, 12, 13, 14, 15, 16, 17, 18, 19].map((i) => words(1, i)));
      const lower = await avgdl();
      expect(lower).toBeLessThan(written);
      expect(await min()).toBeCloseTo(lower, 9);
    } finally {
      await db.close();
      await dropDatabase(fresh);
    }
  });
});

describeWithPg("a node on Postgres without pgvector", () => {
  it("comes up, says vector search is off, and shows it in /api/health", async () => {
    const url = await createDatabase();
    try {
      const port = await freePort();
      const p = spawnMcai(["start", "--port", String(port)], { DATABASE_URL: url });
      await p.waitForOutput(/API at http/);
      expect(p.output()).toMatch(/pgvector is not installed in this database: vector search is off/);
      const h = await getJson(`http://127.0.0.1:${port}/api/health`);
      expect(h.body.db).toMatchObject({ driver: "postgres", vector: false });
      p.kill("SIGTERM");
      expect(await p.exited).toBe(0);
    } finally {
      await dropDatabase(url);
    }
  });
});
