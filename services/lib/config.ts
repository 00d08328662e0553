/**
 * The one reader of process.env. `loadConfig` applies defaults, validates every variable
 * with a message naming it and what it expects, and returns a frozen object.
 */
import os from "node:os";
import path from "node:path";

/** Every service mcai ships, in dependency order (callers before callees). */
export const SERVICE_NAMES = ["api", "datasets", "knowledge", "jobs", "compute", "metrics"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/**
 * Services that need the Postgres layer on the node that runs them. Only these take the `Db` in
 * `created()`: a node creates the others while its database opens (bin/node.ts), when
 * `runtimeOf(broker).db` is not set yet.
 */
export const DB_SERVICES: readonly ServiceName[] = ["datasets", "knowledge", "jobs"];

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace";
const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace"];

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly nodeId: string;
  readonly namespace: string;
  readonly services: readonly ServiceName[];
  /** SERVICES named the services (else `services` is every one, and a node runs those this build ships). */
  readonly servicesGiven: boolean;
  /** undefined = single process, no transporter. */
  readonly transporter?: string;
  /** "memory" or a redis:// URL. */
  readonly cacher: string;
  /** undefined = embedded PGlite under dataDir. */
  readonly databaseUrl?: string;
  /** Redis for shared gateway state (rate limits); from REDIS_URL, else a redis CACHER or TRANSPORTER. */
  readonly redisUrl?: string;
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  readonly computeThreads: number;
  /** Admin keys: they see and manage every job. */
  readonly apiKeys: readonly string[];
  /** Client keys: each owns the jobs it submits and sees only those. */
  readonly clientKeys: readonly string[];
  readonly bodyLimitBytes: number;
  /** Requests per client per window; 0 switches the limiter off. */
  readonly rateLimit: number;
  readonly rateLimitWindowMs: number;
  /** Allowed CORS origins; empty = CORS off. */
  readonly corsOrigins: readonly string[];
  readonly shutdownTimeoutMs: number;
  readonly heartbeatIntervalS: number;
  readonly heartbeatTimeoutS: number;
  readonly requestTimeoutMs: number;
  /** RSS above which a node warns and shows degraded in health; 0 = off. */
  readonly memoryWarnMb: number;
  readonly heap: HeapSettings;
  readonly malloc: MallocSettings;
  readonly compute: ComputeLimits;
  readonly datasets: DatasetSettings;
  readonly embeddings: EmbeddingSettings;
  readonly jobs: JobSettings;
  readonly knowledge: KnowledgeSettings;
  readonly pglite: PgliteSettings;
  readonly gateway: GatewaySettings;
}

/** Embedded Postgres (PGlite) memory settings: smaller is leaner, larger caches more. */
export interface PgliteSettings {
  /** Postgres shared_buffers, MB (the page cache inside PGlite's WASM heap). */
  sharedBuffersMb: number;
  /** Postgres work_mem, MB (per sort or hash before it spills to disk). */
  workMemMb: number;
  /** Postgres maintenance_work_mem, MB (index builds, HNSW among them). */
  maintenanceWorkMemMb: number;
  /** Postgres temp_buffers, MB. */
  tempBuffersMb: number;
  /** PGlite runs in its own worker thread (true) or on the main thread. */
  worker: boolean;
  /**
   * Most V8 old-generation heap of that worker thread, MB (0 = V8's default). Past it V8 ends the
   * thread: every statement then fails with PgliteWorkerExitedError and health reports the database.
   */
  workerHeapMb: number;
  /**
   * V8's WASM tiering budget (`--wasm-tiering-budget`, roughly bytes a function runs as Liftoff
   * code before TurboFan compiles it), set for the process before PGlite opens; 0 = V8's default
   * (1.8 M in Node 20). Larger keeps Postgres' start-only code off TurboFan: see pglite-wasm.ts.
   */
  wasmTieringBudget: number;
}

/**
 * V8 heap growth of every isolate in the process (the main thread, the compute threads, PGlite's
 * worker), set by `v8.setFlagsFromString` when a node starts: V8 reads these at each collection,
 * unlike `--max-old-space-size`, which only the command line can set.
 */
