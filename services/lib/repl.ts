/**
 * The operator console: Moleculer's REPL plus mcai's own commands. Commands piped on stdin run
 * one after another, each awaited, and the process exits when the input ends.
 */
import type { ServiceBroker } from "moleculer";
import { clusterHealth } from "./health";
import type { McaiNode } from "./node";

export interface ReplCommand {
  command: string;
  description: string;
  alias?: string[];
  options?: { option: string; description: string }[];
  action(broker: ServiceBroker, args: { options: Record<string, unknown>; [k: string]: unknown }): Promise<void>;
}

/** mcai's REPL commands; later services add theirs here. */
export const REPL_COMMANDS: ReplCommand[] = [
  {
    command: "health",
    description: "the cluster's health: nodes, their services, database, transporter, cacher",
    async action(broker) {
      console.log(JSON.stringify(await clusterHealth(broker), null, 2));
    },
  },
];

interface NodeLister {
  getNodeList(opts: { onlyAvailable: boolean; withServices: boolean }): { local: boolean }[];
}

async function waitForPeers(broker: ServiceBroker, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const others = () => (broker.registry as unknown as NodeLister).getNodeList({ onlyAvailable: true, withServices: false }).filter((n) => !n.local).length;
  while (Date.now() < deadline && others() === 0) await new Promise((r) => setTimeout(r, 50));
  // Discovery answers arrive one by one: give the rest of the cluster a moment after the first.
  await new Promise((r) => setTimeout(r, 300));
}

export interface ReplOptions {
  waitForPeers?: boolean;
}

/** Opens the REPL on `node`'s broker; resolves when it closes (the node is stopped then). */
export async function startRepl(node: McaiNode, opts: ReplOptions = {}): Promise<void> {
  if (opts.waitForPeers) await waitForPeers(node.broker, 3000);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const moleculerRepl = require("moleculer-repl") as (b: ServiceBroker, o: unknown) => { on(e: string, f: () => void): void };
  moleculerRepl(node.broker, { customCommands: REPL_COMMANDS, delimiter: "mcai $" });
}
