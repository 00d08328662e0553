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
  "POST art/generate-async": "jobs.submitArt",
  "POST music/generate-async": "jobs.submitMusic",
  "POST cymatic/analyze-async": "jobs.submitCymatic",
  "POST video/generate-async": "jobs.submitVideo",
  "POST emotion/analyze-async": "jobs.submitEmotion",
  "GET job/:id": "jobs.get",
  "DELETE job/:id": "jobs.cancel",
  "POST job/:id/retry": "jobs.retry",
  "GET jobs": "jobs.list",
  "GET artifacts/:id": "jobs.artifact",
  "POST knowledge/query": "knowledge.query",
  "GET knowledge": "knowledge.query",
  "GET knowledge/datasets/:domain": "knowledge.dataset",
  "GET emotions": "knowledge.emotions",
  "GET emotions/:name": "knowledge.emotion",
  "GET admin/cache/stats": "knowledge.cacheStats",
  "POST admin/knowledge/cache/clear": "knowledge.cacheClear",
  "GET metrics/summary": "metrics.summary",
  "POST fft": "compute.fft",
  "POST cymatic/pattern": "compute.cymatic",
  "POST emotion/analyze": "compute.emotion",
};

/** Aliases at the root: Prometheus scrapes /metrics (every node's registry, merged). */
export const ROOT_ALIASES: Record<string, string> = {
  "GET metrics": "metrics.scrape",
};
