/**
 * bench/mobile: the web client over 100k examples on the real Postgres, in headless Chromium with
 * mobile emulation (360×740, Lighthouse's mobile network: 150 ms RTT, 1.6 Mbit/s down, 750 kbit/s
 * up, and 4× CPU slowdown, set through the DevTools protocol): time to the load event, to Largest
 * Contentful Paint, and to the first answer shown after a query is typed; median of 5 cold loads.
 * Baseline in the same run: a blank page from a bare node:http server under the same conditions.
 *
 *   npm run bench:mobile      (EXAMPLES=100000)
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { benchDatabase, freePort, machine, MCAI_BIN, REDIS_URL, runMain, sleep, startMcai } from "./lib";

const EXAMPLES = Number(process.env.EXAMPLES ?? 100_000);
const RUNS = 5;
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => fs.existsSync(p));

interface Sample {
  load: number;
  lcp: number;
  answer?: number;
}

async function coldLoad(browser: Browser, url: string, ask: boolean, run: number): Promise<Sample> {
  const context = await browser.newContext({
    viewport: { width: 360, height: 740 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1024 * 1024) / 8,
    uploadThroughput: (750 * 1024) / 8,
  });
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
  await page.addInitScript(() => {
    (window as unknown as { __lcp: number }).__lcp = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) (window as unknown as { __lcp: number }).__lcp = e.startTime;
    }).observe({ type: "largest-contentful-paint", buffered: true });
  });
  await page.goto(url, { waitUntil: "load" });
  const load = await page.evaluate(
    () => (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).loadEventEnd,
  );
  await sleep(300);
  const lcp = await page.evaluate(() => (window as unknown as { __lcp: number }).__lcp);
  let answer: number | undefined;
  if (ask) {
    // A different question each run: every answer is a cache miss, searched over the examples.
    await page.fill(
      "#q",
      [
        "what is a perfect fifth",
        "how do binaural beats work",
        "chladni plate patterns",
        "alpha waves and calm",
        "flow fields in art",
      ][run % 5],
    );
    const t0 = Date.now();
    await page.click("#ask-form button");
    await page.waitForSelector("#answer:not([hidden])", { timeout: 30_000 });
    answer = Date.now() - t0;
  }
  await context.close();
  return { load, lcp, answer };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function series(browser: Browser, label: string, url: string, ask: boolean): Promise<void> {
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(await coldLoad(browser, url, ask, i));
  const answers = samples.map((s) => s.answer).filter((x): x is number => x !== undefined);
  console.log(
    `  ${label.padEnd(34)} load ${median(samples.map((s) => s.load))
      .toFixed(0)
      .padStart(5)} ms   LCP ${median(samples.map((s) => s.lcp))
      .toFixed(0)
      .padStart(
        5,
      )} ms${answers.length ? `   first answer ${median(answers).toFixed(0).padStart(5)} ms after submit` : ""}`,
  );
}

async function main(): Promise<void> {
  if (!CHROMIUM) throw new Error("Chromium is needed: apt-get install chromium");
  console.log(
    `bench/mobile on ${machine()}: ${EXAMPLES} examples, median of ${RUNS} cold loads, 360×740, 150 ms RTT, 1.6/0.75 Mbit/s, CPU 4× slower`,
  );
  const browser = await chromium.launch({
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
  });
  const bare = http
    .createServer((_q, res) => res.end("<!doctype html><title>blank</title><p>blank</p>"))
    .listen(0, "127.0.0.1");
  await new Promise((r) => bare.once("listening", r));
  await series(
    browser,
    "baseline: blank page, node:http",
    `http://127.0.0.1:${(bare.address() as { port: number }).port}/`,
    false,
  );
  bare.close();

  const db = await benchDatabase("mcai_bench_mobile");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-mobile-"));
  execFileSync(process.execPath, [MCAI_BIN, "demo-data", "--examples", String(EXAMPLES), "--out", dir]);
  execFileSync(process.execPath, [MCAI_BIN, "import", dir], {
    env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: "warn" },
    stdio: "ignore",
  });
  const port = await freePort();
  const node = startMcai(["--port", String(port)], {
    DATABASE_URL: db.url,
    CACHER: REDIS_URL,
    NAMESPACE: new URL(db.url).pathname.slice(1),
    RATE_LIMIT: "0",
  });
  await node.ready;
  await series(browser, "mcai web client (uncached answers)", `http://127.0.0.1:${port}/`, true);
  node.proc.kill("SIGTERM");
  await sleep(1000);
  await browser.close();
  await db.drop();
  fs.rmSync(dir, { recursive: true, force: true });
}

runMain(main);
