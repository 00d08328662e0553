import path from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
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
import { readCapabilities } from "./db";
import { loadPgvector } from "./vector";
import { DataDirLock } from "./data-dir-lock";
import type { PgliteSettings } from "../config";
import { PgliteSession, type PgliteOrigin, type SessionResult, type SessionStatement } from "./pglite-session";
import { PgliteWorkerHost } from "./pglite-worker-host";
import { applyWasmTieringBudget } from "./pglite-wasm";

export { pgliteStartParams, type PgliteOrigin } from "./pglite-session";

export interface PgliteOpenOptions {
  /**
   * Start from a dump made by `dumpDataDir` (tests seed every database from one template), or
   * from a tarball file (its path, or a Blob read from it).
   */
  loadDataDir?: Blob | string;
  /** Postgres memory settings (MB); unset ones keep PGlite's defaults. */
  memory?: Partial<PgliteSettings>;
  /**
   * For a folder without a database: the prebuilt cluster to load instead of running initdb
   * (see pglite-template.ts), or false to run initdb. Default: the build's template.
   */
  template?: string | false;
  /** Run PGlite in its own worker thread (PGLITE_WORKER; default true) or in this one. */
  worker?: boolean;
}

/**
 * Where the PGlite session runs: in this thread (PgliteSession itself) or in a worker thread
 * behind messages (PgliteWorkerHost). A transaction is an id: `begin` answers once BEGIN ran,
 * statements name it, `end` commits or rolls back.
 */
export interface PgliteHost {
  query(text: string, params: unknown[] | undefined, txId?: number, prepare?: string): Promise<SessionResult>;
  batch(statements: SessionStatement[], txId?: number, transaction?: boolean): Promise<SessionResult[]>;
  exec(sql: string, txId?: number): Promise<void>;
  begin(): Promise<number>;
  end(txId: number, commit: boolean): Promise<void>;
  setVectorOid(oid: number | undefined): Promise<void>;
  dump(compression: "none" | "gzip"): Promise<Blob>;
  close(): Promise<void>;
}

/** The statements of one transaction (or of none). */
class PgliteQueryable implements Queryable {
  constructor(
    private readonly host: PgliteHost,
    readonly txId?: number,
  ) {}

  async query<R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    const r = await this.host.query(text, params, this.txId, options?.prepare);
    return inRowMode(r, options) as QueryResult<R>;
  }

  async batch(statements: Statement[], transaction?: boolean): Promise<QueryResult[]> {
    const rs = await this.host.batch(sessionStatements(statements), this.txId, transaction);
    return rs.map((r, i) => inRowMode(r, statements[i].options));
  }
}

/** PGlite's rows as `options.rowMode` asks: an object's keys keep the statement's column order. */
function inRowMode(r: SessionResult, options: QueryOptions | undefined): QueryResult {
  if (options?.rowMode !== "array") return r;
  return { rows: r.rows.map((x) => Object.values(x) as unknown as Row), rowCount: r.rowCount };
}

/** What crosses to the worker: text, parameters and the prepared name (timeoutMs does not apply). */
function sessionStatements(statements: Statement[]): SessionStatement[] {
  return statements.map(({ text, params, options }) => ({
    text,
    params,
    options: options?.prepare ? { prepare: options.prepare } : undefined,
  }));
}

/**
 * Embedded Postgres: PGlite with pgvector, in its own worker thread (the default) or in this
 * one. One process owns a data folder (see DataDirLock, held by this thread); PGlite serializes
 * statements, and a transaction holds it until it ends.
 */
export class PgliteDb implements Db {
  readonly driver = "pglite" as const;
  capabilities: DbCapabilities = { vector: false };
  private readonly q: PgliteQueryable;
  /** When PGlite last answered a statement outside a transaction (performance.now()). */
  private answeredAt = -Infinity;

  private constructor(
    private readonly host: PgliteHost,
    private readonly lock: DataDirLock | undefined,
    /** How this open found its database; `templateSkipped` says why a template was not used. */
    readonly origin: PgliteOrigin,
    readonly templateSkipped?: string,
  ) {
    this.q = new PgliteQueryable(host);
  }

  /** PGlite runs in a worker thread (PGLITE_WORKER=1). */
  get inWorker(): boolean {
    return this.host instanceof PgliteWorkerHost;
  }

