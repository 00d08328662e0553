/** `mcai import`: dataset files into domains, through whatever owns the data. */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { DOMAIN_RULE, isDomain } from "../../services/datasets/contract";
import { commandConfig, EXIT_USAGE, fail, run, type Command } from "../cli";
import { runImport } from "../datasets/target";

const help = `Usage: mcai import <path...> [--domain NAME]

Imports JSON ({"examples": [...]} or a bare array), JSONL (one object per line) and TXT (one
example per blank-line-separated paragraph) files; folders are walked, and folders or files
named "archive" are skipped. The domain is the file's stem unless --domain is given. Fields:
content (or completion, or prompt), response; every other field goes to metadata. Examples
already in the domain (same content) are skipped. A malformed file is reported with its line
or position, nothing from it is written, the others go in, and the command exits 1. Works
whether or not a node runs on the same data: into a running embedded node each file becomes an
import job there, which this follows to its end; otherwise each file goes in one transaction.`;

export const importCommand: Command = {
  summary: "import dataset files (JSON, JSONL, TXT) into domains",
  help,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { domain: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      console.log(help);
      return;
    }
    if (positionals.length === 0)
      fail("import needs at least one file or folder; run 'mcai import --help'", EXIT_USAGE);
    if (values.domain !== undefined && !isDomain(values.domain)) fail(`--domain must be ${DOMAIN_RULE}`, EXIT_USAGE);
    const missing = positionals.find((p) => !fs.existsSync(p));
    if (missing) fail(`no such file or folder: ${missing}`, EXIT_USAGE);
    const config = commandConfig({}, { LOG_LEVEL: "warn" });
    process.exitCode = await run(() => runImport(config, positionals, values.domain));
  },
};
