/**
 * One PGlite database and the operations the `Db` layer asks of it, as plain calls with plain
 * (structured-cloneable) arguments and answers: PgliteDb calls them directly (PGLITE_WORKER=0)
 * or through messages to a worker thread that holds the session (pglite-worker.ts). Everything
 * that touches PGlite (its WASM, the data folder's files, the template) runs where this runs.
 */
import fs from "node:fs";
import path from "node:path";
import type { PGlite, Transaction } from "@electric-sql/pglite";
import type { PgliteSettings } from "../config";
import { loadPgvector, vectorFromSql } from "./vector";
import { extractTemplate, PGLITE_TEMPLATE_FILE, readTemplate, type TemplateLookup } from "./pglite-template";
import { compilePgliteWasm } from "./pglite-wasm";

/** How an open found its database: already in the folder, loaded from the template, or initdb. */
export type PgliteOrigin = "existing" | "template" | "initdb" | "tarball" | "memory";

/** What a session is opened with (cloneable: it crosses to the worker). */
export interface PgliteSessionOptions {
  /** "memory://", or the locked data folder (its `pgdata` subfolder holds the cluster). */
  dir: string;
  /** A dump made by `dump` (tests seed every database from one template), or a tarball file's path. */
  loadDataDir?: Blob | string;
  /** Postgres memory settings (MB); unset ones keep PGlite's defaults. */
  memory?: Partial<PgliteSettings>;
  /** For a folder without a database: the prebuilt cluster to load, or false to run initdb. */
  template?: string | false;
}

/** One statement of a batch (db.ts Statement, as it crosses to the worker). */
export interface SessionStatement {
  text: string;
  params?: unknown[];
  options?: { prepare?: string };
}

/** A statement's answer as the Db layer returns it. */
export interface SessionResult {
  rows: Record<string, unknown>[];
  rowCount: number;
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

const BYTEA_OID = 17;

/**
 * bytea in Postgres' hex text form through Buffer's native hex codec. PGlite's own codec maps one
 * byte at a time in JavaScript (Array.from, toString(16), parseInt): a 53 MB job result took tens
 * of seconds to store. The parsed value is a Uint8Array over its own ArrayBuffer, as PGlite's is
 * (so the worker can hand it over in a transfer list).
 */
const byteaSerializer = (v: unknown): string => {
  if (!(v instanceof Uint8Array)) throw new Error("Invalid input for bytea type");
  return "\\x" + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex");
};
const byteaParser = (text: string): Uint8Array => {
  const out = new Uint8Array((text.length - 2) >> 1);
  Buffer.from(out.buffer).write(text.slice(2), "hex");
  return out;
};

type Serializer = (v: unknown) => string;

const importPglite = () => import("@electric-sql/pglite");
const importPgvector = () => import("@electric-sql/pglite-pgvector");

/**
 * Starts what every open needs before it knows its folder: PGlite's and pgvector's modules loaded,
 * PGlite's WASM compiled. The worker calls it as it loads, before the open message arrives. With
 * them, pgvector's npm package (its `vector` parser, set after the migrations check): loaded in the
 * open's waits rather than in that round trip on the start's path.
 */
export function preparePglite(): void {
  for (const p of [importPglite(), importPgvector(), compilePgliteWasm(), loadPgvector()]) p.catch(() => undefined);
}

/** Protocol messages as one buffer: one call into PGlite's WASM. */
function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** PGlite with pgvector, our start parameters, and `loadDataDir` read from a file when it names one. */
async function createPglite(dataDir: string, o: PgliteSessionOptions, load?: Blob): Promise<PGlite> {
  // Compiled ahead (preparePglite) where the file is there, else from here while the modules load.
  const wasm = compilePgliteWasm();
  const { PGlite } = await importPglite();
  const { vector } = await importPgvector();
  const pglite = await PGlite.create(dataDir, {
    extensions: { vector },
    // Undefined where the file is not there: PGlite then compiles it itself.
    pgliteWasmModule: await wasm,
    loadDataDir: load,
    startParams: pgliteStartParams(PGlite, o.memory ?? {}),
  });
  return pglite as unknown as PGlite;
}

/** Opens the folder's cluster: the one there, a tarball, the build's template, or initdb. */
async function openFolder(o: PgliteSessionOptions, load?: Blob): Promise<[PGlite, PgliteOrigin, string?]> {
  const pgdata = path.join(o.dir, "pgdata");
  fs.mkdirSync(pgdata, { recursive: true });
  if (load || fs.existsSync(path.join(pgdata, "PG_VERSION")))
    return [await createPglite(pgdata, o, load), load ? "tarball" : "existing"];
  const found: TemplateLookup = o.template === false ? { reason: "no template asked for" } : readTemplate(o.template);
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
      return [await createPglite(pgdata, o), "template"];
    } catch (err) {
      // A damaged template must not stop a first start: empty the folder and run initdb.
      fs.rmSync(`${pgdata}.partial`, { recursive: true, force: true });
      fs.rmSync(pgdata, { recursive: true, force: true });
      fs.mkdirSync(pgdata, { recursive: true });
      skipped = `loading ${o.template || PGLITE_TEMPLATE_FILE} failed: ${(err as Error).message}`;
    }
  }
  return [await createPglite(pgdata, o), "initdb", skipped];
}

