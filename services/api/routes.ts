/**
 * The gateway's routes. mappingPolicy "restrict": only the aliases listed here are reachable over
 * HTTP. Actions that change shared state declare `admin: true` in their own schema; the gateway
 * then asks for an API key (see the `authorize` method of api.service.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, ServiceBroker } from "moleculer";
import type { ApiRouteSchema, CorsOptions, IncomingRequest } from "moleculer-web";
import type { Config } from "../lib/config";
import { NotFoundError, UnsupportedMediaTypeError } from "../lib/errors";
import type { JsonTextMeta } from "../lib/json-text";
import { JOB_ID_PATTERN } from "../jobs/contract";
import { streamJobEvents, type JobEventHub, type StreamSlots } from "./job-events";
import type { GatedRequest } from "./gate";
import { checkParams, jsonDepthVerifier } from "./input-checks";
import { checkJobVisible, setCaller } from "./owner";
import { feedbackClientKey } from "./feedback-client";
import { serveStatic } from "./static-files";

/** Every REST alias under /api that maps to an action. */
export const API_ALIASES: Record<string, string> = {
  "GET health": "api.health",
  "POST admin/cache/clear": "api.cacheClear",
  "GET admin/backup": "api.backup",
  "GET datasets": "datasets.list",
  "GET datasets/:domain/examples": "datasets.examples",
  "POST datasets/:domain/examples": "datasets.add",
  "POST datasets/:domain/import": "stream:datasets.submitImport",
  "GET datasets/:domain/export": "datasets.export",
  "GET openapi.json": "api.openapi",
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
  "POST knowledge/feedback": "knowledge.feedback",
  "GET admin/feedback": "knowledge.feedbackList",
  "GET admin/feedback/:id": "knowledge.feedbackGet",
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

/**
 * What the OpenAPI document says of the routes that are handlers of their own, not actions,
 * keyed by method and full path (see openapi.ts).
 */
export interface HandlerRouteDoc {
  summary: string;
  tag: string;
  contentType: string;
  description?: string;
}

export const HANDLER_ROUTES: Record<string, HandlerRouteDoc> = {
  "GET /api/job/:id/events": {
    summary: "A job's progress as Server-Sent Events, until it ends",
    tag: "jobs",
    contentType: "text/event-stream",
    description:
      "Each event is `id: <job version>`, `event: progress|completed|failed|cancelled`, `data: <the job as GET /api/job/{id}>`. " +
      "The stream closes after the final event. A client reconnecting with `Last-Event-ID` gets only what changed since. " +
      "Open streams are bounded per client and per gateway (429 past the bound).",
  },
  "GET /": { summary: "The web client", tag: "pages", contentType: "text/html" },
  "GET /assets/:file": {
    summary: "The web client's and the docs page's files, under content-hashed names (cached as immutable)",
    tag: "pages",
    contentType: "*/*",
  },
  "GET /dashboard": { summary: "The metrics dashboard", tag: "pages", contentType: "text/html" },
  "GET /dashboard/:file": { summary: "The dashboard's files", tag: "pages", contentType: "*/*" },
  "GET /docs": {
    summary: "This API's reference (Swagger UI over /api/openapi.json)",
    tag: "pages",
    contentType: "text/html",
  },
};

/** Answers a failed request in the one JSON error shape (see http-errors.ts). */
export type ErrorResponder = (req: IncomingMessage, res: ServerResponse, err: unknown) => void;

/** What the route builders need from the gateway service. */
export interface RouteContext {
  config: Config;
  broker: ServiceBroker;
  jobHub: JobEventHub;
  onError: ErrorResponder;
  cors?: CorsOptions;
  /** The bound on open job event streams. */
  streams: StreamSlots;
}

type Handler = (req: IncomingRequest, res: ServerResponse) => void;

/** A route as apiRoute and rootRoute build it, for `addRoute`. */
export type GatewayRoute = ApiRouteSchema;

/** Server-Sent Events of a job: a handler of its own, streaming until the job ends. */
function jobEvents(c: RouteContext): Handler {
  return function (this: { localToken?: string }, req, res) {
    const id = String((req.$params as { id: unknown }).id);
    if (!JOB_ID_PATTERN.test(id)) {
      c.onError(req, res, new NotFoundError(`no job ${id.slice(0, 80)}`, { id: id.slice(0, 80) }));
      return;
    }
    let release: () => void;
    try {
      release = c.streams.acquire((req as GatedRequest).$client ?? `ip:${req.socket.remoteAddress}`);
    } catch (err) {
      c.onError(req, res, err);
      return;
    }
    checkJobVisible(c.broker, req, id, c.config, this.localToken)
      .then(
        () => streamJobEvents(c.broker, c.jobHub, req, res, id, release),
        (err: unknown) => {
          release();
          throw err;
        },
      )
      .catch((err: unknown) => c.onError(req, res, err));
  };
}

/**
 * Before an action runs: every string and number of its params passes checkParams (422 naming the
 * field: no NUL or lone surrogate reaches the database); what it may look at from the request (Accept for a PNG answer,
 * Idempotency-Key, If-None-Match); that this gateway writes an answer given as JSON text as it is
 * (lib/json-text.ts); a bare JSON array body (POST /api/datasets/:domain/examples) is the examples
 * list, which moleculer-web would otherwise spread into numbered params.
 */
function onBeforeCall(
  ctx: Context<unknown, { accept?: string; idempotencyKey?: string; ifNoneMatch?: string } & JsonTextMeta>,
  _route: unknown,
  req: IncomingRequest & { body?: unknown },
): void {
  checkMediaType(req);
  checkParams(req.$params);
  ctx.meta.accept = req.headers.accept;
  ctx.meta.jsonText = true;
  const key = req.headers["idempotency-key"];
  if (typeof key === "string") ctx.meta.idempotencyKey = key;
  const inm = req.headers["if-none-match"];
  if (typeof inm === "string") ctx.meta.ifNoneMatch = inm;
  const params = req.$params as Record<string, unknown> | undefined;
  if (Array.isArray(req.body) && params) {
    // moleculer-web keeps this object: remove the numeric keys in place.
    for (const k of Object.keys(params)) if (/^\d+$/.test(k)) Reflect.deleteProperty(params, k);
    params.examples = req.body;
  }
}

/**
 * A body this route would not read: anything but JSON on an action that takes JSON (a file import
 * streams its body and takes any type). Without this, `curl -d '{"text":"hi"}'` (a form by curl's
 * default) or a text/plain body reached the action as no params and was answered 422 "text is
 * required".
 */
function checkMediaType(req: IncomingRequest): void {
  // Only the methods whose body the route reads; a file import streams its body as it comes.
  if (!["POST", "PUT", "PATCH"].includes(req.method ?? "")) return;
  if ((req as { $alias?: { type?: string } }).$alias?.type === "stream") return;
  const type = req.headers["content-type"];
  const hasBody = Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
  if (!type || !hasBody || /^application\/json\s*(;|$)/i.test(type)) return;
  throw new UnsupportedMediaTypeError(
    `the body is ${type.split(";")[0]}: this route reads JSON (send Content-Type: application/json)`,
    { contentType: type },
  );
}

/** /api: the aliased actions and the job event stream; JSON bodies of bounded depth, API keys. */
export function apiRoute(c: RouteContext): GatewayRoute {
  return {
    name: "api",
    path: "/api",
    mappingPolicy: "restrict",
    aliases: { ...API_ALIASES, "GET job/:id/events": jobEvents(c) },
    authorization: true,
    cors: c.cors,
    bodyParsers: {
      json: { limit: c.config.bodyLimitBytes, strict: true, verify: jsonDepthVerifier(c.config.gateway.jsonMaxDepth) },
      urlencoded: false,
    },
    callOptions: { timeout: c.config.requestTimeoutMs },
    onBeforeCall(this: { localToken?: string }, ctx, route, req, res) {
      onBeforeCall(ctx, route, req);
      setCaller(ctx, req, res, c.config, this.localToken);
      // Feedback keeps who voted (one vote per client counts), as a key id or a hashed address.
      if ((req as { $action?: { name?: string } }).$action?.name === "knowledge.feedback")
        (ctx.meta as { client?: string }).client = feedbackClientKey(
          (req as GatedRequest).$client ?? `ip:${req.socket.remoteAddress ?? "unknown"}`,
          c.config.gateway.feedbackAddressSalt,
        );
    },
    onError: c.onError,
  };
}

/** A static file of the web client or the dashboard (see static-files.ts), else 404. */
function staticFile(c: RouteContext, urlPath: (req: IncomingRequest) => string): Handler {
  return (req, res) => {
    if (!serveStatic(req, res, urlPath(req)))
      c.onError(req, res, new NotFoundError(`no route ${req.method} ${(req.url ?? "").split("?")[0]}`));
  };
}

/** /: /metrics, the web client, the dashboard and the API's docs page; no bodies. */
export function rootRoute(c: RouteContext): GatewayRoute {
  const param = (req: IncomingRequest, name: string) => String((req.$params as Record<string, unknown>)[name]);
  return {
    name: "root",
    path: "/",
    mappingPolicy: "restrict",
    aliases: {
      ...ROOT_ALIASES,
      "GET /": staticFile(c, () => "/"),
      "GET assets/:file": staticFile(c, (req) => `/assets/${param(req, "file")}`),
      "GET dashboard": staticFile(c, () => "/dashboard"),
      "GET dashboard/:file": staticFile(c, (req) => `/dashboard/${param(req, "file")}`),
      "GET docs": staticFile(c, () => "/docs"),
    },
    bodyParsers: { json: false, urlencoded: false },
    callOptions: { timeout: c.config.requestTimeoutMs },
    onError: c.onError,
  };
}
