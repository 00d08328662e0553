import type { Browser, Page } from "playwright-core";
import { expectResponseStatus } from "../helpers/expect";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { describeWithBrowser, launch, screenshotPath } from "../helpers/browser";
import { loadCorpus } from "../helpers/datasets";

describeWithBrowser("the web client in Chromium, on a phone-sized screen", () => {
  let t: TestNode;
  let browser: Browser;
  let page: Page;
  let bytes = 0;

  beforeAll(async () => {
    t = await startTestNode(
      { RATE_LIMIT: "0", COMPUTE_THREADS: "2" },
      ["api", "datasets", "knowledge", "jobs", "compute", "metrics"],
      await memoryDb(),
    );
    await loadCorpus(t.node.broker);
    await t.node.broker.call("datasets.add", {
      domain: "scroll",
      examples: Array.from({ length: 120 }, (_, i) => ({ content: `scroll example ${i}` })),
    });
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
    page.on("response", async (r) => {
      const len = Number((await r.allHeaders())["content-length"] ?? 0);
      bytes += len;
    });
    await page.addInitScript(() => {
      const w = window as unknown as { cspViolations: string[] };
      w.cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) =>
        w.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
      );
    });
    await page.goto(`${t.url}/`, { waitUntil: "load" });
  });
  afterAll(async () => {
    // Unset when beforeAll failed before them.
    await (browser as Browser | undefined)?.close();
    await (t as TestNode | undefined)?.node.stop();
  });

  it("loads under 100 KB, fits 360 px and has touch targets of 44 px", async () => {
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(100 * 1024);
    expect(await page.evaluate(() => document.scrollingElement!.scrollWidth)).toBeLessThanOrEqual(360);
    const heights = await page.$$eval("button, input, select", (els) =>
      els.filter((e) => (e as HTMLElement).offsetParent).map((e) => e.getBoundingClientRect().height),
    );
    expect(Math.min(...heights)).toBeGreaterThanOrEqual(44);
  });

  it("caches hashed assets for good and revalidates the HTML", async () => {
    const html = await fetch(`${t.url}/`, { headers: { "accept-encoding": "gzip" } });
    expect(html.headers.get("cache-control")).toBe("no-cache");
    expect(html.headers.get("content-encoding")).toBe("gzip");
    await expectResponseStatus(
      await fetch(`${t.url}/`, { headers: { "if-none-match": html.headers.get("etag")! } }),
      304,
    );
    const js = /\/assets\/app\.[0-9a-f]{12}\.js/.exec(await html.text())![0];
    const asset = await fetch(`${t.url}${js}`);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    await expectResponseStatus(await fetch(`${t.url}/assets/app.js`), 404);
  });

  it("asks a question and shows the answer, its sources, the emotion and its frequencies", async () => {
    await page.fill("#q", "how fast is allegro");
    await page.click("#ask-form button");
    await page.waitForSelector("#answer:not([hidden])");
    expect(await page.textContent("#answer-text")).toContain("Allegro is a fast tempo marking");
    expect(await page.locator("#sources li").count()).toBeGreaterThan(0);
    expect(await page.textContent("#emotion")).toMatch(/^emotion: \w+/);
    expect(await page.textContent("#freqs")).toMatch(/\d+ Hz brainwave · \d+ Hz Solfeggio/);
    await page.screenshot({ path: screenshotPath("client-ask.png"), fullPage: true });
  });

  it("sends a thumbs down on the answer shown, with its answer id", async () => {
    await page.click("#vote-down");
    await page.waitForSelector("#vote-status:has-text('Thanks')");
    expect(await page.textContent("#vote-status")).toBe("Thanks: marked not helpful");
    expect(await page.isDisabled("#vote-up")).toBe(true);
    const rows = await t.node.db!.query("SELECT query, helpful, answer_id FROM feedback");
    expect(rows.rows).toEqual([
      { query: "how fast is allegro", helpful: false, answer_id: expect.stringMatching(/^a\d+-/) },
    ]);
  });

  it("shows an API error in words", async () => {
    await page.fill("#q", "?!");
    await page.click("#ask-form button");
    await page.waitForSelector("#error:not([hidden])");
    expect(await page.textContent("#error")).toBe("query has no words");
  });

  it("browses a domain with infinite scroll over keyset pages", async () => {
    await page.click("[data-tab=browse]");
    await page.waitForFunction(() => (document.getElementById("domain") as HTMLSelectElement).options.length > 0);
    await page.selectOption("#domain", "scroll");
    await page.waitForFunction(() => document.querySelectorAll("#examples li").length === 50);
    await page.locator("#more").scrollIntoViewIfNeeded();
    await page.waitForFunction(() => document.querySelectorAll("#examples li").length === 100);
    const ids = await page.$$eval("#examples li", (lis) => lis.map((li) => Number((li as HTMLElement).dataset.id)));
    expect(new Set(ids).size).toBe(100);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    await page.screenshot({ path: screenshotPath("client-browse.png") });
  });

  it("starts an art job, follows its progress and shows the image", async () => {
    await page.click("[data-tab=create]");
    await page.selectOption("#kind", "art");
    await page.click("#job-form button");
    await page.waitForFunction(() => Boolean(document.body.dataset.jobDone), undefined, { timeout: 30_000 });
    await page.waitForFunction(() => {
      const i = document.querySelector<HTMLImageElement>("#job-result img");
      return Boolean(i && i.complete && i.naturalWidth > 0);
    });
    expect(await page.$eval("#job-result img", (i) => (i as HTMLImageElement).naturalWidth)).toBe(512);
    expect(await page.textContent("#job-status")).toBe("completed");
    await page.screenshot({ path: screenshotPath("client-create.png"), fullPage: true });
  });

  it("runs under its Content-Security-Policy without a violation", async () => {
    const r = await fetch(`${t.url}/`);
    expect(r.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
  });
});