/** Ends a transaction's callback: resolve commits, reject rolls back. */
interface OpenTx {
  t: Transaction;
  end: (commit: boolean) => void;
  /** Settles when PGlite has committed or rolled back. */
  done: Promise<void>;
}

/** The rollback PgliteSession asks for (never seen by a caller). */
class RollbackRequested extends Error {}

export class PgliteSession {
  private readonly txs = new Map<number, OpenTx>();
  /** Statements prepared by name: their text and parameter types. */
  private readonly prepared = new Map<string, { text: string; oids: number[] }>();
  private nextTx = 1;
  private parsers: Record<number, (text: string) => unknown> = { [BYTEA_OID]: byteaParser };
  private readonly serializers: Record<number, (v: unknown) => string> = { [BYTEA_OID]: byteaSerializer };

  private constructor(
    private readonly pglite: PGlite,
    readonly origin: PgliteOrigin,
    readonly templateSkipped?: string,
  ) {}

  /** Opens the database (the caller holds the folder's DataDirLock). */
  static async open(o: PgliteSessionOptions): Promise<PgliteSession> {
    const load = typeof o.loadDataDir === "string" ? await fs.openAsBlob(o.loadDataDir) : o.loadDataDir;
    if (o.dir === "memory://") return new PgliteSession(await createPglite(o.dir, o, load), "memory");
    const [pglite, origin, skipped] = await openFolder(o, load);
    return new PgliteSession(pglite, origin, skipped);
  }

  private on(txId: number | undefined): PGlite | Transaction {
    if (txId === undefined) return this.pglite;
    const tx = this.txs.get(txId);
    if (!tx) throw new Error(`transaction ${txId} is not open`);
    return tx.t;
  }

  /**
   * Runs one statement, in transaction `txId` when given. With `prepare`, the statement is parsed
   * and planned once under that name and each run only binds and executes it (see runPrepared).
   */
  async query(text: string, params: unknown[] | undefined, txId?: number, prepare?: string): Promise<SessionResult> {
    if (prepare) return this.runPrepared(prepare, text, params ?? [], txId);
    const r = await this.on(txId).query<Record<string, unknown>>(text, params, {
      parsers: this.parsers,
      serializers: this.serializers,
    });
    return { rows: r.rows, rowCount: Math.max(r.rows.length, r.affectedRows ?? 0) };
  }

  /**
   * A named statement, parsed and planned once (PGlite's query() parses, describes and plans every
   * statement anew: a third of a page read's time), then bind, describe, execute and sync in one
   * call into the WASM. Takes PGlite's locks as its query() does: outside a transaction, the
   * transaction lock as well (so it waits for an open one).
   */
  private runPrepared(name: string, text: string, params: unknown[], txId?: number): Promise<SessionResult> {
    const pg = this.pglite;
    const run = () => this.bindExecute(name, text, params, txId === undefined);
    if (txId !== undefined) this.on(txId);
    return txId === undefined
      ? pg._runExclusiveTransaction(() => pg._runExclusiveQuery(run))
      : pg._runExclusiveQuery(run);
  }

