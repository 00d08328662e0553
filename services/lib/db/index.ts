import path from "node:path";
import type { Config } from "../config";
import type { Db } from "./db";
import { PgDb } from "./pg-db";
import { PgliteDb } from "./pglite-db";

export type { BatchOptions, Db, DbCapabilities, DbDriver, Queryable, QueryResult, Row, Statement } from "./db";
export { batchInTurn } from "./db";
export { PgDb } from "./pg-db";
export { PgliteDb } from "./pglite-db";
export { DataDirBusyError } from "./data-dir-lock";
export { migrate, readMigrations, MIGRATIONS_DIR } from "./migrate";
export type { Migration, MigrateResult, MigrationSettings } from "./migrate";

/** Where embedded mode keeps its database: MCAI_DATA_DIR/db. */
export function embeddedDbDir(config: Config): string {
  return path.join(config.dataDir, "db");
}

/** The database this config names: a Postgres pool for DATABASE_URL, else embedded PGlite. */
export async function openDb(config: Config): Promise<Db> {
  if (config.databaseUrl) {
    return new PgDb({ connectionString: config.databaseUrl, applicationName: `mcai:${config.nodeId}` });
  }
  return PgliteDb.open(embeddedDbDir(config), { memory: config.pglite, worker: config.pglite.worker });
}
