/** The job series in this node's registry. */
import type { ServiceBroker } from "moleculer";
import { Counter, Gauge, Histogram } from "prom-client";
import type { Db } from "../lib/db";
import { metricsOf, registered } from "../lib/metrics";
import { waitingByKind } from "./store";

export interface JobMetrics {
  finished: Counter<"kind" | "status">;
  duration: Histogram<"kind">;
}

export function jobMetrics(broker: ServiceBroker, db: Db): JobMetrics {
  const registry = metricsOf(broker).registry;
  registered(
    registry,
    "mcai_jobs_waiting",
    () =>
      new Gauge({
        name: "mcai_jobs_waiting",
        help: "Jobs queued or processing in the cluster, by kind and status (read from the job store)",
        labelNames: ["kind", "status"] as const,
        // Every jobs node reads the same store: merging node registries takes one value, not the sum.
        aggregator: "max",
        registers: [registry],
        async collect() {
          this.reset();
          for (const r of await waitingByKind(db).catch(() => [])) this.set({ kind: r.kind, status: r.status }, r.n);
        },
      }),
  );
  return {
    finished: registered(
      registry,
      "mcai_jobs_total",
      () =>
        new Counter({
          name: "mcai_jobs_total",
          help: "Jobs finished on this node, by kind and final status",
          labelNames: ["kind", "status"] as const,
          registers: [registry],
        }),
    ),
    duration: registered(
      registry,
      "mcai_job_duration_seconds",
      () =>
        new Histogram({
          name: "mcai_job_duration_seconds",
          help: "Time from a job's start to its completion",
          labelNames: ["kind"] as const,
          buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
          registers: [registry],
        }),
    ),
  };
}
