import type pg from "pg";
import type {
  BatchOptions,
  Db,
  DbCapabilities,
  KnownCapabilities,
  Queryable,
  QueryOptions,
  QueryResult,
  Row,
  Statement,
} from "./db";
import { batchInTurn, readCapabilities } from "./db";
import { loadPgvector, vectorFromSql } from "./vector";

export interface PgDbOptions {
  connectionString: string;
  max?: number;
  /** Per statement, in ms. */
  statementTimeoutMs?: number;
  applicationName?: string;
}

function wrap(client: { query: pg.Pool["query"] }): Queryable {
  const q: Queryable = {
    batch: (statements) => batchInTurn(q, statements),
    async query<R extends Row = Row>(
      text: string,
      params?: unknown[],
      options?: QueryOptions,
    ): Promise<QueryResult<R>> {
      const res = (
        options?.prepare || options?.timeoutMs || options?.rowMode
          ? await client.query({
              name: options.prepare,
              text,
              values: params,
              rowMode: options.rowMode,
              // pg's client-side read timeout: a pooled connection is then released with the error
              // (dropped); a checked-out one is dropped by transaction() below.
              query_timeout: options.timeoutMs,
            } as pg.QueryConfig)
          : await client.query(text, params as unknown[])
      ) as pg.QueryResult | pg.QueryResult[];
      // A script of several statements answers one result each: the last one is the script's.
      const r = Array.isArray(res) ? res[res.length - 1] : res;
      return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length };
    },
  };
  return q;
}

/**
 * One connection's statements one after another: code inside a transaction may start several
 * queries at once (`Promise.all` over a search's parts), and a `pg` client queues them itself only
 * with a deprecation (removed in pg 9). Each statement starts when the one before it settled.
 */
function inTurn(q: Queryable): Queryable {
  let last: Promise<unknown> = Promise.resolve();
  const turn = <T>(run: () => Promise<T>): Promise<T> => {
    const next = last.then(run);
    last = next.catch(() => undefined); // a failed statement does not stop the ones after it
    return next;
  };
  return {
    query: <R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions) =>
      turn(() => q.query<R>(text, params, options)),
    // A batch takes one turn: no statement started meanwhile runs between its statements.
    batch: (statements) => turn(() => batchInTurn(q, statements)),
  };
}

/** Run on each new connection before its first statement (see `verify` below). */
const SESSION_SETTINGS =
  "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3; SET tcp_user_timeout = 10000";

/** A real Postgres behind a `pg` Pool. */
export class PgDb implements Db {
  readonly driver = "postgres" as const;
  capabilities: DbCapabilities = { vector: false };
  private readonly pool: pg.Pool;
  private readonly q: Queryable;
  /** The `vector` type's oid once pgvector is known to be installed. */
  private vectorOid: number | undefined;

  constructor(opts: PgDbOptions) {
    // Loaded here, not at the top: an embedded node never needs `pg` (30 ms of its cold start).
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: an embedded node never loads pg
    const { Pool, types } = require("pg") as typeof import("pg");
    // pgvector's parser for `vector` results on every client of the pool: what pgvector/pg's
    // registerTypes installs on one client, but a pool's first clients connect before the
    // extension is known to exist (registerTypes throws without it).
    const getTypeParser: typeof types.getTypeParser = (oid, format): unknown =>
      oid === this.vectorOid && format !== "binary" ? vectorFromSql : types.getTypeParser(oid, format);
    this.pool = new Pool({
      types: { getTypeParser },
      connectionString: opts.connectionString,
      max: opts.max ?? 10,
      application_name: opts.applicationName ?? "mcai",
      statement_timeout: opts.statementTimeoutMs,
      connectionTimeoutMillis: 5000,
      // Probes an idle connection after 10 s of silence: one whose server went away behind a
      // pulled link is found dead and dropped, not handed out to hang the next query.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      // The server's side of the same: a node gone behind a pulled link leaves its session waiting
      // for the next statement, and a transaction it had open keeps its row locks (a departed
      // worker's job rows then cannot be requeued) until the server's TCP gives up, hours later by
      // default. Probes after 5 s of silence (3, 2 s apart) and a 10 s bound on unacknowledged data
      // end such a session in about 11 s, which rolls its transaction back. A live client's kernel
      // answers the probes, so a long statement or a long transaction is not affected. Settings the
      // server does not know (before Postgres 12) or cannot apply (a Unix socket) change nothing.
      // In `verify`, which pg-pool runs on a new connection before it hands it out, not in the
      // pool's "connect" event: that fires before the client is ready for queries, so the SET was
      // still queued when the first statement came and pg warned "Calling client.query() when the
      // client is already executing a query" (a queue that pg 9 removes).
      verify: (client, done) => {
        client.query(SESSION_SETTINGS).then(
          () => done(),
          () => done(),
        );
      },
    });
    // An idle client whose server went away emits here; without a listener it would crash the process.
    this.pool.on("error", () => undefined);
    this.q = wrap(this.pool);
  }

  query<R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    return this.q.query<R>(text, params, options);
  }

  /**
   * The statements in turn on one client of the pool (so a session setting made by one holds for
   * the next), or in one transaction of their own with `transaction`.
   */
  async batch(statements: Statement[], options?: BatchOptions): Promise<QueryResult[]> {
    if (options?.transaction) return this.transaction((tx) => tx.batch(statements));
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const onError = (err: Error) => (broken = err);
    client.on("error", onError);
    try {
      return await batchInTurn(wrap(client), statements);
    } catch (err) {
      // As in transaction(): a statement that timed out client-side may still run; drop the client.
      if ((err as Error).message === "Query read timeout") broken = err as Error;
      throw err;
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A server that goes away mid-transaction makes the checked-out client emit "error"; without a
    // listener that would crash the process. The query in flight rejects, and the client is discarded.
    let broken: Error | undefined;
    const onError = (err: Error) => (broken = err);
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await fn(inTurn(wrap(client)));
      await client.query("COMMIT");
      return result;
    } catch (err) {
      // A query that timed out client-side may still be in flight: the connection is dropped, not
      // reused (a ROLLBACK behind it would wait for it).
      if (!broken && (err as Error).message === "Query read timeout") broken = err as Error;
      if (!broken) await client.query("ROLLBACK").catch((e: unknown) => (broken = e as Error));
      throw err;
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }

  async execScript(tx: Queryable, sql: string): Promise<void> {
    // Without parameters pg uses the simple protocol, which takes several statements.
    await tx.query(sql);
  }

  async refreshCapabilities(known?: KnownCapabilities): Promise<DbCapabilities> {
    if (known) {
      await loadPgvector();
      this.capabilities = { vector: known.vector };
    } else this.capabilities = await readCapabilities(this);
    this.vectorOid = !this.capabilities.vector
      ? undefined
      : known
        ? known.vectorOid
        : (await this.q.query<{ oid: number }>("SELECT 'vector'::regtype::oid::int AS oid")).rows[0].oid;
    return this.capabilities;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
