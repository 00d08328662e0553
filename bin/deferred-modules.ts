/**
 * Modules that Moleculer, moleculer-web and prom-client require at their top although a node uses
 * them later or never: each goes into Node's module cache as a stand-in that loads the real module
 * the first time it is used (a property read or written, a call, a `new`). A start then does not
 * compile them: on this 2-core machine ~30% of the dependencies' load (see docs/operations.md,
 * cold start). `bin/mcai.ts` imports this module before anything that loads those dependencies;
 * importing it defers them.
 *
 * Each entry names where it is required from and how that code uses it; a stand-in forwards gets,
 * `in`, calls and `new`, which is all those uses do, and keeps a property set before the module
 * loads for it. Under a module system that is not Node's own (jest's runtime keeps its own
 * registry) this does nothing.
 */
import fs from "node:fs";
import nodeModule, { createRequire } from "node:module";
import path from "node:path";

/** A dependency's dependency to load on first use. */
export interface DeferredModule {
  /** A package whose file requires it (resolved from here) and that file, inside the package. */
  owner: string;
  file: string;
  /** What that file requires. */
  request: string;
  /** What the module exports: a function or class (called, or constructed) or a plain object. */
  exports: "function" | "object";
}

/** The deferred modules and their only uses (moleculer 0.14, moleculer-web 0.10, prom-client 15). */
export const DEFERRED_MODULES: readonly DeferredModule[] = [
  // `queryString.parse` of a URL with a query string: side-channel and get-intrinsic come with it.
  { owner: "moleculer-web", file: "src/index.js", request: "qs", exports: "object" },
  // Called only for a route's `assets` (the program serves its web client itself).
  { owner: "moleculer-web", file: "src/index.js", request: "serve-static", exports: "function" },
  // `new Busboy` for a multipart alias only (none here); brings text-decoding's tables.
  { owner: "moleculer-web", file: "src/alias.js", request: "@fastify/busboy", exports: "function" },
  // The CPU metric reads the active span only with exemplars on (not used here).
  { owner: "prom-client", file: "lib/metrics/processCpuTotal.js", request: "@opentelemetry/api", exports: "object" },
  // `moleculer-runner`'s class (args, chalk), exported on Moleculer's index and never used here.
  { owner: "moleculer", file: "index.js", request: "./src/runner", exports: "function" },
  // The HTTP client of Moleculer's Datadog logger and reporter, Zipkin and New Relic exporters (none used
  // here; the logger sets `fetch.Promise` as it loads).
  { owner: "moleculer", file: "src/metrics/reporters/datadog.js", request: "node-fetch", exports: "function" },
  // `glob.sync` in `broker.loadServices` (the program creates its services from files it names).
  { owner: "moleculer", file: "src/service-broker.js", request: "glob", exports: "object" },
];

type Cache = Record<string, NodeJS.Module | undefined>;
type Target = ((...args: unknown[]) => unknown) | Record<string, unknown>;

/** The module at `file`, loaded from disk on first use through the returned stand-in. */
export function standIn(file: string, exports: DeferredModule["exports"], cache: Cache = require.cache): object {
  let real: object | undefined;
  // Properties set before the module loads (Moleculer's Datadog logger sets `fetch.Promise` as it
  // loads): kept here, read back from here, and set on the module when it loads.
  const early = new Map<string | symbol, unknown>();
  const load = (): object => {
    if (!real) {
      // Out of the cache first, so that this require loads the real module (and caches it).
      Reflect.deleteProperty(cache, file);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module deferred, by its resolved file
      real = require(file) as object;
      for (const [key, value] of early) Reflect.set(real, key, value);
      early.clear();
    }
    return real;
  };
  const isEarly = (key: string | symbol) => !real && early.has(key);
  // A stand-in for a function must be callable; `function` (not an arrow) so that `new` works.
  const target: Target = exports === "function" ? function deferred() {} : {};
  // lodash's cloneDeep (Moleculer's copy of a service schema, where moleculer-web puts serveStatic)
  // asks every value for its Symbol.toStringTag: none of these modules has one, nor has the target.
  const own = (key: string | symbol) => key === Symbol.toStringTag;
  return new Proxy(target, {
    get: (t, key): unknown =>
      own(key) ? Reflect.get(t, key) : isEarly(key) ? early.get(key) : Reflect.get(load(), key),
    set: (_t, key, value) => (real ? Reflect.set(real, key, value) : (early.set(key, value), true)),
    has: (t, key) => (own(key) ? Reflect.has(t, key) : isEarly(key) || Reflect.has(load(), key)),
    apply: (_t, self, args: unknown[]) => Reflect.apply(load() as (...a: unknown[]) => unknown, self, args),
    construct: (_t, args: unknown[]) => Reflect.construct(load() as new (...a: unknown[]) => object, args),
  });
}

/** The folder of package `name` (Moleculer's `exports` map does not export its package.json). */
function packageDir(name: string): string {
  let dir = path.dirname(require.resolve(name));
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${name}'s entry`);
    dir = path.dirname(dir);
  }
  return dir;
}

/**
 * Puts a stand-in for each of `modules` in Node's module cache, unless the module is already loaded
 * or cannot be found (a dependency that moved: it then loads as before). Returns the files deferred.
 */
export function deferModules(modules: readonly DeferredModule[] = DEFERRED_MODULES): string[] {
  const cache = require.cache as Cache;
  // jest's require does not read Node's cache: nothing to defer there.
  if (cache !== (nodeModule as unknown as { _cache: Cache })._cache) return [];
  const deferred: string[] = [];
  for (const m of modules) {
    let file: string;
    try {
      const owner = packageDir(m.owner);
      file = createRequire(path.join(owner, m.file)).resolve(m.request);
    } catch {
      continue;
    }
    if (cache[file]) continue;
    const mod = new nodeModule(file);
    mod.filename = file;
    mod.loaded = true;
    mod.exports = standIn(file, m.exports, cache);
    cache[file] = mod;
    deferred.push(file);
  }
  return deferred;
}

deferModules();