  /**
   * Opens (creating on first use) the database in the folder `dir`, locked to this process,
   * or in memory for "memory://". A folder without a database gets the build's prebuilt cluster
   * (`opts.template`), or initdb when that is missing, from another PGlite version or damaged.
   * @throws DataDirBusyError when another live process owns the folder.
   */
  static async open(dir: string, opts: PgliteOpenOptions = {}): Promise<PgliteDb> {
    const memory = dir === "memory://";
    const target = memory ? dir : path.resolve(dir);
    const lock = memory ? undefined : DataDirLock.acquire(target);
    const options = { dir: target, loadDataDir: opts.loadDataDir, memory: opts.memory, template: opts.template };
    let worker: PgliteWorkerHost | undefined;
    // Process-wide, and before the worker starts: PGlite's instance takes the budget V8 has then.
    if (opts.memory?.wasmTieringBudget) applyWasmTieringBudget(opts.memory.wasmTieringBudget);
    try {
      if (opts.worker ?? true) {
        worker = new PgliteWorkerHost(opts.memory?.workerHeapMb);
        const { origin, templateSkipped } = await worker.open(options);
        return new PgliteDb(worker, lock, origin, templateSkipped);
      }
      const session = await PgliteSession.open(options);
      return new PgliteDb(session, lock, session.origin, session.templateSkipped);
    } catch (err) {
      await worker?.close();
      lock?.release();
      throw err;
    }
  }

  query<R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
    return this.answered(this.q.query<R>(text, params, options));
  }

  /** One call to the host (one message to the worker thread) for the whole batch. */
  batch(statements: Statement[], options?: BatchOptions): Promise<QueryResult[]> {
    return this.answered(this.q.batch(statements, options?.transaction));
  }

  answeredWithin(ms: number): boolean {
    return performance.now() - this.answeredAt <= ms;
  }

  private answered<T>(p: Promise<T>): Promise<T> {
    return p.then((value) => {
      this.answeredAt = performance.now();
      return value;
    });
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // PGlite is one session: BEGIN through query() would interleave with other callers. The
    // host's transaction holds PGlite until end(), so other callers' statements wait.
    const txId = await this.host.begin();
    let result: T;
    try {
      result = await fn(new PgliteQueryable(this.host, txId));
    } catch (err) {
      // The caller's error is the one to see; a rollback that fails too (the worker is gone) adds nothing.
      await this.host.end(txId, false).catch(() => undefined);
      throw err;
    }
    await this.host.end(txId, true);
    return result;
  }

  async execScript(tx: Queryable, sql: string): Promise<void> {
    await this.host.exec(sql, tx instanceof PgliteQueryable ? tx.txId : undefined);
  }

  async refreshCapabilities(known?: KnownCapabilities): Promise<DbCapabilities> {
    if (known) {
      await loadPgvector();
      this.capabilities = { vector: known.vector };
    } else this.capabilities = await readCapabilities(this);
    const oid = !this.capabilities.vector
      ? undefined
      : known
        ? known.vectorOid
        : (await this.q.query<{ oid: number }>("SELECT 'vector'::regtype::oid::int AS oid")).rows[0].oid;
    await this.host.setVectorOid(oid);
    return this.capabilities;
  }

  /**
   * A tarball of the data folder (gzipped with `gzip`), to seed other databases with
   * `open(dir, {loadDataDir})`. PGlite takes it between statements, so it is a consistent
   * snapshot of the running database.
   */
  dumpDataDir(compression: "none" | "gzip" = "none"): Promise<Blob> {
    return this.host.dump(compression);
  }

  /**
   * A backup of the running database: a checkpoint (so the copy needs no WAL replay when it is
   * restored), then the gzipped tarball of the data folder, streamed from the Blob PGlite builds.
   * PGlite builds the whole tarball in memory: the backup costs about its compressed size in RAM.
   */
  async backupStream(): Promise<{ stream: Readable; size: number }> {
    await this.q.query("CHECKPOINT");
    const dump = await this.dumpDataDir("gzip");
    return { stream: Readable.fromWeb(dump.stream() as WebReadableStream<Uint8Array>), size: dump.size };
  }

  /**
   * Ends the worker thread at once, as a crash would (what a test of a dead worker does): every
   * statement in flight and every later one rejects with PgliteWorkerExitedError.
   */
  async killWorker(): Promise<void> {
    if (this.host instanceof PgliteWorkerHost) await this.host.kill();
  }

  async close(): Promise<void> {
    await this.host.close();
    this.lock?.release();
  }
}
