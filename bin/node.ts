/**
 * Starts and stops one mcai node: opens the database where a local service needs it, applies
 * pending migrations, creates the broker, loads the chosen services and starts them.
 */
import { once } from "node:events";
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { brokerOptions, type NodeMetadata } from "../moleculer.config";
import { DB_SERVICES, type Config, type ServiceName } from "../services/lib/config";
import { migrate, openDb, PgliteDb, type Db } from "../services/lib/db";
import { loadPgvector } from "../services/lib/db/vector";
import { attachRuntime } from "../services/lib/runtime";
import { VERSION } from "../services/lib/paths";
import { nodeNeedsDb, serviceFile } from "./services-choice";

export { nodeNeedsDb, resolveServices, UnknownServiceError } from "./services-choice";

export interface StartOptions {
  /** Short-lived nodes (the REPL) carry this in their metadata. */
  role?: "repl";
  /** Use this database instead of opening the configured one (tests). The node closes it on stop. */
  db?: Db;
  /**
   * The configured database, already being opened (`mcai start` begins before Moleculer and the
   * services load). The node owns it as if it had opened it: it closes it on stop or a failed start.
   */
  opening?: Promise<Db>;
}

export interface McaiNode {
  broker: ServiceBroker;
  config: Config;
  db?: Db;
  /** Migrations this start applied. */
  applied: string[];
  /** Where the start's time went, in order (the CLI prints them; bench:startup reads them). */
  phases: StartPhase[];
  /** Stops taking requests, lets in-flight ones finish, stops the services and closes the database. */
  stop(): Promise<void>;
}

/** One part of a start and its milliseconds. */
export interface StartPhase {
  name: string;
  ms: number;
}

/** `name 12 ms, …, ready after N ms of process time`: the line the CLI prints after a start. */
export function phasesLine(phases: readonly StartPhase[]): string {
  const parts = phases.map((p) => `${p.name} ${Math.round(p.ms)} ms`).join(", ");
  return `${parts}; ready after ${Math.round(performance.now())} ms of process time`;
}

/** The items that pass `test`, then the others, each in their order. */
function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((item) => !test(item))];
}

/** The file of a service that resolveServices() has already checked is built. */
function builtServiceFile(name: ServiceName): string {
  const file = serviceFile(name);
  if (!file) throw new Error(`service "${name}" is not built`);
  return file;
}

function loadSchema(file: string): ServiceSchema {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a service file chosen at run time (SERVICES)
  const mod = require(file) as { default?: ServiceSchema } & ServiceSchema;
  return mod.default ?? mod;
}

const CACHER_WAIT_MS = 2000;

/**
 * A Redis cacher connects in the background while the node starts. Services read it in their
 * started() (the knowledge warm-up looks for the shared cache's marker), so the start waits for it,
 * at most `ms`; a Redis that fails or stays silent leaves the cacher failing fast, as before.
 */
async function cacherReady(broker: ServiceBroker, ms: number): Promise<void> {
  const client = (broker.cacher as unknown as { client?: NodeJS.EventEmitter & { status?: string } } | null)?.client;
  if (!client || client.status === "ready") return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([once(client, "ready").catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** Starts a node running `services`. */
export async function startNode(
  config: Config,
  services: readonly ServiceName[],
  opts: StartOptions = {},
): Promise<McaiNode> {
  const metadata: NodeMetadata = { version: VERSION, startedAt: new Date().toISOString(), db: null, role: opts.role };
  let db = opts.db;
  let applied: string[] = [];
  // Whoever stops the broker (SIGTERM, the REPL's exit, a test) also closes the database:
  // PGlite must be closed to leave its folder clean.
  const broker = new ServiceBroker({
    ...brokerOptions(config, metadata),
    stopped: async () => {
      await db?.close();
    },
  });
  // Where a start's time goes. performance.now() counts from the process's start, so the first
  // phase is Node's own start and the loading of the program's modules up to here.
  let mark = performance.now();
  const phases: StartPhase[] = [{ name: "node and program modules", ms: mark }];
  const phase = (name: string) => {
    const now = performance.now();
    phases.push({ name, ms: now - mark });
    mark = now;
  };
  let opening: Promise<Db> | undefined;
  try {
    if (!db && nodeNeedsDb(config, services)) opening = opts.opening ?? openDb(config);
    // Observed at once: a refusal (the folder is busy) can come before the await below.
    opening?.catch(() => undefined);
    // The service modules load (synchronously, ~100 ms) while PGlite reads its files and compiles
    // its WASM off the main thread; one turn of the event loop lets those reads start first.
    if (opening) await new Promise((r) => setImmediate(r));
    const schemas = services.map((name) => ({ name, schema: loadSchema(builtServiceFile(name)) }));
    // The migrations check's capabilities load pgvector's package: here it loads while the open
    // runs, not between the check and the services.
    if (opening) loadPgvector().catch(() => undefined);
    phase("service modules");
    // The services that take no database when created (the gateway compiles its routes: 50-150 ms
    // on a 2-core machine) are created while PGlite opens; the others once it is open and migrated.
    attachRuntime(broker, { config });
    const [early, late] = partition(schemas, (s) => !DB_SERVICES.includes(s.name));
    for (const { schema } of early) broker.createService(schema);
    phase("services created");
    if (opening) {
      db = await opening;
      phase("database open");
      if (db instanceof PgliteDb && db.origin === "initdb")
        broker.logger.info(`fresh data folder: ran initdb, the prebuilt cluster was not used (${db.templateSkipped})`);
    }
    if (db) {
      const res = await migrate(db, undefined, { embedding_dim: config.embeddings.dim });
      phase("migrations");
      applied = res.applied;
      if (res.applied.length) broker.logger.info(`migrations applied: ${res.applied.join(", ")}`);
      if (!db.capabilities.vector) {
        broker.logger.warn(
          "pgvector is not installed in this database: vector search is off, search runs lexical only",
        );
      }
      metadata.db = { driver: db.driver, vector: db.capabilities.vector };
    }
    attachRuntime(broker, { config, db, ownsDataDir: !opts.db && db?.driver === "pglite" });
    for (const { schema } of late) broker.createService(schema);
    await cacherReady(broker, CACHER_WAIT_MS);
    await broker.start();
    phase("broker start");
    broker.logger.debug(`start: ${phasesLine(phases)}`);
  } catch (err) {
    await broker.stop().catch(() => undefined);
    db ??= await opening?.catch(() => undefined);
    await db?.close().catch(() => undefined);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // The gateway stops accepting first, so nothing new arrives while the rest winds down.
      const api = broker.getLocalService("api") as unknown as { drain?: (ms: number) => Promise<void> } | undefined;
      await api?.drain?.(config.shutdownTimeoutMs);
      await broker.stop();
    })());
  return { broker, config, db, applied, phases, stop };
}
