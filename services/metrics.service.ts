/**
 * Metrics of this node (prom-client) and of the whole cluster: `scrape` asks every live node
 * running this service (every node runs it) for its registry, within a bound, and merges them;
 * `summary` turns the merged registry into the dashboard's figures. A memory guardrail warns when
 * this node's RSS passes MEMORY_WARN_MB.
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { AggregatorRegistry, Counter, type Registry } from "prom-client";
import { metricsOf, registered } from "./lib/metrics";
import { configOf } from "./lib/runtime";
import type { NodeStatus } from "./metrics/contract";
import { summarize, type Summary } from "./metrics/summary";

type RegistryJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

/** A node that does not answer within this bound is skipped and counted. */
export const SCRAPE_NODE_TIMEOUT_MS = 2000;
const MEMORY_CHECK_MS = 5000;
const MEMORY_WARN_EVERY_MS = 60_000;

/** Params of metrics.snapshot, scrape, summary and status (none). */
export type SnapshotParams = Record<string, never>;

/** A merged scrape: its text, its content type, and when it was made. */
interface Scrape {
  text: string;
  contentType: string;
  at: number;
}

interface MetricsThis extends Service {
  scrapeErrors: Counter<"scraped_node">;
  /** The scrape being merged now (callers share it) and the last one (reused for METRICS_CACHE_MS). */
  scraping?: Promise<Scrape>;
  lastScrape?: Scrape;
  mergedScrape(ctx: Context): Promise<Scrape>;
  memoryTimer?: NodeJS.Timeout;
  lastWarn: number;
  collect(ctx: Context): Promise<RegistryJson[]>;
  status(): NodeStatus;
}

const metricsService: ServiceSchema<ServiceSettingSchema, MetricsThis> = {
  name: "metrics",

  actions: {
    /** This node's registry as prom-client JSON (for AggregatorRegistry.aggregate). */
    snapshot: {
      params: {},
      visibility: "public",
      async handler(this: MetricsThis): Promise<RegistryJson> {
        return metricsOf(this.broker).registry.getMetricsAsJSON();
      },
    },

    /**
     * Every live node's registry merged, in Prometheus text format. Series stay apart by
     * node_id; a node that fails or times out is skipped and counted in mcai_scrape_errors_total.
     * One merge runs at a time (concurrent scrapes share it) and its result is reused for
     * METRICS_CACHE_MS, so a flood of scrapes costs one merge per interval.
     */
    scrape: {
      params: {},
      async handler(this: MetricsThis, ctx: Context): Promise<string> {
        const scrape = await this.mergedScrape(ctx);
        (ctx.meta as { $responseType?: string }).$responseType = scrape.contentType;
        return scrape.text;
      },
    },

    /** The dashboard's figures for the cluster: per route, cache tier, job kind and node. */
    summary: {
      params: {},
      async handler(this: MetricsThis, ctx: Context): Promise<Summary> {
        return summarize(await AggregatorRegistry.aggregate(await this.collect(ctx)).getMetricsAsJSON());
      },
    },

    /** This node's memory and guardrail. */
    status: {
      params: {},
      visibility: "public",
      handler(this: MetricsThis): NodeStatus {
        return this.status();
      },
    },
  },

  methods: {
    mergedScrape(this: MetricsThis, ctx: Context): Promise<Scrape> {
      const cacheMs = configOf(this.broker).gateway.metricsCacheMs;
      if (this.lastScrape && Date.now() - this.lastScrape.at < cacheMs) return Promise.resolve(this.lastScrape);
      if (this.scraping) return this.scraping;
      const run = async (): Promise<Scrape> => {
        const merged = AggregatorRegistry.aggregate(await this.collect(ctx));
        return { text: await merged.metrics(), contentType: merged.contentType, at: Date.now() };
      };
      this.scraping = run()
        .then((s) => (this.lastScrape = s))
        .finally(() => (this.scraping = undefined));
      return this.scraping;
    },

    async collect(this: MetricsThis, ctx: Context) {
      const list = this.broker.registry.getServiceList({ onlyAvailable: true, skipInternal: true }) as unknown as {
        name: string;
        nodeID: string;
      }[];
      const nodes = [...new Set(list.filter((s) => s.name === "metrics").map((s) => s.nodeID))];
      const results = await Promise.allSettled(
        nodes.map((nodeID) =>
          ctx.call<RegistryJson, SnapshotParams>(
            "metrics.snapshot",
            {},
            { nodeID, timeout: SCRAPE_NODE_TIMEOUT_MS, retries: 0 },
          ),
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
      return snapshots;
    },

    status(this: MetricsThis): NodeStatus {
      const warnMb = configOf(this.broker).memoryWarnMb;
      const rss = process.memoryUsage.rss();
      return {
        node_id: this.broker.nodeID,
        rss_bytes: rss,
        memory_warn_mb: warnMb,
        over: warnMb > 0 && rss > warnMb * 1024 * 1024,
      };
    },
  },

  created(this: MetricsThis) {
    const registry = metricsOf(this.broker).registry;
    this.lastWarn = 0;
    // The registry outlives the service (a service reloaded on a running node finds it there).
    this.scrapeErrors = registered(
      registry,
      "mcai_scrape_errors_total",
      () =>
        new Counter({
          name: "mcai_scrape_errors_total",
          help: "Nodes skipped by a cluster scrape because they failed or did not answer in time",
          labelNames: ["scraped_node"] as const,
          registers: [registry],
        }),
    );
  },

  started(this: MetricsThis) {
    const check = () => {
      const s = this.status();
      if (!s.over) return;
      metricsOf(this.broker).memoryWarnings.inc();
      if (Date.now() - this.lastWarn < MEMORY_WARN_EVERY_MS) return;
      this.lastWarn = Date.now();
      this.logger.warn(
        `memory: RSS ${Math.round(s.rss_bytes / 1048576)} MB is over MEMORY_WARN_MB=${s.memory_warn_mb}`,
      );
    };
    check();
    this.memoryTimer = setInterval(check, MEMORY_CHECK_MS);
    this.memoryTimer.unref();
  },

  stopped(this: MetricsThis) {
    clearInterval(this.memoryTimer);
  },
};

export default metricsService;
