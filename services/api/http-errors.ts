/**
 * One JSON error shape for every failure the gateway answers: `{error: {type, message, data}}`
 * with the right status. Turns body-parser, moleculer-web and Moleculer errors into it.
 */
import { settleRefusedBody } from "./refused-body";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Errors, type LoggerInstance } from "moleculer";
import ApiGateway from "moleculer-web";
import {
  ERR_BAD_REQUEST,
  ERR_INTERNAL,
  ERR_NOT_FOUND,
  ERR_PAYLOAD_TOO_LARGE,
  ERR_RATE_LIMITED,
  ERR_UNAVAILABLE,
  ERR_VALIDATION,
  databaseClientError,
} from "../lib/errors";

export interface HttpError {
  status: number;
  type: string;
  message: string;
  data?: unknown;
  headers: Record<string, string>;
}

interface AnyError extends Error {
  code?: unknown;
  status?: unknown;
  type?: unknown;
  data?: unknown;
}

interface RoutedReq {
  method?: string;
  url?: string;
  originalUrl?: string;
}

function retryAfter(e: AnyError): string {
  const s = (e.data as { retryAfter?: unknown } | undefined)?.retryAfter;
  return String(typeof s === "number" && s >= 1 ? Math.ceil(s) : 1);
}

/** Maps any thrown value to the status, type, message and headers the client gets. */
export function toHttpError(err: unknown, req: RoutedReq, bodyLimitBytes: number): HttpError {
  const e = (err instanceof Error ? err : new Error(String(err))) as AnyError;
  // body-parser's errors carry `type` strings and an HTTP `status`.
  if (e.type === "entity.too.large") {
    return {
      status: 413,
      type: ERR_PAYLOAD_TOO_LARGE,
      message: `request body is larger than ${bodyLimitBytes} bytes`,
      data: { limit: bodyLimitBytes },
      headers: {},
    };
  }
  if (e.type === "entity.too.deep") {
    return { status: 400, type: ERR_BAD_REQUEST, message: e.message, headers: {} };
  }
  if (e.type === "entity.parse.failed") {
    return { status: 400, type: ERR_BAD_REQUEST, message: `request body is not valid JSON: ${e.message}`, headers: {} };
  }
  if (typeof e.type === "string" && typeof e.status === "number" && e.status >= 400 && e.status < 500) {
    return { status: e.status, type: ERR_BAD_REQUEST, message: e.message, headers: {} };
  }
  if (e instanceof Errors.ValidationError) {
    const fields = Array.isArray(e.data)
      ? (e.data as { field?: string; message?: string; type?: string; expected?: unknown; actual?: unknown }[])
      : [];
    const message = fields.length ? fields.map((f) => f.message ?? `${f.field} is invalid`).join("; ") : e.message;
    return { status: 422, type: ERR_VALIDATION, message, data: { fields }, headers: {} };
  }
  // A database error that is the caller's (SQLSTATE class 22, 23) reaching here unwrapped.
  const dataError = databaseClientError(e);
  if (dataError) return toHttpError(dataError, req, bodyLimitBytes);
  const code = typeof e.code === "number" ? e.code : 500;
  if (code === 429) {
    return {
      status: 429,
      type: ERR_RATE_LIMITED,
      message:
        e instanceof Errors.MoleculerError && e.type === ERR_RATE_LIMITED
          ? e.message
          : "too many requests: try again later",
      data: e.data ?? null,
      headers: { "Retry-After": retryAfter(e) },
    };
  }
  if (code === 404 && e.type === "NOT_FOUND") {
    return {
      status: 404,
      type: ERR_NOT_FOUND,
      message: `no route ${req.method} ${(req.originalUrl ?? req.url ?? "").split("?")[0]}`,
      headers: {},
    };
  }
  if (
    e instanceof Errors.ServiceNotAvailableError ||
    e instanceof Errors.ServiceNotFoundError ||
    // moleculer-web's own, for an alias whose service no node runs: built without a type.
    e instanceof ApiGateway.Errors.ServiceUnavailableError ||
    (code === 503 && e.type === "SERVICE_UNAVAILABLE")
  ) {
    // Name the action that is missing: it may not be the route's own (knowledge.query needs compute.emotion).
    const action = (e.data as { action?: unknown } | undefined)?.action;
    return {
      status: 503,
      type: ERR_UNAVAILABLE,
      message:
        typeof action === "string"
          ? `${action} is not running on any node reachable now`
          : "the service for this route is not running on any node",
      data: typeof action === "string" ? { action } : null,
      headers: { "Retry-After": "5" },
    };
  }
  if (code >= 400 && code < 600 && e instanceof Errors.MoleculerError) {
    const retry = (e.data as { retryAfter?: unknown } | undefined)?.retryAfter;
    const headers: Record<string, string> =
      code === 503 ? { "Retry-After": String(typeof retry === "number" ? retry : 5) } : {};
    // A MoleculerError built without a type has none, whatever its declared type says.
    const type = e.type as string | undefined;
    return { status: code, type: type ?? "ERR", message: e.message, data: e.data, headers };
  }
  return { status: 500, type: ERR_INTERNAL, message: "internal error", headers: {} };
}

/** Writes the error response unless headers are already out (then the connection is cut). */
export function sendHttpError(req: IncomingMessage, res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { type: err.type, message: err.message, data: err.data ?? null } });
  res.writeHead(err.status, {
    ...err.headers,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/**
 * The gateway's error handler (its `onError`, global and per route): the one JSON error shape;
 * a 5xx is logged with the request id, a 4xx is the caller's and is not.
 */
export function errorResponder(
  bodyLimitBytes: number,
  logger: LoggerInstance,
): (req: IncomingMessage & RoutedReq & { $requestId?: string }, res: ServerResponse, err: unknown) => void {
  return (req, res, err) => {
    const httpErr = toHttpError(err, req, bodyLimitBytes);
    if (httpErr.status >= 500) logger.error(`${req.method} ${req.url} (request ${req.$requestId}):`, err);
    // A refusal before the body was read (authorize's 401 on a streamed import, a 404 with a body):
    // read what is left within a bound, or close after the answer; never an unbounded read.
    void settleRefusedBody(req, res).then(() => {
      sendHttpError(req, res, httpErr);
    });
  };
}