export interface HeapSettings {
  /**
   * The old generation may grow this many percent past what survived the last full collection
   * before the next one (V8's `--heap-growing-percent`); 0 = V8's own factor (up to 4× on a big
   * machine, which lets garbage pile up to hundreds of MB under load).
   */
  growingPercent: number;
  /**
   * The young generation's growth factor per scavenge that finds it full (V8's
   * `--semi-space-growth-factor`): 1 keeps it at its initial size; 0 = V8's default (2, up to 16 MB
   * per semi-space).
   */
  semiSpaceGrowth: number;
}

/**
 * glibc malloc settings, which only the environment a process starts with can give: `mcai start`
 * starts itself once more with them where they pay (bin/malloc-relaunch.ts).
 */
export interface MallocSettings {
  /**
   * MALLOC_RELAUNCH: `auto` (default) relaunches a node that runs compute without the embedded
   * database, `on` every node, `off` none.
   */
  relaunch: "auto" | "on" | "off";
  /** The environment sets one of glibc's malloc variables itself: the node leaves malloc as given. */
  setByEnvironment: boolean;
  /** This process is the relaunched node (MCAI_RELAUNCHED, set by its parent). */
  relaunched: boolean;
}

/** glibc's malloc variables; any one of them set means the environment tunes malloc itself. */
const GLIBC_MALLOC_VARS = [
  "MALLOC_MMAP_THRESHOLD_",
  "MALLOC_TRIM_THRESHOLD_",
  "MALLOC_TOP_PAD_",
  "MALLOC_MMAP_MAX_",
  "MALLOC_ARENA_MAX",
  "MALLOC_ARENA_TEST",
];

function mallocSettings(env: Env): MallocSettings {
  const relaunch = raw(env, "MALLOC_RELAUNCH") ?? "auto";
  if (relaunch !== "auto" && relaunch !== "on" && relaunch !== "off")
    throw new ConfigError("MALLOC_RELAUNCH", `MALLOC_RELAUNCH must be auto, on or off, got "${relaunch}"`);
  return Object.freeze({
    relaunch,
    setByEnvironment:
      GLIBC_MALLOC_VARS.some((v) => raw(env, v) !== undefined) ||
      (raw(env, "GLIBC_TUNABLES") ?? "").includes("glibc.malloc."),
    relaunched: raw(env, "MCAI_RELAUNCHED") === "1",
  });
}

/** Bounds of the HTTP gateway beyond the API rate limit (see services/api/gate.ts). */
export interface GatewaySettings {
  /** Requests per client per window to the web client and dashboard files; 0 = no limit. */
  rateLimitStatic: number;
  /** Requests per client per window to /metrics; 0 = no limit. */
  rateLimitMetrics: number;
  /** Deepest nesting of arrays and objects a JSON body may have (400 beyond, checked before parsing). */
  jsonMaxDepth: number;
  /** Open job event streams on this gateway, all clients together (503 beyond). */
  sseMaxStreams: number;
  /** Open job event streams per client on this gateway (429 beyond). */
  sseMaxPerClient: number;
  /** A socket must send its request headers within this (node's server.headersTimeout). */
  headersTimeoutMs: number;
  /** A socket must send its whole request within this (node's server.requestTimeout). */
  requestTimeoutMs: number;
  /** A merged /metrics scrape is reused for this long; concurrent scrapes share one merge. */
  metricsCacheMs: number;
  /**
   * The key of the HMAC that turns a client's address into the client key of its feedback (the raw
   * address is never stored). Unset: a fixed key, so the hash is stable but an IPv4 address can be
   * recovered by trying all 2^32; set it (the same on every gateway) to make that impossible.
   */
  feedbackAddressSalt: string;
  /** /api/health answers from a state refreshed in the background this often (not gathered per request). */
  healthRefreshMs: number;
}

