/**
 * Jobs have owners: two client keys and two anonymous owners each see, cancel, retry and stream
 * only their own jobs (another owner's job is a 404, as if it did not exist); an admin key sees all.
 */
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { getJson } from "../helpers/processes";
import { readSse } from "../helpers/jobs";
import { ADMIN_KEY } from "../helpers/datasets";
import { expectStatus } from "../helpers/expect";

const KEY_A = "client-key-a-0123456789";
const KEY_B = "client-key-b-0123456789";
const asKey = (key: string) => ({ "x-api-key": key });

let t: TestNode;

beforeAll(async () => {
  // No compute: jobs stay queued, so cancel has something to cancel.
  t = await startTestNode(
    { API_KEYS: ADMIN_KEY, CLIENT_KEYS: `${KEY_A},${KEY_B}`, RATE_LIMIT: "0" },
    ["api", "jobs"],
    await memoryDb(),
  );
});
afterAll(() => t.node.stop());

/** Submits an emotion job with exactly `headers` (no default owner). */
async function submitAs(headers: Record<string, string>, text: string) {
  const r = await getJson(`${t.url}/api/emotion/analyze-async`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ text }),
  });
  expectStatus(r, 202);
  return r;
}

const listIds = async (headers: Record<string, string>) =>
  ((await getJson(`${t.url}/api/jobs?limit=200`, { headers })).body.jobs as { job_id: string }[]).map((j) => j.job_id);

/** Every way to reach a job, by one caller: the statuses it gets. */
async function reach(id: string, headers: Record<string, string>) {
  return {
    get: (await getJson(`${t.url}/api/job/${id}`, { headers })).status,
    events: (await readSse(`${t.url}/api/job/${id}/events`, headers, 2000).catch(() => ({ status: 0 }))).status,
    retry: (await getJson(`${t.url}/api/job/${id}/retry`, { method: "POST", headers })).status,
    cancel: (await getJson(`${t.url}/api/job/${id}`, { method: "DELETE", headers })).status,
  };
}

const HIDDEN = { get: 404, events: 404, retry: 404, cancel: 404 };

describe("jobs.owners with two client keys", () => {
  it("shows each key only its own jobs; another key's job is a 404 on every route", async () => {
    const a = (await submitAs(asKey(KEY_A), "key a job")).body;
    const b = (await submitAs(asKey(KEY_B), "key b job")).body;
    expect(a.owner_token).toBeUndefined();

    expect(await listIds(asKey(KEY_A))).toEqual([a.job_id]);
    expect(await listIds(asKey(KEY_B))).toEqual([b.job_id]);
    expect(await reach(a.job_id, asKey(KEY_B))).toEqual(HIDDEN);
    expect(await reach(b.job_id, asKey(KEY_A))).toEqual(HIDDEN);
    // Still queued after all those attempts: nothing another key did touched it.
    expect((await getJson(`${t.url}/api/job/${a.job_id}`, { headers: asKey(KEY_A) })).body.status).toBe("queued");

    const own = await getJson(`${t.url}/api/job/${a.job_id}`, { method: "DELETE", headers: asKey(KEY_A) });
    expect(own.body).toMatchObject({ status: "cancelled" });
    const retried = await getJson(`${t.url}/api/job/${a.job_id}/retry`, { method: "POST", headers: asKey(KEY_A) });
    expect(retried.body).toMatchObject({ status: "queued" });
  });

  it("shows an admin key every owner's jobs, and lets it cancel any", async () => {
    const a = (await submitAs(asKey(KEY_A), "seen by admin")).body;
    const ids = await listIds(asKey(ADMIN_KEY));
    expect(ids).toContain(a.job_id);
    expect(ids.length).toBeGreaterThanOrEqual(3);
    const cancelled = await getJson(`${t.url}/api/job/${a.job_id}`, { method: "DELETE", headers: asKey(ADMIN_KEY) });
    expect(cancelled.body).toMatchObject({ status: "cancelled" });
  });

  it("refuses an unknown key with 401 instead of making it a fresh owner", async () => {
    const r = await getJson(`${t.url}/api/jobs`, { headers: asKey("made-up-key-0123456789") });
    expectStatus(r, 401);
    const s = await getJson(`${t.url}/api/emotion/analyze-async`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer made-up-key-0123456789" },
      body: JSON.stringify({ text: "x" }),
    });
    expectStatus(s, 401);
  });
});

describe("jobs.owners with two anonymous owners", () => {
  it("gives a new owner a token (body and header) that it sends back to see its jobs", async () => {
    const a = await submitAs({}, "anon a");
    const b = await submitAs({}, "anon b");
    const tokenA = a.body.owner_token as string;
    const tokenB = b.body.owner_token as string;
    expect(tokenA).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.headers.get("x-owner-token")).toBe(tokenA);
    expect(tokenB).not.toBe(tokenA);
    const asA = { "x-owner-token": tokenA };
    const asB = { "x-owner-token": tokenB };

    // A's next submit with its token stays A's (no new token).
    const a2 = await submitAs(asA, "anon a again");
    expect(a2.body.owner_token).toBeUndefined();
    expect((await listIds(asA)).sort()).toEqual([a.body.job_id, a2.body.job_id].sort());
    expect(await listIds(asB)).toEqual([b.body.job_id]);
    expect(await listIds({})).toEqual([]);

    expect(await reach(a.body.job_id, asB)).toEqual(HIDDEN);
    expect(await reach(b.body.job_id, asA)).toEqual(HIDDEN);
    expect(await reach(a.body.job_id, {})).toEqual(HIDDEN);
    expect(await reach(a.body.job_id, asKey(KEY_A))).toEqual(HIDDEN);
    expect((await getJson(`${t.url}/api/job/${a.body.job_id}`, { headers: asA })).body.status).toBe("queued");
    const cancelled = await getJson(`${t.url}/api/job/${b.body.job_id}`, { method: "DELETE", headers: asB });
    expect(cancelled.body).toMatchObject({ status: "cancelled" });
  });

  it("accepts the token as the mcai_owner cookie, which is what an EventSource sends", async () => {
    const a = await submitAs({}, "cookie owner");
    const cookie = a.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(new RegExp(`^mcai_owner=${a.body.owner_token}; Path=/api; HttpOnly; SameSite=Strict`));
    const headers = { cookie: `mcai_owner=${a.body.owner_token}` };
    expectStatus(await getJson(`${t.url}/api/job/${a.body.job_id}`, { headers }), 200);
    await getJson(`${t.url}/api/job/${a.body.job_id}`, { method: "DELETE", headers });
    const { status, events } = await readSse(`${t.url}/api/job/${a.body.job_id}/events`, headers);
    expect(status).toBe(200);
    expect(events.map((e) => e.event)).toEqual(["cancelled"]);
  });

  it("refuses a malformed owner token with 422 naming the header", async () => {
    const r = await getJson(`${t.url}/api/jobs`, { headers: { "x-owner-token": "short" } });
    expectStatus(r, 422);
    expect(r.body.error.data).toEqual({ field: "X-Owner-Token" });
  });

  it("keeps artifacts readable by address alone (content addresses are unguessable)", async () => {
    const r = await getJson(`${t.url}/api/artifacts/${"0".repeat(64)}`);
    expectStatus(r, 404);
  });
});
