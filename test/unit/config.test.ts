import { ConfigError, loadConfig } from "../../services/lib/config";

describe("config.loadConfig", () => {
  it("applies the documented defaults", () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.services).toEqual(["api", "datasets", "knowledge", "jobs", "compute", "metrics"]);
    expect(c.transporter).toBeUndefined();
    expect(c.cacher).toBe("memory");
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir).toMatch(/\/data$/);
    expect(c.namespace).toBe("mcai");
    expect(c.apiKeys).toEqual([]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("reads every variable it documents", () => {
    const c = loadConfig({
      PORT: "8080",
      NODE_ID: "node-a",
      NAMESPACE: "prod",
      SERVICES: "compute, api",
      TRANSPORTER: "nats://127.0.0.1:4222",
      CACHER: "redis://127.0.0.1:6379",
      DATABASE_URL: "postgres://u@h/db",
      MCAI_DATA_DIR: "/tmp/x",
      LOG_LEVEL: "debug",
      COMPUTE_THREADS: "3",
      API_KEYS: "0123456789abcdef,fedcba9876543210",
      BODY_LIMIT_BYTES: "2048",
      RATE_LIMIT: "10",
      RATE_LIMIT_WINDOW_MS: "1000",
      CORS_ORIGINS: "https://a.example, https://b.example",
    });
    expect(c).toMatchObject({
      port: 8080,
      nodeId: "node-a",
      namespace: "prod",
      services: ["api", "compute"],
      transporter: "nats://127.0.0.1:4222",
      cacher: "redis://127.0.0.1:6379",
      redisUrl: "redis://127.0.0.1:6379",
      databaseUrl: "postgres://u@h/db",
      dataDir: "/tmp/x",
      logLevel: "debug",
      computeThreads: 3,
      apiKeys: ["0123456789abcdef", "fedcba9876543210"],
      bodyLimitBytes: 2048,
      rateLimit: 10,
      rateLimitWindowMs: 1000,
      corsOrigins: ["https://a.example", "https://b.example"],
    });
  });

  it("reads the memory settings: the compute pool's idle time and heap bound, PGlite's Postgres memory", () => {
    expect(loadConfig({})).toMatchObject({
      compute: { idleMs: 30_000, threadHeapMb: 64, threadYoungMb: 0 },
      pglite: {
        sharedBuffersMb: 16,
        workMemMb: 4,
        maintenanceWorkMemMb: 32,
        tempBuffersMb: 4,
        worker: true,
        workerHeapMb: 512,
        wasmTieringBudget: 90_000_000,
      },
      heap: { growingPercent: 20, semiSpaceGrowth: 1 },
    });
    expect(loadConfig({ PGLITE_WORKER: "0" }).pglite.worker).toBe(false);
    // Bigger results raise the worker's default bound to hold one as hex text.
    expect(loadConfig({ RESULT_MAX_BYTES: String(256 << 20) }).pglite.workerHeapMb).toBe(3 * 256 + 64);
    const c = loadConfig({
      COMPUTE_IDLE_MS: "0",
      COMPUTE_THREAD_HEAP_MB: "0",
      COMPUTE_THREAD_YOUNG_MB: "8",
      PGLITE_SHARED_BUFFERS_MB: "128",
      PGLITE_WORK_MEM_MB: "16",
      PGLITE_MAINTENANCE_WORK_MEM_MB: "256",
      PGLITE_TEMP_BUFFERS_MB: "8",
      PGLITE_WORKER_HEAP_MB: "0",
      PGLITE_WASM_TIERING_BUDGET: "0",
      HEAP_GROWING_PERCENT: "0",
      HEAP_SEMI_SPACE_GROWTH: "0",
    });
    expect(c).toMatchObject({
      compute: { idleMs: 0, threadHeapMb: 0, threadYoungMb: 8 },
      pglite: {
        sharedBuffersMb: 128,
        workMemMb: 16,
        maintenanceWorkMemMb: 256,
        tempBuffersMb: 8,
        workerHeapMb: 0,
        wasmTieringBudget: 0,
      },
      heap: { growingPercent: 0, semiSpaceGrowth: 0 },
    });
  });

  const bad: [string, string, RegExp][] = [
    ["PORT", "http", /^PORT must be an integer from 0 to 65535, got "http"$/],
    ["PORT", "70000", /^PORT must be an integer from 0 to 65535, got 70000$/],
    ["NODE_ID", "a b", /^NODE_ID must be 1-64 letters/],
    [
      "SERVICES",
      "api,billing",
      /^SERVICES must be a comma-separated list of api, datasets, knowledge, jobs, compute, metrics, got "api,billing"$/,
    ],
    ["TRANSPORTER", "tcp://x", /^TRANSPORTER must be a redis:\/\/ or nats:\/\/ URL/],
    ["CACHER", "memcached", /^CACHER must be memory or a redis:\/\/ URL, got "memcached"$/],
    ["DATABASE_URL", "mysql://h/db", /^DATABASE_URL must be a postgres:\/\/ URL/],
    ["REDIS_URL", "localhost:6379", /^REDIS_URL must be a redis:\/\/ URL/],
    ["LOG_LEVEL", "loud", /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, got "loud"$/],
    ["COMPUTE_THREADS", "0", /^COMPUTE_THREADS must be an integer from 1 to 256, got 0$/],
    ["API_KEYS", "short", /^API_KEYS must be comma-separated keys of at least 16 characters$/],
    ["BODY_LIMIT_BYTES", "1.5", /^BODY_LIMIT_BYTES must be an integer/],
    ["RATE_LIMIT", "-1", /^RATE_LIMIT must be an integer from 0/],
    ["RATE_LIMIT_WINDOW_MS", "5", /^RATE_LIMIT_WINDOW_MS must be an integer from 100/],
    ["SHUTDOWN_TIMEOUT_MS", "x", /^SHUTDOWN_TIMEOUT_MS must be an integer/],
    ["COMPUTE_IDLE_MS", "-5", /^COMPUTE_IDLE_MS must be an integer from 0 to 86400000, got -5$/],
    [
      "COMPUTE_THREAD_HEAP_MB",
      "8",
      /^COMPUTE_THREAD_HEAP_MB must be 0 \(V8's default\) or an integer from 16 to 65536, got 8$/,
    ],
    ["COMPUTE_THREAD_HEAP_MB", "64MB", /^COMPUTE_THREAD_HEAP_MB must be an integer from 0 to 65536, got "64MB"$/],
    ["COMPUTE_THREAD_YOUNG_MB", "2048", /^COMPUTE_THREAD_YOUNG_MB must be an integer from 0 to 1024, got 2048$/],
    ["PGLITE_SHARED_BUFFERS_MB", "0", /^PGLITE_SHARED_BUFFERS_MB must be an integer from 1 to 65536, got 0$/],
    ["PGLITE_WORK_MEM_MB", "4MB", /^PGLITE_WORK_MEM_MB must be an integer/],
    [
      "PGLITE_WORKER_HEAP_MB",
      "100",
      /^PGLITE_WORKER_HEAP_MB must be 0 or at least 160 with RESULT_MAX_BYTES=33554432 \(3 × the largest result \+ 64\), got 100$/,
    ],
    [
      "PGLITE_WORKER_HEAP_MB",
      "16",
      /^PGLITE_WORKER_HEAP_MB must be 0 \(V8's default\) or an integer from 32 to 65536, got 16$/,
    ],
    [
      "PGLITE_WASM_TIERING_BUDGET",
      "9e7",
      /^PGLITE_WASM_TIERING_BUDGET must be an integer from 0 to 2000000000, got "9e7"$/,
    ],
    ["HEAP_GROWING_PERCENT", "-1", /^HEAP_GROWING_PERCENT must be an integer from 0 to 1000, got -1$/],
    ["HEAP_SEMI_SPACE_GROWTH", "1.5", /^HEAP_SEMI_SPACE_GROWTH must be an integer from 0 to 16, got "1.5"$/],
    ["MALLOC_RELAUNCH", "yes", /^MALLOC_RELAUNCH must be auto, on or off, got "yes"$/],
  ];

  it.each(bad)("refuses %s=%s with a message naming it", (name, value, message) => {
    let err: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(name);
    expect((err as ConfigError).message).toMatch(message);
  });

  it("bounds EMBEDDING_DIM by what pgvector's HNSW index takes, and says why", () => {
    expect(loadConfig({ EMBEDDING_DIM: "2000" }).embeddings.dim).toBe(2000);
    // A 3,072-d model (text-embedding-3-large) made migration 0002's index fail where pgvector is present.
    expect(() => loadConfig({ EMBEDDING_DIM: "3072" })).toThrow(
      /EMBEDDING_DIM must be at most 2000, got 3072: pgvector's HNSW/,
    );
    expect(() => loadConfig({ EMBEDDING_DIM: "4" })).toThrow(/EMBEDDING_DIM must be an integer from 8 to 2000/);
  });

  it("refuses a heartbeat timeout not above the interval", () => {
    expect(() => loadConfig({ HEARTBEAT_INTERVAL_S: "5", HEARTBEAT_TIMEOUT_S: "5" })).toThrow(
      /HEARTBEAT_TIMEOUT_S must be greater than HEARTBEAT_INTERVAL_S/,
    );
  });
});
