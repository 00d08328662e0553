/**
 * PGlite's WebAssembly: the V8 tiering setting its start runs under, and its module compiled
 * ahead of the open.
 *
 * V8 runs WASM first as Liftoff code and recompiles a function with TurboFan once it has spent its
 * tiering budget (roughly bytes executed). Postgres' start and first statements run a lot of code
 * once: with V8 11.3's budget (1.8 M) hundreds of its functions reach TurboFan during a start, a
 * few hundred ms of background compilation on a 2-core machine that the main thread's module loading
 * needs. A larger budget keeps code that runs only at start on Liftoff; the code that stays hot
 * (a query's executor loops) still reaches TurboFan, later (see docs/operations.md, cold start).
 */
import fs from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import type { PGliteOptions } from "@electric-sql/pglite";

/** A compiled WebAssembly.Module (the build's lib has no WebAssembly types: PGlite's own name for it). */
export type WasmModule = NonNullable<PGliteOptions["pgliteWasmModule"]>;
/** The one WebAssembly call used here, typed for that lib. */
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } })
  .WebAssembly;

/** The V8 flags for `budget` (PGLITE_WASM_TIERING_BUDGET); none for 0 (V8's default). */
export function wasmTieringFlags(budget: number): string[] {
  return budget ? [`--wasm-tiering-budget=${budget}`] : [];
}

/**
 * Sets V8's WASM tiering budget for the whole process (every thread's WASM: PGlite's and the
 * compute threads' PFFFT); before PGlite's worker starts, so its instance starts with it.
 */
export function applyWasmTieringBudget(budget: number): void {
  for (const flag of wasmTieringFlags(budget)) v8.setFlagsFromString(flag);
}

/** PGlite's WASM file beside its package entry (dist/pglite.wasm), or undefined where it is not a file. */
export function pgliteWasmFile(): string | undefined {
  try {
    const file = path.join(path.dirname(require.resolve("@electric-sql/pglite")), "pglite.wasm");
    return fs.existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

let compiling: Promise<WasmModule | undefined> | undefined;

/**
 * PGlite's module, compiled once per thread, from the first call on: the worker starts it as it
 * loads, so the compile overlaps the thread's imports and the open's file work. Undefined when the
 * file cannot be read or compiled: PGlite then compiles it itself, as without this.
 */
export function compilePgliteWasm(): Promise<WasmModule | undefined> {
  compiling ??= (async () => {
    const file = pgliteWasmFile();
    if (!file) return undefined;
    try {
      return await wasm.compile(await fs.promises.readFile(file));
    } catch {
      return undefined;
    }
  })();
  return compiling;
}
