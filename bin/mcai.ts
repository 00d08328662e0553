#!/usr/bin/env node
/**
 * mcai: the one entry point. `mcai start | repl | migrate | import | export | backup | restore | rotate | demo-data`, each
 * with --help; each command is a module under bin/commands/, loaded only when it runs (a start
 * does not pay for the console, the exporter's progress bars or the backup code).
 */
// First: the modules required after it go through V8's compile cache where Node has one (22.1+).
import "./compile-cache";
// Then: what Moleculer, moleculer-web and prom-client require but a node uses later or never loads on first use.
import "./deferred-modules";
import { VERSION } from "../services/lib/paths";
import { EXIT_USAGE, fail, type Command } from "./cli";

/** Each command's module under bin/commands/ and the name it exports its Command by. */
const COMMANDS: Record<string, [file: string, exported: string]> = {
  start: ["start", "startCommand"],
  repl: ["repl", "replCommand"],
  migrate: ["migrate", "migrateCommand"],
  import: ["import", "importCommand"],
  export: ["export", "exportCommand"],
  backup: ["backup", "backupCommand"],
  restore: ["restore", "restoreCommand"],
  rotate: ["rotate", "rotateCommand"],
  "demo-data": ["demo-data", "demoDataCommand"],
};

function loadCommand(name: string): Command {
  const [file, exported] = COMMANDS[name];
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: only the command that runs is loaded
  return (require(`./commands/${file}`) as Record<string, Command>)[exported];
}

const help = () => `mcai ${VERSION}: the MC AI backend runtime

Usage: mcai <command> [options]

Commands:
${Object.keys(COMMANDS)
  .map((name) => `  ${name.padEnd(10)}${loadCommand(name).summary}`)
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
      console.log(help());
      return;
    case "--version":
    case "-v":
      console.log(VERSION);
      return;
  }
  if (!Object.hasOwn(COMMANDS, command)) fail(`unknown command "${command}"; run 'mcai --help'`, EXIT_USAGE);
  return loadCommand(command).run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if ((err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))
    fail(`${(err as Error).message}; run 'mcai --help'`, EXIT_USAGE);
  fail((err as Error).stack ?? String(err), 1);
});
