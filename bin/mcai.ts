#!/usr/bin/env node
/**
 * mcai: the one entry point. `mcai start | repl | migrate`, each with --help.
 * Output here is the CLI's own, so it uses the console; services log through the broker.
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, SERVICE_NAMES, type Config } from "../services/lib/config";
import { migrate, openDb } from "../services/lib/db";
import { resolveServices, startNode, UnknownServiceError, type McaiNode } from "./node";
import { startRepl } from "./repl/repl";
import { VERSION } from "../services/lib/paths";
import fs from "node:fs";
import { runImport, runRotate } from "./datasets/target";
import { writeDemoFiles } from "./datasets/demo-data";
import { importDemoOnFirstStart } from "./datasets/first-start";

/** Exit codes: 0 ok, 1 failure at run time, 2 bad usage or configuration. */
const EXIT_USAGE = 2;

const HELP: Record<string, string> = {
  main: `mcai ${VERSION}: the MC AI backend runtime

Usage: mcai <command> [options]

Commands:
  start     start a node (every service by default) and serve the HTTP API
  repl      open the operator console on the cluster (or on a local node)
  migrate   apply pending database migrations and exit
  import    import dataset files (JSON, JSONL, TXT) into domains
  rotate    move each domain's oldest examples beyond a limit to the archive
  demo-data write realistic demo dataset files

Run 'mcai <command> --help' for a command's options. Configuration comes from the
environment (see README.md): PORT, NODE_ID, SERVICES, TRANSPORTER, CACHER, DATABASE_URL, ...`,
  start: `Usage: mcai start [--services LIST] [--port N] [--node-id ID] [--repl]

Starts a node. Without TRANSPORTER it is the whole system in one process, with embedded
Postgres (PGlite) under MCAI_DATA_DIR unless DATABASE_URL is set. Pending migrations are
applied before the services start.

Options:
  --services LIST   comma-separated services to run (${SERVICE_NAMES.join(",")}); default all
  --port N          HTTP port of the gateway (PORT, default 3000)
  --node-id ID      this node's id in the cluster (NODE_ID, default host-pid)
  --repl            also open the operator console in this process`,
  repl: `Usage: mcai repl

Joins the cluster named by TRANSPORTER with a node that runs no services and opens
Moleculer's REPL with mcai's commands (try 'help', 'health', 'nodes'). Without TRANSPORTER
it starts a local node with every service first. Commands may be piped on stdin:
  echo health | mcai repl`,
  import: `Usage: mcai import <path...> [--domain NAME]

Imports JSON ({"examples": [...]} or a bare array), JSONL (one object per line) and TXT (one
example per blank-line-separated paragraph) files; folders are walked, and folders or files
named "archive" are skipped. The domain is the file's stem unless --domain is given. Fields:
content (or completion, or prompt), response; every other field goes to metadata. Examples
already in the domain (same content) are skipped. Each file goes in one transaction: a
malformed file is reported with its line or position, nothing from it is written, the others
go in, and the command exits 1. Works whether or not a node runs on the same data.`,
  rotate: `Usage: mcai rotate [--max N] [--dry-run]

Moves each domain's oldest examples beyond N (default DATASET_MAX_EXAMPLES_PER_DOMAIN) to the
archive table, one node at a time (advisory lock); counts and versions are kept right.`,
  "demo-data": `Usage: mcai demo-data --examples N --out DIR

Writes N realistic examples over MC AI's domains as JSON, JSONL and TXT files in DIR.`,
  migrate: `Usage: mcai migrate

Applies pending migrations (migrations/NNNN_*.sql) to DATABASE_URL, or to the embedded
database under MCAI_DATA_DIR, under an advisory lock, and prints what it applied.`,
};

function fail(message: string, code: number): never {
  process.stderr.write(`mcai: ${message}\n`);
  process.exit(code);
}

function configFrom(overrides: Record<string, string | undefined>): Config {
  try {
    const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
    return loadConfig({ ...process.env, ...given });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, EXIT_USAGE);
    throw err;
  }
}

/**
 * A promise rejected with no handler (a driver's stray error while a server restarts) is logged,
 * not allowed to take the whole node down with the requests it serves.
 */
function onStrayErrors(node: McaiNode): void {
  process.on("unhandledRejection", (err) => node.broker.logger.error("unhandled rejection:", err));
}

