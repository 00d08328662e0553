/**
 * PGlite's WebAssembly at an embedded open (services/lib/db/pglite-wasm.ts): the node sets V8's
 * WASM tiering budget (PGLITE_WASM_TIERING_BUDGET) before PGlite's worker starts, and PGlite opens
 * with the module compiled ahead.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import v8 from "node:v8";
import { loadConfig } from "../../services/lib/config";
import { openEmbeddedDb } from "../../services/lib/db/embedded";
import { compilePgliteWasm, pgliteWasmFile, wasmTieringFlags } from "../../services/lib/db/pglite-wasm";

describe("PGlite's WebAssembly", () => {
  const dirs: string[] = [];
  const tmpDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-pglite-wasm-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => jest.restoreAllMocks());

  it("maps the budget to V8's flag, none for 0 (V8's default)", () => {
    expect(wasmTieringFlags(90_000_000)).toEqual(["--wasm-tiering-budget=90000000"]);
    expect(wasmTieringFlags(0)).toEqual([]);
  });

  it("sets the tiering budget before the worker starts, then opens and answers", async () => {
    const flags = jest.spyOn(v8, "setFlagsFromString");
    const db = await openEmbeddedDb(loadConfig({ MCAI_DATA_DIR: tmpDir() }));
    try {
      expect(flags).toHaveBeenCalledWith("--wasm-tiering-budget=90000000");
      expect((await db.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });

  it("leaves V8's budget alone with PGLITE_WASM_TIERING_BUDGET=0", async () => {
    const flags = jest.spyOn(v8, "setFlagsFromString");
    const db = await openEmbeddedDb(loadConfig({ MCAI_DATA_DIR: tmpDir(), PGLITE_WASM_TIERING_BUDGET: "0" }));
    try {
      expect(flags.mock.calls.flat().filter((f) => f.startsWith("--wasm-tiering-budget"))).toEqual([]);
      expect((await db.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });

  it("compiles PGlite's own module ahead, once per thread", async () => {
    expect(pgliteWasmFile()).toMatch(/@electric-sql[/\\]pglite[/\\]dist[/\\]pglite\.wasm$/);
    const mod = await compilePgliteWasm();
    expect(mod).toBeDefined();
    expect(await compilePgliteWasm()).toBe(mod);
    const exports = WebAssembly.Module.exports(mod as WebAssembly.Module).map((e) => e.name);
    expect(exports).toEqual(expect.arrayContaining(["pgl_connect", "pgl_send"]));
  });
});
