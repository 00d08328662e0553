/** `mcai rotate`: each domain's oldest examples beyond a limit to the archive. */
import { parseArgs } from "node:util";
import { commandConfig, EXIT_USAGE, fail, run, type Command } from "../cli";
import { runRotate } from "../datasets/target";

const help = `Usage: mcai rotate [--max N] [--dry-run]

Moves each domain's oldest examples beyond N (default DATASET_MAX_EXAMPLES_PER_DOMAIN) to the
archive table, one node at a time (advisory lock); counts and versions are kept right.`;

export const rotateCommand: Command = {
  summary: "move each domain's oldest examples beyond a limit to the archive",
  help,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: { max: { type: "string" }, "dry-run": { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      console.log(help);
      return;
    }
    const max = values.max === undefined ? undefined : Number(values.max);
    if (max !== undefined && (!Number.isInteger(max) || max < 1))
      fail(`--max must be a positive integer, got "${values.max}"`, EXIT_USAGE);
    const config = commandConfig({}, { LOG_LEVEL: "warn" });
    if (max === undefined && !config.datasets.maxExamplesPerDomain)
      fail("no limit: pass --max N or set DATASET_MAX_EXAMPLES_PER_DOMAIN", EXIT_USAGE);
    process.exitCode = await run(() => runRotate(config, max, values["dry-run"] ?? false));
  },
};
