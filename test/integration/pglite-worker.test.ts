/**
 * Embedded PGlite in its own worker thread (PGLITE_WORKER=1, the default) against PGlite on the
 * main thread: the same answers, the same transaction isolation and errors; and what the worker
 * is for: the main thread keeps running while a statement works, and a dead worker rejects.
 */
import { databaseClientError, sqlState } from "../../services/lib/errors";
import { PgDb, PgliteDb, type Db } from "../../services/lib/db";
import { memoryDb } from "../helpers/pglite";
import { startTestNode } from "../helpers/node";
import { eventually, getJson } from "../helpers/processes";
import { createDatabase, dropDatabase, PG_URL } from "../helpers/servers";

const drivers: [string, boolean][] = [
  ["in a worker thread", true],
  ["on the main thread", false],
];

/** A statement that keeps PGlite busy for seconds (tens of millions of rows counted in WASM). */
const HEAVY = "SELECT count(*)::int AS n FROM generate_series(1, 30000000) g WHERE g % 7 = 3";

describe.each(drivers)("embedded PGlite %s", (_name, worker) => {
  let db: PgliteDb;
  beforeAll(async () => {
    db = await memoryDb({ worker });
    await db.query("CREATE TABLE probe (id serial PRIMARY KEY, x int UNIQUE, note text)");
  });
  afterAll(() => db.close());
  beforeEach(() => db.query("TRUNCATE probe"));

  it("answers dates, bigints, json, bytea and vectors as numbers", async () => {
    const bytes = Buffer.alloc(256 * 1024, 0);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
    const r = await db.query(
      `SELECT '2026-01-02T03:04:05Z'::timestamptz AS at, 9007199254740993::int8 AS big, 42::int8 AS small,
              '{"a":[1,2]}'::jsonb AS j, '\\x00ff10'::bytea AS b, $1::bytea AS large, '[0.5,-1,2]'::vector AS v,
              NULL::text AS nothing`,
      [bytes],
    );
    const row = r.rows[0];
    expect(row).toEqual({
      at: new Date("2026-01-02T03:04:05Z"),
      big: 9007199254740993n,
      small: 42,
      j: { a: [1, 2] },
      b: new Uint8Array([0, 255, 16]),
      large: new Uint8Array(bytes),
      v: [0.5, -1, 2],
      nothing: null,
    });
    // By tag, not instanceof: under jest the test's realm is not the one messages are read in.
    expect([row.at, row.large, row.v].map((v) => Object.prototype.toString.call(v))).toEqual([
      "[object Date]",
      "[object Uint8Array]",
      "[object Array]",
    ]);
  });

  it("keeps a database error's SQLSTATE, message and constraint, in a transaction and out", async () => {
    await db.query("INSERT INTO probe (x) VALUES (1)");
    const dup = await db.query("INSERT INTO probe (x) VALUES (1)").catch((e: unknown) => e as Error);
    expect(dup).toMatchObject({ code: "23505", constraint: "probe_x_key" });
    expect((dup as Error).message).toMatch(/duplicate key value violates unique constraint "probe_x_key"/);
    expect(databaseClientError(dup)?.code).toBe(409);
    const inTx = await db.transaction((tx) => tx.query("SELECT 1/0")).catch((e: unknown) => e as Error);
    expect({ state: sqlState(inTx), message: (inTx as Error).message }).toEqual({
      state: "22012",
      message: "division by zero",
    });
    const syntax = await db.query("SELEC 1").catch((e: unknown) => e as Error);
    expect(syntax).toMatchObject({ code: "42601", position: "1" });
  });

  it("runs no other caller's statement inside an open transaction: a rollback keeps the outside insert", async () => {
    let outsideDone = false;
    let outside: Promise<unknown> | undefined;
    const seenInside: number[][] = [];
    const rolledBack = db.transaction(async (tx) => {
      await tx.query("INSERT INTO probe (x) VALUES (1)");
      // Another caller writes while the transaction is open: it must wait for it, not join it.
      outside = db.query("INSERT INTO probe (x) VALUES (2)").then(() => (outsideDone = true));
      for (let i = 0; i < 20; i++)
        seenInside.push((await tx.query<{ x: number }>("SELECT x FROM probe ORDER BY x")).rows.map((r) => r.x));
      expect(outsideDone).toBe(false);
      throw new Error("roll back");
    });
    await expect(rolledBack).rejects.toThrow("roll back");
    await outside;
    expect(new Set(seenInside.map((s) => s.join(",")))).toEqual(new Set(["1"]));
    expect((await db.query<{ x: number }>("SELECT x FROM probe ORDER BY x")).rows).toEqual([{ x: 2 }]);
  });

  it("answers a prepared statement as an unprepared one, through a reused name and a failed transaction", async () => {
    await db.query("INSERT INTO probe (x, note) VALUES (1, 'a'), (2, 'b'), (3, NULL)");
    const text = "SELECT x, note, $2::bytea AS b, now() AS at FROM probe WHERE x >= $1 ORDER BY x";
    const plain = await db.query(text, [2, Buffer.from("hi")]);
    const prepared = await db.query(text, [2, Buffer.from("hi")], { prepare: "probe.page" });
    expect(prepared.rows.map((r) => ({ ...r, at: 0 }))).toEqual(plain.rows.map((r) => ({ ...r, at: 0 })));
    expect(prepared.rows.map((r) => r.x)).toEqual([2, 3]);
    // The same name for another text, and a run inside a transaction that is rolled back.
    const other = await db.query("SELECT count(*)::int AS n FROM probe", [], { prepare: "probe.page" });
    expect(other.rows).toEqual([{ n: 3 }]);
    await db
      .transaction(async (tx) => {
        await tx.query("DELETE FROM probe", [], { prepare: "probe.delete" });
        expect((await tx.query("SELECT count(*)::int AS n FROM probe", [], { prepare: "probe.page" })).rows).toEqual([
          { n: 0 },
        ]);
        throw new Error("undo");
      })
      .catch(() => undefined);
    expect((await db.query("SELECT count(*)::int AS n FROM probe", [], { prepare: "probe.page" })).rows).toEqual([
      { n: 3 },
    ]);
    const bad = await db.query("SELECT 1 / $1::int AS q", [0], { prepare: "probe.div" }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: "22012", message: "division by zero" });
    expect((await db.query("SELECT 1 / $1::int AS q", [1], { prepare: "probe.div" })).rows).toEqual([{ q: 1 }]);
  });

  it("runs a script inside a transaction (rolled back with it) and outside one", async () => {
    await db
      .transaction(async (tx) => {
        await db.execScript(tx, "INSERT INTO probe (x) VALUES (10); INSERT INTO probe (x) VALUES (11);");
        expect((await tx.query("SELECT x FROM probe")).rowCount).toBe(2);
        throw new Error("undo");
      })
      .catch(() => undefined);
    await db.execScript(db, "INSERT INTO probe (x) VALUES (12); INSERT INTO probe (x) VALUES (13);");
    expect((await db.query<{ x: number }>("SELECT x FROM probe ORDER BY x")).rows).toEqual([{ x: 12 }, { x: 13 }]);
  });
});

