import { PgDb } from "../../services/lib/db";
import { canRunOwnPostgres, ownPostgres } from "../helpers/own-servers";

(canRunOwnPostgres ? describe : describe.skip)("PgDb when the server goes away mid-transaction", () => {
  it("rejects the transaction and keeps the process alive; the next one works once the server is back", async () => {
    const pg = await ownPostgres();
    const db = new PgDb({ connectionString: pg.url });
    try {
      const inTx = db.transaction(async (tx) => tx.query("SELECT pg_sleep(3)"));
      await new Promise((r) => setTimeout(r, 500));
      await pg.stop();
      // Before the fix the checked-out client's "error" event had no listener and killed the process.
      await expect(inTx).rejects.toThrow(/terminated|closed|ECONNRESET/i);
      await expect(db.query("SELECT 1")).rejects.toThrow();
      await pg.start();
      expect((await db.transaction((tx) => tx.query<{ n: number }>("SELECT 1 AS n"))).rows).toEqual([{ n: 1 }]);
    } finally {
      await db.close().catch(() => undefined);
      await pg.stop().catch(() => undefined);
    }
  });
});
