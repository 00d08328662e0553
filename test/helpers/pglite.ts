/**
 * In-memory PGlite databases for in-process suites. PGlite's first create runs initdb (~5 s),
 * so each jest worker makes one migrated template and every test loads a copy of it (~0.7 s).
 */
import { migrate, PgliteDb } from "../../services/lib/db";

let template: Promise<Blob | File> | undefined;

async function makeTemplate(): Promise<Blob | File> {
  const db = await PgliteDb.open("memory://");
  try {
    await migrate(db);
    return await db.dumpDataDir();
  } finally {
    await db.close();
  }
}

/** A fresh, migrated in-memory database with pgvector. */
export async function memoryDb(): Promise<PgliteDb> {
  template ??= makeTemplate();
  const db = await PgliteDb.open("memory://", { loadDataDir: await template });
  await db.refreshCapabilities();
  return db;
}
