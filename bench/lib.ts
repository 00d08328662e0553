/** What the benchmarks share: free ports, percentiles, a database per run, the main wrapper. */
import net from "node:net";
import os from "node:os";
import pg from "pg";

export const PG_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** The p-th percentile (0..100) of xs; NaN for none. */
export function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fresh database on the real Postgres for one run, and its removal. */
export async function benchDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export function machine(): string {
  return `${os.cpus()[0].model}, ${os.cpus().length} cores, Node ${process.version}`;
}

/** Runs a benchmark's main and exits with its outcome (child processes and pools may linger). */
export function runMain(main: () => Promise<void> | void): void {
  Promise.resolve()
    .then(main)
    .then(
      () => process.exit(0),
      (err: unknown) => {
        console.error((err as Error).stack ?? err);
        process.exit(1);
      },
    );
}

import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

export const MCAI_BIN = path.resolve(__dirname, "..", "dist", "bin", "mcai.js");

/**
 * A module of the built program in dist/ (what a benchmark measures); the caller types it as its
 * source: `built("services/lib/db/index.js") as typeof import("../services/lib/db")`.
 */
export function built(file: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path known at run time
  return require(path.resolve(__dirname, "..", "dist", file));
}

/**
 * `mcai start …` as a child process (node run with `nodeArgs`, e.g. --cpu-prof; `bin` another
 * build's mcai.js, a baseline); `ready` resolves when it prints that it runs.
 */
export function startMcai(
  args: string[],
  env: Record<string, string>,
  logLevel = "warn",
  nodeArgs: string[] = [],
  bin = MCAI_BIN,
): { proc: ChildProcess; out: () => string; ready: Promise<void> } {
  const proc = spawn(process.execPath, [...nodeArgs, bin, "start", ...args], {
    env: { PATH: process.env.PATH!, HOME: os.tmpdir(), LOG_LEVEL: logLevel, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (/ running /.test(out)) {
        clearInterval(t);
        resolve();
      } else if (proc.exitCode !== null) {
        clearInterval(t);
        reject(new Error(out));
      }
    }, 20);
  });
  return { proc, out: () => out, ready };
}
