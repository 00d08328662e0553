/** CORS of the gateway: off unless CORS_ORIGINS names origins ("*" for any). */
import type { CorsOptions } from "moleculer-web";
import type { Config } from "../lib/config";

/** The CORS settings for moleculer-web, or undefined (no CORS headers at all) when no origin is configured. */
export function corsSettings(config: Pick<Config, "corsOrigins">): CorsOptions | undefined {
  if (!config.corsOrigins.length) return undefined;
  return {
    origin: config.corsOrigins.includes("*") ? "*" : [...config.corsOrigins],
    methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    allowedHeaders: ["Content-Type", "Authorization", "X-Api-Key", "X-Request-Id", "Idempotency-Key", "Last-Event-ID"],
    exposedHeaders: [
      "X-Request-Id",
      "Retry-After",
      "X-Rate-Limit-Limit",
      "X-Rate-Limit-Remaining",
      "X-Rate-Limit-Reset",
    ],
    maxAge: 600,
  };
}
