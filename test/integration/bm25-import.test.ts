import { migrate, PgDb, type Db } from "../../services/lib/db";
import { ensureDataset, insertExamples } from "../../services/datasets/store";
import { memoryDb } from "../helpers/pglite";
import { createDatabase, dropDatabase, PG_URL } from "../helpers/servers";
import { recomputed, stored } from "../helpers/bm25-stats";

/** Every driver the suite runs on: PGlite always, Postgres when it answers. */
const drivers: [string, boolean][] = [["PGlite", true], ...(PG_URL ? [["Postgres", false] as [string, boolean]] : [])];

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
