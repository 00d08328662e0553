/**
 * This node's prom-client registry. Every service records into the registry of its broker;
 * the metrics service serves it, and the gateway merges every node's.
 */
import type { ServiceBroker } from "moleculer";
import { Registry, collectDefaultMetrics, Histogram } from "prom-client";

export interface NodeMetrics {
  registry: Registry;
  requestDuration: Histogram<"route" | "method" | "status">;
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
  };
  byBroker.set(broker, m);
  return m;
}
