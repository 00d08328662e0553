/**
 * Memory figures for the benchmarks: a process's RSS now and at its peak (from /proc), the most
 * RSS seen while a phase runs, and the same-run baseline of a bare node:http server.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, sleep } from "./lib";

function statusKb(pid: number, field: "VmRSS" | "VmHWM" | "RssAnon"): number {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** Resident memory of `pid` now, MB. */
export const rssMb = (pid: number): number => Math.round(statusKb(pid, "VmRSS") / 1024);
/** Peak resident memory of `pid` since it started, MB. */
export const peakMb = (pid: number): number => Math.round(statusKb(pid, "VmHWM") / 1024);

/** User + system CPU time of `pid` so far, all its threads, ms (/proc/PID/stat fields 14, 15: ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * The pid of the node itself: `mcai start` on a compute node starts the node again as its only
 * child (bin/malloc-relaunch.ts) and stays as a small parent; otherwise `pid` itself.
 */
export function nodePid(pid: number): number {
  try {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    return children.length === 1 ? Number(children[0]) : pid;
  } catch {
    return pid;
  }
}

/** The relaunching parent's RSS and its own (anonymous) part, MB: what the second process costs. */
export function parentLine(pid: number): string {
  if (nodePid(pid) === pid) return "";
  const anon = Math.round(statusKb(pid, "RssAnon") / 1024);
  return `parent (relaunched the node with MALLOC_MMAP_THRESHOLD_) RSS ${rssMb(pid)} MB, of it its own memory ${anon} MB (the rest is code shared with the node)`;
}

/** The most RSS of `pid` while `phase` runs (sampled every 20 ms), and the phase's result. */
export async function maxRssDuring<T>(pid: number, phase: () => Promise<T>): Promise<{ mb: number; value: T }> {
  let max = 0;
  const sample = () => {
    try {
      max = Math.max(max, rssMb(pid));
    } catch {
      // the process is gone (a kill -9 in the run): its last sample stands
    }
  };
  sample();
  const timer = setInterval(sample, 20);
  try {
    const value = await phase();
    sample();
    return { mb: max, value };
  } finally {
    clearInterval(timer);
  }
}

/** RSS per phase, MB, in the order measured. */
export type Phases = Record<string, number>;

export function phasesLine(label: string, phases: Phases, extra = ""): string {
  const parts = Object.entries(phases).map(([k, v]) => `${k} ${String(v).padStart(4)} MB`);
  return `${label.padEnd(44)} ${parts.join("   ")}${extra}`;
}

export interface BareServer {
  proc: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** A bare node:http server answering "{}": the floor any Node server pays, measured in the same run. */
export async function startBareServer(): Promise<BareServer> {
  const file = path.join(os.tmpdir(), "mcai-bench-bare.js");
  fs.writeFileSync(
    file,
    `require("http").createServer((q,s)=>s.end("{}")).listen(Number(process.env.PORT),"127.0.0.1")`,
  );
  const port = await freePort();
  const proc = spawn(process.execPath, [file], {
    env: { PATH: process.env.PATH!, PORT: String(port) },
    stdio: "ignore",
  });
  const url = `http://127.0.0.1:${port}/`;
  for (;;) {
    try {
      if ((await fetch(url)).ok) break;
    } catch {
      await sleep(5);
    }
  }
  return {
    proc,
    url,
    stop: async () => {
      proc.kill("SIGTERM");
      if (proc.exitCode === null) await new Promise((r) => proc.once("exit", r));
    },
  };
}

/** `n` GETs of `url`, `inFlight` at a time. */
export async function hammer(url: string, n: number, inFlight = 8): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < n) await (await fetch(url)).arrayBuffer();
    }),
  );
}

/** The bare server's RSS per phase: idle, then under and after a load of plain requests. */
export async function bareBaseline(): Promise<Phases> {
  const bare = await startBareServer();
  try {
    await sleep(1000);
    const idle = rssMb(bare.proc.pid!);
    const load = await maxRssDuring(bare.proc.pid!, () => hammer(bare.url, 2000));
    await sleep(1000);
    return { idle, "under load": load.mb, "after load": rssMb(bare.proc.pid!), peak: peakMb(bare.proc.pid!) };
  } finally {
    await bare.stop();
  }
}

/**
 * Where a node's RSS goes, from the gateway's /metrics at `url` (the node `nodeId`, else the first
 * one listed): the main thread's JS heap, its external memory (PGlite's WASM heap when PGlite runs
 * on the main thread, and Buffers), and the rest (the pool's threads with their heaps, code, malloc).
 */
export async function memoryParts(url: string, rss: number, nodeId?: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const node = nodeId ? `[^}]*node_id="${nodeId}"` : "";
  const mb = (name: string) =>
    Math.round(Number(new RegExp(`^${name}\\{${node}[^}]*\\} (\\S+)`, "m").exec(text)?.[1]) / 2 ** 20);
  const heap = mb("nodejs_heap_size_total_bytes");
  const ext = mb("nodejs_external_memory_bytes");
  return `RSS ${rss} MB = main JS heap ${heap} + external (PGlite WASM, Buffers) ${ext} + rest (pool threads, code, malloc) ${rss - heap - ext}`;
}

const ARENA_BYTES = 64 * 2 ** 20;

/**
 * `pid`'s resident memory by kind of mapping (/proc/PID/smaps), MB: files (the node binary, shared
 * libraries, mapped files), glibc's main malloc heap ([heap]), the malloc arenas of threads (glibc
 * maps each at a 64 MB-aligned address), and the other anonymous memory (V8's heaps of every
 * isolate, WASM memories, large Buffers malloc maps on their own, thread stacks).
 */
export function rssByMapping(pid: number): string {
  const parts = {
    files: 0,
    "malloc [heap]": 0,
    "thread arenas": 0,
    "other anonymous (V8 heaps, WASM, big buffers)": 0,
  };
  let kind: keyof typeof parts = "files";
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const start = parseInt(head[1], 16);
      const name = head[3];
      if (name === "[heap]") kind = "malloc [heap]";
      else if (name.startsWith("/")) kind = "files";
      else if (head[2] === "rw-p" && start % ARENA_BYTES === 0 && !name) kind = "thread arenas";
      else kind = "other anonymous (V8 heaps, WASM, big buffers)";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) parts[kind] += Number(rss[1]);
  }
  return Object.entries(parts)
    .map(([k, kb]) => `${k} ${Math.round(kb / 1024)}`)
    .join(", ");
}