  private async bindExecute(name: string, text: string, params: unknown[], sync: boolean): Promise<SessionResult> {
    const { protocol, parse } = await importPglite();
    const s = protocol.serialize;
    const pg = this.pglite;
    try {
      let oids = this.prepared.get(name)?.text === text ? this.prepared.get(name)?.oids : undefined;
      if (!oids) {
        // A name reused for another text (or a statement gone with a failed transaction): made anew.
        this.prepared.delete(name);
        const described = await pg.execProtocol(
          concat([
            s.close({ type: "S", name }),
            s.parse({ name, text, types: [] }),
            s.describe({ type: "S", name }),
            s.sync(),
          ]),
          { syncToFs: false },
        );
        oids = parse.parseDescribeStatementResults(described.messages);
        this.prepared.set(name, { text, oids });
      }
      const types = oids;
      const values = params.map((v, i) => {
        if (v === null || v === undefined) return null;
        // As PGlite's query() serializes: by the parameter's type, else the value's own text.
        const known: Partial<Record<number, Serializer>> = pg.serializers;
        const serialize = (this.serializers[types[i]] as Serializer | undefined) ?? known[types[i]];
        return serialize ? serialize(v) : (v as { toString(): string }).toString();
      });
      const r = await pg.execProtocol(
        concat([s.bind({ statement: name, values }), s.describe({ type: "P" }), s.execute({}), s.sync()]),
        { syncToFs: false },
      );
      if (sync) await pg.syncToFs();
      const results = parse.parseResults(r.messages, pg.parsers, { parsers: this.parsers });
      const last = results[results.length - 1] ?? { rows: [] };
      return { rows: last.rows, rowCount: Math.max(last.rows.length, last.affectedRows ?? 0) };
    } catch (err) {
      // 26000: the statement is gone (made in a transaction that then failed); the next run makes it anew.
      if ((err as { code?: string }).code === "26000") this.prepared.delete(name);
      throw Object.assign(err as Error, { query: text });
    }
  }

  /**
   * Runs the statements in turn (in transaction `txId` when given, else in one of their own with
   * `transaction`, else each on its own) and answers their results; the first failure rejects with
   * its error marked with `batchIndex`, and a transaction of the batch's own is rolled back.
   */
  async batch(statements: SessionStatement[], txId?: number, transaction?: boolean): Promise<SessionResult[]> {
    if (txId !== undefined || !transaction) return this.inTurn(statements, txId);
    const id = await this.begin();
    let out: SessionResult[];
    try {
      out = await this.inTurn(statements, id);
    } catch (err) {
      await this.end(id, false).catch(() => undefined);
      throw err;
    }
    await this.end(id, true);
    return out;
  }

  private async inTurn(statements: SessionStatement[], txId: number | undefined): Promise<SessionResult[]> {
    const out: SessionResult[] = [];
    for (const [i, st] of statements.entries()) {
      try {
        out.push(await this.query(st.text, st.params, txId, st.options?.prepare));
      } catch (err) {
        throw err instanceof Error ? Object.assign(err, { batchIndex: i }) : err;
      }
    }
    return out;
  }

  async exec(sql: string, txId?: number): Promise<void> {
    await this.on(txId).exec(sql);
  }

  /**
   * Opens a transaction and returns its id once BEGIN has run. PGlite is one session: its
   * transaction() holds the database until the callback ends, so every other statement waits
   * (none slips into the open transaction); the callback ends when `end` is called.
   */
  begin(): Promise<number> {
    const id = this.nextTx++;
    return new Promise<number>((begun, failed: (err: Error) => void) => {
      let settled!: { resolve: () => void; reject: (err: unknown) => void };
      const done = new Promise<void>((resolve, reject) => (settled = { resolve, reject }));
      // The rejection of a failed COMMIT reaches the caller through end(); none is left unhandled.
      done.catch(() => undefined);
      this.pglite
        .transaction(async (t) => {
          const commit = await new Promise<boolean>((end) => {
            this.txs.set(id, { t, end, done });
            begun(id);
          });
          if (!commit) throw new RollbackRequested();
        })
        .then(settled.resolve, (err: unknown) => {
          // BEGIN itself failed: the caller is still waiting for the transaction to open.
          if (!this.txs.has(id)) failed(err as Error);
          if (err instanceof RollbackRequested) settled.resolve();
          else settled.reject(err);
        })
        .finally(() => this.txs.delete(id));
    });
  }

  /** Commits (or rolls back) transaction `txId`; rejects with COMMIT's error when it fails. */
  async end(txId: number, commit: boolean): Promise<void> {
    const tx = this.txs.get(txId);
    if (!tx) throw new Error(`transaction ${txId} is not open`);
    tx.end(commit);
    await tx.done;
  }

  /** Parses `vector` results (the type's oid once pgvector is installed) into number[]. */
  async setVectorOid(oid: number | undefined): Promise<void> {
    if (oid !== undefined) await loadPgvector();
    this.parsers = { [BYTEA_OID]: byteaParser, ...(oid === undefined ? {} : { [oid]: vectorFromSql }) };
  }

  /** A tarball of the data folder; PGlite takes it between statements (a consistent snapshot). */
  dump(compression: "none" | "gzip"): Promise<Blob> {
    return this.pglite.dumpDataDir(compression);
  }

  async close(): Promise<void> {
    if (!this.pglite.closed) await this.pglite.close();
  }
}
