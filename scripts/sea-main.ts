/**
 * The entry of the single executable (bundled by esbuild into one CommonJS file, run by Node's
 * SEA). The program itself is a tree of files (dist/, migrations, the web client and dashboard,
 * the demo knowledge base, and the production node_modules with PGlite, pgvector and PFFFT's
 * WASM): Piscina's worker threads, PGlite and the native modules all need real files. The tree is
 * one gzipped asset; it is unpacked at start into a private temporary folder (mode 0700) that is
 * removed at exit, and `bin/mcai.js` is loaded from there with a full `require` (SEA's own
 * `require` loads only built-in modules).
 */
import fs from "node:fs";
import { getRawAsset } from "node:sea";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";

/** Archive layout (see scripts/package.ts): u32 header length, JSON [path, size, mode][] header, file bytes in order. */
function unpack(archive: Buffer, dir: string): void {
  const headerLength = archive.readUInt32LE(0);
  const entries = JSON.parse(archive.subarray(4, 4 + headerLength).toString("utf8")) as [string, number, number][];
  let offset = 4 + headerLength;
  const made = new Set<string>();
  for (const [rel, size, mode] of entries) {
    const file = path.join(dir, rel);
    const parent = path.dirname(file);
    if (!made.has(parent)) {
      fs.mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    fs.writeFileSync(file, archive.subarray(offset, offset + size), { mode });
    offset += size;
  }
}

function main(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  // getRawAsset returns the bytes (the string in its type is for an encoding argument it does not take).
  unpack(zlib.gunzipSync(Buffer.from(getRawAsset("app") as ArrayBuffer)), dir);
  const entry = path.join(dir, "dist", "bin", "mcai.js");
  // The program reads its arguments from process.argv.slice(2), as under `node dist/bin/mcai.js`;
  // SEA gives [executable, executable, ...arguments].
  process.argv[1] = entry;
  createRequire(entry)(entry);
}

main();
