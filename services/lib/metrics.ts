/**
 * This node's prom-client registry. Every service records into the registry of its broker;
 * the metrics service serves it, and the gateway merges every node's.
 */
import type { ServiceBroker } from "moleculer";
import { Registry, collectDefaultMetrics, Counter, Gauge, Histogram } from "prom-client";

export interface NodeMetrics {
  registry: Registry;
  requestDuration: Histogram<"route" | "method" | "status">;
  memoryWarnings: Counter;
}

const byBroker = new WeakMap<ServiceBroker, NodeMetrics>();

/** The registry of this broker's node, created with the default metrics on first use. */
export function metricsOf(broker: ServiceBroker): NodeMetrics {
  let m = byBroker.get(broker);
  if (m) return m;
  const registry = new Registry();
  registry.setDefaultLabels({ node_id: broker.nodeID });
  collectDefaultMetrics({ register: registry });
  m = {
    registry,
    requestDuration: new Histogram({
      name: "mcai_request_duration_seconds",
      help: "HTTP requests through the gateway, by route pattern, method and status",
      labelNames: ["route", "method", "status"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    memoryWarnings: new Counter({
      name: "mcai_memory_warnings_total",
      help: "Times this node's resident memory was found above MEMORY_WARN_MB",
      registers: [registry],
    }),
  };
  new Gauge({
    name: "mcai_worker_memory_bytes",
    help: "Resident memory of this node's process (RSS), bytes",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  byBroker.set(broker, m);
  return m;
}

/**
 * The metric `name` of `registry`, made by `make` the first time. A registry outlives its
 * services (a service stopped and created again on a running node finds its metrics there).
 */
export function registered<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}
