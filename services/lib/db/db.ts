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
  /**
   * `array`: each row is the array of its columns' values in the statement's order, not an object
   * keyed by their names (one object fewer a row; the statement's columns need distinct names).
   */
  rowMode?: "array";
}

/** One statement of a batch. */
export interface Statement {
  text: string;
  params?: unknown[];
  options?: QueryOptions;
}

/** What a query runs on: the database itself or one transaction. */
export interface Queryable {
  query<R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<R>>;
  /**
   * Runs the statements one after another on one connection and answers their results in order.
   * Embedded, the whole batch is one message to PGlite's worker thread (a statement each costs a
   * round trip and a thread hop). The first statement that fails rejects the batch with its error
   * (SQLSTATE `code` and fields kept, `batchIndex` its place) and the ones after it do not run;
   * the ones before it stay done, unless the batch runs in a transaction (then rolled back).
   */
  batch(statements: Statement[]): Promise<QueryResult[]>;
}

/** How a batch on the database itself runs. */
export interface BatchOptions {
  /** In one transaction of its own: committed when every statement ran, rolled back at the first failure. */
  transaction?: boolean;
}

/** The batch's failing statement's error, marked with its place in the batch. */
function batchError(err: unknown, index: number): unknown {
  if (err instanceof Error && (err as { batchIndex?: number }).batchIndex === undefined)
    Object.assign(err, { batchIndex: index });
  return err;
}

/** A batch as statements in turn on `q` (what a connection without a batch call of its own does). */
export async function batchInTurn(q: Pick<Queryable, "query">, statements: Statement[]): Promise<QueryResult[]> {
  const out: QueryResult[] = [];
  for (const [i, s] of statements.entries()) {
    try {
      out.push(await q.query(s.text, s.params, s.options));
    } catch (err) {
      throw batchError(err, i);
    }
  }
  return out;
}

export interface DbCapabilities {
  /** The pgvector extension is installed in this database. */
  vector: boolean;
}

/** Capabilities read by a caller with their details: pgvector's type id when it is installed. */
export interface KnownCapabilities extends DbCapabilities {
  vectorOid?: number;
}

export type DbDriver = "pglite" | "postgres";

export interface Db extends Queryable {
  readonly driver: DbDriver;
  /** Filled in by `refreshCapabilities` after migrations. */
  readonly capabilities: DbCapabilities;
  /** A batch (see Queryable.batch) outside any transaction, or in one of its own with `transaction`. */
  batch(statements: Statement[], options?: BatchOptions): Promise<QueryResult[]>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters inside `tx`. */
  execScript(tx: Queryable, sql: string): Promise<void>;
  /** Reads the capabilities again, or takes `known` (read by the caller in the same state) as they are. */
  refreshCapabilities(known?: KnownCapabilities): Promise<DbCapabilities>;
  /**
   * Whether it answered a statement in the last `ms` (PGlite, whose one session makes a ping wait
   * behind every statement queued before it); absent where a ping does not queue (a pool).
   */
  answeredWithin?(ms: number): boolean;
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