function onSignals(node: McaiNode): void {
  let signalled = false;
  const handler = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    node.broker.logger.info(`${signal}: draining requests and stopping`);
    // A stop that hangs past its bound must not keep the process alive.
    setTimeout(
      () => fail(`stop took longer than ${node.config.shutdownTimeoutMs + 5000} ms`, 1),
      node.config.shutdownTimeoutMs + 5000,
    ).unref();
    node.stop().then(
      () => process.exit(0),
      (err) => fail(`stop failed: ${(err as Error).message}`, 1),
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}

async function start(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      services: { type: "string" },
      port: { type: "string" },
      "node-id": { type: "string" },
      repl: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return void console.log(HELP.start);
  const config = configFrom({ SERVICES: values.services, PORT: values.port, NODE_ID: values["node-id"] });
  const explicit = values.services !== undefined || process.env.SERVICES !== undefined;
  const node = await run(() => startNode(config, resolveServices(config, explicit)));
  onSignals(node);
  onStrayErrors(node);
  await importDemoOnFirstStart(node);
  const api = node.broker.getLocalService("api") as unknown as
    { server?: { address(): { port: number } | string | null } } | undefined;
  const addr = api?.server?.address();
  const where =
    addr && typeof addr === "object"
      ? `, API at http://localhost:${addr.port}/api/health, web client at http://localhost:${addr.port}/`
      : "";
  console.log(
    `mcai ${VERSION} node ${config.nodeId} running ${node.broker.services
      .map((s) => s.name)
      .filter((n) => !n.startsWith("$"))
      .join(", ")}${where}`,
  );
  if (values.repl) await startRepl(node);
}

async function repl(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { help: { type: "boolean", short: "h" } } });
  if (values.help) return void console.log(HELP.repl);
  const joining = Boolean(process.env.TRANSPORTER);
  const config = configFrom({
    NODE_ID: process.env.NODE_ID ?? (joining ? `repl-${os.hostname()}-${process.pid}` : undefined),
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
  });
  const node = await run(() =>
    startNode(config, joining ? [] : resolveServices(config, false), { role: joining ? "repl" : undefined }),
  );
  await startRepl(node, { waitForPeers: joining });
}

async function migrateCmd(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { help: { type: "boolean", short: "h" } } });
  if (values.help) return void console.log(HELP.migrate);
  const config = configFrom({});
  const db = await run(() => openDb(config));
  try {
    const res = await migrate(db, undefined, { embedding_dim: config.embeddings.dim });
    console.log(res.applied.length ? `applied ${res.applied.join(", ")}` : `up to date (${res.total} migrations)`);
    console.log(`database: ${db.driver}, pgvector: ${db.capabilities.vector ? "yes" : "no (vector search off)"}`);
  } finally {
    await db.close();
  }
}

async function importCmd(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { domain: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) return void console.log(HELP.import);
  if (positionals.length === 0) fail("import needs at least one file or folder; run 'mcai import --help'", EXIT_USAGE);
  if (values.domain !== undefined && !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(values.domain))
    fail("--domain must be 1-64 of a-z, 0-9, '_', '-'", EXIT_USAGE);
  const missing = positionals.find((p) => !fs.existsSync(p));
  if (missing) fail(`no such file or folder: ${missing}`, EXIT_USAGE);
  const config = configFrom({ LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" });
  process.exitCode = await run(() => runImport(config, positionals, values.domain));
}

async function rotateCmd(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { max: { type: "string" }, "dry-run": { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) return void console.log(HELP.rotate);
  const max = values.max === undefined ? undefined : Number(values.max);
  if (max !== undefined && (!Number.isInteger(max) || max < 1))
    fail(`--max must be a positive integer, got "${values.max}"`, EXIT_USAGE);
  const config = configFrom({ LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" });
  if (max === undefined && !config.datasets.maxExamplesPerDomain)
    fail("no limit: pass --max N or set DATASET_MAX_EXAMPLES_PER_DOMAIN", EXIT_USAGE);
  process.exitCode = await run(() => runRotate(config, max, values["dry-run"] ?? false));
}

async function demoDataCmd(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { examples: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) return void console.log(HELP["demo-data"]);
  const n = Number(values.examples);
  if (!Number.isInteger(n) || n < 1 || n > 100_000_000)
    fail("--examples must be an integer from 1 to 100000000", EXIT_USAGE);
  if (!values.out) fail("--out DIR is required", EXIT_USAGE);
  const files = writeDemoFiles(n, values.out);
  console.log(`wrote ${n} examples in ${files.length} files under ${values.out}`);
}

async function run<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UnknownServiceError) fail(err.message, EXIT_USAGE);
    fail((err as Error).message, 1);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "start":
      return start(rest);
    case "repl":
      return repl(rest);
    case "migrate":
      return migrateCmd(rest);
    case "import":
      return importCmd(rest);
    case "rotate":
      return rotateCmd(rest);
    case "demo-data":
      return demoDataCmd(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      return void console.log(HELP.main);
    case "--version":
    case "-v":
      return void console.log(VERSION);
    default:
      fail(`unknown command "${command}"; run 'mcai --help'`, EXIT_USAGE);
  }
}

main(process.argv.slice(2)).catch((err) => {
  if ((err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))
    fail(`${(err as Error).message}; run 'mcai --help'`, EXIT_USAGE);
  fail((err as Error).stack ?? String(err), 1);
});