export interface KnowledgeSettings {
  l1TtlS: number;
  l2TtlS: number;
  /** OpenAI-compatible chat completions base URL (…/v1); unset = extractive answers only. */
  llmUrl?: string;
  llmModel: string;
  llmKey?: string;
  llmTimeoutMs: number;
  /** Most-asked queries primed at start. */
  warmupTop: number;
  /** Bound on the warm-up: the node is ready after this whatever is left. */
  warmupMs: number;
  /**
   * Bound on how old the dataset version behind a cache hit may be: each node keeps the version in
   * memory (updated by datasets.changed), re-reads it every half of this, and reads it on the spot
   * when its last read is older than this, so a lost event cannot serve a stale answer for longer.
   */
  versionCheckMs: number;
  kDefault: number;
  /**
   * `knowledge.query` declines (source "none") when the best hit's `match`, the idf-weighted share
   * of the query's terms it holds, is below this. Calibrated in bench/decline.ts (docs/knowledge.md).
   */
  minMatch: number;
}

export interface JobSettings {
  /** Attempts per kind ("default" for the rest). */
  attempts: Readonly<Record<string, number>>;
  /** Hard timeout per kind, seconds. */
  timeoutS: Readonly<Record<string, number>>;
  /** First retry delay; doubles with each attempt. */
  retryDelayS: number;
  pollMs: number;
  heartbeatS: number;
  /** A processing job whose heartbeat is older than this goes back to the queue. */
  staleS: number;
  retentionDays: number;
  /** Queued and running jobs one owner may have; beyond: 429. */
  ownerMax: number;
  /** Queued and running jobs in all; beyond: 503. */
  totalMax: number;
  /** Bytes of stored result files kept; beyond, the oldest are dropped (the jobs stay completed). */
  resultsMaxBytes: number;
}

export interface DatasetSettings {
  /** Live examples kept per domain before rotation moves the oldest to the archive; 0 = off. */
  maxExamplesPerDomain: number;
  /** Seconds between scheduled rotations (0 = only `mcai rotate`). */
  rotateIntervalS: number;
  pageMax: number;
  searchKMax: number;
  /** Okapi BM25 k1 (term frequency saturation) and b (length normalization). */
  bm25K1: number;
  bm25B: number;
  /** Postings read per query term at most, its best by impact; 0 = all (exact ranking at any size). */
  bm25TermLimit: number;
  /**
   * Postings a lexical query with a bounded term may read over all its rounds while it cannot prove
   * its ranking exact (each round doubles the bounded terms' limits); 0 = one round.
   */
  bm25PostingsBudget: number;
  /**
   * A query whose terms have at most this many postings in all (the sum of their document
   * frequencies) reads every list whole and ranks exactly, whatever SEARCH_BM25_TERM_LIMIT says: up
   * to this size the exact read costs less than the bounded one (measured, docs/search.md); 0 = the
   * term limit alone decides.
   */
  bm25ExactPostings: number;
  /**
   * MB of whole BM25 postings lists each node keeps in memory, by dataset version, so that an exact
   * lexical read ranks without the database once its lists were read; 0 = off.
   */
  postingsCacheMb: number;
  /** Weight of the lexical list in hybrid fusion (the vector list gets 1 − it). */
  hybridLexicalWeight: number;
  /** Candidates taken from each list before hybrid fusion. */
  hybridDepth: number;
  /** HNSW ef_search for vector queries. */
  efSearch: number;
  /** Life (s) of a search result in the shared cacher, keyed by the dataset version; 0 = not cached. */
  searchCacheTtlS: number;
  /** Life (s) of a page of examples in the shared cacher, keyed by the dataset version; 0 = not cached. */
  pageCacheTtlS: number;
  /** Embedded mode (PGlite has no autovacuum): seconds between VACUUM (ANALYZE) runs; 0 = only after bulk deletes. */
  vacuumIntervalS: number;
  /** Examples one POST may carry. */
  bodyMaxExamples: number;
  /** Longest content or response of one example. */
  maxTextChars: number;
  /** Import a small demo set when a fresh embedded data folder starts. */
  demoOnFirstStart: boolean;
  /** Largest file one HTTP import may upload (bytes). */
  importMaxBytes: number;
  /**
   * An import of at least this many records that at least doubles the examples drops the HNSW
   * index and builds it once at the end; 0 = always grow it row by row.
   */
  importRebuildMin: number;
}

export interface EmbeddingSettings {
  dim: number;
  /** OpenAI-compatible endpoint (…/v1); unset = the local feature-hashing provider. */
  url?: string;
  model: string;
  key?: string;
  timeoutMs: number;
  batchSize: number;
}

