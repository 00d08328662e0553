/**
 * A private network of Linux network namespaces for the cluster partition suite (root only).
 *
 * Every host is a namespace of its own: `svc` (Postgres and Redis), and the mcai nodes. Each host
 * has two veth links into a `hub` namespace, one on a Redis bridge (10.N.1.0/24) and one on a
 * Postgres bridge (10.N.2.0/24), so a test can cut a host from Redis, from Postgres, or from
 * both, with `ip link set … down` on the hub side (a cable pulled: no error, packets vanish).
 * Nothing is created in the machine's own namespace: no address, no link, no route. `destroy`
 * kills what was started and deletes the namespaces (and with them every link), also when the
 * test process exits early.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { eventually } from "./processes";
import { postgresBin } from "./own-servers";

const has = (cmd: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

/** Why the partition suite cannot run here, or "" when it can. */
export function netnsUnavailable(): string {
  if (process.getuid?.() !== 0) return "not root";
  for (const c of ["ip", "curl", "redis-server", "runuser"]) if (!has(c)) return `${c} is not installed`;
  if (!postgresBin()) return "no PostgreSQL binaries in /usr/lib/postgresql";
  try {
    const probe = `mcai-probe-${process.pid}`;
    execFileSync("ip", ["netns", "add", probe], { stdio: "pipe" });
    execFileSync("ip", ["netns", "del", probe], { stdio: "pipe" });
  } catch (err) {
    return `cannot create network namespaces: ${(err as Error).message.split("\n")[0]}`;
  }
  return "";
}

/** Which of a host's links: to the Redis bridge, to the Postgres bridge. */
export type Link = "redis" | "pg";

export interface Host {
  ns: string;
  /** The host's address on the Redis bridge and on the Postgres bridge. */
  redisIp: string;
  pgIp: string;
}

function ip(args: string[]): void {
  execFileSync("ip", args, { stdio: "pipe" });
}

/** Runs a command inside a namespace; resolves with its stdout, rejects on a non-zero exit. */
export function execIn(ns: string, cmd: string[], timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("ip", ["netns", "exec", ns, ...cmd], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, out, errOut) =>
      err ? reject(new Error(`${cmd.join(" ")} in ${ns}: ${err.message} ${errOut}`)) : resolve(out),
    );
  });
}

export class TestNetwork {
  readonly id = crypto.randomBytes(3).toString("hex");
  /** 10.N.x.0/24: N picked at random so that two runs never share a subnet. */
  readonly net = 100 + crypto.randomInt(0, 100);
  readonly hub = `mcai-${this.id}-hub`;
  readonly hosts = new Map<string, Host>();
  private readonly namespaces: string[] = [];
  private readonly processes: ChildProcess[] = [];
  private readonly onExit = () => this.removeNamespaces();

  constructor() {
    process.once("exit", this.onExit);
    this.addNamespace(this.hub);
    for (const br of ["brr", "brp"]) {
      ip(["-n", this.hub, "link", "add", br, "type", "bridge"]);
      ip(["-n", this.hub, "link", "set", br, "up"]);
    }
  }

  private addNamespace(ns: string): void {
    ip(["netns", "add", ns]);
    this.namespaces.push(ns);
    ip(["-n", ns, "link", "set", "lo", "up"]);
  }

  /** A host named `name` (at most 6 characters) with host number `n` (1..250) on both bridges. */
  addHost(name: string, n: number): Host {
    const ns = `mcai-${this.id}-${name}`;
    this.addNamespace(ns);
    const host: Host = { ns, redisIp: `10.${this.net}.1.${n}`, pgIp: `10.${this.net}.2.${n}` };
    for (const [link, br, addr] of [
      ["redis", "brr", host.redisIp],
      ["pg", "brp", host.pgIp],
    ] as const) {
      const inner = link === "redis" ? "r0" : "p0";
      ip(["-n", this.hub, "link", "add", this.peer(name, link), "type", "veth", "peer", "name", inner, "netns", ns]);
      ip(["-n", this.hub, "link", "set", this.peer(name, link), "master", br, "up"]);
      ip(["-n", ns, "addr", "add", `${addr}/24`, "dev", inner]);
      ip(["-n", ns, "link", "set", inner, "up"]);
    }
    this.hosts.set(name, host);
    return host;
  }

  private peer(name: string, link: Link): string {
    return `${name}-${link === "redis" ? "r" : "p"}`;
  }

  /** Pulls (or plugs back) a host's cable to one bridge: the hub side of its veth goes down (up). */
  setLink(name: string, link: Link, up: boolean): void {
    ip(["-n", this.hub, "link", "set", this.peer(name, link), up ? "up" : "down"]);
  }

