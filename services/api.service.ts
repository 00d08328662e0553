/**
 * The HTTP gateway (moleculer-web): REST aliases under /api, one JSON error shape, request ids,
 * API keys on admin actions, a rate limit shared through Redis, and a graceful drain on SIGTERM.
 */
import crypto from "node:crypto";
import type { IncomingMessage, ServerResponse, Server } from "node:http";
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import { runtimeOf } from "./lib/runtime";
import { isUuid } from "./lib/uuid";
import { clusterHealth, type Health } from "./api/health";
import { ForbiddenError, UnauthorizedError } from "./lib/errors";
import { API_ALIASES, ROOT_ALIASES } from "./api/routes";
import { metricsOf } from "./lib/metrics";
import { newAdminToken, removeNodeFile, writeNodeFile } from "./api/local-admin";
import { JobEventHub, streamJobEvents } from "./api/job-events";
import { serveStatic } from "./api/static-files";
import { NotFoundError as McaiNotFound } from "./lib/errors";
import { isValidKey, keyId, presentedKey } from "./api/api-keys";
import { sendHttpError, toHttpError } from "./api/http-errors";
import { MemoryRateLimitStore, RedisRateLimitStore, type RateLimitStore } from "./api/rate-limit-store";

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

interface GatewayReq extends IncomingMessage {
  $alias?: { fullPath?: string };
  $action?: { admin?: boolean; name?: string };
  $route?: { rateLimit?: { store?: RateLimitStore } };
  $requestId?: string;
}

interface ApiThis extends Service {
  server: Server;
  jobHub: JobEventHub;
  /** Embedded mode: the token in MCAI_DATA_DIR/node.json, accepted as an admin key. */
  localToken?: string;
  rateLimitStore?: RateLimitStore;
  drained?: Promise<void>;
  drain(timeoutMs: number): Promise<void>;
}

// moleculer-web's own request handler, called from ours after the request id is set.
const gatewayHttpHandler = (ApiGateway as unknown as { methods: Record<string, (...a: unknown[]) => unknown> }).methods
  .httpHandler;

function clientKey(req: IncomingMessage): string {
  const key = presentedKey(req);
  return key ? `key:${keyId(key)}` : `ip:${req.socket.remoteAddress ?? "unknown"}`;
}