/** Every driver's Db, opened fresh (Postgres: a database of its own, dropped by `close`). */
const batchDrivers: [string, () => Promise<{ db: Db; close: () => Promise<void> }>][] = [
  ...drivers.map(([name, worker]): [string, () => Promise<{ db: Db; close: () => Promise<void> }>] => [
    `embedded PGlite ${name}`,
    async () => {
      const db = await memoryDb({ worker });
      return { db, close: () => db.close() };
    },
  ]),
  ...(PG_URL
    ? [
        [
          "Postgres",
          async () => {
            const url = await createDatabase("mcai_batch");
            const db = new PgDb({ connectionString: url, max: 3 });
            return {
              db,
              close: async () => {
                await db.close();
                await dropDatabase(url);
              },
            };
          },
        ] as [string, () => Promise<{ db: Db; close: () => Promise<void> }>],
      ]
    : []),
];

describe.each(batchDrivers)("db.batch on %s", (_name, open) => {
  let db: Db;
  let close: () => Promise<void>;
  const xs = async () => (await db.query<{ x: number }>("SELECT x FROM probe ORDER BY x")).rows.map((r) => r.x);
  beforeAll(async () => {
    ({ db, close } = await open());
    await db.query("CREATE TABLE probe (id serial PRIMARY KEY, x int UNIQUE, note text)");
  });
  afterAll(() => close());
  beforeEach(() => db.query("TRUNCATE probe"));

  it("answers each statement's result in order, prepared ones as unprepared", async () => {
    const r = await db.batch([
      { text: "INSERT INTO probe (x, note) VALUES ($1, $2), ($3, NULL) RETURNING x", params: [1, "a", 2] },
      { text: "SELECT x, note FROM probe WHERE x >= $1 ORDER BY x", params: [1], options: { prepare: "probe.batch" } },
      { text: "SELECT x, note FROM probe WHERE x >= $1 ORDER BY x", params: [2] },
      { text: "UPDATE probe SET note = 'b' WHERE x > 0" },
    ]);
    expect(r).toEqual([
      { rows: [{ x: 1 }, { x: 2 }], rowCount: 2 },
      {
        rows: [
          { x: 1, note: "a" },
          { x: 2, note: null },
        ],
        rowCount: 2,
      },
      { rows: [{ x: 2, note: null }], rowCount: 1 },
      { rows: [], rowCount: 2 },
    ]);
    expect(await db.batch([])).toEqual([]);
  });

  it("stops at a failing statement with its SQLSTATE and place; outside a transaction the ones before it stay", async () => {
    const err = await db
      .batch([
        { text: "INSERT INTO probe (x) VALUES (1)" },
        { text: "INSERT INTO probe (x) VALUES ($1)", params: [1] },
        { text: "INSERT INTO probe (x) VALUES (2)" },
      ])
      .catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ code: "23505", constraint: "probe_x_key", batchIndex: 1 });
    expect(databaseClientError(err)?.code).toBe(409);
    // The first statement committed on its own; the third never ran.
    expect(await xs()).toEqual([1]);
    const syntax = await db.batch([{ text: "SELECT 1" }, { text: "SELEC 1" }]).catch((e: unknown) => e as Error);
    expect(syntax).toMatchObject({ code: "42601", batchIndex: 1 });
  });

  it("in a transaction of its own: settings made local hold for the next statement; a failure rolls back all", async () => {
    const [, seen] = await db.batch(
      [
        { text: "SELECT set_config('mcai.probe', $1, true)", params: ["on"] },
        { text: "SELECT current_setting('mcai.probe', true) AS v" },
        { text: "INSERT INTO probe (x) VALUES (1)" },
      ],
      { transaction: true },
    );
    expect(seen.rows).toEqual([{ v: "on" }]);
    expect(await xs()).toEqual([1]);
    const err = await db
      .batch(
        [
          { text: "INSERT INTO probe (x) VALUES (2)" },
          { text: "SELECT 1 / $1::int AS q", params: [0], options: { prepare: "probe.div" } },
        ],
        { transaction: true },
      )
      .catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ code: "22012", message: "division by zero", batchIndex: 1 });
    expect(await xs()).toEqual([1]);
    // The prepared statement made in the rolled-back transaction still answers.
    expect((await db.query("SELECT 1 / $1::int AS q", [1], { prepare: "probe.div" })).rows).toEqual([{ q: 1 }]);
  });

  it("inside a caller's transaction: runs in it, sees its rows, and is rolled back with it", async () => {
    const err = await db
      .transaction(async (tx) => {
        await tx.query("INSERT INTO probe (x) VALUES (1)");
        const [, counted] = await tx.batch([
          { text: "INSERT INTO probe (x) VALUES (2)" },
          { text: "SELECT count(*)::int AS n FROM probe" },
        ]);
        expect(counted.rows).toEqual([{ n: 2 }]);
        await tx.batch([{ text: "INSERT INTO probe (x) VALUES (3)" }, { text: "INSERT INTO probe (x) VALUES (1)" }]);
      })
      .catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ code: "23505", batchIndex: 1 });
    expect(await xs()).toEqual([]);
    await db.transaction(async (tx) => {
      await tx.batch([{ text: "INSERT INTO probe (x) VALUES (4)" }, { text: "INSERT INTO probe (x) VALUES (5)" }]);
    });
    expect(await xs()).toEqual([4, 5]);
  });
});

