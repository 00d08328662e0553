/**
 * The embedded database's folder and its open, apart from the Postgres driver: `mcai start` opens
 * it before anything heavy loads (pg, Moleculer, the services), from this light module.
 */
import path from "node:path";
import type { Config } from "../config";
import { PgliteDb } from "./pglite-db";

/** Where embedded mode keeps its database: MCAI_DATA_DIR/db. */
export function embeddedDbDir(config: Config): string {
  return path.join(config.dataDir, "db");
}

/** Embedded PGlite in the config's data folder, with its memory settings and thread choice. */
export function openEmbeddedDb(config: Config): Promise<PgliteDb> {
  return PgliteDb.open(embeddedDbDir(config), { memory: config.pglite, worker: config.pglite.worker });
}
