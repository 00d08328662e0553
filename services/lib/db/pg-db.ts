import type pg from "pg";
import type { Db, DbCapabilities, Queryable, QueryOptions, QueryResult, Row } from "./db";
import { readCapabilities } from "./db";
import { vectorFromSql } from "./vector";

export interface PgDbOptions {
  connectionString: string;
  max?: number;
  /** Per statement, in ms. */
  statementTimeoutMs?: number;
  applicationName?: string;
}

function wrap(client: { query: pg.Pool["query"] }): Queryable {
  return {
    async query<R extends Row = Row>(
      text: string,
      params?: unknown[],
      options?: QueryOptions,
    ): Promise<QueryResult<R>> {
      const res = (
        options?.prepare
          ? await client.query({ name: options.prepare, text, values: params })
          : await client.query(text, params as unknown[])
      ) as pg.QueryResult | pg.QueryResult[];
      // A script of several statements answers one result each: the last one is the script's.
      const r = Array.isArray(res) ? res[res.length - 1] : res;
      return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length };
    },
  };
}

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
    });
    // An idle client whose server went away emits here; without a listener it would crash the process.
    this.pool.on("error", () => undefined);
    this.q = wrap(this.pool);
  }

  query<R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    return this.q.query<R>(text, params, options);
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
      const result = await fn(wrap(client));
      await client.query("COMMIT");
      return result;
    } catch (err) {
      if (!broken) await client.query("ROLLBACK").catch(() => undefined);
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

  async refreshCapabilities(): Promise<DbCapabilities> {
    this.capabilities = await readCapabilities(this);
    this.vectorOid = this.capabilities.vector
      ? (await this.q.query<{ oid: number }>("SELECT 'vector'::regtype::oid::int AS oid")).rows[0].oid
      : undefined;
    return this.capabilities;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
