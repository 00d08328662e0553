/**
 * `mcai backup` and `mcai restore` for embedded mode: the PGlite data folder as a gzipped tarball
 * (PGlite's dumpDataDir), and back into an empty folder. A backup of a folder that a running node
 * owns is taken by that node (GET /api/admin/backup with the token of its node.json), so it is a
 * consistent snapshot while the node serves; otherwise this process opens the folder itself.
 * Postgres has its own tools (pg_dump, pg_restore): see POSTGRES_BACKUP.
 */
import { listDatasets } from "../../services/datasets/store";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Config } from "../../services/lib/config";
import { DataDirBusyError, embeddedDbDir, migrate, PgliteDb } from "../../services/lib/db";
import { httpStream, runningNode } from "./running-node";

/** What to say when DATABASE_URL is set. */
export const POSTGRES_BACKUP =
  'on Postgres, back up with pg_dump: pg_dump -Fc -d "$DATABASE_URL" -f mcai.dump (restore: pg_restore -d "$NEW_DATABASE_URL" mcai.dump)';

/** The folder PGlite keeps its files in. */
function pgdataOf(config: Config): string {
  return path.join(embeddedDbDir(config), "pgdata");
}

function hasDatabase(config: Config): boolean {
  return fs.existsSync(path.join(pgdataOf(config), "PG_VERSION"));
}

/** The tarball of the folder: from the node that owns it, or read here when none does. */
async function snapshot(config: Config): Promise<{ stream: Readable; from: string }> {
  try {
    const db = await PgliteDb.open(embeddedDbDir(config));
    try {
      return { stream: (await db.backupStream()).stream, from: config.dataDir };
    } finally {
      await db.close();
    }
  } catch (err) {
    if (!(err instanceof DataDirBusyError)) throw err;
    const info = runningNode(config.dataDir, err);
    const stream = await httpStream(info.port, info.token, "/api/admin/backup").catch((e: unknown) => {
      throw new Error(`the running node refused the backup: ${(e as Error).message}`, { cause: e });
    });
    return { stream, from: `the running node on port ${info.port}` };
  }
}

/** Writes the backup of the embedded database to `file` (complete, or not at all). */
export async function runBackup(config: Config, file: string): Promise<void> {
  if (!hasDatabase(config)) throw new Error(`no embedded database in ${config.dataDir} (MCAI_DATA_DIR)`);
  const { stream, from } = await snapshot(config);
  const partial = `${file}.partial`;
  try {
    await pipeline(stream, fs.createWriteStream(partial, { mode: 0o600 }));
    fs.renameSync(partial, file);
  } catch (err) {
    fs.rmSync(partial, { force: true });
    throw err;
  }
  console.log(`backup of ${from} written to ${file} (${fs.statSync(file).size} bytes)`);
}

/** Whether a folder is missing or empty. */
function isEmptyDir(dir: string): boolean {
  return !fs.existsSync(dir) || fs.readdirSync(dir).length === 0;
}

/**
 * Restores a backup into MCAI_DATA_DIR, whose database folder must be empty; applies the
 * migrations of this version to it (a backup from an older one is brought up to date).
 */
export async function runRestore(config: Config, file: string): Promise<void> {
  const dbDir = embeddedDbDir(config);
  if (!isEmptyDir(pgdataOf(config)))
    throw new Error(
      `${dbDir} is not empty: restore goes into an empty folder (stop the node and move the folder aside, or set MCAI_DATA_DIR to a new one)`,
    );
  const created = !fs.existsSync(dbDir);
  let db: PgliteDb | undefined;
  try {
    // The file's path: PGlite reads it once (as a Blob backed by the file), no second copy in memory.
    db = await PgliteDb.open(dbDir, { loadDataDir: file });
    const res = await migrate(db, undefined, { embedding_dim: config.embeddings.dim });
    // The datasets' own counts (kept with their rows), through the datasets store: no SQL here.
    const rows = await listDatasets(db);
    const datasets = rows.length;
    const examples = rows.reduce((n, d) => n + d.example_count, 0);
    const applied = res.applied.length ? `; applied ${res.applied.join(", ")}` : "";
    console.log(`restored ${file} into ${config.dataDir}: ${datasets} datasets, ${examples} examples${applied}`);
  } catch (err) {
    await db?.close().catch(() => undefined);
    db = undefined;
    // Leave the folder as it was found: empty, so the restore can be run again.
    fs.rmSync(created ? dbDir : pgdataOf(config), { recursive: true, force: true });
    throw new Error(`${file} is not a backup this version can restore: ${(err as Error).message}`, { cause: err });
  } finally {
    await db?.close();
  }
}
