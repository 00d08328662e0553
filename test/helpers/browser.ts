/** Debian's Chromium driven by playwright-core, with the flags this closed network needs. */
import fs from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";

export const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => fs.existsSync(p));

/** describe when Chromium is installed; CI must have it (.ci/run installs it). */
export function describeWithBrowser(name: string, fn: () => void): void {
  if (!CHROMIUM && process.env.CI) throw new Error("Chromium is missing: .ci/run installs Debian's chromium package");
  if (!CHROMIUM) console.log(`[mcai tests] Chromium not installed (apt-get install chromium): "${name}" is SKIPPED`);
  (CHROMIUM ? describe : describe.skip)(name, fn);
}

export async function launch(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    // Playwright starts every browser on a fresh temporary profile (its own --user-data-dir).
  });
}

/** Where tests leave screenshots: test/out (ignored by git). */
export function screenshotPath(name: string): string {
  const dir = path.join(__dirname, "..", "out");
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
