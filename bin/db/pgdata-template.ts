/**
 * `npm run build` runs this after tsc: makes dist/pgdata-template-<PGlite version>, the initdb'd
 * data folder every fresh embedded data folder is copied from (services/lib/db/pgdata-template.ts).
 * It runs initdb once, here, so that no node start has to. Skipped when the template is there.
 */
import fs from "node:fs";
import { isDataFolder, pgdataTemplateDir } from "../../services/lib/db/pgdata-template";

/** Makes the template unless it exists; returns its folder. */
export async function buildPgdataTemplate(dir = pgdataTemplateDir()): Promise<{ dir: string; made: boolean }> {
  if (isDataFolder(dir)) return { dir, made: false };
  const { PGlite } = await import("@electric-sql/pglite");
  const { vector } = await import("@electric-sql/pglite-pgvector");
  // Made beside and renamed into place: a build stopped halfway leaves no template that looks whole.
  const tmp = `${dir}.building-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const pglite = await PGlite.create(tmp, { extensions: { vector } });
  await pglite.close();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return { dir, made: true };
}

if (require.main === module) {
  const t0 = performance.now();
  buildPgdataTemplate().then(
    ({ dir, made }) =>
      made && console.log(`pgdata template: ${dir} (initdb, ${Math.round(performance.now() - t0)} ms)`),
    (err: unknown) => {
      console.error(`pgdata template: ${(err as Error).message}`);
      process.exitCode = 1;
    },
  );
}
