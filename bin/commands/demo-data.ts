/** `mcai demo-data`: synthetic dataset files for benchmarks (the curated demo knowledge base is demo/knowledge-base). */
import { parseArgs } from "node:util";
import { EXIT_USAGE, fail, type Command } from "../cli";
import { writeDemoFiles } from "../datasets/demo-data";

const help = `Usage: mcai demo-data --examples N --out DIR

Writes N synthetic, templated examples over MC AI's domains as JSON, JSONL and TXT files in DIR: scale data for
benchmarks, not knowledge (the curated knowledge base a fresh start imports is demo/knowledge-base/).`;

export const demoDataCommand: Command = {
  summary: "write synthetic dataset files for benchmarks",
  help,
  run(args) {
    const { values } = parseArgs({
      args,
      options: { examples: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      console.log(help);
      return Promise.resolve();
    }
    const n = Number(values.examples);
    if (!Number.isInteger(n) || n < 1 || n > 100_000_000)
      fail("--examples must be an integer from 1 to 100000000", EXIT_USAGE);
    if (!values.out) fail("--out DIR is required", EXIT_USAGE);
    const files = writeDemoFiles(n, values.out);
    console.log(`wrote ${n} examples in ${files.length} files under ${values.out}`);
    return Promise.resolve();
  },
};
