/**
 * Servers of a test's own, on free ports, that it may stop and start again: a Redis and a
 * PostgreSQL cluster in a temporary folder (Debian's binaries, run as the postgres user).
 * The machine's shared servers are never restarted by a test.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { eventually, freePort } from "./processes";

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export interface OwnServer {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function ownRedis(): Promise<OwnServer> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const server: OwnServer = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      proc = spawn(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        { stdio: "ignore" },
      );
      await eventually(() => answers(port), 10_000, `redis on ${port}`);
    },
    async stop() {
      if (!proc || proc.exitCode !== null) return;
      const exited = new Promise((r) => proc!.once("exit", r));
      proc.kill("SIGKILL");
      await exited;
    },
  };
  await server.start();
  return server;
}

/** The newest installed PostgreSQL's bin folder, or undefined. */
export function postgresBin(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!fs.existsSync(base)) return undefined;
  const v = fs.readdirSync(base).sort((a, b) => Number(b) - Number(a))[0];
  const bin = v && path.join(base, v, "bin");
  return bin && fs.existsSync(path.join(bin, "initdb")) ? bin : undefined;
}

export const canRunOwnPostgres = Boolean(postgresBin()) && process.getuid?.() === 0;

export async function ownPostgres(): Promise<OwnServer & { dir: string }> {
  const bin = postgresBin()!;
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-pg-"));
  fs.chownSync(
    dir,
    Number(execFileSync("id", ["-u", "postgres"]).toString().trim()),
    Number(execFileSync("id", ["-g", "postgres"]).toString().trim()),
  );
  const asPostgres = (cmd: string, args: string[]) =>
    execFileSync("runuser", ["-u", "postgres", "--", path.join(bin, cmd), ...args], { stdio: "pipe" });
  asPostgres("initdb", ["-D", path.join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync"]);
  const server = {
    dir,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      asPostgres("pg_ctl", [
        "-D",
        path.join(dir, "data"),
        "-l",
        path.join(dir, "log"),
        "-w",
        "-o",
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        "start",
      ]);
      await eventually(() => answers(port), 10_000, `postgres on ${port}`);
    },
    stop() {
      // "immediate" is a crash as far as clients see it: connections cut, recovery at the next start.
      asPostgres("pg_ctl", ["-D", path.join(dir, "data"), "-m", "immediate", "-w", "stop"]);
      return Promise.resolve();
    },
  };
  await server.start();
  return server;
}
