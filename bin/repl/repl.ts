/**
 * The operator console: Moleculer's REPL plus mcai's own commands. Commands piped on stdin run
 * one after another, each awaited, and the process exits when the input ends.
 */
import { PassThrough } from "node:stream";
import { Errors, type ServiceBroker } from "moleculer";
import { clusterHealth, registryNodes } from "../../services/api/health";
import type { McaiNode } from "../node";
import { brokerTarget, importTo, rotateWith } from "../datasets/target";
import { exportTo } from "../datasets/export";
import { extendCacheCommand } from "./cache-command";
import type { FeedbackRow } from "../../services/knowledge/contract";

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
    command: "jobs [action] [id]",
    description: "list jobs (--status, --kind), or `jobs retry <id>` / `jobs cancel <id>`",
    options: [
      { option: "--status <status>", description: "queued, processing, completed, failed or cancelled" },
      { option: "--kind <kind>", description: "art, music, cymatic, video or emotion" },
    ],
    async action(broker, args) {
      const action = args.action as string | undefined;
      if (action === "retry" || action === "cancel") {
        if (!args.id) {
          console.log(`usage: jobs ${action} <id>`);
          return;
        }
        const j = await broker.call<{ job_id: string; status: string }, { id: unknown }>(`jobs.${action}`, {
          id: args.id,
        });
        console.log(`${j.job_id} ${j.status}`);
        return;
      }
      if (action) {
        console.log(`unknown action "${action}": use jobs [--status s] [--kind k], jobs retry <id>, jobs cancel <id>`);
        return;
      }
      const r = await broker.call<
        {
          jobs: {
            job_id: string;
            kind: string;
            status: string;
            progress: number;
            attempts: number;
            created_at: string;
          }[];
        },
        Record<string, unknown>
      >("jobs.list", {
        status: args.options.status,
        kind: args.options.kind,
        limit: 50,
      });
      for (const j of r.jobs)
        console.log(
          `${j.job_id}  ${j.kind.padEnd(8)} ${j.status.padEnd(11)} ${String(Math.round(j.progress * 100)).padStart(3)}%  attempts ${j.attempts}  ${new Date(j.created_at).toISOString()}`,
        );
      if (!r.jobs.length) console.log("no jobs");
    },
  },
  {
    command: "job <id>",
    description: "one job: state, progress, result or error",
    async action(broker, args) {
      console.log(JSON.stringify(await broker.call("jobs.get", { id: args.id }), null, 2));
    },
  },
  {
    command: "datasets",
    description: "every dataset: domain, version, live and archived examples",
    async action(broker) {
      const r = await broker.call<{
        version: number;
        datasets: { domain: string; version: number; example_count: number; archived_count: number }[];
      }>("datasets.list");
      console.log(`global version ${r.version}`);
      for (const d of r.datasets)
        console.log(
          `${d.domain.padEnd(24)} v${String(d.version).padEnd(8)} ${String(d.example_count).padStart(9)} live ${String(d.archived_count).padStart(9)} archived`,
        );
    },
  },
  {
    command: "import <path>",
    description: "import a dataset file or folder (JSON, JSONL, TXT) through this node",
    options: [{ option: "--domain <name>", description: "the domain for every file (default: each file's stem)" }],
    async action(broker, args) {
      await importTo(
        brokerTarget({ broker } as McaiNode, "this node", false),
        [String(args.path)],
        args.options.domain as string | undefined,
      );
    },
  },
  {
    command: "export <dir>",
    description: "export domains to DIR/<domain>.jsonl (what import reads back) through this node",
    options: [
      { option: "--domain <name>", description: "only this domain" },
      { option: "--archived", description: "also archived examples, to DIR/archive/<domain>.jsonl" },
    ],
    async action(broker, args) {
      await exportTo(brokerTarget({ broker } as McaiNode, "this node", false), {
        out: String(args.dir),
        domain: args.options.domain as string | undefined,
        archived: Boolean(args.options.archived),
      });
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
    command: "feedback",
    description: "votes on answers, newest first (--helpful true|false, --limit n, --cursor id)",
    options: [
      { option: "--helpful <bool>", description: "only helpful (true) or unhelpful (false) votes" },
      { option: "--limit <n>", description: "votes to show, 1-100 (default 20)" },
      { option: "--cursor <id>", description: "show votes older than this id (the last line's next cursor)" },
    ],
    async action(broker, args) {
      const r = await broker.call<{ feedback: FeedbackRow[]; next_cursor: string | null }, Record<string, unknown>>(
        "knowledge.feedbackList",
        {
          // The REPL's parser gives strings, numbers or booleans: the action's params convert them.
          helpful: args.options.helpful,
          limit: args.options.limit ?? 20,
          cursor: args.options.cursor,
        },
      );
      for (const f of r.feedback)
        console.log(
          `${f.id.padStart(8)}  ${f.helpful ? "helpful    " : "not helpful"}  example ${(f.example_id ?? "-").padEnd(8)} v${f.dataset_version}  ${new Date(f.created_at).toISOString()}  "${f.query}"${f.comment ? `  comment: ${JSON.stringify(f.comment)}` : ""}`,
        );
      if (!r.feedback.length) console.log("no feedback");
      if (r.next_cursor) console.log(`more: feedback --cursor ${r.next_cursor}`);
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

async function waitForPeers(broker: ServiceBroker, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const others = () =>
    registryNodes(broker, { onlyAvailable: true, withServices: false }).filter((n) => !n.local).length;
  while (Date.now() < deadline && others() === 0) await new Promise((r) => setTimeout(r, 50));
  // Discovery answers arrive one by one: give the rest of the cluster a moment after the first.
  await new Promise((r) => setTimeout(r, 300));
}

export interface ReplOptions {
  waitForPeers?: boolean;
}

/**
 * A failed command as one line. A params violation names each field's rule (`'id' must be a job
 * id (a UUID)`) instead of Moleculer's "Parameters validation error!".
 */
export function errorLine(err: unknown): string {
  if (err instanceof Errors.ValidationError && Array.isArray(err.data)) {
    const rules = (err.data as { message?: unknown }[]).map((f) => f.message).filter((m) => typeof m === "string");
    if (rules.length > 0) return `error: ${rules.join("; ")}`;
  }
  return `error: ${(err as Error).message}`;
}

/** Opens the REPL on `node`'s broker; resolves when it closes (the node is stopped then). */
export async function startRepl(node: McaiNode, opts: ReplOptions = {}): Promise<void> {
  if (opts.waitForPeers) await waitForPeers(node.broker, 3000);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: the console loads only when asked for
  const moleculerRepl = require("moleculer-repl") as (b: ServiceBroker, o: unknown) => ReplServerLike;
  // mcai's commands print a failure as one line instead of a stack trace.
  const commands = REPL_COMMANDS.map((c) => ({
    ...c,
    action: async (broker: ServiceBroker, args: Parameters<ReplCommand["action"]>[1]) => {
      try {
        await c.action(broker, args);
      } catch (err) {
        console.log(errorLine(err));
      }
    },
  }));
  const options = { customCommands: commands, delimiter: "mcai $" };
  extendCacheCommand();
  if (process.stdin.isTTY) {
    moleculerRepl(node.broker, options);
    return;
  }
  // Piped commands: Node's REPL would evaluate each line as it arrives, so async commands would
  // overlap and print out of order. Feed them one at a time, each after the previous finished.
  const lines = await readLines(process.stdin);
  const input = new PassThrough();
  Object.defineProperty(process, "stdin", { value: input, configurable: true });
  const server = moleculerRepl(node.broker, options);
  let done: (() => void) | undefined;
  const display = server.displayPrompt.bind(server);
  server.displayPrompt = (...args: unknown[]) => {
    display(...args);
    done?.();
  };
  for (const line of lines) await new Promise<void>((resolve) => ((done = resolve), input.write(`${line}\n`)));
  input.end();
}

interface ReplServerLike {
  displayPrompt(...args: unknown[]): void;
}

async function readLines(stream: NodeJS.ReadableStream): Promise<string[]> {
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text.split(/\r?\n/).filter((l) => l.trim() !== "");
}
