#!/usr/bin/env node
/**
 * mcai: the one entry point. `mcai start | repl | migrate | import | export | backup | restore | rotate | demo-data`, each
 * with --help; each command is a module under bin/commands/.
 */
import { VERSION } from "../services/lib/paths";
import { EXIT_USAGE, fail, type Command } from "./cli";
import { demoDataCommand } from "./commands/demo-data";
import { backupCommand } from "./commands/backup";
import { exportCommand } from "./commands/export";
import { restoreCommand } from "./commands/restore";
import { importCommand } from "./commands/import";
import { migrateCommand } from "./commands/migrate";
import { replCommand } from "./commands/repl";
import { rotateCommand } from "./commands/rotate";
import { startCommand } from "./commands/start";

const COMMANDS: Record<string, Command> = {
  start: startCommand,
  repl: replCommand,
  migrate: migrateCommand,
  import: importCommand,
  export: exportCommand,
  backup: backupCommand,
  restore: restoreCommand,
  rotate: rotateCommand,
  "demo-data": demoDataCommand,
};

const HELP = `mcai ${VERSION}: the MC AI backend runtime

Usage: mcai <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`)
  .join("\n")}

Run 'mcai <command> --help' for a command's options. Configuration comes from the
environment (see README.md): PORT, NODE_ID, SERVICES, TRANSPORTER, CACHER, DATABASE_URL, ...`;

async function main(argv: string[]): Promise<void> {
  const command = argv.at(0); // undefined when argv is empty
  const rest = argv.slice(1);
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(HELP);
      return;
    case "--version":
    case "-v":
      console.log(VERSION);
      return;
  }
  const found = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!found) fail(`unknown command "${command}"; run 'mcai --help'`, EXIT_USAGE);
  return found.run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if ((err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))
    fail(`${(err as Error).message}; run 'mcai --help'`, EXIT_USAGE);
  fail((err as Error).stack ?? String(err), 1);
});
