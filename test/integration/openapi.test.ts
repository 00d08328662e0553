/**
 * GET /api/openapi.json and /docs. The routes checked are read from the running gateway (its
 * moleculer-web aliases), never listed here: a route someone adds later is checked by the same
 * tests without a change to this file.
 */
import crypto from "node:crypto";
import http from "node:http";
import zlib from "node:zlib";
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import type { OpenAPIV3_1 } from "openapi-types";
import type { Browser } from "playwright-core";
import { DOMAIN_PATTERN } from "../../services/datasets/contract";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { describeWithBrowser, launch, screenshotPath } from "../helpers/browser";
import { eventually, ROOT } from "../helpers/processes";

type Doc = OpenAPIV3_1.Document;
interface Alias {
  method: string;
  fullPath: string;
}

/**
 * The document through @apidevtools/swagger-parser's validate (schema and $refs), in a child
 * process: the parser needs an ES module jest's CommonJS runtime cannot require. Resolves with
 * its complaint, or "valid".
 */
function validate(doc: Doc): string {
  const script = `const P = require("@apidevtools/swagger-parser"); let s = "";
    process.stdin.on("data", (d) => (s += d)).on("end", () =>
      P.validate(JSON.parse(s)).then(() => console.log("valid"), (e) => console.log(e.message)));`;
  const r = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, input: JSON.stringify(doc), encoding: "utf8" });
  return (r.stdout || r.stderr).trim();
}

const ALL = ["api", "datasets", "knowledge", "jobs", "compute", "metrics"] as const;

let t: TestNode;
beforeAll(async () => {
  t = await startTestNode(
    { RATE_LIMIT: "0", COMPUTE_THREADS: "1", API_KEYS: "k".repeat(24) },
    [...ALL],
    await memoryDb(),
  );
});
afterAll(() => t.node.stop());

/** The routes the gateway serves now, as moleculer-web holds them. */
function servedRoutes(): Alias[] {
  return (t.node.broker.getLocalService("api") as unknown as { aliases: Alias[] }).aliases.map((a) => ({
    method: a.method,
    fullPath: a.fullPath,
  }));
}

async function fetchDoc(): Promise<Doc> {
  const res = await fetch(`${t.url}/api/openapi.json`);
  expect(res.status).toBe(200);
  return (await res.json()) as Doc;
}

const toOpenApi = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

type Op = OpenAPIV3_1.OperationObject;
function operations(doc: Doc): { method: string; path: string; op: Op }[] {
  return Object.entries(doc.paths ?? {}).flatMap(([p, item]) =>
    Object.entries(item as Record<string, Op>).map(([method, op]) => ({ method: method.toUpperCase(), path: p, op })),
  );
}

describe("GET /api/openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const doc = await fetchDoc();
    expect(doc.openapi).toBe("3.1.0");
    expect(validate(doc)).toBe("valid");
    // The validator is real: a broken reference is caught.
    const broken = structuredClone(doc);
    broken.paths!["/api/health"]!.get!.responses["404"] = { $ref: "#/components/responses/E999" };
    expect(validate(broken)).toMatch(/E999/);
  });

  it("describes every route the gateway serves, and only those", async () => {
    const doc = await fetchDoc();
    const served = servedRoutes();
    expect(served.length).toBeGreaterThan(30);
    const documented = operations(doc)
      .map((o) => `${o.method} ${o.path}`)
      .sort();
    expect(documented).toEqual(served.map((a) => `${a.method} ${toOpenApi(a.fullPath)}`).sort());
  });

  it("answers every documented route (never the gateway's 'no route' 404)", async () => {
    const doc = await fetchDoc();
    const misses: string[] = [];
    for (const { method, path: p, op } of operations(doc)) {
      const params = (op.parameters ?? []) as OpenAPIV3_1.ParameterObject[];
      const url = p.replace(/\{(\w+)\}/g, (_m, n: string) => {
        const example = params.find((x) => x.name === n)?.example as string | undefined;
        return encodeURIComponent(example ?? "1");
      });
      const ctl = new AbortController();
      const res = await fetch(`${t.url}${url}`, {
        method,
        signal: ctl.signal,
        headers: method === "POST" ? { "content-type": "application/json" } : {},
        body: method === "POST" ? "{}" : undefined,
      });
      const body = res.headers.get("content-type")?.startsWith("application/json") ? await res.text() : "";
      ctl.abort();
      if (res.status === 404 && /"no route /.test(body)) misses.push(`${method} ${url}: ${body}`);
      if (res.status === 405) misses.push(`${method} ${url}: 405`);
    }
    expect(misses).toEqual([]);
  });

  it("takes parameters from the actions' schemas, and marks admin routes, errors and the event stream", async () => {
    const doc = await fetchDoc();
    const examples = doc.paths!["/api/datasets/{domain}/examples"]!;
    const params = examples.get!.parameters as OpenAPIV3_1.ParameterObject[];
    expect(params.find((p) => p.name === "domain")).toMatchObject({
      in: "path",
      required: true,
      schema: { type: "string", pattern: DOMAIN_PATTERN.source },
    });
    expect(params.find((p) => p.name === "limit")).toMatchObject({
      in: "query",
      required: false,
      schema: { type: "integer", minimum: 1 },
    });
    // A POST takes its params as a JSON body; an admin route needs a key and answers 401/403.
    const add = examples.post!;
    expect(add.requestBody).toMatchObject({
      content: { "application/json": { schema: { type: "object", required: ["examples"] } } },
    });
    expect(add.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(Object.keys(add.responses)).toEqual(expect.arrayContaining(["401", "403", "413", "422", "429"]));
    expect(doc.components!.responses!.E404).toMatchObject({
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    });
    expect(doc.components!.securitySchemes).toMatchObject({
      bearer: { type: "http", scheme: "bearer" },
      apiKey: { type: "apiKey", in: "header", name: "X-Api-Key" },
    });
    const sse = doc.paths!["/api/job/{id}/events"]!.get!;
    expect(Object.keys((sse.responses["200"] as OpenAPIV3_1.ResponseObject).content!)).toEqual(["text/event-stream"]);
    const exported = doc.paths!["/api/datasets/{domain}/export"]!.get!;
    expect(Object.keys((exported.responses["2XX"] as OpenAPIV3_1.ResponseObject).content!)).toEqual([
      "application/x-ndjson",
    ]);
    const imported = doc.paths!["/api/datasets/{domain}/import"]!.post!;
    expect((imported.parameters as OpenAPIV3_1.ParameterObject[]).map((p) => p.name)).toEqual([
      "domain",
      "format",
      "filename",
    ]);
  });

  it("includes a route added after start, with its action's parameters", async () => {
    t.node.broker.createService({
      name: "later",
      actions: {
        ping: {
          params: { n: { type: "number", integer: true, min: 1, max: 10, convert: true }, tag: "string|optional" },
          handler: (ctx: { params: { n: number } }) => ({ n: ctx.params.n }),
        },
      },
    });
    await t.node.broker.waitForServices("later");
    const api = t.node.broker.getLocalService("api") as unknown as { addRoute(r: object): void };
    api.addRoute({ name: "later", path: "/later", mappingPolicy: "restrict", aliases: { "GET ping": "later.ping" } });
    const doc = await fetchDoc();
    expect(
      (doc.paths!["/later/ping"]!.get!.parameters as OpenAPIV3_1.ParameterObject[]).map((p) => [
        p.name,
        p.required,
        p.schema,
      ]),
    ).toEqual([
      ["n", true, { type: "integer", minimum: 1, maximum: 10 }],
      ["tag", false, { type: "string" }],
    ]);
    expect(validate(doc)).toBe("valid");
  });
});

