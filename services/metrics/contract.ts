/** What callers of the metrics service need: the answer of `metrics.status` (the gateway's health reads it). */

/** A node's memory against its guardrail (MEMORY_WARN_MB). */
export interface NodeStatus {
  node_id: string;
  rss_bytes: number;
  memory_warn_mb: number;
  over: boolean;
}
