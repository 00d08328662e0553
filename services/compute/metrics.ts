/** The compute pool's series in this node's registry. */
import type { ServiceBroker } from "moleculer";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ComputePool } from "../../compute/pool";
import type { PlanStats } from "../../compute/lib/fft";
import { metricsOf, registered } from "../lib/metrics";

export interface ComputeMetrics {
  taskDone(task: string, seconds: number, ok: boolean): void;
  plans(stats: PlanStats): void;
}

// The gauges outlive a service that is stopped and created again: they read the current pool.
const currentPool = new WeakMap<Registry, () => ComputePool | undefined>();

/** Registers (once per registry) and returns the recorders; gauges read the pool at scrape time. */
export function computeMetrics(broker: ServiceBroker, getPool: () => ComputePool | undefined): ComputeMetrics {
  const registry = metricsOf(broker).registry;
  currentPool.set(registry, getPool);
  const pool = () => currentPool.get(registry)?.();
  const duration = registered(
    registry,
    "mcai_compute_task_duration_seconds",
    () =>
      new Histogram({
        name: "mcai_compute_task_duration_seconds",
        help: "Compute tasks run in the worker pool, by task and outcome",
        labelNames: ["task", "outcome"] as const,
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
        registers: [registry],
      }),
  );
  const planCounter = registered(
    registry,
    "mcai_fft_plans_total",
    () =>
      new Counter({
        name: "mcai_fft_plans_total",
        help: "FFT plan lookups in the worker threads: hit (reused) or miss (built)",
        labelNames: ["result"] as const,
        registers: [registry],
      }),
  );
  registered(
    registry,
    "mcai_compute_pool_utilization",
    () =>
      new Gauge({
        name: "mcai_compute_pool_utilization",
        help: "Share of the pool's thread time spent running tasks since it started (0..1)",
        registers: [registry],
        collect() {
          this.set(pool()?.stats().utilization ?? 0);
        },
      }),
  );
  registered(
    registry,
    "mcai_compute_queue_size",
    () =>
      new Gauge({
        name: "mcai_compute_queue_size",
        help: "Compute tasks waiting for a thread",
        registers: [registry],
        collect() {
          this.set(pool()?.stats().queueSize ?? 0);
        },
      }),
  );
  return {
    taskDone: (task, seconds, ok) => duration.observe({ task, outcome: ok ? "ok" : "failed" }, seconds),
    plans: (s) => {
      if (s.hits) planCounter.inc({ result: "hit" }, s.hits);
      if (s.misses) planCounter.inc({ result: "miss" }, s.misses);
    },
  };
}
