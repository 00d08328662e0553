/** `mcai restore`: a backup made by `mcai backup` into an empty embedded data folder. */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { commandConfig, EXIT_USAGE, fail, run, type Command } from "../cli";
import { POSTGRES_BACKUP, runRestore } from "../embedded/backup";

const help = `Usage: mcai restore FILE

Restores a backup made by 'mcai backup' into the embedded database under MCAI_DATA_DIR, whose
database folder (MCAI_DATA_DIR/db) must be empty or missing: a folder that holds a database is
refused, never overwritten. Migrations newer than the backup are applied. Then start a node on
the folder as usual. With DATABASE_URL set, use pg_restore instead.`;

export const restoreCommand: Command = {
  summary: "restore a backup into an empty embedded data folder",
  help,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      console.log(help);
      return;
    }
    if (positionals.length !== 1) fail("restore needs one backup file; run 'mcai restore --help'", EXIT_USAGE);
    const file = positionals[0];
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) fail(`no such file: ${file}`, EXIT_USAGE);
    const config = commandConfig({}, { LOG_LEVEL: "warn" });
    if (config.databaseUrl) fail(`restore is for the embedded database; ${POSTGRES_BACKUP}`, EXIT_USAGE);
    await run(() => runRestore(config, file));
  },
};
