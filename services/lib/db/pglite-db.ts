import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { PGlite, Transaction } from "@electric-sql/pglite";
import type { Db, DbCapabilities, Queryable, QueryResult, Row } from "./db";
import { readCapabilities } from "./db";
import { DataDirLock } from "./data-dir-lock";
import { vectorFromSql } from "./vector";
import type { PgliteSettings } from "../config";
import { extractTemplate, PGLITE_TEMPLATE_FILE, readTemplate, type TemplateLookup } from "./pglite-template";

export interface PgliteOpenOptions {
  /** Start from a dump made by `dumpDataDir` (tests seed every database from one template). */
  loadDataDir?: Blob | File;
  /** Postgres memory settings (MB); unset ones keep PGlite's defaults. */
  memory?: Partial<PgliteSettings>;
  /**
   * For a folder without a database: the prebuilt cluster to load instead of running initdb
   * (see pglite-template.ts), or false to run initdb. Default: the build's template.
   */
  template?: string | false;
}

/** How an open found its database: already in the folder, loaded from the template, or initdb. */
export type PgliteOrigin = "existing" | "template" | "initdb" | "tarball" | "memory";

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
    /** How this open found its database; `templateSkipped` says why a template was not used. */
    readonly origin: PgliteOrigin = "memory",
    readonly templateSkipped?: string,
  ) {
    this.q = wrap(pglite, () => this.parsers);
  }

  /**
   * Opens (creating on first use) the database in the folder `dir`, locked to this process,
   * or in memory for "memory://". A folder without a database gets the build's prebuilt cluster
   * (`opts.template`), or initdb when that is missing, from another PGlite version or damaged.
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
      if (opts.loadDataDir || fs.existsSync(path.join(pgdata, "PG_VERSION"))) {
        const pglite = await PGlite.create(pgdata, options);
        return new PgliteDb(pglite as unknown as PGlite, lock, opts.loadDataDir ? "tarball" : "existing");
      }
      const found: TemplateLookup =
        opts.template === false ? { reason: "no template asked for" } : readTemplate(opts.template);
      let skipped = found.reason;
      if (found.tarball) {
        try {
          // Written beside the folder and renamed into place: a start killed halfway leaves no
          // PG_VERSION over a partial cluster, so the next start begins again.
          const partial = `${pgdata}.partial`;
          fs.rmSync(partial, { recursive: true, force: true });
          extractTemplate(found.tarball, partial);
          fs.rmSync(pgdata, { recursive: true, force: true });
          fs.renameSync(partial, pgdata);
          const pglite = await PGlite.create(pgdata, options);
          return new PgliteDb(pglite as unknown as PGlite, lock, "template");
        } catch (err) {
          // A damaged template must not stop a first start: empty the folder and run initdb.
          fs.rmSync(`${pgdata}.partial`, { recursive: true, force: true });
          fs.rmSync(pgdata, { recursive: true, force: true });
          fs.mkdirSync(pgdata, { recursive: true });
          skipped = `loading ${opts.template || PGLITE_TEMPLATE_FILE} failed: ${(err as Error).message}`;
        }
      }
      const pglite = await PGlite.create(pgdata, options);
      return new PgliteDb(pglite as unknown as PGlite, lock, "initdb", skipped);
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

  async close(): Promise<void> {
    if (!this.pglite.closed) await this.pglite.close();
    this.lock?.release();
  }
}