const apiService: ServiceSchema<ServiceSettingSchema, ApiThis> = {
  name: "api",
  mixins: [ApiGateway],

  settings: {
    port: 3000,
    ip: "0.0.0.0",
    routes: [],
    log4XXResponses: false,
    logRequest: "debug",
    logResponse: "debug",
  },

  actions: {
    /**
     * The cluster's health: nodes and their services, database driver and pgvector, transporter
     * and cacher. Never throws: problems show as `status: "degraded"`.
     */
    health: {
      params: {},
      async handler(this: ApiThis): Promise<Health> {
        return clusterHealth(this.broker);
      },
    },

    /** Empties the shared cache (the Redis cacher in a cluster). Admin. */
    cacheClear: {
      admin: true,
      params: {},
      async handler(this: ApiThis, ctx: Context): Promise<{ cleared: boolean }> {
        const cacher = this.broker.cacher;
        if (cacher) await cacher.clean();
        this.logger.info(`cache cleared (request ${ctx.requestID})`);
        return { cleared: cacher != null };
      },
    },
  },

  methods: {
    /** Sets X-Request-Id (the caller's when well-formed, else a new one) before routing. */
    httpHandler(this: ApiThis, req: GatewayReq, res: ServerResponse, next?: unknown) {
      const given = req.headers["x-request-id"] ?? req.headers["x-correlation-id"];
      const id = typeof given === "string" && REQUEST_ID_RE.test(given) ? given : crypto.randomUUID();
      req.headers["x-request-id"] = id;
      delete req.headers["x-correlation-id"];
      req.$requestId = id;
      res.setHeader("X-Request-Id", id);
      const started = process.hrtime.bigint();
      res.once("finish", () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const route = req.$alias?.fullPath ?? "unmatched";
        metricsOf(this.broker).requestDuration.observe(
          { route, method: req.method ?? "GET", status: String(res.statusCode) },
          seconds,
        );
      });
      return gatewayHttpHandler.call(this, req, res, next);
    },

    /** Admin actions (`admin: true` in their schema) need one of API_KEYS. */
    async authorize(this: ApiThis, _ctx: Context, _route: unknown, req: GatewayReq) {
      if (!req.$action?.admin) return;
      const { apiKeys } = runtimeOf(this.broker).config;
      const key = presentedKey(req);
      if (!key) throw new UnauthorizedError();
      const accepted = this.localToken ? [...apiKeys, this.localToken] : apiKeys;
      if (accepted.length === 0 || !isValidKey(key, accepted)) throw new ForbiddenError();
    },

    /**
     * Stops accepting connections and waits for in-flight requests, at most `timeoutMs`;
     * then cuts what is left.
     */
    drain(this: ApiThis, timeoutMs: number): Promise<void> {
      if (this.drained) return this.drained;
      const server = this.server;
      if (!server?.listening) return (this.drained = Promise.resolve());
      this.drained = new Promise<void>((resolve) => {
        // A keep-alive connection goes idle when its in-flight response ends; close those as
        // they appear instead of waiting out the keep-alive timeout.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
        timer.unref();
        server.close(() => {
          clearInterval(sweep);
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      return this.drained;
    },
  },

  // moleculer-web's default settings hold a catch-all route "/" that would expose every action;
  // settings merge by deep defaults, so `routes: []` above cannot remove it. Routes come from created().
  merged(schema: ServiceSchema) {
    schema.settings!.routes = [];
  },

  events: {
    /** A job changed somewhere in the cluster: wake the SSE streams watching it here. */
    "job.progress"(this: ApiThis, ctx: Context<{ job_id: string }>) {
      this.jobHub.emit(ctx.params.job_id);
    },
  },

  created(this: ApiThis) {
    const { config } = runtimeOf(this.broker);
    this.jobHub = new JobEventHub();
    const logger = this.logger;
    this.settings.port = config.port;
    this.settings.ip = config.host;
    this.settings.onError = (req: GatewayReq, res: ServerResponse, err: Error) => {
      const httpErr = toHttpError(err, req, config.bodyLimitBytes);
      if (httpErr.status >= 500) logger.error(`${req.method} ${req.url} (request ${req.$requestId}):`, err);
      sendHttpError(req, res, httpErr);
    };
    if (config.corsOrigins.length) {
      this.settings.cors = {
        origin: config.corsOrigins.includes("*") ? "*" : [...config.corsOrigins],
        methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        allowedHeaders: [
          "Content-Type",
          "Authorization",
          "X-Api-Key",
          "X-Request-Id",
          "Idempotency-Key",
          "Last-Event-ID",
        ],
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
    if (config.rateLimit > 0) {
      this.rateLimitStore = config.redisUrl
        ? new RedisRateLimitStore({
            url: config.redisUrl,
            windowMs: config.rateLimitWindowMs,
            prefix: `${config.namespace}:ratelimit`,
            logger,
          })
        : new MemoryRateLimitStore(config.rateLimitWindowMs);
    }
    const store = this.rateLimitStore;
    this.addRoute({
      name: "api",
      path: "/api",
      mappingPolicy: "restrict",
      aliases: {
        ...API_ALIASES,
        // Server-Sent Events: a handler of its own, streaming until the job ends.
        "GET job/:id/events": (req: GatewayReq & { $params: { id: string } }, res: ServerResponse) => {
          const id = String(req.$params.id);
          if (!isUuid(id)) {
            this.settings.onError(req, res, new McaiNotFound(`no job ${id}`, { id }));
            return;
          }
          streamJobEvents(this.broker, this.jobHub, req, res, id).catch((err) => this.settings.onError(req, res, err));
        },
      },
      authorization: true,
      cors: this.settings.cors,
      bodyParsers: { json: { limit: config.bodyLimitBytes, strict: true }, urlencoded: false },
      rateLimit: store
        ? {
            window: config.rateLimitWindowMs,
            limit: config.rateLimit,
            headers: true,
            key: clientKey,
            StoreFactory: function StoreFactory() {
              return store;
            },
          }
        : undefined,
      callOptions: { timeout: config.requestTimeoutMs },
      // Actions that can answer in another format (a PNG) look at what the client accepts.
      onBeforeCall(
        ctx: Context<unknown, { accept?: string; idempotencyKey?: string; ifNoneMatch?: string }>,
        _route: unknown,
        req: IncomingMessage & { body?: unknown; $params?: Record<string, unknown>; $action?: { name?: string } },
      ) {
        ctx.meta.accept = req.headers.accept;
        const key = req.headers["idempotency-key"];
        if (typeof key === "string") ctx.meta.idempotencyKey = key;
        const inm = req.headers["if-none-match"];
        if (typeof inm === "string") ctx.meta.ifNoneMatch = inm;
        // A bare JSON array body (POST /api/datasets/:domain/examples) is the examples list;
        // moleculer-web would otherwise spread it into numbered params.
        if (Array.isArray(req.body) && req.$params) {
          for (const k of Object.keys(req.$params)) if (/^\d+$/.test(k)) delete req.$params[k];
          req.$params.examples = req.body;
        }
      },
      onError: this.settings.onError,
    });
    const file =
      (urlPath: (req: GatewayReq & { $params: Record<string, string> }) => string) =>
      (req: GatewayReq & { $params: Record<string, string> }, res: ServerResponse) => {
        if (!serveStatic(req, res, urlPath(req)))
          this.settings.onError(req, res, new McaiNotFound(`no route ${req.method} ${(req.url ?? "").split("?")[0]}`));
      };
    this.addRoute({
      name: "root",
      path: "/",
      mappingPolicy: "restrict",
      aliases: {
        ...ROOT_ALIASES,
        // The web client and the dashboard: static files, see api/static-files.ts.
        "GET /": file(() => "/"),
        "GET assets/:file": file((req) => `/assets/${req.$params.file}`),
        "GET dashboard": file(() => "/dashboard"),
        "GET dashboard/:file": file((req) => `/dashboard/${req.$params.file}`),
      },
      bodyParsers: { json: false, urlencoded: false },
      callOptions: { timeout: config.requestTimeoutMs },
      onError: this.settings.onError,
    });
  },

  started(this: ApiThis) {
    const { config, ownsDataDir } = runtimeOf(this.broker);
    if (!ownsDataDir) return;
    const addr = this.server.address();
    if (!addr || typeof addr !== "object") return;
    this.localToken = newAdminToken();
    writeNodeFile(config.dataDir, { pid: process.pid, port: addr.port, token: this.localToken });
  },

  async stopped(this: ApiThis) {
    if (this.localToken) removeNodeFile(runtimeOf(this.broker).config.dataDir);
    await this.drain(runtimeOf(this.broker).config.shutdownTimeoutMs);
    await this.rateLimitStore?.close?.();
  },
};

export default apiService;
