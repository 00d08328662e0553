/** `mcai start`: a node running the chosen services, until SIGTERM or SIGINT. */
import { parseArgs } from "node:util";
import { SERVICE_NAMES } from "../../services/lib/config";
import { VERSION } from "../../services/lib/paths";
import { commandConfig, fail, run, type Command } from "../cli";
import { openEmbeddedDb } from "../../services/lib/db/embedded";
import { applyHeapSettings } from "../heap-settings";
import { relaunchWithMallocEnv } from "../malloc-relaunch";
import type { McaiNode } from "../node";
import { nodeNeedsDb, resolveServices } from "../services-choice";

const help = `Usage: mcai start [--services LIST] [--port N] [--node-id ID] [--repl]

Starts a node. Without TRANSPORTER it is the whole system in one process, with embedded
Postgres (PGlite) under MCAI_DATA_DIR unless DATABASE_URL is set. Pending migrations are
applied before the services start.

Options:
  --services LIST   comma-separated services to run (${SERVICE_NAMES.join(",")}); default all
  --port N          HTTP port of the gateway (PORT, default 3000)
  --node-id ID      this node's id in the cluster (NODE_ID, default host-pid)
  --repl            also open the operator console in this process`;

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
      (err: unknown) => fail(`stop failed: ${(err as Error).message}`, 1),
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
}

/** The line that says the node is up: its services and, with the gateway here, where to reach it. */
function startedLine(node: McaiNode): string {
  const api = node.broker.getLocalService("api") as unknown as
    { server?: { address(): { port: number } | string | null } } | undefined;
  const addr = api?.server?.address();
  const where =
    addr && typeof addr === "object"
      ? `, API at http://localhost:${addr.port}/api/health, web client at http://localhost:${addr.port}/`
      : "";
  const services = node.broker.services.map((s) => s.name).filter((n) => !n.startsWith("$"));
  return `mcai ${VERSION} node ${node.config.nodeId} running ${services.join(", ")}${where}`;
}

export const startCommand: Command = {
  summary: "start a node (every service by default) and serve the HTTP API",
  help,
  async run(args) {
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
    if (values.help) {
      console.log(help);
      return;
    }
    const config = commandConfig({ SERVICES: values.services, PORT: values.port, NODE_ID: values["node-id"] });
    await relaunchWithMallocEnv(config);
    applyHeapSettings(config.heap);
    const services = run(() => Promise.resolve().then(() => resolveServices(config, config.servicesGiven)));
    // The embedded database opens first: its worker thread reads PGlite's files, compiles its WASM
    // and starts Postgres while this thread loads Moleculer and the services (below).
    const opening = !config.databaseUrl && nodeNeedsDb(config, await services) ? openEmbeddedDb(config) : undefined;
    // Observed at once: a refusal (the folder is busy) can come before startNode awaits it.
    opening?.catch(() => undefined);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: loads while the database opens
    const { phasesLine, startNode } = require("../node") as typeof import("../node");
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy, as above
    const { importDemoOnFirstStart } = require("../datasets/first-start") as typeof import("../datasets/first-start");
    const node = await run(async () => startNode(config, await services, { opening }));
    onSignals(node);
    onStrayErrors(node);
    await importDemoOnFirstStart(node);
    console.log(startedLine(node));
    console.log(`start: ${phasesLine(node.phases)}`);
    // The console's modules load only when asked for: they are not on a plain start's path.
    if (values.repl) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: the console loads only when asked for
      const { startRepl } = require("../repl/repl") as typeof import("../repl/repl");
      await startRepl(node);
    }
  },
};
