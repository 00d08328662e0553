/**
 * `npm run package`: builds dist/mcai-linux-x64, one executable file (Node's single executable
 * applications). The program is compiled by tsc (npm run build); its files, the migrations, the
 * web client and dashboard, the demo knowledge base, the prebuilt PGlite cluster and the production node_modules (PGlite and
 * pgvector, PFFFT's WASM, Piscina) go in one gzipped archive, a SEA asset; scripts/sea-main.ts,
 * bundled by esbuild, unpacks it at start (see there). Prints the file's size.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { build } from "esbuild";
import { PGLITE_TEMPLATE_FILE, stampFileOf } from "../services/lib/db/pglite-template";

const ROOT = path.resolve(__dirname, "..");
const OUT = path.join(ROOT, "dist", "mcai-linux-x64");
const WORK = path.join(ROOT, "dist", "sea");
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** Files a program never reads at run time. */
const SKIP = /(\.map|\.d\.ts|\.d\.cts|\.d\.mts|\.md|\.markdown|\.tsbuildinfo.*|\.ts)$/i;

/**
 * Folders of dependencies that nothing loads: their tests, and PGlite's contrib extensions (mcai
 * loads only pgvector, which comes from its own package).
 */
const SKIP_DIRS = new Set(["test", "tests", "__tests__", "contrib"]);
/** PGlite's contrib extensions as archives, beside its dist files. */
const PGLITE_DIST = path.join("@electric-sql", "pglite", "dist");
const isPgliteContrib = (p: string) => p.endsWith(".tar.gz") && path.dirname(p).endsWith(PGLITE_DIST);

function walk(dir: string, out: string[]): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && SKIP_DIRS.has(e.name) && p.includes(`${path.sep}node_modules${path.sep}`)) continue;
    if (isPgliteContrib(p)) continue;
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile() && !SKIP.test(e.name)) out.push(p);
  }
  return out;
}

/** The folders of the production dependencies, all the way down (npm's own view of the tree). */
function productionPackages(): string[] {
  const out = execFileSync("npm", ["ls", "--omit=dev", "--all", "--parseable"], { cwd: ROOT, encoding: "utf8" });
  return [...new Set(out.split("\n").filter((p) => p.includes(`${path.sep}node_modules${path.sep}`)))];
}

function filesToShip(): string[] {
  const files: string[] = [path.join(ROOT, "package.json")];
  const distDirs = ["bin", "services", "compute", "types"].map((d) => path.join(ROOT, "dist", d));
  for (const d of distDirs) if (fs.existsSync(d)) walk(d, files);
  files.push(path.join(ROOT, "dist", "moleculer.config.js"));
  // The empty PGlite cluster a fresh data folder loads instead of running initdb (made by the build).
  for (const f of [PGLITE_TEMPLATE_FILE, stampFileOf(PGLITE_TEMPLATE_FILE)]) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: npm run build makes it`);
    files.push(f);
  }
  for (const d of ["migrations", "public", path.join("demo", "knowledge-base")]) walk(path.join(ROOT, d), files);
  // node_modules is a symlink in worktrees: ship the real files under the project's path.
  const modules = fs.realpathSync(path.join(ROOT, "node_modules"));
  for (const pkg of productionPackages()) walk(fs.realpathSync(pkg), files);
  return [...new Set(files)].filter((f) => !f.startsWith(modules) || !f.includes(`${path.sep}.bin${path.sep}`));
}

function relative(file: string): string {
  const modules = fs.realpathSync(path.join(ROOT, "node_modules"));
  if (file.startsWith(modules + path.sep)) return path.join("node_modules", path.relative(modules, file));
  return path.relative(ROOT, file);
}

/** u32 header length, JSON [path, size, mode][] header, the files' bytes in order; gzipped. */
function archive(files: string[]): Buffer {
  const entries: [string, number, number][] = [];
  const bodies: Buffer[] = [];
  for (const f of files) {
    const bytes = fs.readFileSync(f);
    entries.push([relative(f), bytes.length, fs.statSync(f).mode & 0o777]);
    bodies.push(bytes);
  }
  const header = Buffer.from(JSON.stringify(entries));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return zlib.gzipSync(Buffer.concat([length, header, ...bodies]), { level: 6 });
}

async function main(): Promise<void> {
  execFileSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const files = filesToShip();
  fs.writeFileSync(path.join(WORK, "app.gz"), archive(files));
  await build({
    entryPoints: [path.join(ROOT, "scripts", "sea-main.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile: path.join(WORK, "main.cjs"),
    logLevel: "warning",
  });
  const config = {
    main: path.join(WORK, "main.cjs"),
    output: path.join(WORK, "prep.blob"),
    disableExperimentalSEAWarning: true,
    assets: { app: path.join(WORK, "app.gz") },
  };
  fs.writeFileSync(path.join(WORK, "sea-config.json"), JSON.stringify(config, null, 2));
  execFileSync(process.execPath, ["--experimental-sea-config", path.join(WORK, "sea-config.json")], {
    cwd: ROOT,
    stdio: "inherit",
  });
  fs.rmSync(OUT, { force: true });
  fs.copyFileSync(process.execPath, OUT);
  fs.chmodSync(OUT, 0o755);
  execFileSync(
    process.execPath,
    [
      path.join(ROOT, "node_modules", "postject", "dist", "cli.js"),
      OUT,
      "NODE_SEA_BLOB",
      config.output,
      "--sentinel-fuse",
      FUSE,
    ],
    { cwd: ROOT, stdio: "inherit" },
  );
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  console.log(
    `${path.relative(ROOT, OUT)}: ${mb(fs.statSync(OUT).size)} (${files.length} files in a ${mb(fs.statSync(path.join(WORK, "app.gz")).size)} archive; Node ${process.version} itself is ${mb(fs.statSync(process.execPath).size)})`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
