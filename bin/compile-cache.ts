/**
 * V8's on-disk compile cache for the program's modules, where Node has it: `module.enableCompileCache()`
 * exists from Node 22.1 (the cache goes to NODE_COMPILE_CACHE, else a folder under the OS temp dir).
 * Node 20, these machines', has none: there this does nothing. `bin/mcai.ts` imports this module first,
 * so the modules required after it are cached.
 */
import nodeModule from "node:module";

/** What `node:module` offers from Node 22.1; absent before. */
interface CompileCacheApi {
  /** Reports a cache it could not turn on by `status` (constants.compileCacheStatus.FAILED), not by throwing. */
  enableCompileCache?: () => unknown;
  constants?: { compileCacheStatus?: { FAILED?: number } };
}

/** Turns the compile cache on when `mod` has it; says whether it did. Never throws (a cache is an optimisation). */
export function enableCompileCache(mod: CompileCacheApi = nodeModule as CompileCacheApi): boolean {
  if (typeof mod.enableCompileCache !== "function") return false;
  try {
    const r = mod.enableCompileCache() as { status?: number } | undefined;
    const failed = mod.constants?.compileCacheStatus?.FAILED;
    return !(failed !== undefined && r?.status === failed);
  } catch {
    return false;
  }
}

enableCompileCache();
