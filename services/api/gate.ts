/**
 * What every request meets before routing, whatever its path (api, static files, /metrics, a
 * 404): the security headers, HEAD answered as GET without a body, an unknown API key refused with
 * 401 (never a fresh rate-limit bucket), the sliding-window rate limit of its class, and OPTIONS
 * answered here (CORS preflight or Allow), so no OPTIONS request ever reaches an action.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Config } from "../lib/config";
import { RateLimitedError, UnauthorizedError } from "../lib/errors";
import { isValidKey, keyId, presentedKey } from "./api-keys";
import type { RateLimitStore } from "./rate-limit-store";
import { settleRefusedBody } from "./refused-body";

/** The rate-limit budgets: API calls, the web client and dashboard files, and /metrics. */
export type RequestClass = "api" | "static" | "metrics";

/** Headers on every response; HTML pages replace the CSP with theirs (static-files.ts). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
});

const ALLOW = "GET, HEAD, POST, DELETE, OPTIONS";

/** A request as the gate marks it: `$head` when it came as HEAD (routed as GET, answered without a body). */
export interface GatedRequest extends IncomingMessage {
  $head?: boolean;
  /** The client's identity for limits: its key's id when it shows a valid key, else its address. */
  $client?: string;
}

export interface GateOptions {
  config: Config;
  /** Present when RATE_LIMIT > 0. */
  store?: RateLimitStore;
  /** The admin keys accepted now (API_KEYS, plus the embedded node's local token). */
  acceptedKeys(): readonly string[];
  /** Writes the CORS headers of a preflight, when CORS is on. */
  /** Writes the CORS headers (a preflight's too); throws 403 for an origin not allowed. */
  writeCors?(req: IncomingMessage, res: ServerResponse, preflight: boolean): void;
  onError(req: IncomingMessage, res: ServerResponse, err: unknown): void;
}

/** Which budget a path draws on. */
export function requestClass(pathname: string): RequestClass {
  if (pathname === "/metrics" || pathname === "/metrics/") return "metrics";
  if (pathname === "/api" || pathname.startsWith("/api/")) return "api";
  return "static";
}

/** The variable that sets each class's budget (named in a 429). */
const BUDGET_VARIABLE: Record<RequestClass, string> = {
  api: "RATE_LIMIT",
  static: "RATE_LIMIT_STATIC",
  metrics: "RATE_LIMIT_METRICS",
};

function budget(config: Config, cls: RequestClass): number {
  if (cls === "api") return config.rateLimit;
  return cls === "static" ? config.gateway.rateLimitStatic : config.gateway.rateLimitMetrics;
}

/** The client's identity, or a 401 when it shows a key that is not one of ours. */
function identify(req: GatedRequest, accepted: readonly string[]): string {
  const key = presentedKey(req);
  if (key === undefined) {
    // A malformed Authorization header (not `Bearer <key>`) is a key we cannot accept either.
    if (typeof req.headers.authorization === "string" && /^bearer\b/i.test(req.headers.authorization.trim())) {
      throw new UnauthorizedError("the API key is not valid");
    }
    return `ip:${req.socket.remoteAddress ?? "unknown"}`;
  }
  if (accepted.length === 0 || !isValidKey(key, accepted)) throw new UnauthorizedError("the API key is not valid");
  return `key:${keyId(key)}`;
}

async function limit(o: GateOptions, req: GatedRequest, res: ServerResponse, client: string): Promise<void> {
  if (!o.store) return;
  const cls = requestClass((req.url ?? "/").split("?")[0]);
  const max = budget(o.config, cls);
  if (max <= 0) return;
  const r = await o.store.hit(`${cls}:${client}`, max, o.config.rateLimitWindowMs);
  res.setHeader("X-Rate-Limit-Limit", max);
  res.setHeader("X-Rate-Limit-Remaining", Math.max(0, max - r.count));
  res.setHeader("X-Rate-Limit-Reset", Math.ceil((Date.now() + r.resetMs) / 1000));
  if (!r.allowed) {
    const windowS = o.config.rateLimitWindowMs / 1000;
    throw new RateLimitedError(
      `too many requests: at most ${max} per ${windowS} s for ${cls} routes (${BUDGET_VARIABLE[cls]}), try again in ${Math.max(1, Math.ceil(r.resetMs / 1000))} s`,
      r.resetMs / 1000,
      { limit: max, window_s: windowS, routes: cls, variable: BUDGET_VARIABLE[cls] },
    );
  }
}

function answerOptions(o: GateOptions, req: GatedRequest, res: ServerResponse): void {
  o.writeCors?.(req, res, true);
  res.writeHead(204, { Allow: ALLOW, "Content-Length": "0" });
  res.end();
}

/**
 * Runs the gate; true when it has answered the request (OPTIONS, 401, 429), false when the
 * request goes on to routing.
 */
export async function gate(o: GateOptions, req: GatedRequest, res: ServerResponse): Promise<boolean> {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  if (req.method === "HEAD") {
    // node already answers a HEAD without a body (the response knows its request's method).
    req.method = "GET";
    req.$head = true;
  }
  try {
    // Admin keys (and the local token) and client keys (CLIENT_KEYS: job owners) are ours; any other is a 401.
    req.$client = identify(req, [...o.acceptedKeys(), ...o.config.clientKeys]);
    await limit(o, req, res, req.$client);
    if (req.method === "OPTIONS") {
      answerOptions(o, req, res);
      return true;
    }
  } catch (err) {
    // A 401, a 429, or a preflight from an origin CORS does not allow (403). A browser reads the
    // first two (and their Retry-After) only with the CORS headers of an allowed origin.
    // The body is not read past here: drop it before answering, so a client still sending (an
    // import's file) reads this answer instead of a reset socket (Node closes a connection whose
    // request was not read to its end, and data arriving after that close is answered by a reset).
    // Only a small body is read so: past the bound the connection closes after the answer.
    await settleRefusedBody(req, res);
    if (req.method !== "OPTIONS") {
      try {
        o.writeCors?.(req, res, false);
      } catch {
        // an origin CORS does not allow: the error goes without them
      }
    }
    o.onError(req, res, err);
    return true;
  }
  return false;
}
