/**
 * Statements started together inside a Postgres transaction (a search's parts under Promise.all)
 * reach the connection one at a time: a `pg` client given a query while it runs another queues it
 * with a deprecation, and pg 9 drops that queue. The same for a new connection's session settings
 * and the first statement the pool hands it.
 */
import pg from "pg";
import { PgDb } from "../../services/lib/db";
import { createDatabase, describeWithPg, dropDatabase } from "../helpers/servers";

/** Statements in flight on each pg client, the most seen at once, while `fn` runs. */
async function mostInFlightPerClient(fn: () => Promise<unknown>): Promise<number> {
  const proto = pg.Client.prototype as unknown as { query: (this: object, ...args: unknown[]) => unknown };
  const original = proto.query;
  const inFlight = new Map<object, number>();
  let most = 0;
  proto.query = function (this: object, ...args: unknown[]) {
    inFlight.set(this, (inFlight.get(this) ?? 0) + 1);
    most = Math.max(most, inFlight.get(this)!);
    const settled = () => inFlight.set(this, inFlight.get(this)! - 1);
    // pg-pool passes a callback (no promise back); awaiting callers get a promise.
    const last = args.at(-1);
    if (typeof last === "function") {
      args[args.length - 1] = (...cbArgs: unknown[]) => {
        settled();
        return (last as (...a: unknown[]) => unknown)(...cbArgs);
      };
      return original.apply(this, args);
    }
    const r = original.apply(this, args);
    if (r instanceof Promise) r.then(settled, settled);
    else settled();
    return r;
  };
  try {
    await fn();
  } finally {
    proto.query = original;
  }
  return most;
}

describeWithPg("PgDb connections", () => {
  let url: string;
  const dbs: PgDb[] = [];

  beforeAll(async () => {
    url = await createDatabase("mcai_pgconn");
  });

  afterAll(async () => {
    for (const db of dbs) await db.close();
    if (url) await dropDatabase(url);
  });

  it("gives a new connection its session settings before its first statement, never beside it", async () => {
    const db = new PgDb({ connectionString: url, max: 3 });
    dbs.push(db);
    let settings: string[] = [];
    // Six statements on a pool of three new connections, and a transaction on a fourth pool's
    // first one: each connection's first statement comes right after its SETs.
    const most = await mostInFlightPerClient(async () => {
      const shown = await Promise.all(
        Array.from({ length: 6 }, () =>
          db
            .query<{ tcp_keepalives_idle: string }>("SHOW tcp_keepalives_idle")
            .then((r) => r.rows[0].tcp_keepalives_idle),
        ),
      );
      const tx = new PgDb({ connectionString: url, max: 1 });
      dbs.push(tx);
      const inTx = await tx.transaction(async (q) => {
        const r = await q.query<{ tcp_user_timeout: string }>("SHOW tcp_user_timeout");
        return r.rows[0].tcp_user_timeout;
      });
      settings = [...shown, inTx];
    });
    expect(settings).toEqual(["5", "5", "5", "5", "5", "5", "10000"]);
    expect(most).toBe(1);
  });
});

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