describe("embedded PGlite in a worker thread", () => {
  it("keeps the main thread's event loop turning while a multi-second statement runs", async () => {
    const db = await memoryDb({ worker: true });
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      const during = await db.query<{ n: number }>(HEAVY).then((r) => {
        clearInterval(timer);
        return { n: r.rows[0].n, ticks };
      });
      // On the main thread the statement blocks the loop: a tick or two at its edges, no more.
      expect(during.n).toBe(4285714);
      expect(during.ticks).toBeGreaterThanOrEqual(10);
    } finally {
      await db.close();
    }
  });

  it("rejects the statements in flight and every later one when the worker dies", async () => {
    const db = await memoryDb({ worker: true });
    const inFlight = db.query(HEAVY);
    const queued = db.query("SELECT 1");
    await db.killWorker();
    await expect(inFlight).rejects.toThrow(/the embedded database's worker thread stopped \(exit code 1\)/);
    await expect(queued).rejects.toThrow(/worker thread stopped/);
    await expect(db.query("SELECT 1")).rejects.toMatchObject({ name: "PgliteWorkerExitedError" });
    await expect(db.transaction((tx) => tx.query("SELECT 1"))).rejects.toThrow(/worker thread stopped/);
    await db.close();
  });

  it("stores and reads back a result of RESULT_MAX_BYTES (32 MB) at the least heap bound config allows (160 MB)", async () => {
    const db = await memoryDb({ worker: true, workerHeapMb: 160 });
    try {
      const bytes = Buffer.alloc(32 * 2 ** 20);
      for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) & 0xff;
      await db.query("CREATE TABLE blob (b bytea)");
      await db.query("INSERT INTO blob VALUES ($1)", [bytes]);
      const back = (await db.query<{ b: Uint8Array }>("SELECT b FROM blob")).rows[0].b;
      expect(Buffer.compare(Buffer.from(back), bytes)).toBe(0);
    } finally {
      await db.close();
    }
  });

  it("ends a worker past its heap bound (PGLITE_WORKER_HEAP_MB): its calls reject with the reason, health shows it", async () => {
    const db = await memoryDb({ worker: true, workerHeapMb: 32 });
    const { node, url } = await startTestNode({}, ["api"], db);
    try {
      expect((await db.query<{ n: number }>("SELECT 1 AS n")).rows).toEqual([{ n: 1 }]);
      // 100,000 rows of 1 KB: the parsed rows fill the worker's heap row by row past its bound. (One
      // allocation bigger than the room left, a 64 MB string, makes V8 abort the whole process
      // instead: Node's resourceLimits catch a heap that grows, hence config's floor on the bound.)
      await expect(db.query("SELECT repeat('x', 1000) AS s FROM generate_series(1, 100000)")).rejects.toThrow(
        /the embedded database's worker thread stopped \(error: .*memory limit.*\): restart the node/,
      );
      await expect(db.query("SELECT 1")).rejects.toMatchObject({ name: "PgliteWorkerExitedError" });
      const health = await eventually(
        async () => {
          const h = await getJson(`${url}/api/health`);
          return h.body.status === "degraded" ? h : undefined;
        },
        10_000,
        "a degraded /api/health",
      );
      expect(health.body.problems).toEqual([expect.stringMatching(/^database unreachable: .*worker thread stopped/)]);
    } finally {
      await node.stop();
    }
  });
});

describe("/api/health on embedded PGlite", () => {
  it("does not queue its ping behind a running statement when PGlite answered within the ping's bound", async () => {
    const db = await memoryDb({ worker: true });
    const { node, url } = await startTestNode({}, ["api"], db);
    try {
      await db.query("SELECT 1");
      const order: string[] = [];
      const inFlight = db.query(HEAVY).then(() => order.push("statement"));
      const health = await getJson(`${url}/api/health`);
      order.push("health");
      // Before, the ping waited behind the statement: "database did not answer within 1 s".
      expect(health.body).toMatchObject({ status: "ok", problems: [] });
      expect(order).toEqual(["health"]);
      await inFlight;
    } finally {
      await node.stop();
    }
  });
});
