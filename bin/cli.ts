/**
 * What every command shares: exit codes, one-line failures, and its configuration. The CLI's
 * output is its own, so it uses the console; services log through the broker.
 */
import { ConfigError, loadConfig, type Config } from "../services/lib/config";
import { UnknownServiceError } from "./services-choice";

/** Exit codes: 0 ok, 1 failure at run time, 2 bad usage or configuration. */
export const EXIT_USAGE = 2;

/** A subcommand: `mcai <name> [args]`. */
export interface Command {
  /** One line in `mcai --help`. */
  summary: string;
  /** `mcai <name> --help`. */
  help: string;
  run(args: string[]): Promise<void>;
}

type Env = Record<string, string | undefined>;

/** Prints `mcai: message` on stderr and exits with `code`. */
export function fail(message: string, code: number): never {
  process.stderr.write(`mcai: ${message}\n`);
  process.exit(code);
}

/**
 * A command's configuration: the environment, with the command's `defaults` under it and its
 * `flags` (those given) over it. The one place the program reads process.env, through loadConfig.
 * A bad value exits 2 with loadConfig's message.
 */
export function commandConfig(flags: Env = {}, defaults: Env = {}): Config {
  try {
    const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
    return loadConfig({ ...defaults, ...process.env, ...given });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, EXIT_USAGE);
    throw err;
  }
}

/** Runs `fn`; a failure exits 1 with its message (2 for a service this build does not ship). */
export async function run<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UnknownServiceError) fail(err.message, EXIT_USAGE);
    fail((err as Error).message, 1);
  }
}
