/**
 * glibc's malloc takes its settings from the environment once, when the process starts: a node
 * cannot set them for itself. Under load a compute node's threads allocate and free Buffers of
 * 0.1–1 MB (PNG filters, zlib output, results on their way to the main thread); glibc then raises
 * its mmap threshold to the largest one freed and serves the later ones from the threads' malloc
 * arenas, which fragment and do not shrink: 55–60 MB of a compute worker's RSS, more or less from
 * one run to the next. With `MALLOC_MMAP_THRESHOLD_` fixed at 128 KB each such block is mapped on
 * its own and given back when freed.
 *
 * So `mcai start` on a node that runs compute (MALLOC_RELAUNCH, see config) starts itself once
 * more with that variable set, when the environment sets none of glibc's malloc variables, and
 * stays as a small parent (~7 MB of its own memory; its code pages are shared with the node's):
 * it passes the termination signals on and exits as the node exits (the same code, or the same
 * signal). The node watches a pipe from the parent and ends itself at once (SIGKILL) when the parent
 * is gone, as prctl's PR_SET_PDEATHSIG would, so a `kill -9` of the parent still ends the whole
 * program. Node 20 has no execve, or the parent would not stay.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import type { Config } from "../services/lib/config";
import { nodeNeedsDb } from "./services-choice";

/** What the relaunched node's environment adds. */
export const MALLOC_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_MMAP_THRESHOLD_: "131072" });

/** Set in the relaunched node's environment: it is the child, watching its parent's pipe. */
export const RELAUNCHED_VAR = "MCAI_RELAUNCHED";
/** The relaunched node's file descriptor of the pipe from its parent. */
const PARENT_FD = 3;
/** Signals the parent passes on (the terminal's, a service manager's, a container runtime's). */
const FORWARDED: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR2"];

/** This process runs on glibc (the variables mean nothing to musl or other systems' malloc). */
function onGlibc(): boolean {
  if (process.platform !== "linux") return false;
  try {
    return /\/libc\.so\.6$/m.test(fs.readFileSync("/proc/self/maps", "utf8"));
  } catch {
    return false;
  }
}

/**
 * Whether `mcai start` with `config` should start itself again with MALLOC_ENV: not in the
 * relaunched node, not where the environment sets malloc itself, and by MALLOC_RELAUNCH: `on`
 * always, `off` never, `auto` a node that runs compute without the embedded database (an embedded
 * node is within its memory bounds without it, and its cold start would pay the second process).
 */
export function wantsRelaunch(config: Config, glibc: () => boolean = onGlibc): boolean {
  const m = config.malloc;
  if (m.relaunched || m.setByEnvironment || m.relaunch === "off") return false;
  const embedded = !config.databaseUrl && nodeNeedsDb(config, config.services);
  if (m.relaunch === "auto" && (!config.services.includes("compute") || embedded)) return false;
  return glibc();
}

/** The arguments that start this program again: the SEA takes them bare, node its flags and script first. */
function ownArgs(): string[] {
  return isSea() ? process.argv.slice(2) : [...process.execArgv, ...process.argv.slice(1)];
}

/** Whether this is the single executable; `node:sea` exists from Node 20.12 only (none: not one). */
function isSea(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- node:sea only where asked (Node ≥ 20.12)
    return (require("node:sea") as { isSea(): boolean }).isSea();
  } catch {
    return false;
  }
}

/** Exits as the node did: its code, or its signal raised on this process. */
function exitLike(code: number | null, signal: NodeJS.Signals | null): never {
  if (signal) {
    for (const s of FORWARDED) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    // A signal whose default is not to end the process lands here: the shell's 128 + n.
    process.exit(128 + os.constants.signals[signal]);
  }
  process.exit(code ?? 1);
}

/** Starts the node as a child with MALLOC_ENV; never settles (this process exits with the child). */
function relaunch(): Promise<never> {
  const child = spawn(process.execPath, ownArgs(), {
    env: { ...process.env, ...MALLOC_ENV, [RELAUNCHED_VAR]: "1" },
    stdio: ["inherit", "inherit", "inherit", "pipe"],
  });
  for (const s of FORWARDED) process.on(s, () => child.kill(s));
  child.on("error", (err) => {
    process.stderr.write(`mcai: could not start the node with ${Object.keys(MALLOC_ENV).join(", ")}: ${err.message}\n`);
    process.exit(1);
  });
  child.on("exit", exitLike);
  return new Promise<never>(() => undefined);
}

/** In the relaunched node: end at once when the parent is gone (its end of the pipe closes). */
function watchParent(): void {
  // Not inherited by anything this node starts (another `mcai start` would look for the pipe).
  delete process.env.MCAI_RELAUNCHED; // RELAUNCHED_VAR
  // The variable without our parent's pipe (set by hand, or leaked from a copied environment): nothing to watch.
  let fromParent = false;
  try {
    const st = fs.fstatSync(PARENT_FD);
    fromParent = st.isSocket() || st.isFIFO();
  } catch {
    // no such descriptor
  }
  if (!fromParent) return;
  const pipe = new net.Socket({ fd: PARENT_FD, readable: true, writable: false });
  const orphaned = () => process.kill(process.pid, "SIGKILL");
  pipe.on("end", orphaned);
  pipe.on("error", orphaned);
  pipe.resume();
  pipe.unref();
}

/**
 * Called once, first thing in `mcai start`: in a node that wants the malloc settings (see
 * wantsRelaunch), starts the node again with them and never settles; in the relaunched node,
 * watches the parent; otherwise returns at once.
 */
export async function relaunchWithMallocEnv(config: Config): Promise<void> {
  if (config.malloc.relaunched) watchParent();
  else if (wantsRelaunch(config)) await relaunch();
}
