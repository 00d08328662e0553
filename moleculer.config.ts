/**
 * Broker options from mcai's config: the one place that turns TRANSPORTER, CACHER, NODE_ID,
 * heartbeats and shutdown bounds into Moleculer settings.
 */
import { Validators, type BrokerOptions } from "moleculer";
import type { Config } from "./services/lib/config";
import { McaiErrorRegenerator } from "./services/lib/errors";

type Checker = ((params: unknown, opts: unknown) => unknown) & { async?: boolean };

/**
 * Moleculer's fastest-validator, compiling each action's params schema on the action's first call
 * instead of at start: a start compiles ~130 schemas (tens of ms) for actions most nodes never
 * serve. Moleculer reads `check.async` only after calling `check`, so the getter sees the compiled
 * checker. A schema fastest-validator cannot compile fails that action's calls, not the start.
 */
export class LazyValidator extends Validators.Fastest {
  /** Schemas compiled so far (tests read it). */
  compiled = 0;

  constructor(opts: { messages?: Record<string, string> } = {}) {
    // Moleculer hands its options to fastest-validator (custom messages among them); its typings declare none.
    super(...([opts] as unknown as []));
  }

  compile(schema: Record<string, unknown>): Checker {
    let checker: Checker | undefined;
    const get = (): Checker => {
      if (!checker) {
        checker = super.compile(schema) as Checker;
        this.compiled++;
      }
      return checker;
    };
    const check: Checker = (params, opts) => get()(params, opts);
    Object.defineProperty(check, "async", { get: () => get().async === true });
    return check;
  }
}

/**
 * fastest-validator messages mcai words differently. Its own `enumValue` puts the allowed values
 * where the value sent belongs ("The 'plate' field value 'square, circle' does not match any of
 * the allowed values."): this one names what was sent and what is allowed.
 */
export const VALIDATOR_MESSAGES = {
  enumValue: "The '{field}' field value '{actual}' is not one of the allowed values: {expected}.",
};

/** Node metadata every peer sees through discovery (the gateway's health reads it). */
export interface NodeMetadata {
  version: string;
  startedAt: string;
  db: { driver: "pglite" | "postgres"; vector: boolean } | null;
  /** Set on short-lived nodes (the REPL) that run no services. */
  role?: "repl";
  [key: string]: unknown;
}

/** ioredis options from a redis:// URL, failing fast while Redis is away instead of queueing. */
export function redisOptions(url: string): Record<string, unknown> {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: u.username || undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: Number(u.pathname.slice(1) || 0),
    tls: u.protocol === "rediss:" ? {} : undefined,
    // A cache that is down is a miss, at once: callers fall back to the durable tier.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 500,
  };
}

function cacherOptions(config: Config): BrokerOptions["cacher"] {
  if (config.cacher === "memory") return { type: "MemoryLRU", options: { max: 10_000, ttl: 3600 } };
  return {
    type: "Redis",
    options: { redis: redisOptions(config.cacher), prefix: `${config.namespace}-cache`, ttl: 3600, monitor: false },
  };
}

/** Moleculer broker options for a node. */
export function brokerOptions(config: Config, metadata: NodeMetadata): BrokerOptions {
  return {
    namespace: config.namespace,
    nodeID: config.nodeId,
    metadata,
    transporter: config.transporter ?? null,
    cacher: cacherOptions(config),
    serializer: "JSON",
    validator: new LazyValidator({ messages: VALIDATOR_MESSAGES }),
    // mcai's error classes (404, 413, 422, 503...) keep their class and status across the transporter.
    errorRegenerator: new McaiErrorRegenerator(),
    logger: {
      type: "Console",
      options: {
        level: config.logLevel,
        formatter: "short",
        // isTTY is typed boolean but is undefined when stdout is not a terminal.
        colors: (process.stdout.isTTY as boolean | undefined) === true,
        moduleColors: false,
      },
    },
    requestTimeout: config.requestTimeoutMs,
    retryPolicy: { enabled: false },
    heartbeatInterval: config.heartbeatIntervalS,
    heartbeatTimeout: config.heartbeatTimeoutS,
    registry: { strategy: "RoundRobin", preferLocal: true },
    // A node that is gone fails fast instead of eating the request timeout.
    circuitBreaker: { enabled: true, threshold: 0.5, minRequestCount: 20, windowTime: 30, halfOpenTime: 10_000 },
    // Lets broker.stop() wait for in-flight calls before services stop (graceful SIGTERM).
    tracking: { enabled: true, shutdownTimeout: config.shutdownTimeoutMs },
    // The program installs its own SIGTERM/SIGINT handling (see bin/commands/start.ts).
    skipProcessEventRegistration: true,
    internalServices: true,
    metrics: false,
    tracing: false,
  };
}
