/**
 * The main thread's side of the PGlite worker (pglite-worker.ts): each PgliteSession call becomes
 * a message, answered by id. A worker that dies rejects every call in flight and every later one.
 */
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { PgliteHost } from "./pglite-db";
import type { PgliteSessionOptions, SessionResult, SessionStatement } from "./pglite-session";
import { errorFrom, type WorkerAnswers, type WorkerReply, type WorkerRequest } from "./pglite-protocol";

// Under jest and tsx this file is .ts and so is the worker (loaded through tsx); from dist and
// inside the single executable (which ships dist/ as files), .js.
const EXT = path.extname(__filename);
export const PGLITE_WORKER_FILE = path.join(__dirname, `pglite-worker${EXT}`);

/** The worker thread holding the embedded database is gone: no statement can run any more. */
export class PgliteWorkerExitedError extends Error {
  constructor(why: string) {
    super(`the embedded database's worker thread stopped (${why}): restart the node`);
    this.name = "PgliteWorkerExitedError";
  }
}

/**
 * The thread, from dist as it is. The TypeScript source (jest, tsx) goes through tsx's require
 * hook, loaded first in the thread: `--import tsx` in execArgv (what the compute pool's Piscina
 * tasks use) registers hooks that Node 20 applies to a module a worker imports, not to the
 * worker's own entry file.
 */
function startWorker(heapMb: number): Worker {
  // A thread past its heap bound is ended by V8 (ERR_WORKER_OUT_OF_MEMORY): see the error handler.
  const resourceLimits = heapMb ? { maxOldGenerationSizeMb: heapMb } : undefined;
  const execArgv = profilerArgs(process.execArgv);
  if (EXT !== ".ts") return new Worker(PGLITE_WORKER_FILE, { execArgv, resourceLimits });
  const load = [require.resolve("tsx/cjs"), PGLITE_WORKER_FILE].map((f) => `require(${JSON.stringify(f)});`);
  return new Worker(load.join(" "), { eval: true, execArgv, resourceLimits });
}

/**
 * The CPU profiler's flags of the node (`--cpu-prof`, `--cpu-prof-dir <dir>`…), which the thread
 * takes too: a profiled node writes the database thread's profile beside its own. No other flag
 * of the node reaches the thread.
 */
export function profilerArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (!a.startsWith("--cpu-prof")) return;
    out.push(a);
    // A flag with its value as the next argument (`--cpu-prof-dir /tmp/x`).
    if (a !== "--cpu-prof" && !a.includes("=") && i + 1 < argv.length) out.push(argv[i + 1]);
  });
  return out;
}

type Op = WorkerRequest["op"];
type Args<K extends Op> = Omit<Extract<WorkerRequest, { op: K }>, "id" | "op">;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class PgliteWorkerHost implements PgliteHost {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set once the worker is gone (or closed): every call rejects with it. */
  private gone: Error | undefined;

  /**
   * Starts the thread at once: it loads PGlite and compiles its WASM while the caller goes on.
   * `heapMb` bounds its V8 old generation (0 = V8's default; PGlite's WASM memory is outside it).
   */
  constructor(heapMb = 0) {
    this.worker = startWorker(heapMb);
    // Idle, the thread does not keep the process alive; a call in flight does (see call).
    this.worker.unref();
    this.worker.on("message", (r: WorkerReply) => this.settle(r));
    this.worker.on("error", (err) => this.stop(new PgliteWorkerExitedError(`error: ${err.message}`)));
    this.worker.on("exit", (code) => this.stop(new PgliteWorkerExitedError(`exit code ${code}`)));
    this.worker.on("messageerror", (err) => {
      // An answer that could not be read belongs to an unknown call: none can be trusted to settle.
      this.stop(new PgliteWorkerExitedError(`unreadable answer: ${err.message}`));
      void this.worker.terminate();
    });
  }

  private call<K extends Op>(op: K, args: Args<K>): Promise<WorkerAnswers[K]> {
    if (this.gone) return Promise.reject(this.gone);
    const id = this.nextId++;
    const req = { id, op, ...args } as WorkerRequest;
    return new Promise<WorkerAnswers[K]>((resolve, reject: (err: Error) => void) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage(req);
      } catch (err) {
        // A parameter that cannot be cloned (a function, a file-backed Blob): this call fails alone.
        this.done(id);
        reject(err as Error);
      }
    });
  }

  private done(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
    return p;
  }

  private settle(r: WorkerReply): void {
    const p = this.done(r.id);
    if (!p) return;
    if (r.ok) p.resolve(r.value);
    else p.reject(errorFrom(r.error));
  }

  private stop(err: Error): void {
    this.gone ??= err;
    for (const id of [...this.pending.keys()]) this.done(id)?.reject(this.gone);
  }

  async open(options: PgliteSessionOptions): Promise<WorkerAnswers["open"]> {
    let { loadDataDir } = options;
    // A Blob read from a file (fs.openAsBlob) cannot cross to a thread: its bytes go, handed over.
    if (loadDataDir instanceof Blob) {
      try {
        structuredClone(loadDataDir);
      } catch {
        loadDataDir = new Blob([await loadDataDir.arrayBuffer()]);
      }
    }
    return this.call("open", { options: { ...options, loadDataDir } });
  }

  query(text: string, params: unknown[] | undefined, txId?: number, prepare?: string): Promise<SessionResult> {
    return this.call("query", { text, params, txId, prepare });
  }

  batch(statements: SessionStatement[], txId?: number, transaction?: boolean): Promise<SessionResult[]> {
    return this.call("batch", { statements, txId, transaction });
  }

  exec(sql: string, txId?: number): Promise<void> {
    return this.call("exec", { sql, txId });
  }

  begin(): Promise<number> {
    return this.call("begin", {});
  }

  end(txId: number, commit: boolean): Promise<void> {
    return this.call("end", { txId, commit });
  }

  setVectorOid(oid: number | undefined): Promise<void> {
    return this.call("setVectorOid", { oid });
  }

  dump(compression: "none" | "gzip"): Promise<Blob> {
    return this.call("dump", { compression });
  }

  /** Closes PGlite (its folder is left clean), then ends the thread. */
  async close(): Promise<void> {
    if (!this.gone) await this.call("close", {}).catch(() => undefined);
    this.stop(new PgliteWorkerExitedError("closed"));
    await this.worker.terminate();
  }

  /** Ends the thread at once, as a crash would (tests). */
  async kill(): Promise<void> {
    await this.worker.terminate();
  }
}
