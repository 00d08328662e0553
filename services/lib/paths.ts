import fs from "node:fs";
import path from "node:path";

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, "utf8")) as { name?: unknown }).name === "mcai")
      return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`mcai's package.json not found above ${start}`);
    dir = up;
  }
}

/** The project folder (where package.json is), from the sources under tsx/jest and from dist/ alike. */
export const PROJECT_ROOT = findRoot(__dirname);

/** mcai's version, from package.json. */
export const VERSION = (
  JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string }
).version;
