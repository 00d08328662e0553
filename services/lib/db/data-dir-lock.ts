import fs from "node:fs";
import path from "node:path";
import { isProcessAlive } from "../process-alive";

/** Another live process owns the embedded data folder. */
export class DataDirBusyError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`${dir} is in use by process ${pid}: embedded PGlite has one owner; stop it or use its API`);
    this.name = "DataDirBusyError";
  }
}

/**
 * A pid file in the data folder. PGlite has no lock of its own, and two processes writing one
 * folder corrupt it. A lock whose process is gone (kill -9) is taken over.
 */
export class DataDirLock {
  private constructor(private readonly file: string) {}

  static acquire(dir: string): DataDirLock {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "mcai.lock");
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, String(process.pid), { flag: "wx" });
        return new DataDirLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        const pid = Number(fs.readFileSync(file, "utf8").trim());
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid))
          throw new DataDirBusyError(dir, pid);
        fs.rmSync(file, { force: true });
      }
    }
    throw new Error(`could not lock ${dir}`);
  }

  release(): void {
    try {
      if (fs.readFileSync(this.file, "utf8").trim() === String(process.pid)) fs.rmSync(this.file, { force: true });
    } catch {
      // already gone
    }
  }
}
