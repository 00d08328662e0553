/** CORS of the gateway: off unless CORS_ORIGINS names origins ("*" for any). */
import type { CorsOptions } from "moleculer-web";
import type { Config } from "../lib/config";
import { OWNER_TOKEN_HEADER } from "../jobs/contract";

/** The CORS settings for moleculer-web, or undefined (no CORS headers at all) when no origin is configured. */
export function corsSettings(config: Pick<Config, "corsOrigins">): CorsOptions | undefined {
  if (!config.corsOrigins.length) return undefined;
  return {
    origin: config.corsOrigins.includes("*") ? "*" : [...config.corsOrigins],
    methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    allowedHeaders: [
      "Content-Type",
      "Authorization",
      "X-Api-Key",
      "X-Request-Id",
      "Idempotency-Key",
      "Last-Event-ID",
      OWNER_TOKEN_HEADER,
    ],
    // What a browser's script may read: the owner token a submit issues (sent back to see the job),
    // and Retry-After on a 429 or 503.
    exposedHeaders: [
      "X-Request-Id",
      OWNER_TOKEN_HEADER,
      "Retry-After",
      "X-Rate-Limit-Limit",
      "X-Rate-Limit-Remaining",
      "X-Rate-Limit-Reset",
    ],
    maxAge: 600,
  };
}
