import http from "node:http";
import net from "node:net";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { getJson } from "../helpers/processes";
import { OWNER, submit } from "../helpers/jobs";
import { expectResponseStatus, expectStatus } from "../helpers/expect";

const KEY = "gateway-hygiene-key-0123456789";

/** Opens a job's event stream and resolves with its status and first event; the stream stays open. */
function firstEvent(
  url: string,
  headers: Record<string, string> = OWNER,
): Promise<{ status: number; text: string; req: http.ClientRequest }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
        if (/\nevent: /.test(text) || res.statusCode !== 200) resolve({ status: res.statusCode ?? 0, text, req });
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text, req }));
    });
    req.on("error", reject);
  });
}

function nested(depth: number, open: string, close: string, inner = "1"): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

describe("gateway hygiene and bad input", () => {
  let t: TestNode;

  beforeAll(async () => {
    t = await startTestNode(
      {
        API_KEYS: KEY,
        RATE_LIMIT: "0",
        SSE_MAX_PER_CLIENT: "2",
        HTTP_HEADERS_TIMEOUT_MS: "1000",
        HTTP_REQUEST_TIMEOUT_MS: "2000",
      },
      ["api", "jobs", "datasets", "knowledge", "metrics"],
      await memoryDb(),
    );
  });
  afterAll(() => t.node.stop());

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    getJson(`${t.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  async function jobCount(): Promise<number> {
    const r = await getJson(`${t.url}/api/jobs?limit=100`, { headers: { "x-api-key": KEY } });
    return r.body.jobs.length;
  }

  it("answers a body nested 5,000 deep with a 400 before parsing it", async () => {
    for (const body of [
      `{"prompt":"x","options":${nested(5000, '{"a":', "}")}}`,
      `{"prompt":"x","options":${nested(5000, "[", "]")}}`,
    ]) {
      const r = await post("/api/art/generate-async", body);
      expectStatus(r, 400);
      expect(r.body.error).toMatchObject({ type: "ERR_BAD_REQUEST", message: expect.stringMatching(/deeper than 64/) });
    }
    // Nothing waits on it: the node still answers.
    expectStatus(await getJson(`${t.url}/api/health`), 200);
  });

  it("refuses NUL and lone surrogates with 422 naming the field, before the database", async () => {
    const before = await jobCount();
    const nul = await post("/api/art/generate-async", JSON.stringify({ prompt: "a\u0000b" }));
    expectStatus(nul, 422);
    expect(nul.body.error.message).toMatch(/^prompt contains a NUL/);
    const lone = await post("/api/art/generate-async", '{"prompt":"a\\ud800b"}');
    expectStatus(lone, 422);
    expect(lone.body.error.data.field).toBe("prompt");
    const search = await getJson(`${t.url}/api/search?q=%00`);
    expectStatus(search, 422);
    expect(search.body.error.data.field).toBe("q");
    expect(await jobCount()).toBe(before);
  });

  it("answers numeric overflow in cursors and sizes with a 4xx that quotes no SQL", async () => {
    const cursor = await getJson(`${t.url}/api/jobs?cursor=9999999999999999999`, { headers: OWNER });
    expect([400, 422]).toContain(cursor.status);
    expect(JSON.stringify(cursor.body)).not.toMatch(/bigint|SELECT|unavailable/i);
    const rotate = await post("/api/admin/datasets/rotate", '{"max":1e308}', { "x-api-key": KEY });
    expectStatus(rotate, 422);
    expect(rotate.body.error.data.field).toBe("max");
    // The search's own cursor rule (datasets) decides 200 or 4xx; never a 5xx or SQL text.
    const searchCursor = await getJson(`${t.url}/api/search?q=x&cursor=ZTE6OTk5OTk5OTk5OTk5OTk5OTk5OQ`);
    expect(searchCursor.status).toBeLessThan(500);
    expect(JSON.stringify(searchCursor.body)).not.toMatch(/bigint|SELECT/i);
  });

  it("never runs an action for OPTIONS: a DELETE preflight cancels nothing, a body creates nothing", async () => {
    const job = await submit(t.url, "/api/art/generate-async", { prompt: "stays queued", style: "waves" });
    expectStatus(job, 202);
    const pre = await fetch(`${t.url}/api/job/${job.body.job_id}`, {
      method: "OPTIONS",
      headers: { "access-control-request-method": "DELETE", ...OWNER },
    });
    await expectResponseStatus(pre, 204);
    expect((await getJson(`${t.url}/api/job/${job.body.job_id}`, { headers: OWNER })).body.status).toBe("queued");
    const before = await jobCount();
    const withBody = await fetch(`${t.url}/api/art/generate-async`, {
      method: "OPTIONS",
      headers: { "content-type": "application/json", "access-control-request-method": "POST" },
      body: JSON.stringify({ prompt: "not a job" }),
    });
    await expectResponseStatus(withBody, 204);
    expect(await jobCount()).toBe(before);
  });

  it("answers HEAD on every GET route like GET, without a body", async () => {
    for (const path of ["/api/health", "/api/jobs", "/api/datasets", "/", "/dashboard", "/metrics", "/api/nope"]) {
      const [get, head] = await Promise.all([fetch(`${t.url}${path}`), fetch(`${t.url}${path}`, { method: "HEAD" })]);
      await get.arrayBuffer();
      expect({ path, status: head.status }).toEqual({ path, status: get.status });
      expect((await head.arrayBuffer()).byteLength).toBe(0);
    }
  });

  it("puts the security headers on every response, pages, API, errors", async () => {
    for (const [path, headers] of [
      ["/", {}],
      ["/dashboard", {}],
      ["/api/health", {}],
      ["/api/nope", {}],
      ["/api/health", { "x-api-key": "not-a-key-00000000" }],
    ] as [string, Record<string, string>][]) {
      const r = await fetch(`${t.url}${path}`, { headers });
      await r.arrayBuffer();
      expect(r.headers.get("x-content-type-options")).toBe("nosniff");
      expect(r.headers.get("referrer-policy")).toBe("no-referrer");
      expect(r.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    }
  });

  it("keeps every admin route behind a key", async () => {
    expectStatus(await getJson(`${t.url}/api/admin/cache/stats`), 401);
    expectStatus(await getJson(`${t.url}/api/admin/cache/stats`, { headers: { "x-api-key": KEY } }), 200);
  });

  it("sends the current state to an SSE client whose Last-Event-ID is beyond the job's version", async () => {
    const job = await submit(t.url, "/api/art/generate-async", { prompt: "sse beyond", style: "waves" });
    const s = await firstEvent(`${t.url}/api/job/${job.body.job_id}/events`, { "last-event-id": "999999", ...OWNER });
    s.req.destroy();
    expect(s.status).toBe(200);
    expect(s.text).toMatch(/event: progress\ndata: .*"status":"queued"/);
  });

  it("caps open event streams per client", async () => {
    const job = await submit(t.url, "/api/art/generate-async", { prompt: "sse cap", style: "waves" });
    const url = `${t.url}/api/job/${job.body.job_id}/events`;
    const open = [await firstEvent(url), await firstEvent(url)];
    const third = await getJson(url, { headers: OWNER });
    open.forEach((s) => s.req.destroy());
    expect(open.map((s) => s.status)).toEqual([200, 200]);
    expectStatus(third, 429);
    // Closed streams give their slots back.
    await new Promise((r) => setTimeout(r, 200));
    const again = await firstEvent(url);
    again.req.destroy();
    expect(again.status).toBe(200);
  });

  // A refused import announcing 200 MB, of which no byte is sent: the answer can only come if the
  // server does not wait for the body (the request timeout, 2 s here, would answer 408), and it must
  // close the connection rather than go on reading the body after answering.
  it.each([
    // The gate refuses a made-up key; it reads at most 1 MiB of a body it refuses.
    ["a made-up key (the gate's 401)", "X-Api-Key: made-up-key-0123456789abcdef\r\n"],
    // No key passes the gate (anonymous callers are allowed); the admin route's authorize refuses it.
    ["no key (the route's 401)", ""],
  ])(
    "answers an import with %s announcing a large body with 401 and a closed connection, without reading it",
    async (_who, keyHeader) => {
      const port = Number(new URL(t.url).port);
      const got = await new Promise<string>((resolve) => {
        const sock = net.connect(port, "127.0.0.1", () =>
          sock.write(
            `POST /api/datasets/big/import?format=jsonl HTTP/1.1\r\nHost: x\r\n${keyHeader}Content-Type: application/octet-stream\r\nContent-Length: 209715200\r\n\r\n`,
          ),
        );
        let text = "";
        sock.on("data", (d) => (text += d.toString()));
        sock.on("close", () => resolve(text || "closed without an answer"));
        setTimeout(() => {
          sock.destroy();
          resolve(`still open after 10 s: ${text}`);
        }, 10_000).unref();
      });
      const [head] = got.split("\r\n\r\n");
      expect({ status: head.split("\r\n")[0], connection: /^connection: close$/im.test(head) }).toEqual({
        status: "HTTP/1.1 401 Unauthorized",
        connection: true,
      });
    },
  );

  it("cuts a socket that never finishes its headers", async () => {
    const port = Number(new URL(t.url).port);
    const closed = await new Promise<string>((resolve) => {
      const sock = net.connect(port, "127.0.0.1", () => sock.write("GET /api/health HTTP/1.1\r\nHost: x\r\n"));
      let got = "";
      sock.on("data", (d) => (got += d.toString()));
      sock.on("close", () => resolve(got.split("\r\n")[0] || "closed"));
      setTimeout(() => {
        sock.destroy();
        resolve("still open after 10 s");
      }, 10_000).unref();
    });
    expect(closed).toMatch(/^HTTP\/1.1 408|^closed$/);
  });

  it("merges concurrent /metrics scrapes once", async () => {
    const svc = t.node.broker.getLocalService("metrics") as unknown as { collect: (...a: unknown[]) => unknown };
    const original = svc.collect;
    let merges = 0;
    svc.collect = (...a: unknown[]) => {
      merges++;
      return original(...a);
    };
    await new Promise((r) => setTimeout(r, 1100)); // past the cache of an earlier scrape
    try {
      const rs = await Promise.all(Array.from({ length: 20 }, () => fetch(`${t.url}/metrics`)));
      await Promise.all(rs.map((r) => r.arrayBuffer()));
      expect(rs.every((r) => r.status === 200)).toBe(true);
      expect(merges).toBe(1);
    } finally {
      svc.collect = original;
    }
  });
});
