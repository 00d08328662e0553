/** The dashboard's figures, computed from the cluster's merged registry. */
import type { Registry } from "prom-client";
import { JOB_STATUSES, type JobStatus } from "../jobs/contract";

type MetricJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>[number];
interface Value {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export interface Summary {
  at: number;
  routes: { route: string; method: string; count: number; errors: number; p95_ms: number | null }[];
  cache: Record<string, { hits: number; misses: number }>;
  /** Per kind: jobs waiting (queued, processing) in the store, and finished ones by final status. */
  jobs: ({ kind: string } & Record<JobStatus, number>)[];
  nodes: { node_id: string; rss_bytes: number; pool_utilization: number | null }[];
  /** Feedback votes stored since the nodes started (mcai_feedback_total), by helpful. */
  feedback: { helpful: number; unhelpful: number };
}

function values(all: MetricJson[], name: string): Value[] {
  return (all.find((m) => m.name === name)?.values ?? []) as Value[];
}

/** The 95th percentile from cumulative histogram buckets, interpolated within the bucket. */
export function p95FromBuckets(buckets: { le: number; count: number }[]): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted[sorted.length - 1]?.count ?? 0;
  if (!total) return null;
  const target = 0.95 * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= target) {
      if (!Number.isFinite(b.le)) return prevLe;
      const frac = b.count === prevCount ? 1 : (target - prevCount) / (b.count - prevCount);
      return prevLe + (b.le - prevLe) * frac;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

export function summarize(all: MetricJson[]): Summary {
  const routes = new Map<
    string,
    { route: string; method: string; count: number; errors: number; buckets: Map<number, number> }
  >();
  for (const v of values(all, "mcai_request_duration_seconds")) {
    const key = `${v.labels.method} ${v.labels.route}`;
    const r = routes.get(key) ?? {
      route: String(v.labels.route),
      method: String(v.labels.method),
      count: 0,
      errors: 0,
      buckets: new Map<number, number>(),
    };
    if (v.metricName?.endsWith("_count")) {
      r.count += v.value;
      if (Number(v.labels.status) >= 500) r.errors += v.value;
    } else if (v.metricName?.endsWith("_bucket")) {
      const le = v.labels.le === "+Inf" ? Infinity : Number(v.labels.le);
      r.buckets.set(le, (r.buckets.get(le) ?? 0) + v.value);
    }
    routes.set(key, r);
  }
  const cache: Summary["cache"] = {};
  for (const [name, field] of [
    ["mcai_cache_hits_total", "hits"],
    ["mcai_cache_misses_total", "misses"],
  ] as const) {
    for (const v of values(all, name)) {
      const tier = String(v.labels.tier);
      cache[tier] ??= { hits: 0, misses: 0 };
      cache[tier][field] += v.value;
    }
  }
  const feedback = { helpful: 0, unhelpful: 0 };
  for (const v of values(all, "mcai_feedback_total"))
    feedback[String(v.labels.helpful) === "true" ? "helpful" : "unhelpful"] += v.value;
  const jobs = new Map<string, Summary["jobs"][number]>();
  const job = (kind: string) => {
    let j = jobs.get(kind);
    if (!j) {
      j = { kind, ...(Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>) };
      jobs.set(kind, j);
    }
    return j;
  };
  for (const name of ["mcai_jobs_waiting", "mcai_jobs_total"])
    for (const v of values(all, name)) job(String(v.labels.kind))[v.labels.status as JobStatus] += v.value;
  const nodes = new Map<string, Summary["nodes"][number]>();
  for (const v of values(all, "mcai_worker_memory_bytes"))
    nodes.set(String(v.labels.node_id), {
      node_id: String(v.labels.node_id),
      rss_bytes: v.value,
      pool_utilization: null,
    });
  for (const v of values(all, "mcai_compute_pool_utilization")) {
    const n = nodes.get(String(v.labels.node_id));
    if (n) n.pool_utilization = v.value;
  }
  return {
    at: Date.now(),
    routes: [...routes.values()]
      .map((r) => ({
        route: r.route,
        method: r.method,
        count: r.count,
        errors: r.errors,
        p95_ms: (() => {
          const p = p95FromBuckets([...r.buckets].map(([le, count]) => ({ le, count })));
          return p === null ? null : Math.round(p * 1e5) / 100;
        })(),
      }))
      .sort((a, b) => b.count - a.count),
    cache,
    jobs: [...jobs.values()].sort((a, b) => a.kind.localeCompare(b.kind)),
    nodes: [...nodes.values()].sort((a, b) => a.node_id.localeCompare(b.node_id)),
    feedback,
  };
}
