/**
 * CPU time by process from /proc (Linux): what a run of requests cost the node (its process tree:
 * a compute node relaunches itself, see bin/malloc-relaunch.ts), the Postgres backends of its
 * database, Redis, this process (autocannon's load generation) and the machine as a whole (other
 * work included), so a figure per request says what a target needs from each on these cores.
 */
import fs from "node:fs";
import pg from "pg";
import { PG_URL } from "./lib";

/** Linux's USER_HZ: /proc counts CPU time in hundredths of a second. */
const TICK_MS = 10;

export interface CpuSample {
  node: Map<number, number>;
  postgres: Map<number, number>;
  redis: Map<number, number>;
  /** This process: autocannon, which runs in it. */
  benchMs: number;
  /** Every core's busy time (not idle, not iowait), whoever ran. */
  machineMs: number;
}

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** User and system CPU of `pid` so far, ms; 0 for a process gone. */
function processMs(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  // Fields after the command's closing parenthesis: state is the first, utime the 12th, stime the 13th.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** `pid` and its descendants. */
function tree(pid: number): number[] {
  const out = [pid];
  for (const task of fs.readdirSync(`/proc/${pid}/task`, { withFileTypes: true }).map((d) => d.name)) {
    const children = read(`/proc/${pid}/task/${task}/children`) ?? "";
    for (const c of children.split(" ").filter(Boolean)) out.push(...tree(Number(c)));
  }
  return out;
}

function byName(name: string): number[] {
  return fs
    .readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d) && read(`/proc/${d}/comm`)?.trim() === name)
    .map(Number);
}

function machineMs(): number {
  const f = (read("/proc/stat") ?? "").split("\n")[0].split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * TICK_MS;
}

async function backends(database: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const r = await c.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [database],
    );
    return r.rows.map((x) => x.pid);
  } finally {
    await c.end();
  }
}

const times = (pids: number[]) => new Map(pids.map((p) => [p, processMs(p)]));

/** The CPU so far of the node `nodePid`, of the backends of `database` (none when undefined), of Redis, here and in all. */
export async function sampleCpu(nodePid: number, database?: string): Promise<CpuSample> {
  return {
    node: times(tree(nodePid)),
    postgres: times(database ? await backends(database) : []),
    redis: times(byName("redis-server")),
    benchMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    machineMs: machineMs(),
  };
}

/** What each process used between `a` and `b` (processes started between them count whole). */
function spent(a: Map<number, number>, b: Map<number, number>): number {
  let ms = 0;
  for (const [pid, t] of b) ms += t - (a.get(pid) ?? 0);
  return ms;
}

/** CPU ms per request between two samples, by process, as a line of the bench's output. */
export function cpuPerRequest(a: CpuSample, b: CpuSample, requests: number): string {
  const per = (ms: number) => (ms / requests).toFixed(2);
  const node = spent(a.node, b.node);
  const postgres = spent(a.postgres, b.postgres);
  const redis = spent(a.redis, b.redis);
  const bench = b.benchMs - a.benchMs;
  const machine = b.machineMs - a.machineMs;
  const others = machine - node - postgres - redis - bench;
  return `CPU ms per request: node ${per(node)}, postgres ${per(postgres)}, redis ${per(redis)}, autocannon ${per(bench)}, sum ${per(node + postgres + redis + bench)}; the machine ${per(machine)} (other work ${per(others)})`;
}
