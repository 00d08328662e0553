/**
 * The cluster's health as one node sees it: its peers from the registry, the database from
 * this node or, on a node without one, from a peer's metadata.
 */
import type { ServiceBroker } from "moleculer";
import type { NodeMetadata } from "../../moleculer.config";
import { ping } from "../lib/db/db";
import { configOf, runtimeOf } from "../lib/runtime";
import { VERSION } from "../lib/paths";
import type { NodeStatus } from "../metrics/contract";

export interface NodeHealth {
  id: string;
  services: string[];
  available: boolean;
  local: boolean;
  version?: string;
  /** Resident memory, from the node's metrics service (absent when it did not answer in time). */
  rss_mb?: number;
  /** RSS over that node's MEMORY_WARN_MB. */
  degraded?: boolean;
}

export interface Health {
  status: "ok" | "degraded";
  problems: string[];
  nodeID: string;
  version: string;
  uptime_s: number;
  nodes: NodeHealth[];
  db: { driver: "pglite" | "postgres"; vector: boolean; node: string } | null;
  transporter: string | null;
  cacher: string;
}

/** A node as Moleculer's registry lists it. */
export interface RegistryNode {
  id: string;
  available: boolean;
  local: boolean;
  metadata?: NodeMetadata | null;
  services?: { name: string }[];
}

interface NodeLister {
  getNodeList(opts: { onlyAvailable: boolean; withServices: boolean }): RegistryNode[];
}

/** The nodes the broker's registry knows (Moleculer's typings leave getNodeList out). */
export function registryNodes(
  broker: ServiceBroker,
  opts: { onlyAvailable: boolean; withServices: boolean },
): RegistryNode[] {
  return (broker.registry as unknown as NodeLister).getNodeList(opts);
}

function scheme(url: string | undefined): string | null {
  return url ? url.split(":")[0] : null;
}

const DB_PING_TIMEOUT_MS = 1000;
const STATUS_TIMEOUT_MS = 500;

interface Cached {
  status?: NodeStatus;
  at: number;
  pending: boolean;
}

const remote = new WeakMap<ServiceBroker, Map<string, Cached>>();
const REFRESH_MS = 2000;

function apply(n: NodeHealth, s: NodeStatus): void {
  n.rss_mb = Math.round(s.rss_bytes / 1048576);
  if (s.over) n.degraded = true;
}

/**
 * Each available node's memory, through its metrics service. The local node answers at once;
 * other nodes' figures come from a cache refreshed in the background (at most every 2 s, each
 * call bounded), so health never waits on a slow or dying node.
 */
async function memoryOf(broker: ServiceBroker, nodes: NodeHealth[]): Promise<void> {
  let cache = remote.get(broker);
  if (!cache) remote.set(broker, (cache = new Map<string, Cached>()));
  for (const n of nodes) {
    if (!n.available || !n.services.includes("metrics")) continue;
    if (n.local) {
      try {
        apply(
          n,
          await broker.call<NodeStatus, Record<string, never>>(
            "metrics.status",
            {},
            { nodeID: n.id, timeout: STATUS_TIMEOUT_MS, retries: 0 },
          ),
        );
      } catch {
        // the local metrics service is stopping
      }
      continue;
    }
    const c = cache.get(n.id) ?? { at: 0, pending: false };
    cache.set(n.id, c);
    if (!c.pending && Date.now() - c.at > REFRESH_MS) {
      c.pending = true;
      broker
        .call<NodeStatus, Record<string, never>>(
          "metrics.status",
          {},
          { nodeID: n.id, timeout: STATUS_TIMEOUT_MS, retries: 0 },
        )
        .then(
          (s) => (c.status = s),
          () => (c.status = undefined),
        )
        .finally(() => {
          c.at = Date.now();
          c.pending = false;
        });
    }
    if (c.status) apply(n, c.status);
  }
}

