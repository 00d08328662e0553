import type { Browser } from "playwright-core";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { getJson } from "../helpers/processes";
import { describeWithBrowser, launch, screenshotPath } from "../helpers/browser";
import { expectResponseStatus } from "../helpers/expect";

describeWithBrowser("the dashboard in Chromium", () => {
  let t: TestNode;
  let browser: Browser;
  let traffic: NodeJS.Timeout;

  beforeAll(async () => {
    t = await startTestNode(
      { RATE_LIMIT: "0", COMPUTE_THREADS: "1", NODE_ID: "dash" },
      ["api", "datasets", "knowledge", "jobs", "compute", "metrics"],
      await memoryDb(),
    );
    browser = await launch();
    let i = 0;
    traffic = setInterval(() => {
      void getJson(`${t.url}/api/health`).catch(() => undefined);
      void getJson(`${t.url}/api/knowledge?q=${i++ % 3 ? "same question" : `question ${i}`}`).catch(() => undefined);
    }, 100);
  });
  afterAll(async () => {
    clearInterval(traffic);
    // Unset when beforeAll failed before them.
    await (browser as Browser | undefined)?.close();
    await (t as TestNode | undefined)?.node.stop();
  });

  it("serves the page and its assets with revalidation", async () => {
    const page = await fetch(`${t.url}/dashboard`);
    await expectResponseStatus(page, 200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const etag = page.headers.get("etag")!;
    expect((await fetch(`${t.url}/dashboard`, { headers: { "if-none-match": etag } })).status).toBe(304);
    expect((await fetch(`${t.url}/dashboard/uplot.js`)).status).toBe(200);
    expect((await fetch(`${t.url}/dashboard/secrets.txt`)).status).toBe(404);
  });

  it("draws live charts from the cluster's metrics after some traffic", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.addInitScript(() => {
      const w = window as unknown as { cspViolations: string[] };
      w.cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) =>
        w.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
      );
    });
    await page.goto(`${t.url}/dashboard`);
    await page.waitForFunction(() => Number(document.body.dataset.samples) >= 4, undefined, { timeout: 20_000 });
    const points = await page.evaluate(() =>
      Object.fromEntries(
        ["rps", "p95", "cache", "memory", "pool"].map((id) => [
          id,
          Number((document.getElementById(id) as HTMLElement).dataset.points),
        ]),
      ),
    );
    expect(points.rps).toBeGreaterThan(0);
    expect(points.p95).toBeGreaterThan(0);
    expect(points.cache).toBeGreaterThan(0);
    expect(points.memory).toBeGreaterThan(0);
    expect(await page.locator("#status").textContent()).toMatch(/1 node\(s\), updated/);
    expect(await page.locator("canvas").count()).toBeGreaterThanOrEqual(5);
    await page.screenshot({ path: screenshotPath("dashboard.png"), fullPage: true });
    expect(errors).toEqual([]);
    // The page's Content-Security-Policy (frame-ancestors 'none', no inline script) blocks nothing it needs.
    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
  });
});
