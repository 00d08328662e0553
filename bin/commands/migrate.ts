/** `mcai migrate`: applies pending migrations and exits. */
import { parseArgs } from "node:util";
import { migrate, openDb } from "../../services/lib/db";
import { commandConfig, run, type Command } from "../cli";

const help = `Usage: mcai migrate

Applies pending migrations (migrations/NNNN_*.sql) to DATABASE_URL, or to the embedded
database under MCAI_DATA_DIR, under an advisory lock, and prints what it applied.`;

export const migrateCommand: Command = {
  summary: "apply pending database migrations and exit",
  help,
  async run(args) {
    const { values } = parseArgs({ args, options: { help: { type: "boolean", short: "h" } } });
    if (values.help) {
      console.log(help);
      return;
    }
    const config = commandConfig();
    const db = await run(() => openDb(config));
    try {
      const res = await migrate(db, undefined, { embedding_dim: config.embeddings.dim });
      console.log(res.applied.length ? `applied ${res.applied.join(", ")}` : `up to date (${res.total} migrations)`);
      console.log(`database: ${db.driver}, pgvector: ${db.capabilities.vector ? "yes" : "no (vector search off)"}`);
    } finally {
      await db.close();
    }
  },
};
