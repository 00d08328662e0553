/**
 * bench/heap-flags: the CPU time of one 512² flow-field art job (render and PNG encode, what a
 * compute thread runs) with V8's heap growth as a node sets it (HEAP_GROWING_PERCENT=20,
 * HEAP_SEMI_SPACE_GROWTH=1, through v8.setFlagsFromString) against V8's defaults: alternating child
 * processes, each timing 20 jobs after 3 warm-up ones, by CPU time (steadier than wall time on a
 * shared machine). Needs `npm run build` first.
 *
 *   npx tsx bench/heap-flags.ts     (ROUNDS=3)
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { machine, runMain } from "./lib";
import { heapFlags } from "../bin/heap-settings";

const DIST = path.resolve(__dirname, "..", "dist");
const ROUNDS = Number(process.env.ROUNDS ?? 3);

const child = (flags: string[]) => `
  const v8 = require("v8");
  for (const f of ${JSON.stringify(flags)}) v8.setFlagsFromString(f);
  const { renderArt } = require(${JSON.stringify(path.join(DIST, "compute/lib/art.js"))});
  const { encodePng } = require(${JSON.stringify(path.join(DIST, "compute/lib/png.js"))});
  const job = (p) => encodePng(renderArt({ prompt: p, style: "flow-field", width: 512, height: 512 }).rgba, 512, 512);
  for (let i = 0; i < 3; i++) job("warm " + i);
  const t0 = process.cpuUsage();
  for (let i = 0; i < 20; i++) job("job " + i);
  const c = process.cpuUsage(t0);
  console.log(JSON.stringify({ cpuMs: (c.user + c.system) / 1000 / 20, rssMb: process.resourceUsage().maxRSS / 1024 }));`;

function one(flags: string[]): { cpuMs: number; rssMb: number } {
  return JSON.parse(execFileSync(process.execPath, ["-e", child(flags)]).toString()) as {
    cpuMs: number;
    rssMb: number;
  };
}

function main(): void {
  console.log(`bench/heap-flags on ${machine()}, ${ROUNDS} rounds`);
  const node = heapFlags({ growingPercent: 20, semiSpaceGrowth: 1 });
  const series: [string, string[]][] = [
    ["V8's defaults", []],
    [node.join(" "), node],
  ];
  const out = new Map<string, string[]>(series.map(([label]) => [label, []]));
  for (let r = 0; r < ROUNDS; r++)
    for (const [label, flags] of series) {
      const s = one(flags);
      out.get(label)!.push(`${s.cpuMs.toFixed(1)} ms (peak RSS ${Math.round(s.rssMb)} MB)`);
    }
  for (const [label, xs] of out) console.log(`${label.padEnd(60)} CPU per art job: ${xs.join(", ")}`);
}

runMain(main);
