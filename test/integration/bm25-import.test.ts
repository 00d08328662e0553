import { migrate, PgDb, type Db } from "../../services/lib/db";
import { deferBm25, ensureDataset, flushBm25, insertExamples } from "../../services/datasets/store";
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

  const pending = async () => (await db.query("SELECT 1 FROM bm25_pending")).rowCount;

  it("writes the postings of a deferred import once, at its end, exactly as batch by batch", async () => {
    const mid = await db.transaction(async (tx) => {
      const id = await ensureDataset(tx, "deferred");
      await deferBm25(tx);
      await insertExamples(tx, id, [row("owls hunt mice at night"), row("mice eat seeds"), row("mice eat seeds")]);
      await insertExamples(tx, id, [row("owls sleep by day"), row("seeds of the night flower")]);
      // Nothing written yet: the rows are noted, one entry per INSERT.
      const noted = (await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM bm25_pending")).rows[0].n;
      const docs = (
        await tx.query<{ n: number }>("SELECT bm25_docs::int AS n FROM datasets WHERE domain_name = 'deferred'")
      ).rows[0].n;
      await flushBm25(tx);
      return { noted, docs };
    });
    expect(mid).toEqual({ noted: 2, docs: 0 });
    expect(await pending()).toBe(0);
    const s = await stored(db);
    expect(s.datasets).toContainEqual({ id: expect.any(Number) as number, docs: 4, len: 13 });
    expect(s).toEqual(await recomputed(db));
  });

  it("leaves them exact when a deferred import fails half-way (nothing of it stays)", async () => {
    const before = await stored(db);
    await expect(
      db.transaction(async (tx) => {
        const id = await ensureDataset(tx, "deferred");
        await deferBm25(tx);
        await insertExamples(tx, id, [row("herons wade in shallow water"), row("owls and herons")]);
        throw new Error("the source broke after the first batch");
      }),
    ).rejects.toThrow("the source broke");
    expect(await pending()).toBe(0);
    expect(await stored(db)).toEqual(before);
    expect(before).toEqual(await recomputed(db));
  });

  it("flushes before a delete in the deferring transaction, and at commit what was never flushed", async () => {
    await db.transaction(async (tx) => {
      const id = await ensureDataset(tx, "deferred");
      await deferBm25(tx);
      await insertExamples(tx, id, [row("crows count to five"), row("crows remember faces")]);
      // Deletes a row that is only noted: its statistics must be added before they are taken away.
      await tx.query("DELETE FROM examples WHERE content = 'crows count to five'");
      await insertExamples(tx, id, [row("jays hide acorns"), row("jays and crows")]);
      // No flushBm25: the commit does it.
    });
    expect(await pending()).toBe(0);
    const s = await stored(db);
    expect(s.postings).toContainEqual({ e: expect.any(Number) as number, term: "acorn", tf: 1, len: 3 });
    expect(s).toEqual(await recomputed(db));
  });

  it("still writes the postings of a single add outside an import, in its own statement", async () => {
    const id = (await db.query<{ id: string }>("SELECT id::text AS id FROM datasets WHERE domain_name = 'deferred'"))
      .rows[0].id;
    await insertExamples(db, id, [row("magpies collect shiny things")]);
    expect(await pending()).toBe(0);
    const s = await stored(db);
    expect(s.postings).toContainEqual({ e: expect.any(Number) as number, term: "magpi", tf: 1, len: 4 });
    expect(s).toEqual(await recomputed(db));
  });
});
