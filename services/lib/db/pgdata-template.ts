/**
 * A fresh embedded data folder starts from a copy of a template: a PGlite data folder that has been
 * through initdb and nothing else, made once at build time (`npm run build`, see
 * bin/db/pgdata-template.ts) into dist/. initdb inside PGlite grows its WASM heap to ~800 MB RSS, and a
 * WASM heap never shrinks; opening a copied folder peaks at the RSS of any reopen (~340 MB) and is
 * ~2 s faster. Migrations and the demo import run on the copy as on a folder made by initdb.
 * Without a template (run from the sources, or a template of another PGlite version) PGlite runs
 * initdb as before.
 */
import fs from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../paths";

/** The installed PGlite's version: a data folder is only valid for the PGlite that made it. */
export function pgliteVersion(): string {
  let dir = path.dirname(require.resolve("@electric-sql/pglite"));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg)) {
      const json = JSON.parse(fs.readFileSync(pkg, "utf8")) as { name?: string; version?: string };
      if (json.name === "@electric-sql/pglite" && json.version) return json.version;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error("the package.json of @electric-sql/pglite was not found");
    dir = up;
  }
}

/** Where the build puts the template for the installed PGlite. */
export function pgdataTemplateDir(): string {
  return path.join(PROJECT_ROOT, "dist", `pgdata-template-${pgliteVersion()}`);
}

/** A folder that holds a Postgres data folder (PG_VERSION is the last file initdb's layout depends on). */
export function isDataFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, "PG_VERSION"));
}

/**
 * Copies the template into `pgdata` when `pgdata` is absent or empty and a template is there.
 * The copy goes to a sibling folder first and is renamed into place, so a start killed halfway
 * leaves no half-copied data folder. The caller holds the data folder's lock.
 * @returns whether it copied.
 */
export function seedFromTemplate(pgdata: string, template = pgdataTemplateDir()): boolean {
  if (!isDataFolder(template)) return false;
  if (fs.existsSync(pgdata) && fs.readdirSync(pgdata).length > 0) return false;
  const tmp = `${pgdata}.seeding`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.cpSync(template, tmp, { recursive: true });
  fs.rmSync(pgdata, { recursive: true, force: true });
  fs.renameSync(tmp, pgdata);
  return true;
}
