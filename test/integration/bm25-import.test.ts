import { migrate, PgDb, type Db } from "../../services/lib/db";
import { ensureDataset, insertExamples } from "../../services/datasets/store";
import { memoryDb } from "../helpers/pglite";
import { createDatabase, dropDatabase, PG_URL } from "../helpers/servers";

/** Every driver the suite runs on: PGlite always, Postgres when it answers. */
const drivers: [string, boolean][] = [["PGlite", true], ...(PG_URL ? [["Postgres", false] as [string, boolean]] : [])];

type Stats = { datasets: unknown[]; terms: unknown[]; postings: unknown[] };

/** The BM25 statistics as the triggers of migration 0006 keep them. */
async function stored(db: Db): Promise<Stats> {
  const q = async (sql: string) => (await db.query(sql)).rows;
  return {
    datasets: await q("SELECT id::int AS id, bm25_docs::int AS docs, bm25_len::int AS len FROM datasets ORDER BY id"),
    terms: await q('SELECT dataset_id::int AS d, term, df FROM bm25_terms ORDER BY dataset_id, term COLLATE "C"'),
    postings: await q(
      `SELECT p.example_id::int AS e, t.term, p.tf::int AS tf, p.doc_len AS len
       FROM bm25_postings p JOIN bm25_terms t ON t.id = p.term_id ORDER BY p.example_id, t.term COLLATE "C"`,
    ),
  };
}

/** The same statistics computed from scratch from examples.tsv. */
async function recomputed(db: Db): Promise<Stats> {
  const q = async (sql: string) => (await db.query(sql)).rows;
  return {
    datasets: await q(
      `SELECT d.id::int AS id, count(e.id)::int AS docs,
         coalesce(sum((SELECT sum(cardinality(u.positions)) FROM unnest(e.tsv) u)), 0)::int AS len
       FROM datasets d LEFT JOIN examples e ON e.dataset_id = d.id GROUP BY d.id ORDER BY d.id`,
    ),
    terms: await q(
      `SELECT e.dataset_id::int AS d, u.lexeme AS term, count(*)::int AS df
       FROM examples e, unnest(e.tsv) u GROUP BY 1, 2 ORDER BY 1, u.lexeme COLLATE "C"`,
    ),
    postings: await q(
      `SELECT e.id::int AS e, u.lexeme AS term, cardinality(u.positions) AS tf,
         (SELECT sum(cardinality(v.positions)) FROM unnest(e.tsv) v)::int AS len
       FROM examples e, unnest(e.tsv) u ORDER BY 1, u.lexeme COLLATE "C"`,
    ),
  };
}

const row = (content: string) => ({ content, response: "", metadata: {} });

describe.each(drivers)("datasets BM25 statistics through batch inserts on %s", (_driver, pglite) => {
  let db: Db;
  let url = "";

  beforeAll(async () => {
    if (pglite) db = await memoryDb();
    else {
      url = await createDatabase("mcai_bm25_import");
      db = new PgDb({ connectionString: url, max: 1 });
      await migrate(db);
    }
  });
  afterAll(async () => {
    await db.close();
    if (url) await dropDatabase(url);
  });

  it("counts only the rows a batch adds: duplicates within the batch and of earlier batches are skipped", async () => {
    // Several batches of one transaction, as an import writes them; the skipped duplicates share
    // every term with rows that stay, so counting them would change df, N and the lengths.
    const added = await db.transaction(async (tx) => {
      const id = await ensureDataset(tx, "dupes");
      const first = await insertExamples(tx, id, [
        row("the cat sat on the mat"),
        row("cats and mats and hats"),
        row("the cat sat on the mat"),
        row("dogs sat on logs"),
      ]);
      const second = await insertExamples(tx, id, [
        row("cats and mats and hats"),
        row("a hat on a cat on a mat"),
        row("a hat on a cat on a mat"),
        row("dogs sat on logs"),
      ]);
      return [first, second];
    });
    expect(added).toEqual([3, 1]);
    const s = await stored(db);
    expect(s.datasets).toEqual([{ id: expect.any(Number) as number, docs: 4, len: 12 }]);
    expect(s).toEqual(await recomputed(db));
  });

  it("keeps them exact after a delete of some rows of a batch", async () => {
    await db.query("DELETE FROM examples WHERE content LIKE 'dogs%' OR content LIKE 'a hat%'");
    const s = await stored(db);
    expect(s.datasets).toEqual([{ id: expect.any(Number) as number, docs: 2, len: 6 }]);
    expect(s).toEqual(await recomputed(db));
  });
});