/** Bounds on every size a caller chooses for compute work (beyond them: 413 naming the field). */
export interface ComputeLimits {
  /** Unix nice increment of the pool's threads (0 = same priority as the event loop). */
  nice: number;
  /** Tasks that may wait for a thread before calls get 503. */
  queueMax: number;
  /** A pool thread idle this long (ms) is given back; the pool starts with no thread. */
  idleMs: number;
  fftMaxPoints: number;
  /** STFT frames × bins one fft may answer. */
  stftMaxCells: number;
  /** Bytes of one result file (WAV, PNG, GIF, vectors) before base64, estimated from the params. */
  resultMaxBytes: number;
  cymaticMaxSize: number;
  cymaticMaxFrequencies: number;
  artMaxSize: number;
  musicMaxSeconds: number;
  videoMaxFrames: number;
  videoMaxSize: number;
  textMaxChars: number;
  /** Memory of each pool thread (see the block "compute thread memory" in loadConfig). */
  threadHeapMb: number;
  threadYoungMb: number;
}

/** A variable with a bad value. The CLI prints `message` on one line and exits 2. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const v = raw(env, name);
  if (v === undefined) return def;
  if (!/^-?\d+$/.test(v)) throw new ConfigError(name, `${name} must be an integer from ${min} to ${max}, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(name, `${name} must be an integer from ${min} to ${max}, got ${n}`);
  return n;
}

/** Most dimensions pgvector's HNSW index takes on a `vector` column (it refuses the index above). */
export const EMBEDDING_DIM_MAX = 2000;

/** EMBEDDING_DIM, bounded by what the HNSW index of migration 0002 can be built on. */
function embeddingDim(env: Env): number {
  const v = raw(env, "EMBEDDING_DIM");
  if (v !== undefined && /^\d+$/.test(v) && Number(v) > EMBEDDING_DIM_MAX)
    throw new ConfigError(
      "EMBEDDING_DIM",
      `EMBEDDING_DIM must be at most ${EMBEDDING_DIM_MAX}, got ${v}: pgvector's HNSW index takes at most ${EMBEDDING_DIM_MAX} dimensions (OpenAI's text-embedding-3 models answer fewer when asked, and mcai asks for EMBEDDING_DIM)`,
    );
  return int(env, "EMBEDDING_DIM", 384, 8, EMBEDDING_DIM_MAX);
}

function num(env: Env, name: string, def: number, min: number, max: number): number {
  const v = raw(env, name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!/^-?(\d+\.?\d*|\.\d+)$/.test(v) || n < min || n > max)
    throw new ConfigError(name, `${name} must be a number from ${min} to ${max}, got "${v}"`);
  return n;
}

/** KNOWLEDGE_MIN_MATCH's default, calibrated by bench/decline.ts on the demo knowledge base. */
export const KNOWLEDGE_MIN_MATCH_DEFAULT = 0.57;

/** "3" or "art=2,music=4,default=3": a number per job kind. */
function perKind(env: Env, name: string, def: number, min: number, max: number): Record<string, number> {
  const v = raw(env, name);
  const out: Record<string, number> = { default: def };
  if (v === undefined) return out;
  const bad = () =>
    new ConfigError(
      name,
      `${name} must be a number from ${min} to ${max}, or kind=number pairs such as "art=2,default=3", got "${v}"`,
    );
  for (const part of v
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean)) {
    const [k, n] = part.includes("=") ? part.split("=").map((x) => x.trim()) : ["default", part];
    if (!/^[a-z]+$/.test(k) || !/^\d+$/.test(n) || Number(n) < min || Number(n) > max) throw bad();
    out[k] = Number(n);
  }
  return out;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const v = raw(env, name);
  if (v === undefined) return def;
  if (["1", "true", "yes", "on"].includes(v.toLowerCase())) return true;
  if (["0", "false", "no", "off"].includes(v.toLowerCase())) return false;
  throw new ConfigError(name, `${name} must be true or false, got "${v}"`);
}