  /** Spawns `cmd` inside host `name`'s namespace (`ip netns exec` execs it: same PID). */
  spawnIn(name: string, cmd: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
    const p = spawn("ip", ["netns", "exec", this.ns(name), ...cmd], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.processes.push(p);
    return p;
  }

  ns(name: string): string {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h.ns;
  }

  /** Kills every process started here, then deletes the namespaces (their links go with them). */
  async destroy(): Promise<void> {
    const alive = this.processes.filter((p) => p.exitCode === null && p.signalCode === null);
    for (const p of alive) p.kill("SIGKILL");
    await Promise.all(
      alive.map(
        (p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once("exit", r))),
      ),
    );
    this.removeNamespaces();
    process.removeListener("exit", this.onExit);
  }

  private removeNamespaces(): void {
    for (const ns of this.namespaces.splice(0).reverse()) {
      try {
        execFileSync("ip", ["netns", "del", ns], { stdio: "pipe" });
      } catch {
        // already gone
      }
    }
  }
}

/** Redis inside host `name`, bound to its Redis-bridge address only. */
export async function redisIn(net: TestNetwork, name: string): Promise<string> {
  const host = net.hosts.get(name)!;
  net.spawnIn(name, [
    "redis-server",
    ...["--bind", host.redisIp, "--port", "6379", "--save", "", "--appendonly", "no"],
    // Reachable only from the test's own namespaces; protected mode would refuse the other hosts.
    ...["--protected-mode", "no"],
  ]);
  await eventually(
    async () => (await execIn(host.ns, ["redis-cli", "-h", host.redisIp, "ping"]).catch(() => "")).includes("PONG"),
    10_000,
    "redis in its namespace",
  );
  return `redis://${host.redisIp}:6379`;
}

export interface PostgresInNs {
  /** The URL the nodes use (the Postgres-bridge address). */
  url(db: string): string;
  /** Connection settings for the test itself: the unix socket in `dir` (files are not namespaced). */
  socket: { host: string; port: number; user: string };
  stop(): void;
}

/** A PostgreSQL cluster of its own inside host `name`, listening on its Postgres-bridge address and a socket. */
export function postgresIn(net: TestNetwork, name: string): PostgresInNs {
  const host = net.hosts.get(name)!;
  const bin = postgresBin()!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-netns-pg-"));
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  fs.chownSync(dir, uid, gid);
  const asPostgres = (cmd: string, args: string[]) =>
    execFileSync("ip", ["netns", "exec", host.ns, "runuser", "-u", "postgres", "--", path.join(bin, cmd), ...args], {
      stdio: "pipe",
      timeout: 60_000,
    });
  const data = path.join(dir, "data");
  asPostgres("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  // The nodes connect from the Postgres bridge's subnet, and only from there.
  fs.appendFileSync(path.join(data, "pg_hba.conf"), `host all postgres 10.${net.net}.2.0/24 trust\n`);
  const opts = `-p 5432 -k ${dir} -c listen_addresses=${host.pgIp} -c fsync=off`;
  asPostgres("pg_ctl", ["-D", data, "-l", path.join(dir, "log"), "-w", "-t", "30", "-o", opts, "start"]);
  return {
    url: (db) => `postgres://postgres@${host.pgIp}:5432/${db}`,
    socket: { host: dir, port: 5432, user: "postgres" },
    stop() {
      try {
        asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]);
      } catch {
        // not running
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An HTTP request made from inside a namespace (curl), for a server bound to that namespace's 127.0.0.1. */
export async function httpIn(
  ns: string,
  url: string,
  init: { method?: string; json?: unknown; headers?: Record<string, string>; timeoutS?: number } = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON body, read by the test as getJson's is
): Promise<{ status: number; body: any }> {
  const args = ["curl", "-s", "-m", String(init.timeoutS ?? 10), "-X", init.method ?? "GET", "-w", "\n%{http_code}"];
  for (const [name, value] of Object.entries(init.headers ?? {})) args.push("-H", `${name}: ${value}`);
  if (init.json !== undefined)
    args.push("-H", "content-type: application/json", "--data-binary", JSON.stringify(init.json));
  args.push(url);
  const out = await execIn(ns, args, ((init.timeoutS ?? 10) + 5) * 1000).catch(
    (err: unknown) => `${(err as Error).message}\n0`,
  );
  const nl = out.lastIndexOf("\n");
  const text = out.slice(0, nl);
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: Number(out.slice(nl + 1)) || 0, body };
}
