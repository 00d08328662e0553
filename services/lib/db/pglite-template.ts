/**
 * A prebuilt, empty PGlite cluster (what initdb makes), so that the first start of a data folder
 * loads it instead of running initdb: initdb inside PGlite runs a second Postgres instance and
 * copies its 128 MB heap around, which made a fresh start peak at ~800 MB RSS. `npm run build`
 * makes it once (scripts/pglite-template.ts); it is stamped with the PGlite version it was made
 * with, and a start under another version, or with the file missing, runs initdb as before.
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { PROJECT_ROOT } from "../paths";

/** Where the build puts the template: dist/, shipped with the program and inside the executable. */
export const PGLITE_TEMPLATE_FILE = path.join(PROJECT_ROOT, "dist", "pglite-template.tar.gz");

/** What a template was made with: a start under anything else runs initdb instead. */
export interface TemplateStamp {
  pglite: string;
}

/** The stamp file beside a template. */
export const stampFileOf = (file: string): string => file.replace(/\.tar\.gz$/, "") + ".json";

/** The installed PGlite's version (its package.json is not among its exports). */
export function installedPgliteVersion(): string {
  let dir = path.dirname(require.resolve("@electric-sql/pglite"));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg)) {
      const json = JSON.parse(fs.readFileSync(pkg, "utf8")) as { name?: string; version?: string };
      if (json.name === "@electric-sql/pglite" && json.version) return json.version;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error("the version of @electric-sql/pglite was not found");
    dir = up;
  }
}

/** Why a template was not used, or its contents (the gzipped tarball) to extract. */
export type TemplateLookup = { tarball: Buffer; reason?: undefined } | { tarball?: undefined; reason: string };

/** The template at `file` if it exists and was made with the installed PGlite. */
export function readTemplate(file: string = PGLITE_TEMPLATE_FILE): TemplateLookup {
  const stampFile = stampFileOf(file);
  if (!fs.existsSync(file) || !fs.existsSync(stampFile)) return { reason: `no template at ${file}` };
  let stamp: Partial<TemplateStamp>;
  try {
    stamp = JSON.parse(fs.readFileSync(stampFile, "utf8")) as Partial<TemplateStamp>;
  } catch {
    return { reason: `${stampFile} is not JSON` };
  }
  const installed = installedPgliteVersion();
  if (stamp.pglite !== installed)
    return { reason: `the template was made with PGlite ${String(stamp.pglite)}, this is ${installed}` };
  return { tarball: fs.readFileSync(file) };
}

const BLOCK = 512;

function field(h: Buffer, start: number, len: number): string {
  const raw = h.subarray(start, start + len);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? len : end).toString("utf8");
}

/**
 * Writes the files of a gzipped ustar archive made by PGlite's `dumpDataDir` into `dir`. Done
 * here, from one buffer, rather than by PGlite's `loadDataDir`, which copies every file through
 * its WASM file system while its own heap is up: a 405–419 MB peak in a trial, against ~290 MB.
 * @throws Error when the archive is damaged or names a path outside `dir`.
 */
export function extractTemplate(gz: Buffer, dir: string): void {
  const tar = zlib.gunzipSync(gz);
  const root = path.resolve(dir);
  for (let at = 0; at + BLOCK <= tar.length;) {
    const h = tar.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) return;
    const name = [field(h, 345, 155), field(h, 0, 100)].filter(Boolean).join("/");
    const size = parseInt(field(h, 124, 12).trim() || "0", 8);
    const mode = parseInt(field(h, 100, 8).trim() || "0", 8);
    const type = String.fromCharCode(h[156] || 48);
    const target = path.resolve(root, `.${path.posix.sep}${name.replace(/^\/+/, "")}`);
    if (!Number.isFinite(size) || (target !== root && !target.startsWith(root + path.sep)))
      throw new Error(`damaged template: entry "${name}" at byte ${at}`);
    at += BLOCK;
    if (type === "5") fs.mkdirSync(target, { recursive: true, mode: mode || 0o700 });
    else if (type === "0") {
      if (at + size > tar.length) throw new Error(`damaged template: "${name}" is cut short`);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, tar.subarray(at, at + size), { mode: mode || 0o600 });
    } else throw new Error(`damaged template: entry "${name}" of type ${type}`);
    at += Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new Error("damaged template: no end-of-archive marker");
}

/**
 * Runs initdb once (in memory) and writes its cluster, gzipped, to `file` with its stamp. Skips
 * the work when a template with the installed PGlite's stamp is already there.
 * @returns whether a new template was written.
 */
export async function makeTemplate(file: string = PGLITE_TEMPLATE_FILE): Promise<boolean> {
  if (readTemplate(file).tarball) return false;
  const { PGlite } = await import("@electric-sql/pglite");
  const pglite = await PGlite.create("memory://");
  try {
    const dump = await pglite.dumpDataDir("gzip");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // The stamp goes last: a build stopped halfway leaves a template without one, never used.
    fs.rmSync(stampFileOf(file), { force: true });
    fs.writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
    const stamp: TemplateStamp = { pglite: installedPgliteVersion() };
    fs.writeFileSync(stampFileOf(file), JSON.stringify(stamp) + "\n");
    return true;
  } finally {
    await pglite.close();
  }
}
