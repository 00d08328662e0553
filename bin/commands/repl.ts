/** `mcai repl`: the operator console, joining the cluster or on a local node. */
import os from "node:os";
import { parseArgs } from "node:util";
import { commandConfig, run, type Command } from "../cli";
import { resolveServices, startNode } from "../node";
import { startRepl } from "../repl/repl";
import { DataDirBusyError } from "../../services/lib/db/data-dir-lock";

const help = `Usage: mcai repl

Joins the cluster named by TRANSPORTER with a node that runs no services and opens
Moleculer's REPL with mcai's commands (try 'help', 'health', 'nodes'). Without TRANSPORTER
it starts a local node with every service first. Commands may be piped on stdin:
  echo health | mcai repl`;

export const replCommand: Command = {
  summary: "open the operator console on the cluster (or on a local node)",
  help,
  async run(args) {
    const { values } = parseArgs({ args, options: { help: { type: "boolean", short: "h" } } });
    if (values.help) {
      console.log(help);
      return;
    }
    const quiet = { LOG_LEVEL: "warn" };
    const local = commandConfig({}, quiet);
    const joining = local.transporter !== undefined;
    // A console joining a cluster shows there as repl-<host>-<pid> unless NODE_ID names it.
    const config = joining ? commandConfig({}, { ...quiet, NODE_ID: `repl-${os.hostname()}-${process.pid}` }) : local;
    const node = await run(() =>
      startNode(config, joining ? [] : resolveServices(config, false), { role: joining ? "repl" : undefined }).catch(
        (err: unknown) => {
          // A running node owns the folder: its console is the one it opens itself, at its start.
          if (err instanceof DataDirBusyError)
            throw new Error(`${err.message}; for a console on an embedded node, start it with 'mcai start --repl'`);
          throw err;
        },
      ),
    );
    await startRepl(node, { waitForPeers: joining });
  },
};
