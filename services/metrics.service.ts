/**
 * Metrics of this node (prom-client) and of the whole cluster: `scrape` asks every live node
 * running this service for its registry, within a bound, and merges them.
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { AggregatorRegistry, Counter, type Registry } from "prom-client";
import { metricsOf } from "./lib/metrics";

type RegistryJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

/** A node that does not answer within this bound is skipped and counted. */
export const SCRAPE_NODE_TIMEOUT_MS = 2000;

/** Params of metrics.snapshot and metrics.scrape (none). */
export type SnapshotParams = Record<string, never>;

interface MetricsThis extends Service {
  scrapeErrors: Counter<"scraped_node">;
}

const metricsService: ServiceSchema<ServiceSettingSchema, MetricsThis> = {
  name: "metrics",

  actions: {
    /** This node's registry as prom-client JSON (for AggregatorRegistry.aggregate). */
    snapshot: {
      params: {},
      visibility: "public",
      async handler(this: MetricsThis): Promise<RegistryJson> {
        return (await metricsOf(this.broker).registry.getMetricsAsJSON()) as RegistryJson;
      },
    },

    /**
     * Every live node's registry merged, in Prometheus text format. Series stay apart by
     * node_id; a node that fails or times out is skipped and counted in mcai_scrape_errors_total.
     */
    scrape: {
      params: {},
      async handler(this: MetricsThis, ctx: Context): Promise<string> {
        const list = this.broker.registry.getServiceList({ onlyAvailable: true, skipInternal: true }) as unknown as { name: string; nodeID: string }[];
        const nodes = [...new Set(list.filter((s) => s.name === "metrics").map((s) => s.nodeID))];
        const results = await Promise.allSettled(
          nodes.map((nodeID) =>
            ctx.call<RegistryJson, SnapshotParams>("metrics.snapshot", {}, { nodeID, timeout: SCRAPE_NODE_TIMEOUT_MS, retries: 0 }),
          ),
        );
        const snapshots: RegistryJson[] = [];
        results.forEach((r, i) => {
          if (r.status === "fulfilled") snapshots.push(r.value);
          else {
            this.scrapeErrors.inc({ scraped_node: nodes[i] });
            this.logger.warn(`scrape of node ${nodes[i]} failed: ${(r.reason as Error).message}`);
          }
        });
        const merged = AggregatorRegistry.aggregate(snapshots);
        (ctx.meta as { $responseType?: string }).$responseType = merged.contentType;
        return merged.metrics();
      },
    },
  },

  created(this: MetricsThis) {
    const registry = metricsOf(this.broker).registry;
    // The registry outlives the service (a service reloaded on a running node finds it there).
    this.scrapeErrors =
      (registry.getSingleMetric("mcai_scrape_errors_total") as Counter<"scraped_node"> | undefined) ??
      new Counter({
        name: "mcai_scrape_errors_total",
        help: "Nodes skipped by a cluster scrape because they failed or did not answer in time",
        labelNames: ["scraped_node"] as const,
        registers: [registry],
      });
  },
};

export default metricsService;
