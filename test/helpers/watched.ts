/** A child process of any command, its output kept, and a bounded wait for a line in it. */
import type { ChildProcess } from "node:child_process";
import { eventually } from "./processes";

/** A process's output kept, and a bounded wait for a line in it. */
export interface Watched {
  proc: ChildProcess;
  output(): string;
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>;
}

export function watch(proc: ChildProcess): Watched {
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  return {
    proc,
    output: () => out,
    async waitForOutput(re, timeoutMs = 30_000) {
      await eventually(
        () => {
          if (proc.exitCode !== null) throw new Error(`exited (${proc.exitCode}) before printing ${re}:\n${out}`);
          return Promise.resolve(re.test(out));
        },
        timeoutMs,
        `${re} in the output`,
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${out}`);
      });
    },
  };
}
