/**
 * The entry of the single executable (bundled by esbuild into one CommonJS file, run by Node's
 * SEA). The program itself is a tree of files (dist/, migrations, the web client and dashboard,
 * the demo knowledge base, and the production node_modules with PGlite, pgvector and PFFFT's
 * WASM): Piscina's worker threads, PGlite and the native modules all need real files. The tree is
 * one gzipped asset, unpacked once per content under the temporary folder (see `unpacked`), and
 * `dist/bin/mcai.js` is loaded from there with a full `require` (SEA's own `require` loads only
 * built-in modules).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { getRawAsset } from "node:sea";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";

/** Archive layout (see scripts/package.ts): u32 header length, JSON [path, size, mode][] header, file bytes in order. */
/** Written last into an unpacked tree. */
const COMPLETE = ".mcai-complete";

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

/**
 * The unpacked tree, one per content: `$TMPDIR/mcai-<uid>-<sha256 prefix>`, mode 0700, owned by this
 * user. The first start unpacks into a private temporary folder and renames it into place (atomic:
 * nodes started together never see half a tree); later starts find it there. A folder of that name
 * that is not ours, or not private, is not used: this start unpacks privately and cleans up at exit.
 */
function unpacked(): string {
  const raw = Buffer.from(getRawAsset("app") as ArrayBuffer);
  const hash = crypto.createHash("sha256").update(raw).digest("hex").slice(0, 16);
  const uid = process.getuid?.() ?? 0;
  const shared = path.join(os.tmpdir(), `mcai-${uid}-${hash}`);
  const ours = (dir: string) => {
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    return st?.isDirectory() === true && st.uid === uid && (st.mode & 0o077) === 0;
  };
  if (ours(shared) && fs.existsSync(path.join(shared, COMPLETE))) return shared;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-"));
  unpack(zlib.gunzipSync(raw), dir);
  fs.writeFileSync(path.join(dir, COMPLETE), "");
  try {
    fs.renameSync(dir, shared);
    return shared;
  } catch {
    // Another start renamed its tree into place first: use that one and drop ours.
    if (ours(shared) && fs.existsSync(path.join(shared, COMPLETE))) {
      fs.rmSync(dir, { recursive: true, force: true });
      return shared;
    }
    // The name is taken by something that is not ours: run from our own tree, removed at exit.
    process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  }
}

function main(): void {
  const dir = unpacked();
  const entry = path.join(dir, "dist", "bin", "mcai.js");
  // The program reads its arguments from process.argv.slice(2), as under `node dist/bin/mcai.js`;
  // SEA gives [executable, executable, ...arguments].
  process.argv[1] = entry;
  createRequire(entry)(entry);
}

main();