function url(env: Env, name: string, protocols: string[], what: string): string | undefined {
  const v = raw(env, name);
  if (v === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw new ConfigError(name, `${name} must be ${what}, got "${v}"`);
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `${name} must be ${what}, got "${v}"`);
  return v;
}

function services(env: Env): ServiceName[] {
  const v = raw(env, "SERVICES");
  if (v === undefined) return [...SERVICE_NAMES];
  const names = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(SERVICE_NAMES as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new ConfigError(
      "SERVICES",
      `SERVICES must be a comma-separated list of ${SERVICE_NAMES.join(", ")}, got "${v}"`,
    );
  }
  return SERVICE_NAMES.filter((n) => names.includes(n));
}

function cacher(env: Env): string {
  const v = raw(env, "CACHER");
  if (v === undefined || v === "memory") return "memory";
  return url(env, "CACHER", ["redis:", "rediss:"], "memory or a redis:// URL") as string;
}

function list(env: Env, name: string): string[] {
  return (raw(env, name) ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function apiKeys(env: Env, name = "API_KEYS"): string[] {
  const keys = list(env, name);
  const short = keys.find((k) => k.length < 16);
  if (short !== undefined)
    throw new ConfigError(name, `${name} must be comma-separated keys of at least 16 characters`);
  return keys;
}

function clientKeys(env: Env, admin: readonly string[]): string[] {
  const keys = apiKeys(env, "CLIENT_KEYS");
  if (keys.some((k) => admin.includes(k)))
    throw new ConfigError("CLIENT_KEYS", "CLIENT_KEYS must not repeat a key of API_KEYS");
  return keys;
}

function nodeId(env: Env): string {
  const v = raw(env, "NODE_ID");
  if (v === undefined) return `${os.hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(v))
    throw new ConfigError("NODE_ID", `NODE_ID must be 1-64 letters, digits, ".", "_" or "-", got "${v}"`);
  return v;
}

function logLevel(env: Env): LogLevel {
  const v = raw(env, "LOG_LEVEL") ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(v))
    throw new ConfigError("LOG_LEVEL", `LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got "${v}"`);
  return v as LogLevel;
}

function firstRedis(...urls: (string | undefined)[]): string | undefined {
  return urls.find((u) => u !== undefined && /^rediss?:\/\//.test(u));
}

function gatewaySettings(env: Env): GatewaySettings {
  const headersTimeoutMs = int(env, "HTTP_HEADERS_TIMEOUT_MS", 10_000, 1000, 600_000);
  const requestTimeoutMs = int(env, "HTTP_REQUEST_TIMEOUT_MS", 120_000, 1000, 3_600_000);
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new ConfigError(
      "HTTP_REQUEST_TIMEOUT_MS",
      `HTTP_REQUEST_TIMEOUT_MS must be at least HTTP_HEADERS_TIMEOUT_MS (${headersTimeoutMs})`,
    );
  }
  return Object.freeze({
    rateLimitStatic: int(env, "RATE_LIMIT_STATIC", 600, 0, 1_000_000),
    rateLimitMetrics: int(env, "RATE_LIMIT_METRICS", 120, 0, 1_000_000),
    jsonMaxDepth: int(env, "JSON_MAX_DEPTH", 64, 4, 1000),
    sseMaxStreams: int(env, "SSE_MAX_STREAMS", 200, 1, 100_000),
    sseMaxPerClient: int(env, "SSE_MAX_PER_CLIENT", 8, 1, 10_000),
    headersTimeoutMs,
    requestTimeoutMs,
    metricsCacheMs: int(env, "METRICS_CACHE_MS", 1000, 0, 60_000),
    feedbackAddressSalt: raw(env, "FEEDBACK_ADDRESS_SALT") ?? "mcai-feedback",
    healthRefreshMs: int(env, "HEALTH_REFRESH_MS", 250, 50, 10_000),
  });
}

/** A V8 heap bound in MB: 0 (V8's default) or from `min` to `max`. */
function heapMb(env: Env, name: string, def: number, min: number, max: number): number {
  const n = int(env, name, def, 0, max);
  if (n !== 0 && n < min)
    throw new ConfigError(name, `${name} must be 0 (V8's default) or an integer from ${min} to ${max}, got ${n}`);
  return n;
}

/**
 * Reads the configuration from `env` (process.env by default).
 * @throws ConfigError naming the first bad variable.
 */
export function loadConfig(env: Env = process.env): Config {
  const transporter = url(
    env,
    "TRANSPORTER",
    ["redis:", "rediss:", "nats:"],
    "a redis:// or nats:// URL (unset = one process)",
  );
  const cache = cacher(env);
  const redisUrl = url(env, "REDIS_URL", ["redis:", "rediss:"], "a redis:// URL");
  const heartbeatIntervalS = int(env, "HEARTBEAT_INTERVAL_S", 5, 1, 60);
  const heartbeatTimeoutS = int(env, "HEARTBEAT_TIMEOUT_S", 15, 2, 600);
  if (heartbeatTimeoutS <= heartbeatIntervalS) {
    throw new ConfigError(
      "HEARTBEAT_TIMEOUT_S",
      `HEARTBEAT_TIMEOUT_S must be greater than HEARTBEAT_INTERVAL_S (${heartbeatIntervalS})`,
    );
  }
  const resultMaxBytes = int(env, "RESULT_MAX_BYTES", 32 << 20, 1 << 16, 1 << 30);
  const config: Config = {
    gateway: gatewaySettings(env),
    port: int(env, "PORT", 3000, 0, 65535),
    host: raw(env, "HOST") ?? "0.0.0.0",
    nodeId: nodeId(env),
    namespace: raw(env, "NAMESPACE") ?? "mcai",
    services: services(env),
    servicesGiven: raw(env, "SERVICES") !== undefined,
    transporter,
    cacher: cache,
    databaseUrl: url(env, "DATABASE_URL", ["postgres:", "postgresql:"], "a postgres:// URL (unset = embedded PGlite)"),
    redisUrl: redisUrl ?? firstRedis(cache, transporter),
    dataDir: path.resolve(raw(env, "MCAI_DATA_DIR") ?? "./data"),
    logLevel: logLevel(env),
    computeThreads: int(env, "COMPUTE_THREADS", Math.max(1, os.availableParallelism()), 1, 256),
    apiKeys: apiKeys(env),
    clientKeys: clientKeys(env, apiKeys(env)),
    bodyLimitBytes: int(env, "BODY_LIMIT_BYTES", 1024 * 1024, 1024, 512 * 1024 * 1024),
    rateLimit: int(env, "RATE_LIMIT", 1200, 0, 1_000_000),
    rateLimitWindowMs: int(env, "RATE_LIMIT_WINDOW_MS", 60_000, 100, 86_400_000),
    corsOrigins: list(env, "CORS_ORIGINS"),
    shutdownTimeoutMs: int(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 100, 600_000),
    heartbeatIntervalS,
    heartbeatTimeoutS,
    requestTimeoutMs: int(env, "REQUEST_TIMEOUT_MS", 30_000, 100, 3_600_000),
    memoryWarnMb: int(env, "MEMORY_WARN_MB", 1024, 0, 1_048_576),
    heap: Object.freeze({
      growingPercent: int(env, "HEAP_GROWING_PERCENT", 20, 0, 1000),
      semiSpaceGrowth: int(env, "HEAP_SEMI_SPACE_GROWTH", 1, 0, 16),
    }),
    malloc: mallocSettings(env),
    compute: Object.freeze({
      nice: int(env, "COMPUTE_NICE", 10, 0, 19),
      queueMax: int(env, "COMPUTE_QUEUE_MAX", 64, 0, 100_000),
      idleMs: int(env, "COMPUTE_IDLE_MS", 30_000, 0, 86_400_000),
      fftMaxPoints: int(env, "FFT_MAX_POINTS", 1 << 20, 32, 1 << 24),
      stftMaxCells: int(env, "STFT_MAX_CELLS", 1 << 18, 1024, 1 << 26),
      resultMaxBytes,
      cymaticMaxSize: int(env, "CYMATIC_MAX_SIZE", 2048, 16, 4096),
      cymaticMaxFrequencies: int(env, "CYMATIC_MAX_FREQUENCIES", 8, 1, 64),
      artMaxSize: int(env, "ART_MAX_SIZE", 2048, 16, 4096),
      musicMaxSeconds: int(env, "MUSIC_MAX_SECONDS", 300, 1, 3600),
      videoMaxFrames: int(env, "VIDEO_MAX_FRAMES", 120, 1, 1000),
      videoMaxSize: int(env, "VIDEO_MAX_SIZE", 512, 16, 2048),
      textMaxChars: int(env, "TEXT_MAX_CHARS", 20_000, 1, 1_000_000),
      // compute thread memory: V8 heap bounds of each pool thread, MB (0 = V8's defaults). The
      // tasks' big data (pixels, samples, fields) lives in typed arrays outside the V8 heap.
      threadHeapMb: heapMb(env, "COMPUTE_THREAD_HEAP_MB", 64, 16, 65_536),
      threadYoungMb: heapMb(env, "COMPUTE_THREAD_YOUNG_MB", 0, 1, 1024),
    }),
    datasets: Object.freeze({
      maxExamplesPerDomain: int(env, "DATASET_MAX_EXAMPLES_PER_DOMAIN", 0, 0, 1_000_000_000),
      rotateIntervalS: int(env, "DATASET_ROTATE_INTERVAL_S", 0, 0, 86_400 * 30),
      pageMax: int(env, "DATASET_PAGE_MAX", 500, 1, 10_000),
      searchKMax: int(env, "SEARCH_K_MAX", 100, 1, 1000),
      bm25K1: num(env, "SEARCH_BM25_K1", 1.2, 0, 10),
      bm25B: num(env, "SEARCH_BM25_B", 0.4, 0, 1),
      bm25TermLimit: int(env, "SEARCH_BM25_TERM_LIMIT", 1000, 0, 10_000_000),
      bm25PostingsBudget: int(env, "SEARCH_BM25_POSTINGS_BUDGET", 0, 0, 1_000_000_000),
      bm25ExactPostings: int(env, "SEARCH_BM25_EXACT_POSTINGS", 50_000, 0, 1_000_000_000),
      postingsCacheMb: int(env, "SEARCH_POSTINGS_CACHE_MB", 32, 0, 65_536),
      hybridLexicalWeight: num(env, "SEARCH_HYBRID_LEXICAL_WEIGHT", 0.95, 0, 1),
      hybridDepth: int(env, "SEARCH_HYBRID_DEPTH", 20, 1, 1000),
      efSearch: int(env, "SEARCH_EF", 100, 1, 1000),
      searchCacheTtlS: int(env, "SEARCH_CACHE_TTL_S", 600, 0, 30 * 86_400),
      pageCacheTtlS: int(env, "DATASET_PAGE_CACHE_TTL_S", 600, 0, 30 * 86_400),
      vacuumIntervalS: int(env, "PGLITE_VACUUM_INTERVAL_S", 3600, 0, 86_400 * 30),
      bodyMaxExamples: int(env, "IMPORT_BODY_MAX_EXAMPLES", 5000, 1, 1_000_000),
      maxTextChars: int(env, "EXAMPLE_MAX_CHARS", 20_000, 1, 10_000_000),
      demoOnFirstStart: bool(env, "DEMO_DATA", true),
      importMaxBytes: int(env, "IMPORT_MAX_MB", 512, 1, 1_048_576) * 1024 * 1024,
      importRebuildMin: int(env, "IMPORT_HNSW_REBUILD_MIN", 2000, 0, 1_000_000_000),
    }),
    embeddings: Object.freeze({
      dim: embeddingDim(env),
      url: url(
        env,
        "EMBEDDINGS_URL",
        ["http:", "https:"],
        "an http(s):// URL of an OpenAI-compatible API (unset = local embeddings)",
      ),
      model: raw(env, "EMBEDDINGS_MODEL") ?? "text-embedding-3-small",
      key: raw(env, "EMBEDDINGS_KEY"),
      timeoutMs: int(env, "EMBEDDINGS_TIMEOUT_MS", 10_000, 100, 600_000),
      batchSize: int(env, "EMBEDDINGS_BATCH", 256, 1, 10_000),
    }),
    knowledge: Object.freeze({
      l1TtlS: int(env, "KNOWLEDGE_L1_TTL_S", 3600, 1, 30 * 86_400),
      l2TtlS: int(env, "KNOWLEDGE_L2_TTL_S", 86_400, 1, 365 * 86_400),
      llmUrl: url(
        env,
        "LLM_URL",
        ["http:", "https:"],
        "an http(s):// URL of an OpenAI-compatible API (unset = extractive answers)",
      ),
      llmModel: raw(env, "LLM_MODEL") ?? "gpt-4o-mini",
      llmKey: raw(env, "LLM_KEY"),
      llmTimeoutMs: int(env, "LLM_TIMEOUT_MS", 8000, 100, 600_000),
      warmupTop: int(env, "KNOWLEDGE_WARMUP_TOP", 200, 0, 100_000),
      warmupMs: int(env, "KNOWLEDGE_WARMUP_MS", 2000, 10, 600_000),
      versionCheckMs: int(env, "KNOWLEDGE_VERSION_CHECK_MS", 1000, 50, 600_000),
      kDefault: int(env, "KNOWLEDGE_K", 5, 1, 100),
      minMatch: num(env, "KNOWLEDGE_MIN_MATCH", KNOWLEDGE_MIN_MATCH_DEFAULT, 0, 1),
    }),
    pglite: Object.freeze({
      sharedBuffersMb: int(env, "PGLITE_SHARED_BUFFERS_MB", 16, 1, 65_536),
      workMemMb: int(env, "PGLITE_WORK_MEM_MB", 4, 1, 65_536),
      maintenanceWorkMemMb: int(env, "PGLITE_MAINTENANCE_WORK_MEM_MB", 32, 1, 65_536),
      tempBuffersMb: int(env, "PGLITE_TEMP_BUFFERS_MB", 4, 1, 65_536),
      worker: bool(env, "PGLITE_WORKER", true),
      workerHeapMb: workerHeapMb(env, resultMaxBytes),
      wasmTieringBudget: int(env, "PGLITE_WASM_TIERING_BUDGET", 90_000_000, 0, 2_000_000_000),
    }),
    jobs: Object.freeze({
      attempts: Object.freeze(perKind(env, "JOBS_ATTEMPTS", 3, 1, 100)),
      timeoutS: Object.freeze(perKind(env, "JOBS_TIMEOUT_S", 300, 1, 86_400)),
      retryDelayS: int(env, "JOBS_RETRY_DELAY_S", 2, 0, 3600),
      pollMs: int(env, "JOBS_POLL_MS", 500, 10, 60_000),
      heartbeatS: int(env, "JOBS_HEARTBEAT_S", 5, 1, 600),
      staleS: int(env, "JOBS_STALE_S", 30, 2, 86_400),
      retentionDays: int(env, "JOBS_RETENTION_DAYS", 7, 1, 3650),
      ownerMax: int(env, "JOBS_OWNER_MAX", 20, 1, 1_000_000),
      totalMax: int(env, "JOBS_TOTAL_MAX", 1000, 1, 10_000_000),
      resultsMaxBytes: int(env, "JOBS_RESULTS_MAX_MB", 1024, 1, 1_048_576) * 1024 * 1024,
    }),
  };
  return Object.freeze(config);
}

/**
 * The heap bound of PGlite's worker (PGLITE_WORKER_HEAP_MB). The worker must hold the largest
 * result a job stores, as hex text (twice its bytes) and the message it arrives in, plus its own
 * working heap: the default is 512 MB or that floor, whichever is more; a set value under the floor
 * is refused.
 */
function workerHeapMb(env: Env, resultMaxBytes: number): number {
  const least = Math.ceil((3 * resultMaxBytes) / 2 ** 20) + 64;
  const mb = heapMb(env, "PGLITE_WORKER_HEAP_MB", Math.max(512, least), 32, 65_536);
  if (mb !== 0 && mb < least)
    throw new ConfigError(
      "PGLITE_WORKER_HEAP_MB",
      `PGLITE_WORKER_HEAP_MB must be 0 or at least ${least} with RESULT_MAX_BYTES=${resultMaxBytes} (3 × the largest result + 64), got ${mb}`,
    );
  return mb;
}
