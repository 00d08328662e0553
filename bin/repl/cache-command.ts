/** The REPL's `cache` command, extended with mcai's knowledge cache tiers. */
import type { ServiceBroker } from "moleculer";

interface CacheCommandModule {
  register(program: CommanderLike, broker: ServiceBroker): void;
  declaration(
    program: CommanderLike,
    broker: ServiceBroker,
    keys: unknown,
    clear: (broker: ServiceBroker, args: { pattern?: string }) => Promise<void>,
  ): void;
  cacheKeysHandler: unknown;
  cacheClearHandler: (broker: ServiceBroker, args: { pattern?: string }) => Promise<void>;
}

interface CommanderLike {
  commands: CommanderLike[];
  name(): string;
  command(spec: string): CommanderLike;
  description(text: string): CommanderLike;
  action(fn: () => Promise<void>): CommanderLike;
}

let cacheCommandExtended = false;

/**
 * Moleculer's REPL has its own `cache` command (keys, clear), and a custom command of the same
 * name is skipped. mcai extends it instead: `cache stats` shows the knowledge cache per tier, and
 * `cache clear` without a pattern empties both knowledge tiers (L1 and the Postgres L2).
 */
export function extendCacheCommand(): void {
  if (cacheCommandExtended) return;
  cacheCommandExtended = true;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS module of moleculer-repl with no typings, patched at run time
  const mod = require("moleculer-repl/src/commands/cache.js") as CacheCommandModule;
  const clear = async (broker: ServiceBroker, args: { pattern?: string }) => {
    const knowledge = (broker.registry as unknown as { hasService(name: string): boolean }).hasService("knowledge");
    if (args.pattern || !knowledge) return mod.cacheClearHandler(broker, args);
    try {
      console.log(JSON.stringify(await broker.call("knowledge.cacheClear")));
    } catch (err) {
      console.log(`error: ${(err as Error).message}`);
    }
  };
  mod.register = (program, broker) => {
    mod.declaration(program, broker, mod.cacheKeysHandler, clear);
    const cache = program.commands.find((c) => c.name() === "cache");
    if (!cache) throw new Error("moleculer-repl declared no cache command");
    cache
      .command("stats")
      .description("knowledge cache: hits, misses and entries per tier")
      .action(async () => {
        try {
          console.log(JSON.stringify(await broker.call("knowledge.cacheStats"), null, 2));
        } catch (err) {
          console.log(`error: ${(err as Error).message}`);
        }
      });
  };
}
