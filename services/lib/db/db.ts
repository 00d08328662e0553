/**
 * The Postgres layer every service uses: one interface over `pg` (DATABASE_URL set) and over
 * in-process PGlite with pgvector (embedded mode).
 */
import { loadPgvector } from "./vector";

export type Row = Record<string, unknown>;

export interface QueryResult<R extends Row = Row> {
  rows: R[];
  rowCount: number;
}

/** How a statement is run. */
export interface QueryOptions {
  /**
   * Prepare the statement once per connection under this name (Postgres): a hot statement then
   * skips parsing and planning. Only for statements whose plan suits every parameter (a generic
   * plan is used after five runs). PGlite prepares it once per database the same way.
   */
  prepare?: string;
  /**
   * Gives up on the answer after this many ms (Postgres: the query rejects and its connection is
   * dropped, so a server gone behind a pulled link cannot hang the caller for the minutes TCP
   * takes to notice). For statements that are quick unless the network is gone. PGlite ignores it.
   */
  timeoutMs?: number;
}

/** What a query runs on: the database itself or one transaction. */
export interface Queryable {
  query<R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<R>>;
}

export interface DbCapabilities {
  /** The pgvector extension is installed in this database. */
  vector: boolean;
}

export type DbDriver = "pglite" | "postgres";

export interface Db extends Queryable {
  readonly driver: DbDriver;
  /** Filled in by `refreshCapabilities` after migrations. */
  readonly capabilities: DbCapabilities;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters inside `tx`. */
  execScript(tx: Queryable, sql: string): Promise<void>;
  refreshCapabilities(): Promise<DbCapabilities>;
  close(): Promise<void>;
}

/** Reads what the database offers now (and loads pgvector's package, which writes vector literals). */
export async function readCapabilities(db: Queryable): Promise<DbCapabilities> {
  await loadPgvector();
  const r = await db.query("SELECT 1 FROM pg_extension WHERE extname = 'vector'");
  return { vector: r.rowCount > 0 };
}

/** Asks the database for a trivial answer: resolves when it is reachable, rejects with its error otherwise. */
export async function ping(db: Queryable): Promise<void> {
  await db.query("SELECT 1");
}
