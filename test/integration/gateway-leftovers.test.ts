/**
 * The last items of issue 12 at the gateway: what a browser may read across origins (the owner
 * token, Retry-After), cursors that are not a page's (400/422 with a clear message, never a
 * silent 200), and 429s that name their limit with a Retry-After.
 */
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { getJson } from "../helpers/processes";
import { ADMIN_KEY } from "../helpers/datasets";
import { bumpVersion, ensureDataset, insertExamples } from "../../services/datasets/store";

const ORIGIN = "https://app.example";
const TOKEN = { "x-owner-token": "leftovers-owner-token-0123456789abcdef012345" };

describe("gateway: CORS exposure, cursors, 429 bodies", () => {
  let t: TestNode;

  beforeAll(async () => {
    t = await startTestNode(
      {
        API_KEYS: ADMIN_KEY,
        CORS_ORIGINS: ORIGIN,
        RATE_LIMIT: "40",
        RATE_LIMIT_WINDOW_MS: "60000",
        JOBS_OWNER_MAX: "1",
      },
      // No compute: submitted jobs stay queued, so the owner's cap is reached.
      ["api", "jobs", "datasets"],
      await memoryDb(),
    );
    // Rows without embeddings (no compute here to make them): the pages do not need them.
    const db = t.node.db!;
    for (const domain of ["one", "two"])
      await db.transaction(async (tx) => {
        const id = await ensureDataset(tx, domain);
        const rows = Array.from({ length: 5 }, (_, i) => ({ content: `${domain} ${i}`, response: null, metadata: {} }));
        await bumpVersion(tx, id, await insertExamples(tx, id, rows));
      });
  });
  afterAll(() => (t as TestNode | undefined)?.node.stop());

  it("lets a browser send and read X-Owner-Token and read Retry-After", async () => {
    const pre = await fetch(`${t.url}/api/art/generate-async`, {
      method: "OPTIONS",
      headers: {
        origin: ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-owner-token",
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/X-Owner-Token/);
    const r = await getJson(`${t.url}/api/art/generate-async`, {
      method: "POST",
      headers: { origin: ORIGIN, "content-type": "application/json" },
      body: JSON.stringify({ prompt: "cors", style: "waves" }),
    });
    expect(r.status).toBe(202);
    expect(r.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    const exposed = (r.headers.get("access-control-expose-headers") ?? "").split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(["X-Owner-Token", "Retry-After"]));
    expect(r.headers.get("x-owner-token")).toBe(r.body.owner_token);
  });

  it.each([
    ["a search cursor", "/api/search?q=one&cursor=ZTE6OTk5OTk5OTk5OTk5OTk5OTk5OQ", 422, /search has no pages/],
    ["a garbage page cursor", "/api/datasets/one/examples?cursor=%25%25%25", 400, /cursor is not valid/],
    ["an old-format page cursor", "/api/datasets/one/examples?cursor=ZTE6MTAw", 400, /cursor is not valid/],
    ["a job cursor beyond bigint", "/api/jobs?cursor=9999999999999999999", 422, /next_cursor of the previous page/],
  ])("refuses %s with a clear 4xx", async (_name, path, status, message) => {
    const r = await getJson(`${t.url}${path}`, { headers: TOKEN });
    expect({ status: r.status, message: r.body?.error?.message }).toEqual({
      status,
      message: expect.stringMatching(message),
    });
  });

  it("refuses another domain's page cursor", async () => {
    const first = await getJson(`${t.url}/api/datasets/one/examples?limit=2`);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const own = await getJson(`${t.url}/api/datasets/one/examples?limit=2&cursor=${first.body.next_cursor}`);
    expect(own.body.examples.map((e: { content: string }) => e.content)).toEqual(["one 2", "one 3"]);
    const foreign = await getJson(`${t.url}/api/datasets/two/examples?limit=2&cursor=${first.body.next_cursor}`);
    expect({ status: foreign.status, message: foreign.body.error.message }).toEqual({
      status: 400,
      message: "cursor belongs to another domain's pages: pass back this domain's next_cursor",
    });
  });

  it("answers an owner over its job cap with 429, Retry-After and the limit in the JSON body", async () => {
    const submit = () =>
      getJson(`${t.url}/api/emotion/analyze-async`, {
        method: "POST",
        headers: { ...TOKEN, "content-type": "application/json" },
        body: JSON.stringify({ text: `quota ${Math.random()}` }),
      });
    expect((await submit()).status).toBe(202);
    const r = await submit();
    expect(r.status).toBe(429);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(r.body.error).toMatchObject({
      type: "ERR_RATE_LIMITED",
      message: expect.stringMatching(/the limit is 1 \(JOBS_OWNER_MAX\)/),
      data: { field: "jobs", limit: 1 },
    });
  });

  it("answers the rate limit with 429, Retry-After, CORS headers and a body naming RATE_LIMIT", async () => {
    let last: Awaited<ReturnType<typeof getJson>> | undefined;
    for (let i = 0; i < 45 && last?.status !== 429; i++)
      last = await getJson(`${t.url}/api/datasets`, { headers: { origin: ORIGIN } });
    expect(last?.status).toBe(429);
    expect(Number(last!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(last!.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(last!.headers.get("access-control-expose-headers")).toMatch(/Retry-After/);
    expect(last!.body.error).toMatchObject({
      type: "ERR_RATE_LIMITED",
      message: expect.stringMatching(/at most 40 per 60 s for api routes \(RATE_LIMIT\), try again in \d+ s/),
      data: { limit: 40, variable: "RATE_LIMIT" },
    });
  });
});
