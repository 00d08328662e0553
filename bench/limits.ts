/**
 * bench/limits: every compute kind at the largest size the default limits admit, on a node whose
 * pool threads have COMPUTE_THREAD_HEAP_MB (and COMPUTE_THREAD_YOUNG_MB) as given: each must
 * complete (no thread past its heap bound). Prints each task's time and the node's peak RSS,
 * against the same tasks with V8's default heap bounds in the same run.
 *
 *   npm run bench:limits            (HEAP_MB=64 by default)
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import { runMain, built, machine } from "./lib";
import type * as NodeModule from "../bin/node";
import type * as ConfigModule from "../services/lib/config";
import { ART_STYLES } from "../compute/lib/art";

const { startNode } = built("bin/node.js") as typeof NodeModule;
const { loadConfig } = built("services/lib/config.js") as typeof ConfigModule;

type Call = [label: string, action: string, params: () => Record<string, unknown>];

function calls(limits: ConfigModule.ComputeLimits): Call[] {
  const big = limits.artMaxSize;
  return [
    ...ART_STYLES.map((style): Call => [
      `art (${style})`,
      "compute.art",
      () => ({ prompt: "max", style, width: big, height: big }),
    ]),
    [
      "cymatic + png",
      "compute.cymatic",
      () => ({
        frequencies: Array.from({ length: limits.cymaticMaxFrequencies }, (_, i) => 200 + i * 37),
        size: limits.cymaticMaxSize,
        png: true,
      }),
    ],
    [
      "video",
      "compute.video",
      () => ({ from_hz: 100, to_hz: 900, frames: limits.videoMaxFrames, size: limits.videoMaxSize }),
    ],
    ["music", "compute.music", () => ({ prompt: "max", duration: musicSeconds(limits) })],
    [
      "fft",
      "compute.fft",
      () => ({ signal: Array.from({ length: limits.fftMaxPoints }, (_, i) => Math.sin(i / 3)), sampleRate: 44_100 }),
    ],
    [
      "emotion",
      "compute.emotion",
      () => ({ text: "joy and calm, ".repeat(limits.textMaxChars).slice(0, limits.textMaxChars) }),
    ],
  ];
}

/** The longest music the result bound admits (stereo 16-bit WAV at 44.1 kHz), within MUSIC_MAX_SECONDS. */
function musicSeconds(limits: ConfigModule.ComputeLimits): number {
  return Math.min(limits.musicMaxSeconds, Math.floor((limits.resultMaxBytes - 1024) / (44_100 * 4)));
}

async function run(env: Record<string, string>): Promise<void> {
  const config = loadConfig({ ...env, LOG_LEVEL: "warn", COMPUTE_THREADS: "2" });
  const node = await startNode(config, ["compute", "metrics"]);
  try {
    for (const [label, action, params] of calls(config.compute)) {
      const t0 = performance.now();
      let outcome = "ok";
      try {
        await node.broker.call(action, params(), { timeout: 120_000 });
      } catch (err) {
        outcome = `FAILED: ${(err as Error).message}`;
      }
      console.log(`  ${label.padEnd(22)} ${(performance.now() - t0).toFixed(0).padStart(6)} ms  ${outcome}`);
    }
    const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    console.log(`  peak RSS of the node's process ${Math.round(Number(hwm?.[1]) / 1024)} MB`);
  } finally {
    await node.stop();
  }
}

/** Each variant in a process of its own, so that its peak RSS is its own. */
async function variant(label: string, env: Record<string, string>): Promise<void> {
  console.log(`\n${label}`);
  const child = spawn(process.execPath, [...process.execArgv, __filename], {
    env: { ...process.env, LIMITS_CHILD: JSON.stringify(env) },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`${label}: exited ${code}`);
}

async function main(): Promise<void> {
  if (process.env.LIMITS_CHILD) return run(JSON.parse(process.env.LIMITS_CHILD) as Record<string, string>);
  console.log(`bench/limits on ${machine()}: each kind at its largest admitted size, 2 threads`);
  const heap = process.env.HEAP_MB ?? "64";
  const young = process.env.YOUNG_MB ?? "0";
  await variant("baseline: V8's default heap bounds (COMPUTE_THREAD_HEAP_MB=0)", { COMPUTE_THREAD_HEAP_MB: "0" });
  await variant(`COMPUTE_THREAD_HEAP_MB=${heap} COMPUTE_THREAD_YOUNG_MB=${young}`, {
    COMPUTE_THREAD_HEAP_MB: heap,
    COMPUTE_THREAD_YOUNG_MB: young,
  });
}

runMain(main);
