import fs from "node:fs";
import path from "node:path";
import type { PGlite, Transaction } from "@electric-sql/pglite";
import type { Db, DbCapabilities, Queryable, QueryResult, Row } from "./db";
import { readCapabilities } from "./db";
import { DataDirLock } from "./data-dir-lock";
import { vectorFromSql } from "./vector";
import type { PgliteSettings } from "../config";

export interface PgliteOpenOptions {
  /** Start from a dump made by `dumpDataDir` (tests seed every database from one template). */
  loadDataDir?: Blob | File;
  /** Postgres memory settings (MB); unset ones keep PGlite's defaults. */
  memory?: Partial<PgliteSettings>;
}

/**
 * PGlite's own start parameters plus our memory settings. Postgres' defaults (shared_buffers
 * 128 MB and the rest) are sized for a server; inside one WASM heap a smaller cache is most of
 * an embedded node's footprint (see docs/operations.md, Memory).
 */
export function pgliteStartParams(
  PGliteClass: { defaultStartParams: readonly string[] },
  m: Partial<PgliteSettings>,
): string[] {
  const settings: [string, number | undefined][] = [
    ["shared_buffers", m.sharedBuffersMb],
    ["work_mem", m.workMemMb],
    ["maintenance_work_mem", m.maintenanceWorkMemMb],
    ["temp_buffers", m.tempBuffersMb],
  ];
  const extra = settings.flatMap(([k, v]) => (v === undefined ? [] : ["-c", `${k}=${v}MB`]));
  return [...PGliteClass.defaultStartParams, ...extra];
}

/** Parsers by type oid for a query's results (pgvector's for `vector` once the extension is known). */
type Parsers = () => Record<number, (text: string) => unknown> | undefined;

function wrap(q: PGlite | Transaction, parsers: Parsers): Queryable {
  return {
    async query<R extends Row = Row>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
      const r = await q.query<R>(text, params, { parsers: parsers() });
      return { rows: r.rows, rowCount: Math.max(r.rows.length, r.affectedRows ?? 0) };
    },
  };
}

/**
 * Embedded Postgres: PGlite in this process with pgvector. One process owns a data folder
 * (see DataDirLock); PGlite serializes statements, and a transaction holds it until it ends.
 */
export class PgliteDb implements Db {
  readonly driver = "pglite" as const;
  capabilities: DbCapabilities = { vector: false };
  private readonly q: Queryable;
  private readonly execs = new WeakMap<Queryable, Transaction>();
  /** pgvector's parser for the `vector` type's oid, once the extension is known to be installed. */
  private parsers: Record<number, (text: string) => unknown> | undefined;

  private constructor(
    private readonly pglite: PGlite,
    private readonly lock?: DataDirLock,
  ) {
    this.q = wrap(pglite, () => this.parsers);
  }

  /**
   * Opens (creating on first use) the database in the folder `dir`, locked to this process,
   * or in memory for "memory://".
   * @throws DataDirBusyError when another live process owns the folder.
   */
  static async open(dir: string, opts: PgliteOpenOptions = {}): Promise<PgliteDb> {
    const { PGlite } = await import("@electric-sql/pglite");
    const { vector } = await import("@electric-sql/pglite-pgvector");
    const options = {
      extensions: { vector },
      loadDataDir: opts.loadDataDir,
      startParams: pgliteStartParams(PGlite, opts.memory ?? {}),
    };
    if (dir === "memory://") return new PgliteDb((await PGlite.create(dir, options)) as unknown as PGlite);
    const target = path.resolve(dir);
    const lock = DataDirLock.acquire(target);
    try {
      const pgdata = path.join(target, "pgdata");
      fs.mkdirSync(pgdata, { recursive: true });
      const pglite = await PGlite.create(pgdata, options);
      return new PgliteDb(pglite as unknown as PGlite, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  query<R extends Row = Row>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    return this.q.query<R>(text, params);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // PGlite is one session: BEGIN through query() would interleave with other callers.
    return this.pglite.transaction(async (t) => {
      const tx = wrap(t, () => this.parsers);
      this.execs.set(tx, t);
      return fn(tx);
    });
  }

  async execScript(tx: Queryable, sql: string): Promise<void> {
    const t = this.execs.get(tx);
    if (t) await t.exec(sql);
    else await this.pglite.exec(sql);
  }

  async refreshCapabilities(): Promise<DbCapabilities> {
    this.capabilities = await readCapabilities(this);
    this.parsers = this.capabilities.vector
      ? {
          [(await this.q.query<{ oid: number }>("SELECT 'vector'::regtype::oid::int AS oid")).rows[0].oid]:
            vectorFromSql,
        }
      : undefined;
    return this.capabilities;
  }

  /**
   * A tarball of the data folder (gzipped with `gzip`), to seed other databases with
   * `open(dir, {loadDataDir})`. PGlite takes it between statements, so it is a consistent
   * snapshot of the running database.
   */
  dumpDataDir(compression: "none" | "gzip" = "none"): Promise<Blob | File> {
    return this.pglite.dumpDataDir(compression);
  }

  async close(): Promise<void> {
    if (!this.pglite.closed) await this.pglite.close();
    this.lock?.release();
  }
}