/** A GET that keeps the body as sent (fetch would decompress it). */
function rawGet(url: string, acceptEncoding: string): Promise<{ encoding?: string; body: Buffer }> {
  return new Promise((resolve, reject) =>
    http
      .get(url, { headers: { "accept-encoding": acceptEncoding } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ encoding: res.headers["content-encoding"], body: Buffer.concat(chunks) }));
      })
      .on("error", reject),
  );
}

describe("GET /docs", () => {
  it("gives a brotli client a small file gzipped at once, and brotli once the thread pool made it", async () => {
    // brotli 11 of the 51 KB uPlot bundle takes ~130 ms: never on the event loop, even for a small file.
    const file = fs.readFileSync(path.join(ROOT, "node_modules/uplot/dist/uPlot.iife.min.js"));
    const first = await rawGet(`${t.url}/dashboard/uplot.js`, "br, gzip");
    expect(first.encoding).toBe("gzip");
    expect(zlib.gunzipSync(first.body).equals(file)).toBe(true);
    const br = await eventually(
      async () => {
        const r = await rawGet(`${t.url}/dashboard/uplot.js`, "br, gzip");
        return r.encoding === "br" && r.body;
      },
      30_000,
      "uplot.js compressed with brotli",
    );
    expect(zlib.brotliDecompressSync(br).equals(file)).toBe(true);
  });

  it("serves Swagger UI from node_modules, cached like the web client", async () => {
    const page = await fetch(`${t.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self';/);
    const html = await page.text();
    const bundle = /src="(\/assets\/swagger-ui-bundle\.[0-9a-f]{12}\.js)"/.exec(html)?.[1];
    expect(bundle).toBeDefined();
    expect(html).not.toMatch(/https?:\/\//);
    const js = await fetch(`${t.url}${bundle!}`);
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const served = Buffer.from(await js.arrayBuffer());
    const file = fs.readFileSync(path.join(ROOT, "node_modules/swagger-ui-dist/swagger-ui-bundle.js"));
    expect(crypto.createHash("sha256").update(served).digest("hex")).toBe(
      crypto.createHash("sha256").update(file).digest("hex"),
    );
    // The bundle is compressed in the thread pool, not on the event loop: sent as it is until
    // brotli is ready, then compressed.
    const raw = () => rawGet(`${t.url}${bundle!}`, "br");
    const br = await eventually(
      async () => {
        const r = await raw();
        return r.encoding === "br" && r.body;
      },
      30_000,
      "the bundle compressed with brotli",
    );
    expect(zlib.brotliDecompressSync(br).equals(file)).toBe(true);
    expect(br.length).toBeLessThan(file.length / 2);
  });
});

describeWithBrowser("the /docs page in Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(() => browser.close());

  it("renders every operation, loading nothing from outside and breaking no CSP rule", async () => {
    const page = await browser.newPage();
    const foreign: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(t.url) && !r.url().startsWith("data:")) foreign.push(r.url());
    });
    await page.addInitScript(() => {
      const w = window as unknown as { cspViolations: string[] };
      w.cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) =>
        w.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
      );
    });
    await page.goto(`${t.url}/docs`, { waitUntil: "load" });
    const count = operations(await fetchDoc()).length;
    await page.waitForFunction((n) => document.querySelectorAll(".opblock").length === n, count, { timeout: 30_000 });
    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
    expect(foreign).toEqual([]);
    await page.screenshot({ path: screenshotPath("docs.png"), fullPage: false });
    await page.close();
  });
});
