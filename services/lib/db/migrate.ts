import fs from "node:fs";
import path from "node:path";
import type { Db, KnownCapabilities, QueryResult } from "./db";
import { PROJECT_ROOT } from "../paths";

/** The folder of `NNNN_name.sql` files, beside the sources and the build alike. */
export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, "migrations");

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/** Values from the config that migrations need (the embedding column's dimension). */
export interface MigrationSettings {
  embedding_dim?: number;
}

export interface MigrateResult {
  applied: string[];
  total: number;
}

// One key for every mcai process: pg_advisory_xact_lock(hashtext('mcai.migrations')).
const LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('mcai.migrations'))";

/** Reads the migration files in order; refuses gaps, duplicates and bad names. */
export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  return files.map((file, i) => {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new Error(`migration file ${file} must be named NNNN_snake_case.sql`);
    const id = Number(m[1]);
    if (id !== i + 1)
      throw new Error(`migration ${file} is out of sequence: expected ${String(i + 1).padStart(4, "0")}`);
    return { id, name: file.replace(/\.sql$/, ""), sql: fs.readFileSync(path.join(dir, file), "utf8") };
  });
}

// What the usual start reads, in one statement: whether the ledger table exists, and the
// capabilities (pgvector installed, and its type's id, which the driver parses results by).
const PROBE_SQL = `SELECT to_regclass('mcai_migrations') IS NOT NULL AS ledger,
  EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS vector,
  to_regtype('vector')::oid::int AS vector_oid`;

/**
 * Whether the ledger table exists and holds every one of `migrations`, with the database's
 * capabilities when it does: one batch (one message to PGlite's worker) of the probe and the
 * ledger's rows. Without the table the second statement fails (42P01): nothing is recorded.
 */
async function allRecorded(db: Db, migrations: Migration[]): Promise<KnownCapabilities | undefined> {
  let probe: QueryResult;
  let done: QueryResult;
  try {
    [probe, done] = await db.batch([{ text: PROBE_SQL }, { text: "SELECT id FROM mcai_migrations" }]);
  } catch (err) {
    const e = err as { code?: string; batchIndex?: number };
    if (e.code === "42P01" && e.batchIndex === 1) return undefined;
    throw err;
  }
  const p = probe.rows[0] as { ledger: boolean; vector: boolean; vector_oid: number | string | null };
  // The driver may hand back an integer column as a string: Number() keeps the ids comparable.
  const ids = new Set(done.rows.map((r) => Number((r as { id: number | string }).id)));
  if (!p.ledger || !migrations.every((m) => ids.has(m.id))) return undefined;
  return { vector: p.vector, vectorOid: p.vector && p.vector_oid !== null ? Number(p.vector_oid) : undefined };
}

/**
 * Applies pending migrations in order, in one transaction under an advisory lock, and records
 * each in the ledger table mcai_migrations. Safe when several nodes start at once: the second
 * waits for the lock, then finds nothing to do.
 */
export async function migrate(
  db: Db,
  migrations: Migration[] = readMigrations(),
  settings: MigrationSettings = {},
): Promise<MigrateResult> {
  // The usual start finds every migration recorded: one batch of two reads (the capabilities with
  // them), no transaction, no lock. Whatever is missing goes through the locked path below, which
  // reads the ledger again under the lock.
  const known = await allRecorded(db, migrations);
  if (known) {
    await db.refreshCapabilities(known);
    return { applied: [], total: migrations.length };
  }
  const applied = await db.transaction(async (tx) => {
    // The lock comes first: two concurrent CREATE TABLE IF NOT EXISTS can still collide.
    await tx.query(LOCK_SQL);
    // Settings a migration may read with current_setting('mcai.<name>', true), for this transaction.
    for (const [name, value] of Object.entries(settings))
      await tx.query("SELECT set_config($1, $2, true)", [`mcai.${name}`, String(value)]);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS mcai_migrations (
         id integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = await tx.query<{ id: number | string }>("SELECT id FROM mcai_migrations");
    const doneIds = new Set(done.rows.map((r) => Number(r.id)));
    const names: string[] = [];
    for (const m of migrations) {
      if (doneIds.has(m.id)) continue;
      await db.execScript(tx, m.sql);
      await tx.query("INSERT INTO mcai_migrations (id, name) VALUES ($1, $2)", [m.id, m.name]);
      names.push(m.name);
    }
    return names;
  });
  await db.refreshCapabilities();
  return { applied, total: migrations.length };
}
