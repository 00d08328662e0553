/** `mcai export`: each domain's examples to JSONL files that `mcai import` reads back. */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { DOMAIN_RULE, isDomain } from "../../services/datasets/contract";
import { commandConfig, EXIT_USAGE, fail, run, type Command } from "../cli";
import { runExport } from "../datasets/export";

const help = `Usage: mcai export --out DIR [--domain NAME] [--archived]

Writes each domain's examples to DIR/<domain>.jsonl, one {"content", "response", "metadata"}
object per line: exactly what 'mcai import' reads, so 'mcai import DIR' into an empty database
gives the same examples, and into the same database adds nothing. With --archived, each domain's
archived examples also go to DIR/archive/<domain>.jsonl (import skips folders named "archive":
import that folder by name to bring them back as live examples). Examples are read in keyset
pages and streamed to disk, so a domain of any size exports in bounded memory. Works whether or
not a node runs on the same data.

Options:
  --out DIR       the folder to write (created if missing; files of the same name are replaced)
  --domain NAME   only this domain
  --archived      also export archived examples`;

export const exportCommand: Command = {
  summary: "export domains to JSONL files that import reads back",
  help,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        out: { type: "string" },
        domain: { type: "string" },
        archived: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      console.log(help);
      return;
    }
    if (!values.out) fail("--out DIR is required; run 'mcai export --help'", EXIT_USAGE);
    if (fs.existsSync(values.out) && !fs.statSync(values.out).isDirectory())
      fail(`--out must be a folder: ${values.out} is a file`, EXIT_USAGE);
    if (values.domain !== undefined && !isDomain(values.domain)) fail(`--domain must be ${DOMAIN_RULE}`, EXIT_USAGE);
    const config = commandConfig({}, { LOG_LEVEL: "warn" });
    const out = values.out;
    process.exitCode = await run(() =>
      runExport(config, { out, domain: values.domain, archived: values.archived ?? false }),
    );
  },
};
