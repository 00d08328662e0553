/**
 * bench/bundle: would a bundled program start faster? Loads the dependencies every start loads
 * (Moleculer, moleculer-web, prom-client, ioredis, moleculer-db, piscina, pg) from node_modules, as
 * dist/ does, against the same bundled by esbuild into one file; each in a fresh `node`,
 * alternated, RUNS times each. Prints the medians and the bundle's size.
 *
 *   npm run bench:bundle
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { build, type Plugin } from "esbuild";
import { machine, pct, runMain } from "./lib";

const ROOT = path.resolve(__dirname, "..");
const RUNS = Number(process.env.RUNS ?? 10);
const DEPS = ["moleculer", "moleculer-web", "prom-client", "ioredis", "moleculer-db", "piscina", "pg"];
const ENTRY = DEPS.map((d) => `require(${JSON.stringify(d)});`).join("\n");

/** Leaves out what does not resolve: the optional drivers Moleculer requires only when configured. */
const optionalExternal: Plugin = {
  name: "optional-external",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === "inner") return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: "inner" });
      return r.errors.length ? { path: args.path, external: true } : r;
    });
  },
};

/** Milliseconds a fresh node takes to run `code` (the require only, timed inside). */
function timeIn(code: string): number {
  const out = execFileSync(
    process.execPath,
    ["-e", `const t = performance.now(); ${code}; process.stdout.write(String(performance.now() - t))`],
    { cwd: ROOT, encoding: "utf8" },
  );
  return Number(out);
}

async function main(): Promise<void> {
  const bundle = path.join(os.tmpdir(), `mcai-bench-deps-${process.pid}.js`);
  await build({
    stdin: { contents: ENTRY, resolveDir: ROOT, loader: "js" },
    bundle: true,
    platform: "node",
    target: "node20",
    outfile: bundle,
    logLevel: "error",
    plugins: [optionalExternal],
  });
  const plain: number[] = [];
  const bundled: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    plain.push(timeIn(ENTRY));
    bundled.push(timeIn(`require(${JSON.stringify(bundle)})`));
  }
  const mb = (fs.statSync(bundle).size / 2 ** 20).toFixed(1);
  fs.rmSync(bundle);
  const line = (label: string, xs: number[]) =>
    `${label.padEnd(44)} median ${pct(xs, 50).toFixed(0).padStart(4)} ms   min ${Math.min(...xs)
      .toFixed(0)
      .padStart(4)}   max ${Math.max(...xs)
      .toFixed(0)
      .padStart(4)}`;
  console.log(`bench/bundle on ${machine()}, ${RUNS} runs each, alternated: ${DEPS.join(", ")}`);
  console.log(line("from node_modules (as dist/ loads them)", plain));
  console.log(line(`one esbuild bundle (${mb} MB)`, bundled));
}

runMain(main);
