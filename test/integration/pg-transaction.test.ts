/**
 * Statements started together inside a Postgres transaction (a search's parts under Promise.all)
 * reach the connection one at a time: a `pg` client given a query while it runs another queues it
 * with a deprecation, and pg 9 drops that queue.
 */
import pg from "pg";
import { PgDb } from "../../services/lib/db";
import { createDatabase, describeWithPg, dropDatabase } from "../helpers/servers";

describeWithPg("PgDb transactions", () => {
  let url: string;
  let db: PgDb | undefined;

  beforeAll(async () => {
    url = await createDatabase("mcai_pgtx");
    // One connection, opened before the count starts (a new connection runs its session settings).
    db = new PgDb({ connectionString: url, max: 1 });
    await db.query("SELECT 1");
  });

  afterAll(async () => {
    await db?.close();
    if (url) await dropDatabase(url);
  });

  it("runs queries started at once inside a transaction one after another, in order, each with its own answer", async () => {
    // Every statement a pg client is given, counted while it is in flight.
    const proto = pg.Client.prototype as unknown as { query: (this: unknown, ...args: unknown[]) => unknown };
    const original = proto.query;
    let inFlight = 0;
    let most = 0;
    const settled = () => inFlight--;
    proto.query = function (this: unknown, ...args: unknown[]) {
      inFlight++;
      most = Math.max(most, inFlight);
      const r = original.apply(this, args) as Promise<unknown>;
      r.then(settled, settled);
      return r;
    };
    try {
      const answers = await db!.transaction(async (tx) => {
        await tx.query("CREATE TEMP TABLE seen (n int, at timestamptz DEFAULT clock_timestamp())");
        const slow = tx.query("SELECT pg_sleep(0.05), 1 AS n");
        const parts = await Promise.all(
          [1, 2, 3, 4].map((n) => tx.query<{ n: number }>("INSERT INTO seen (n) VALUES ($1) RETURNING n", [n])),
        );
        const order = await tx.query<{ n: number }>("SELECT n FROM seen ORDER BY at, n");
        return { slow: (await slow).rows[0], parts, order: order.rows.map((r) => r.n) };
      });
      expect(answers.slow).toEqual({ pg_sleep: "", n: 1 });
      expect(answers.parts.map((p) => p.rows[0].n)).toEqual([1, 2, 3, 4]);
      expect(answers.order).toEqual([1, 2, 3, 4]);
    } finally {
      proto.query = original;
    }
    expect(most).toBe(1);
  });
});
