/**
 * The operator console: Moleculer's REPL plus mcai's own commands. Commands piped on stdin run
 * one after another, each awaited, and the process exits when the input ends.
 */
import type { ServiceBroker } from "moleculer";
import { clusterHealth } from "./health";
import type { McaiNode } from "./node";
import { brokerTarget, importTo, rotateWith } from "../datasets/cli";

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
    command: "datasets",
    description: "every dataset: domain, version, live and archived examples",
    async action(broker) {
      const r = await broker.call<{ version: number; datasets: { domain: string; version: number; example_count: number; archived_count: number }[] }>("datasets.list");
      console.log(`global version ${r.version}`);
      for (const d of r.datasets) console.log(`${d.domain.padEnd(24)} v${String(d.version).padEnd(8)} ${String(d.example_count).padStart(9)} live ${String(d.archived_count).padStart(9)} archived`);
    },
  },
  {
    command: "import <path>",
    description: "import a dataset file or folder (JSON, JSONL, TXT) through this node",
    options: [{ option: "--domain <name>", description: "the domain for every file (default: each file's stem)" }],
    async action(broker, args) {
      await importTo(brokerTarget({ broker } as McaiNode, "this node", false), [String(args.path)], args.options.domain as string | undefined);
    },
  },
  {
    command: "rotate",
    description: "move each domain's oldest examples beyond --max to the archive",
    options: [
      { option: "--max <n>", description: "examples kept per domain (default DATASET_MAX_EXAMPLES_PER_DOMAIN)" },
      { option: "--dry-run", description: "only say what would move" },
    ],
    async action(broker, args) {
      const max = args.options.max === undefined ? undefined : Number(args.options.max);
      await rotateWith(brokerTarget({ broker } as McaiNode, "this node", false), max, Boolean(args.options.dryRun));
    },
  },
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
