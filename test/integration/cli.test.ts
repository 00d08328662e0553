/** The `mcai` program as a user runs it: its exit codes and messages, from real processes. */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {
  createDatabase,
  describeWithPg,
  describeWithRedis,
  dropDatabase,
  REDIS_URL,
  uniqueName,
} from "../helpers/servers";
import { exitWithin, killAll, spawnMcai } from "../helpers/processes";

afterAll(killAll);

/** A process that fails at once still loads the program: bounded well above that on a busy machine. */
const EXIT_BOUND_MS = 30_000;

describe("mcai start with a bad variable", () => {
  it.each([
    ["PORT", "http", "PORT must be an integer"],
    ["DATABASE_URL", "mysql://h/db", "DATABASE_URL must be a postgres:// URL"],
    ["TRANSPORTER", "tcp://h", "TRANSPORTER must be a redis:// or nats:// URL"],
    ["CACHER", "memcached", "CACHER must be memory or a redis:// URL"],
  ])("%s=%s stops at once with one line and exit code 2", async (name, value, message) => {
    const p = spawnMcai(["start"], { [name]: value, MCAI_DATA_DIR: "/nonexistent/never-created" });
    expect(await exitWithin(p, EXIT_BOUND_MS)).toBe(2);
    const lines = p.output().trim().split("\n");
    expect(lines).toEqual([expect.stringContaining(`mcai: ${message}`)]);
  });

  it.each([
    [["start", "--port", "x"], /PORT must be an integer/],
    [["start", "--bogus"], /Unknown option '--bogus'/],
  ])("a bad flag (%j) is a usage error too: exit code 2", async (args, message) => {
    const p = spawnMcai(args, { MCAI_DATA_DIR: "/nonexistent/never-created" });
    expect(await exitWithin(p, EXIT_BOUND_MS)).toBe(2);
    expect(p.output()).toMatch(message);
  });
});

describe("mcai --help", () => {
  it.each([
    [["--help"], /Commands:\n\s+start/],
    [["start", "--help"], /--services LIST/],
    [["repl", "--help"], /echo health \| mcai repl/],
    [["migrate", "--help"], /advisory lock/],
  ])("mcai %j describes it and exits 0", async (args, re) => {
    const p = spawnMcai(args, {});
    expect(await exitWithin(p, EXIT_BOUND_MS)).toBe(0);
    expect(p.output()).toMatch(re);
  });
});

describeWithPg("mcai on a port already taken", () => {
  let db: string;
  let taken: net.Server;
  let port: number;
  beforeAll(async () => {
    db = await createDatabase();
    taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    port = (taken.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => taken.close(resolve));
    await dropDatabase(db);
  });

  // Before, moleculer-web's started() waited for 'listening' only: the process hung, printing nothing.
  it.each([
    ["start", ["start", "--port", "{port}"], {}],
    ["repl", ["repl"], { PORT: "{port}" }],
  ])("mcai %s exits 1 naming the port", async (_name, args, env) => {
    const p = spawnMcai(
      args.map((a) => a.replace("{port}", String(port))),
      {
        DATABASE_URL: db,
        HOST: "127.0.0.1",
        SERVICES: "api,datasets",
        ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace("{port}", String(port))])),
      },
      "",
    );
    expect(await exitWithin(p, EXIT_BOUND_MS)).toBe(1);
    expect(p.output()).toContain(`mcai: the HTTP port 127.0.0.1:${port} is already in use`);
  });
});

describeWithRedis("mcai start loads only what a start needs", () => {
  const preload = path.join(__dirname, "..", "helpers", "loaded-modules.cjs");

  /**
   * The modules a node started with `args` and `env` had loaded when it stopped; `during` runs
   * once it is up, with its API's base URL.
   */
  async function loadedModules(
    args: string[],
    env: Record<string, string>,
    during?: (base: string) => Promise<void>,
  ): Promise<string[]> {
    const file = path.join(os.tmpdir(), `mcai-loaded-${process.pid}-${Date.now()}.txt`);
    const p = spawnMcai(["start", ...args, "--port", "0"], {
      ...env,
      NODE_OPTIONS: `--require ${preload}`,
      LOADED_MODULES_FILE: file,
    });
    await p.waitForOutput(/API at http/, 60_000);
    const base = /API at (http:\/\/localhost:\d+)\//.exec(p.output())?.[1];
    if (during && base) await during(base);
    p.kill("SIGTERM");
    expect(await exitWithin(p, EXIT_BOUND_MS)).toBe(0);
    const loaded = fs.readFileSync(file, "utf8").split("\n");
    fs.rmSync(file);
    return loaded;
  }

  /** The modules a gateway node (api,metrics on a transporter) had loaded when it stopped. */
  const gatewayModules = () =>
    loadedModules(["--services", "api,metrics"], { TRANSPORTER: REDIS_URL, NAMESPACE: uniqueName("lazy") });

  it("a gateway loads neither the compute pool nor the other commands' modules (console, progress bars, backup)", async () => {
    const loaded = await gatewayModules();
    expect(loaded).toContainEqual(expect.stringMatching(/moleculer-web/));
    const unexpected = [
      /node_modules\/piscina\//,
      /dist\/compute\/(pool|tasks\/)/,
      /node_modules\/moleculer-repl\//,
      /node_modules\/cli-progress\//,
      /dist\/bin\/(repl|embedded)\//,
      /dist\/bin\/commands\/(?!start)/,
    ];
    expect(loaded.filter((f) => unexpected.some((re) => re.test(f)))).toEqual([]);
  });

  /** An embedded node's modules, with one health request without and one with a query string. */
  let embedded: Promise<{ loaded: string[]; plain: number; withQuery: number }> | undefined;
  const embeddedModules = () =>
    (embedded ??= (async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-lazy-redis-"));
      try {
        let plain = 0;
        let withQuery = 0;
        const loaded = await loadedModules([], { MCAI_DATA_DIR: dir, DEMO_DATA: "false" }, async (base) => {
          plain = (await fetch(`${base}/api/health`)).status;
          withQuery = (await fetch(`${base}/api/health?probe=1`)).status;
        });
        return { loaded, plain, withQuery };
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    })());

  it("an embedded node without Redis never loads ioredis (only a Redis rate-limit store needs it)", async () => {
    const { loaded } = await embeddedModules();
    // The gateway and its in-process rate limiter did load: the list is not empty by accident.
    expect(loaded).toContainEqual(expect.stringMatching(/dist\/services\/api\/rate-limit-store\.js$/));
    expect(loaded.filter((f) => /node_modules\/ioredis\//.test(f))).toEqual([]);
  });

  it("an embedded node loads what its dependencies require for later only when it is used (bin/deferred-modules)", async () => {
    const { loaded, plain, withQuery } = await embeddedModules();
    expect([plain, withQuery]).toEqual([200, 200]);
    // Never used by a node: moleculer-web's multipart parser and static files, the CPU metric's
    // tracing API, moleculer-runner's argument parser, the Datadog reporter's fetch, glob.
    const never = [
      /node_modules\/text-decoding\//,
      /node_modules\/(@fastify\/busboy\/deps|send|mime)\//,
      /node_modules\/@opentelemetry\/api\/dist\/(?!index\.cjs$)/,
      /node_modules\/(args|chalk)\//,
      /node_modules\/whatwg-url\//,
      /node_modules\/minimatch\//,
    ];
    expect(loaded.filter((f) => never.some((re) => re.test(f)))).toEqual([]);
    // qs came with the request that had a query string, and parsed it.
    expect(loaded).toContainEqual(expect.stringMatching(/node_modules\/side-channel\//));
  });
});
