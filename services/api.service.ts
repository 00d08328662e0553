/**
 * The HTTP gateway (moleculer-web): REST aliases under /api, one JSON error shape, request ids,
 * API keys on admin routes, a sliding-window rate limit shared through Redis, security headers,
 * and a graceful drain on SIGTERM. What every request meets first is in api/gate.ts, routes in
 * api/routes.ts, input checks in api/input-checks.ts, CORS in api/cors.ts, request ids in
 * api/request-id.ts.
 */
import http, { type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { Context, LoggerInstance, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import ApiGateway, { type CorsOptions } from "moleculer-web";
import { configOf, runtimeOf } from "./lib/runtime";
import { clusterHealth, HealthState, type ServedHealth } from "./api/health";
import { ForbiddenError, NotImplementedError, UnauthorizedError } from "./lib/errors";
import { PgliteDb } from "./lib/db";
import { metricsOf } from "./lib/metrics";
import { newAdminToken, removeNodeFile, writeNodeFile } from "./api/local-admin";
import type { Config } from "./lib/config";
import type { JobEvent } from "./jobs/contract";
import { apiRoute, rootRoute, type GatewayRoute } from "./api/routes";
import { corsSettings } from "./api/cors";
import { requestIdentity } from "./api/request-id";
import { JobEventHub } from "./api/job-events";
import { isValidKey, presentedKey } from "./api/api-keys";
import { errorResponder } from "./api/http-errors";
import { MemoryRateLimitStore, RedisRateLimitStore, type RateLimitStore } from "./api/rate-limit-store";
import { gate, type GateOptions } from "./api/gate";
import { StreamSlots } from "./api/job-events";
import { buildOpenApi, type ActionInfo, type AliasInfo } from "./api/openapi";
import { staticPaths } from "./api/static-files";
import { VERSION } from "./lib/paths";

type HttpHandler = (req: IncomingMessage, res: ServerResponse, next?: unknown) => Promise<void>;
const gatewayHttpHandler = (ApiGateway.methods as unknown as { httpHandler: HttpHandler }).httpHandler;

/** The moleculer-web settings this service writes in created(). */
interface ApiSettings extends ServiceSettingSchema {
  port?: number;
  ip?: string;
  onError?: ReturnType<typeof errorResponder>;
  cors?: CorsOptions;
  rootCallOptions?: ReturnType<typeof requestIdentity>;
  /** false once created() ran: started() listens, not moleculer-web. */
  server?: false;
}

interface ApiThis extends Service {
  settings: ApiSettings;
  server: Server;
  addRoute(route: GatewayRoute): void;
  /** moleculer-web's aliases: every route this gateway serves now. */
  aliases: AliasInfo[];
  jobHub: JobEventHub;
  health: HealthState;
  /** GET /api/openapi.json, as last built, and the routes and actions it was built from. */
  openapiDoc?: { key: string; doc: ReturnType<typeof buildOpenApi> };
  /** Embedded mode: the token in MCAI_DATA_DIR/node.json, accepted as an admin key. */
  localToken?: string;
  rateLimitStore?: RateLimitStore;
  gateOptions: GateOptions;
  httpHandler(req: IncomingMessage, res: ServerResponse, next?: unknown): Promise<void>;
  drained?: Promise<void>;
  acceptedKeys(): readonly string[];
  writeCorsHeaders(settings: unknown, req: IncomingMessage, res: ServerResponse, preflight: boolean): void;
  drain(timeoutMs: number): Promise<void>;
}

/** Listens on `port`; rejects with a message naming the address when it cannot (taken, not permitted). */
function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why =
        err.code === "EADDRINUSE" ? "is already in use" : `cannot be listened on (${err.code ?? err.message})`;
      reject(new Error(`the HTTP port ${host}:${port} ${why}: set PORT (or --port) to a free one`));
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/** The store of the rate limit: shared through Redis when there is one; none when RATE_LIMIT is 0. */
function rateLimitStore(config: Config, logger: LoggerInstance): RateLimitStore | undefined {
  if (config.rateLimit <= 0) return undefined;
  return config.redisUrl
    ? new RedisRateLimitStore({
        url: config.redisUrl,
        prefix: `${config.namespace}:ratelimit:sliding`,
        logger,
      })
    : new MemoryRateLimitStore();
}

const apiService: ServiceSchema<ServiceSettingSchema, ApiThis> = {
  name: "api",
  mixins: [ApiGateway],

  settings: {
    port: 3000,
    ip: "0.0.0.0",
    // No route from settings (moleculer-web 0.10 has none by default): created() adds ours, which
    // need the node's config.
    routes: [],
    log4XXResponses: false,
    logRequest: "debug",
    logResponse: "debug",
  },

  actions: {
    /**
     * The cluster's health: nodes and their services, database driver and pgvector, transporter
     * and cacher, from a state refreshed in the background every HEALTH_REFRESH_MS (`age_ms` says
     * how old). Never throws: problems show as `status: "degraded"`.
     */
    health: {
      params: {},
      async handler(this: ApiThis): Promise<ServedHealth> {
        return this.health.get();
      },
    },

    /**
     * The OpenAPI 3.1 document of the routes this gateway serves now, generated from its aliases
     * and the actions' parameter schemas (see api/openapi.ts).
     */
    openapi: {
      params: {},
      handler(this: ApiThis) {
        const actions = new Map<string, ActionInfo>();
        for (const a of this.broker.registry.getActionList({ skipInternal: true, withEndpoints: false }) as {
          name: string;
          action?: ActionInfo;
        }[])
          if (a.action) actions.set(a.name, a.action);
        // Built once per set of routes and actions: the aliases change in place and the actions
        // with the nodes, so the key names both; a service (re)joining clears it ($services.changed).
        const key = [
          ...this.aliases.map((a) => `${a.method} ${a.fullPath} ${a.action ?? ""} ${a.type}`),
          ...actions.keys(),
        ].join("\n");
        if (this.openapiDoc?.key !== key)
          this.openapiDoc = {
            key,
            doc: buildOpenApi(this.aliases, actions, { version: VERSION, staticPaths: staticPaths() }),
          };
        return this.openapiDoc.doc;
      },
    },

    /**
     * A consistent snapshot of the embedded database (admin): PGlite's data folder as a gzipped
     * tarball, taken between statements while the node serves. `mcai backup` uses it when the
     * node owns the folder. @throws 501 on Postgres (pg_dump is the tool) or on a node without it.
     */
    backup: {
      admin: true,
      responseType: "application/gzip",
      params: {},
      async handler(
        this: ApiThis,
        ctx: Context<unknown, { $responseType?: string; $responseHeaders?: Record<string, string> }>,
      ): Promise<Readable> {
        const { db } = runtimeOf(this.broker);
        if (!(db instanceof PgliteDb))
          throw new NotImplementedError(
            db
              ? "this node runs on Postgres: back it up with pg_dump (see README, Backup)"
              : "this node has no embedded database: back up the node that owns MCAI_DATA_DIR",
          );
        const { stream, size } = await db.backupStream();
        ctx.meta.$responseType = "application/gzip";
        ctx.meta.$responseHeaders = { "Content-Disposition": 'attachment; filename="mcai-backup.tar.gz"' };
        this.logger.info(`backup of the embedded database: ${size} bytes (request ${ctx.requestID})`);
        return stream;
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

  events: {
    /** A service came or went (or was upgraded): its actions' schemas may differ. */
    "$services.changed"(this: ApiThis) {
      this.openapiDoc = undefined;
    },

    /** A job changed somewhere in the cluster: wake the SSE streams watching it here. */
    "job.progress"(this: ApiThis, ctx: Context<Pick<JobEvent, "job_id">>) {
      this.jobHub.emit(ctx.params.job_id);
    },
  },

  methods: {
    /**
     * moleculer-web's createServer, with the bounds against slow sockets given to node at
     * creation: node checks them every connectionsCheckingInterval (30 s by default, which would
     * let a slow socket stay that much past its bound), an option of the constructor only.
     */
    createServer(this: ApiThis & { isHTTPS: boolean }) {
      const g = configOf(this.broker).gateway;
      this.server = http.createServer(
        {
          headersTimeout: g.headersTimeoutMs,
          requestTimeout: g.requestTimeoutMs,
          connectionsCheckingInterval: Math.min(1000, g.headersTimeoutMs),
        },
        (req, res) => void this.httpHandler(req, res),
      );
      this.isHTTPS = false;
      this.server.on("error", (err) => this.logger.error("Server error", err));
    },

    /**
     * moleculer-web's request handler, behind the gate (api/gate.ts): the rate limit and the key
     * check must come before body parsing and cover every path, static files and 404s included,
     * and moleculer-web has no asynchronous hook before its routing; so the handler is wrapped.
     */
    async httpHandler(this: ApiThis, req: IncomingMessage, res: ServerResponse, next?: unknown): Promise<void> {
      if (await gate(this.gateOptions, req, res)) return;
      return gatewayHttpHandler.call(this, req, res, next);
    },

    /** API_KEYS, plus the embedded node's local token. */
    acceptedKeys(this: ApiThis): readonly string[] {
      const { apiKeys } = configOf(this.broker);
      return this.localToken ? [...apiKeys, this.localToken] : apiKeys;
    },

    /** Admin actions (`admin: true` in their schema) and every route under /api/admin need one of API_KEYS. */
    authorize(
      this: ApiThis,
      _ctx: Context,
      _route: unknown,
      req: IncomingMessage & { $action?: { admin?: boolean }; $alias?: { fullPath?: string } },
    ): void {
      // moleculer-web awaits authorize() in an async function: a throw here rejects the request the same way.
      const adminPath = (req.$alias?.fullPath ?? "").startsWith("/api/admin/");
      if (!req.$action?.admin && !adminPath) return;
      const key = presentedKey(req);
      if (!key) throw new UnauthorizedError();
      const accepted = this.acceptedKeys();
      if (accepted.length === 0 || !isValidKey(key, accepted)) throw new ForbiddenError();
    },

    /**
     * Stops accepting connections and waits for in-flight requests, at most `timeoutMs`;
     * then cuts what is left.
     */
    drain(this: ApiThis, timeoutMs: number): Promise<void> {
      if (this.drained) return this.drained;
      // Unset if the service stops before createServer() ran.
      const server = this.server as Server | undefined;
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

  // Runs after moleculer-web's created() (mixins first): the server exists, and listens in
  // started() on the port and address set here.
  created(this: ApiThis) {
    const config = configOf(this.broker);
    this.jobHub = new JobEventHub();
    this.health = new HealthState(() => clusterHealth(this.broker), config.gateway.healthRefreshMs);
    this.rateLimitStore = rateLimitStore(config, this.logger);
    this.settings.port = config.port;
    // moleculer-web formats (and colours) its request and response lines before the logger drops
    // them: below debug, no line at all.
    if (config.logLevel !== "debug" && config.logLevel !== "trace") {
      this.settings.logRequest = null;
      this.settings.logResponse = null;
    }
    this.settings.ip = config.host;
    this.settings.onError = errorResponder(config.bodyLimitBytes, this.logger);
    this.settings.cors = corsSettings(config);
    this.settings.rootCallOptions = requestIdentity(metricsOf(this.broker).requestDuration);
    const cors = this.settings.cors;
    this.gateOptions = {
      config,
      store: this.rateLimitStore,
      acceptedKeys: () => this.acceptedKeys(),
      writeCors: cors ? (req, res, preflight) => this.writeCorsHeaders({ cors }, req, res, preflight) : undefined,
      onError: this.settings.onError,
    };
    // moleculer-web sets its own requestTimeout after creating the server: ours wins.
    this.server.requestTimeout = config.gateway.requestTimeoutMs;
    const routes = {
      config,
      broker: this.broker,
      jobHub: this.jobHub,
      onError: this.settings.onError,
      cors,
      streams: new StreamSlots(config.gateway.sseMaxStreams, config.gateway.sseMaxPerClient),
    };
    this.addRoute(apiRoute(routes));
    this.addRoute(rootRoute(routes));
    // moleculer-web's started() waits for 'listening' only: on a port already taken it never
    // settles and the node hangs. With `server: false` it skips listening (and closing: drain()
    // closes), and started() below listens with the error handled.
    this.settings.server = false;
  },

  async started(this: ApiThis) {
    const config = configOf(this.broker);
    await listen(this.server, config.port, config.host);
    this.logger.info(`API Gateway listening on http://${config.host}:${(this.server.address() as AddressInfo).port}`);
    const { ownsDataDir } = runtimeOf(this.broker);
    if (!ownsDataDir) return;
    const addr = this.server.address();
    if (!addr || typeof addr !== "object") return;
    this.localToken = newAdminToken();
    writeNodeFile(configOf(this.broker).dataDir, { pid: process.pid, port: addr.port, token: this.localToken });
  },

  async stopped(this: ApiThis) {
    const config = configOf(this.broker);
    this.health.stop();
    if (this.localToken) removeNodeFile(config.dataDir);
    await this.drain(config.shutdownTimeoutMs);
    await this.rateLimitStore?.close?.();
  },
};

export default apiService;
