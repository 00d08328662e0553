/**
 * Real `mcai` processes for the integration suites: spawned from dist/ (global-setup builds it),
 * their output kept, waited on with deadlines, and killed by PID when a test ends.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "..", "..");
export const MCAI_BIN = path.join(ROOT, "dist", "bin", "mcai.js");

export interface McaiProcess {
  proc: ChildProcess;
  pid: number;
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

const running = new Set<McaiProcess>();

/** Spawns `node dist/bin/mcai.js ...args` with `env` on top of a clean environment. */
export function spawnMcai(args: string[], env: Record<string, string | undefined>, input?: string): McaiProcess {
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    LOG_LEVEL: "info",
  };
  const proc = spawn(process.execPath, [MCAI_BIN, ...args], {
    cwd: ROOT,
    env: {
      ...base,
      ...(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>),
    },
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  if (input !== undefined) proc.stdin!.end(input);
  const exited = new Promise<number | string>((resolve) =>
    proc.once("exit", (code, sig) => resolve(code ?? sig ?? -1)),
  );
  const handle: McaiProcess = {
    proc,
    pid: proc.pid!,
    output: () => out,
    exited,
    async waitForOutput(re, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out)) {
        if (proc.exitCode !== null) throw new Error(`mcai exited (${proc.exitCode}) before printing ${re}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`no ${re} within ${timeoutMs} ms:\n${out}`);
        await sleep(50);
      }
    },
    kill(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
  };
  running.add(handle);
  void exited.then(() => running.delete(handle));
  return handle;
}

/**
 * The process's exit code, or a rejection that shows its output when it runs past `timeoutMs`
 * (a hang fails the test with what the process printed, not with jest's bare timeout).
 */
export async function exitWithin(p: McaiProcess, timeoutMs: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`mcai (pid ${p.pid}) still running after ${timeoutMs} ms:\n${p.output()}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([p.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The node's own process: the child a compute node on Postgres runs in when `mcai start` relaunched it
 * with glibc's malloc settings (bin/malloc-relaunch.ts), else the process itself. A test of a node
 * dying kills this one: the parent killed with -9 leaves its node a few milliseconds (until it sees
 * the pipe close) to finish or claim work.
 */
export function nodePid(p: McaiProcess): number {
  let kids: number[] = [];
  try {
    kids = fs
      .readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    // not Linux, or gone already
  }
  return kids.length === 1 ? kids[0] : p.pid;
}

/** Kills every process this file spawned that is still running (afterAll). */
export async function killAll(): Promise<void> {
  const all = [...running];
  for (const p of all) p.kill("SIGKILL");
  await Promise.all(all.map((p) => p.exited));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `fn` until it returns a truthy value, at most `timeoutMs`. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false | null>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} did not happen within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ""}`);
    await sleep(100);
  }
}

/**
 * A parsed JSON body as the suites read it: the shape is the API's, asserted by the tests
 * themselves (the config lets tests reach into it without the no-unsafe-* checks).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a response body's fields are what each test asserts on
export type Json = any;

/** GET a JSON document; rejects on network errors. */
export async function getJson(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; headers: Headers; body: Json }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}
