/**
 * In-memory PGlite databases for in-process suites. PGlite's first create runs initdb (~5 s),
 * so each jest worker makes one migrated template and every test loads a copy of it (~0.7 s).
 * They run as a node would: in a worker thread unless PGLITE_WORKER=0 (to compare the two).
 */
import { loadConfig } from "../../services/lib/config";
import { migrate, PgliteDb } from "../../services/lib/db";

let template: Promise<Blob> | undefined;

/** Whether the suites' databases run in a worker thread (PGLITE_WORKER, as for a node). */
export const PGLITE_IN_WORKER = loadConfig({ PGLITE_WORKER: process.env.PGLITE_WORKER }).pglite.worker;

async function makeTemplate(): Promise<Blob> {
  const db = await PgliteDb.open("memory://", { worker: PGLITE_IN_WORKER });
  try {
    await migrate(db);
    return await db.dumpDataDir();
  } finally {
    await db.close();
  }
}

/** A fresh, migrated in-memory database with pgvector (`workerHeapMb`: its worker thread's heap bound). */
export async function memoryDb(opts: { worker?: boolean; workerHeapMb?: number } = {}): Promise<PgliteDb> {
  template ??= makeTemplate();
  const db = await PgliteDb.open("memory://", {
    loadDataDir: await template,
    worker: opts.worker ?? PGLITE_IN_WORKER,
    memory: opts.workerHeapMb === undefined ? undefined : { workerHeapMb: opts.workerHeapMb },
  });
  await db.refreshCapabilities();
  return db;
}