async function pingDb(broker: ServiceBroker): Promise<string | null> {
  const db = runtimeOf(broker).db;
  if (!db) return null;
  // PGlite is one session: a ping waits behind every statement queued before it (after a start,
  // the services' first reads). A statement answered within the ping's own bound answers for it.
  if (db.answeredWithin?.(DB_PING_TIMEOUT_MS)) return null;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("database did not answer within 1 s"), DB_PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([ping(db).then(() => null), timeout]);
  } catch (err) {
    return `database unreachable: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

/** Builds the health document served at GET /api/health and by the REPL's `health`. */
export async function clusterHealth(broker: ServiceBroker): Promise<Health> {
  const config = configOf(broker);
  const db = runtimeOf(broker).db;
  const list = registryNodes(broker, { onlyAvailable: false, withServices: true });
  const nodes = list
    .filter((n) => n.metadata?.role !== "repl" || n.local)
    .map((n): NodeHealth => ({
      id: n.id,
      available: n.available,
      local: n.local,
      version: n.metadata?.version,
      services: (n.services ?? [])
        .map((s) => s.name)
        .filter((s) => !s.startsWith("$"))
        .sort(),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
  const problems: string[] = [];
  const [dbProblem] = await Promise.all([pingDb(broker), memoryOf(broker, nodes)]);
  if (dbProblem) problems.push(dbProblem);
  for (const n of nodes)
    if (n.degraded) problems.push(`node ${n.id}: memory ${n.rss_mb} MB is over its MEMORY_WARN_MB`);
  const dbNode = db ? undefined : list.find((n) => n.available && n.metadata?.db);
  return {
    status: problems.length ? "degraded" : "ok",
    problems,
    nodeID: broker.nodeID,
    version: VERSION,
    uptime_s: Math.round(process.uptime()),
    nodes,
    db: db
      ? { driver: db.driver, vector: db.capabilities.vector, node: broker.nodeID }
      : dbNode?.metadata?.db
        ? { ...dbNode.metadata.db, node: dbNode.id }
        : null,
    transporter: scheme(config.transporter),
    cacher: config.cacher === "memory" ? "memory" : "redis",
  };
}

/** A health document and how old the state behind it is. */
export type ServedHealth = Health & { age_ms: number };

/**
 * The health document served at GET /api/health, gathered in the background rather than per
 * request: load balancers poll it, and a database ping and a metrics call per poll would cost
 * every other route. A refresh starts `intervalMs` after the last one ended, so the state is at
 * most the interval plus one refresh old (a refresh is bounded: the ping gives up after 1 s). The
 * loop starts with the first request and stops after a minute without one; a state older than its
 * bound (the loop stopped) is gathered again before it is served.
 */
export class HealthState {
  private state: { value: Health; at: number } | undefined;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastAsked = 0;
  private stopped = false;

  constructor(
    private readonly gather: () => Promise<Health>,
    private readonly intervalMs: number,
    private readonly idleMs = 60_000,
  ) {}

  /** The most a served state may be old while the loop runs. */
  get boundMs(): number {
    return this.intervalMs + DB_PING_TIMEOUT_MS + STATUS_TIMEOUT_MS;
  }

  async get(): Promise<ServedHealth> {
    this.lastAsked = performance.now();
    let state = this.state;
    if (!state || performance.now() - state.at > this.boundMs) {
      await this.refresh();
      state = this.state ?? state;
    }
    this.schedule();
    if (!state) throw new Error("health was not gathered");
    const { value, at } = state;
    return { ...value, uptime_s: Math.round(process.uptime()), age_ms: Math.round(performance.now() - at) };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One gathering at a time; callers during it share it. */
  private refresh(): Promise<void> {
    this.inFlight ??= (async () => {
      const at = performance.now();
      try {
        this.state = { value: await this.gather(), at };
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      void this.refresh()
        .catch(() => undefined)
        .finally(() => {
          this.timer = undefined;
          if (performance.now() - this.lastAsked < this.idleMs) this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }
}
