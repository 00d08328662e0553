/**
 * Every REST alias of the gateway. mappingPolicy "restrict": only what is listed here is
 * reachable over HTTP. Actions that change shared state declare `admin: true` in their own
 * schema; the gateway then asks for an API key.
 */
export const API_ALIASES: Record<string, string> = {
  "GET health": "api.health",
  "POST admin/cache/clear": "api.cacheClear",
  "GET datasets": "datasets.list",
  "GET datasets/:domain/examples": "datasets.examples",
  "POST datasets/:domain/examples": "datasets.add",
  "POST datasets/:domain/import": "stream:datasets.import",
  "GET examples/:id": "datasets.get",
  "DELETE examples/:id": "datasets.remove",
  "GET search": "datasets.search",
  "POST admin/datasets/rotate": "datasets.rotate",
  "POST fft": "compute.fft",
  "POST cymatic/pattern": "compute.cymatic",
  "POST emotion/analyze": "compute.emotion",
};

/** Aliases at the root: Prometheus scrapes /metrics (every node's registry, merged). */
export const ROOT_ALIASES: Record<string, string> = {
  "GET metrics": "metrics.scrape",
};
