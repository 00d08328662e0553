/** `mcai backup`: a consistent snapshot of the embedded database, while a node runs or not. */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { commandConfig, EXIT_USAGE, fail, run, type Command } from "../cli";
import { POSTGRES_BACKUP, runBackup } from "../embedded/backup";

const help = `Usage: mcai backup --out FILE

Writes a consistent snapshot of the embedded database under MCAI_DATA_DIR to FILE, a gzipped
tarball of PGlite's data folder. When a node runs on the folder, that node takes the snapshot
between two statements while it keeps serving (the command reaches it with the token in the
folder's node.json); otherwise the command opens the folder itself. Restore it with
'mcai restore FILE' into an empty folder. With DATABASE_URL set, use pg_dump instead:
  pg_dump -Fc -d "$DATABASE_URL" -f mcai.dump`;

export const backupCommand: Command = {
  summary: "snapshot the embedded database to a file (Postgres: pg_dump)",
  help,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: { out: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      console.log(help);
      return;
    }
    if (!values.out) fail("--out FILE is required; run 'mcai backup --help'", EXIT_USAGE);
    if (fs.existsSync(values.out)) fail(`${values.out} exists: choose a new file`, EXIT_USAGE);
    const config = commandConfig({}, { LOG_LEVEL: "warn" });
    if (config.databaseUrl) fail(`backup is for the embedded database; ${POSTGRES_BACKUP}`, EXIT_USAGE);
    const out = values.out;
    await run(() => runBackup(config, out));
  },
};
