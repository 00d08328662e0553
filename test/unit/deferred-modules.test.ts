import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { standIn } from "../../bin/deferred-modules";

/** A CommonJS module that counts its evaluations in a global. */
function writeModule(dir: string, name: string, body: string): string {
  const file = path.join(dir, `${name}.js`);
  fs.writeFileSync(file, `globalThis.__deferredLoads = (globalThis.__deferredLoads ?? 0) + 1;\n${body}\n`);
  return file;
}

const loads = () => (globalThis as { __deferredLoads?: number }).__deferredLoads ?? 0;

describe("deferred-modules.standIn", () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-deferred-"))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("loads a class's module on its first `new`, and forwards calls and properties to it", () => {
    const file = writeModule(
      dir,
      "thing",
      "module.exports = function Thing(x) { if (!new.target) return x * 2; this.x = x; };\nmodule.exports.answer = 42;",
    );
    const cache: Record<string, NodeJS.Module | undefined> = { [file]: {} as NodeJS.Module };
    const before = loads();
    const Thing = standIn(file, "function", cache) as {
      new (x: number): { x: number };
      (x: number): number;
      answer: number;
    };
    expect(loads()).toBe(before);
    expect(new Thing(3).x).toBe(3);
    expect(loads()).toBe(before + 1);
    // Out of the cache: the next require of the file is the real module.
    expect(cache[file]).toBeUndefined();
    expect(Thing(4)).toBe(8);
    expect(Thing.answer).toBe(42);
    expect(loads()).toBe(before + 1);
  });

  it("keeps a property set before the module loads, and sets it on the module when it does", () => {
    const file = writeModule(dir, "fetch", "module.exports = function fetch() { return module.exports.Promise; };");
    const before = loads();
    const fetch = standIn(file, "function", {}) as { (): unknown; Promise?: unknown };
    // Moleculer's Datadog logger, as it loads: `fetch.Promise = Promise`.
    fetch.Promise = Promise;
    expect(fetch.Promise).toBe(Promise);
    expect(loads()).toBe(before);
    expect(fetch()).toBe(Promise);
    expect(loads()).toBe(before + 1);
  });

  it("loads an object's module on its first property read, not when lodash asks for its tag", () => {
    const file = writeModule(dir, "parse", "exports.parse = (s) => s.split('&');");
    const before = loads();
    const qs = standIn(file, "object", {}) as { parse(s: string): string[] };
    // lodash's cloneDeep (Moleculer copies service schemas with it) reads every value's tag.
    expect(Symbol.toStringTag in qs).toBe(false);
    expect(Object.prototype.toString.call(qs)).toBe("[object Object]");
    expect(loads()).toBe(before);
    expect(qs.parse("a=1&b=2")).toEqual(["a=1", "b=2"]);
    expect("parse" in qs).toBe(true);
    expect(loads()).toBe(before + 1);
  });
});
