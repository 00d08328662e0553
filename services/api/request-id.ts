/**
 * Every request gets an id before it is routed: the caller's X-Request-Id (or X-Correlation-Id)
 * when well-formed, else a new one. It becomes the Moleculer context's requestID, goes back in the
 * X-Request-Id header, and names the request in error logs; the request's duration is recorded by
 * route when the response ends.
 */
import crypto from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { CallingOptions } from "moleculer";
import type { Histogram } from "prom-client";

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

interface RoutedReq extends IncomingMessage {
  $alias?: { fullPath?: string };
  $requestId?: string;
}

/**
 * moleculer-web's `rootCallOptions` as a function: its public hook, called for every request
 * before routing with the options of the root context (moleculer-web 0.10 CHANGELOG, "New
 * `rootCallOptions` options"). It replaces overriding the gateway's `httpHandler` method.
 */
export function requestIdentity(
  requestDuration: Histogram<"route" | "method" | "status">,
): (options: CallingOptions, req: RoutedReq, res: ServerResponse) => void {
  return (options, req, res) => {
    const given = req.headers["x-request-id"] ?? req.headers["x-correlation-id"];
    const id = typeof given === "string" && REQUEST_ID_RE.test(given) ? given : crypto.randomUUID();
    req.headers["x-request-id"] = id;
    delete req.headers["x-correlation-id"];
    req.$requestId = id;
    options.requestID = id;
    res.setHeader("X-Request-Id", id);
    const started = process.hrtime.bigint();
    res.once("finish", () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.$alias?.fullPath ?? "unmatched";
      requestDuration.observe({ route, method: req.method ?? "GET", status: String(res.statusCode) }, seconds);
    });
  };
}
