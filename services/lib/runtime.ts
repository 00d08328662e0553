import type { ServiceBroker } from "moleculer";
import type { Config } from "./config";
import type { Db } from "./db";

/** What the program hands to the services of one broker: its config and, where needed, its database. */
export interface Runtime {
  readonly config: Config;
  /** Present on nodes that run a service needing the Postgres layer. */
  readonly db?: Db;
  /** This node opened the embedded database in config.dataDir and owns that folder. */
  readonly ownsDataDir?: boolean;
}

const runtimes = new WeakMap<ServiceBroker, Runtime>();

/** Binds a runtime to a broker before its services load. */
export function attachRuntime(broker: ServiceBroker, runtime: Runtime): void {
  runtimes.set(broker, runtime);
}

/** The runtime of the broker a service runs in. */
export function runtimeOf(broker: ServiceBroker): Runtime {
  const r = runtimes.get(broker);
  if (!r) throw new Error(`no runtime attached to broker ${broker.nodeID}`);
  return r;
}

/**
 * The configuration of the node a service runs in: the one way services read configuration
 * (`configOf(this.broker).jobs`), never process.env.
 */
export function configOf(broker: ServiceBroker): Config {
  return runtimeOf(broker).config;
}

/** The database of this node. @throws when this node has none (a service needing it was placed wrongly). */
export function dbOf(broker: ServiceBroker): Db {
  const db = runtimeOf(broker).db;
  if (!db) throw new Error(`node ${broker.nodeID} has no database: start it with a service that needs one`);
  return db;
}
