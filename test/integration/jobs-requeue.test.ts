/**
 * The queue's upkeep when a node vanishes (the netns suite's partitions, reproduced here without
 * namespaces): a requeue never waits on the row lock of a departed node's open transaction, a
 * query past its timeoutMs gives its connection up instead of hanging the caller, and the server
 * is told to drop a session whose client went silent.
 */
import pg from "pg";
import { PgDb, migrate } from "../../services/lib/db";
import { requeueOrphans } from "../../services/jobs/store";
import { createDatabase, describeWithPg, dropDatabase } from "../helpers/servers";

describeWithPg("jobs upkeep against a node gone behind a pulled link", () => {
  let url: string;
  let db: PgDb | undefined;
  const store = () => db!;

  beforeAll(async () => {
    url = await createDatabase("mcai_requeue");
    db = new PgDb({ connectionString: url, max: 1 });
    await migrate(db);
  });

  afterAll(async () => {
    await db?.close();
    if (url) await dropDatabase(url);
  });

  async function processingOn(node: string): Promise<string> {
    const r = await store().query<{ id: string }>(
      `INSERT INTO jobs (id, kind, params, params_hash, status, attempts, max_attempts, timeout_s, node_id, started_at, heartbeat_at)
       VALUES (gen_random_uuid(), 'art', '{}', md5(random()::text), 'processing', 1, 3, 60, $1, now(), now()) RETURNING id::text AS id`,
      [node],
    );
    return r.rows[0].id;
  }

  it("requeues a departed node's jobs at once, skipping a row its unfinished transaction still locks; that one on the next round", async () => {
    const free = await processingOn("gone");
    const locked = await processingOn("gone");
    // The departed node's transaction: it updated the row, and its COMMIT never arrived.
    const zombie = new pg.Client({ connectionString: url });
    await zombie.connect();
    try {
      await zombie.query("BEGIN");
      await zombie.query("UPDATE jobs SET progress = 0.5 WHERE id = $1", [locked]);
      // Waiting on the lock would time out and reject.
      expect(await requeueOrphans(store(), { nodeId: "gone" }, 3000)).toEqual([free]);
      await zombie.query("ROLLBACK");
      expect(await requeueOrphans(store(), { nodeId: "gone" }, 3000)).toEqual([locked]);
      const rows = await store().query<{ status: string; node_id: string | null; attempts: number }>(
        "SELECT status, node_id, attempts FROM jobs WHERE id = ANY($1::uuid[])",
        [[free, locked]],
      );
      expect(rows.rows).toEqual([
        { status: "queued", node_id: null, attempts: 0 },
        { status: "queued", node_id: null, attempts: 0 },
      ]);
    } finally {
      await zombie.end();
    }
  });

  it("rejects a query past its timeoutMs and drops its connection, inside a transaction too; the next caller gets a fresh one at once", async () => {
    const pid = async () => (await store().query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    const first = await pid();
    await expect(store().query("SELECT pg_sleep(30)", [], { timeoutMs: 300 })).rejects.toThrow(/timeout/i);
    const second = await pid();
    expect(second).not.toBe(first);
    await expect(store().transaction((tx) => tx.query("SELECT pg_sleep(30)", [], { timeoutMs: 300 }))).rejects.toThrow(
      /timeout/i,
    );
    // Reused, the pool's one connection would still be sleeping: this would wait 30 s and time out.
    const third = (await store().query<{ pid: number }>("SELECT pg_backend_pid() AS pid", [], { timeoutMs: 10_000 }))
      .rows[0].pid;
    expect(third).not.toBe(second);
  });

  it("asks the server to end a session whose client goes silent (keepalive probes, a bound on unacknowledged data)", async () => {
    const show = async (name: string) => (await store().query<Record<string, string>>(`SHOW ${name}`)).rows[0][name];
    expect([
      await show("tcp_keepalives_idle"),
      await show("tcp_keepalives_interval"),
      await show("tcp_keepalives_count"),
      await show("tcp_user_timeout"),
    ]).toEqual(["5", "2", "3", "10000"]);
  });
});
