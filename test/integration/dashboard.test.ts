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
    await t.node.broker.call("knowledge.feedback", { query: "same question", helpful: false });
    await t.node.broker.call("knowledge.feedback", { query: "same question", helpful: true });
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
    await expectResponseStatus(await fetch(`${t.url}/dashboard`, { headers: { "if-none-match": etag } }), 304);
    await expectResponseStatus(await fetch(`${t.url}/dashboard/uplot.js`), 200);
    await expectResponseStatus(await fetch(`${t.url}/dashboard/secrets.txt`), 404);
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
    // Read in one turn of the page, so that no sample lands between the counts.
    const { samples, charts } = await page.evaluate(() => ({
      samples: Number(document.body.dataset.samples),
      charts: Object.fromEntries(
        ["rps", "p95", "cache", "memory", "feedback"].map((id) => {
          const d = (document.getElementById(id) as HTMLElement).dataset;
          return [id, { points: Number(d.points), series: Number(d.series) }];
        }),
      ),
    }));
    // One node: one memory series with a point in every sample.
    expect(charts.memory).toEqual({ points: samples, series: 1 });
    // The others have a series per route or tier, each with a point in some samples (a rate needs
    // two): between one point and one per sample and series. The counts show in the diff on failure.
    const inRange = Object.fromEntries(
      ["rps", "p95", "cache", "feedback"].map((id) => [
        id,
        charts[id].points >= 1 && charts[id].points <= samples * charts[id].series,
      ]),
    );
    expect({ inRange, charts, samples }).toEqual({
      inRange: { rps: true, p95: true, cache: true, feedback: true },
      charts: expect.anything(),
      samples: expect.anything(),
    });
    const summary = (await getJson(`${t.url}/api/metrics/summary`)).body;
    expect(summary.feedback).toEqual({ helpful: 1, unhelpful: 1 });
    expect(await page.locator("#status").textContent()).toMatch(/1 node\(s\), updated/);
    expect(await page.locator("canvas").count()).toBeGreaterThanOrEqual(6);
    await page.screenshot({ path: screenshotPath("dashboard.png"), fullPage: true });
    expect(errors).toEqual([]);
    // The page's Content-Security-Policy (frame-ancestors 'none', no inline script) blocks nothing it needs.
    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
  });
});
