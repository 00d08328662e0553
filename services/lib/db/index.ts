import type { Config } from "../config";
import type { Db } from "./db";
import { openEmbeddedDb } from "./embedded";
import { PgDb } from "./pg-db";

export type {
  BatchOptions,
  Db,
  DbCapabilities,
  DbDriver,
  Queryable,
  QueryOptions,
  QueryResult,
  Row,
  Statement,
} from "./db";
export { batchInTurn } from "./db";
export { PgDb } from "./pg-db";
export { PgliteDb } from "./pglite-db";
export { DataDirBusyError } from "./data-dir-lock";
export { migrate, readMigrations, MIGRATIONS_DIR } from "./migrate";
export type { Migration, MigrateResult, MigrationSettings } from "./migrate";

export { embeddedDbDir, openEmbeddedDb } from "./embedded";

/** The database this config names: a Postgres pool for DATABASE_URL, else embedded PGlite. */
export async function openDb(config: Config): Promise<Db> {
  if (config.databaseUrl) {
    return new PgDb({ connectionString: config.databaseUrl, applicationName: `mcai:${config.nodeId}` });
  }
  return openEmbeddedDb(config);
}
