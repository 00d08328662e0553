/**
 * Quotas and fairness: a per-owner cap (429) and a total cap (503) on queued and running jobs,
 * both with Retry-After and nothing queued; workers claim fairly across owners (a light client's
 * job starts while a heavy one has 100 queued); stored results keep within their budget.
 */
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { eventually, getJson } from "../helpers/processes";
import { waitFor } from "../helpers/jobs";
import { ADMIN_KEY } from "../helpers/datasets";
import { expectResponseStatus, expectStatus } from "../helpers/expect";

const HEAVY = "heavy-client-key-0123456789";
const LIGHT = "light-client-key-0123456789";
const asKey = (key: string) => ({ "x-api-key": key });

async function submitArt(url: string, key: string, prompt: string, size: number) {
  return getJson(`${url}/api/art/generate-async`, {
    method: "POST",
    headers: { "content-type": "application/json", ...asKey(key) },
    body: JSON.stringify({ prompt, style: "waves", options: { width: size, height: size } }),
  });
}

const countJobs = async (url: string, key: string, status?: string) =>
  (await getJson(`${url}/api/jobs?limit=200${status ? `&status=${status}` : ""}`, { headers: asKey(key) })).body.jobs
    .length as number;

describe("jobs.quotas", () => {
  let t: TestNode;
  beforeAll(async () => {
    // No compute: submitted jobs stay queued.
    t = await startTestNode(
      {
        API_KEYS: ADMIN_KEY,
        CLIENT_KEYS: `${HEAVY},${LIGHT}`,
        RATE_LIMIT: "0",
        JOBS_OWNER_MAX: "3",
        JOBS_TOTAL_MAX: "5",
      },
      ["api", "jobs"],
      await memoryDb(),
    );
  });
  afterAll(() => t.node.stop());

  it("answers 429 with Retry-After past JOBS_OWNER_MAX, and queues nothing", async () => {
    for (let i = 0; i < 3; i++) expectStatus(await submitArt(t.url, HEAVY, `cap ${i}`, 16), 202);
    const over = await submitArt(t.url, HEAVY, "cap 3", 16);
    expectStatus(over, 429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await countJobs(t.url, HEAVY)).toBe(3);
    // Another owner is not held back by the first one's cap.
    expectStatus(await submitArt(t.url, LIGHT, "light 0", 16), 202);
  });

  it("answers 503 with Retry-After past JOBS_TOTAL_MAX, and queues nothing", async () => {
    expectStatus(await submitArt(t.url, LIGHT, "light 1", 16), 202);
    const full = await submitArt(t.url, LIGHT, "light 2", 16);
    expectStatus(full, 503);
    expect(full.body.error.message).toMatch(/JOBS_TOTAL_MAX 5/);
    expect(Number(full.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await countJobs(t.url, ADMIN_KEY)).toBe(5);
  });

  it("frees a place when a job ends: a cancelled job no longer counts", async () => {
    const first = (await getJson(`${t.url}/api/jobs?limit=1`, { headers: asKey(HEAVY) })).body.jobs[0];
    await getJson(`${t.url}/api/job/${first.job_id}`, { method: "DELETE", headers: asKey(HEAVY) });
    expectStatus(await submitArt(t.url, HEAVY, "after cancel", 16), 202);
  });
});

describe("jobs.fairness", () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode(
      {
        API_KEYS: ADMIN_KEY,
        CLIENT_KEYS: `${HEAVY},${LIGHT}`,
        RATE_LIMIT: "0",
        COMPUTE_THREADS: "1",
        JOBS_POLL_MS: "50",
        JOBS_OWNER_MAX: "200",
      },
      ["api", "jobs", "compute"],
      await memoryDb(),
    );
  });
  afterAll(() => t.node.stop());

  it("starts a light client's job within two heavy jobs while the heavy client has 100 queued", async () => {
    const heavy = await Promise.all(Array.from({ length: 100 }, (_, i) => submitArt(t.url, HEAVY, `heavy ${i}`, 256)));
    expect(heavy.map((r) => r.status)).toEqual(Array(100).fill(202));
    const queuedBefore = await countJobs(t.url, HEAVY, "queued");
    const light = await submitArt(t.url, LIGHT, "light", 64);
    const started = await waitFor(t.url, light.body.job_id, ["processing", "completed"], 60_000, asKey(LIGHT));
    const heavyJobs = (await getJson(`${t.url}/api/jobs?limit=200`, { headers: asKey(HEAVY) })).body.jobs as {
      started_at: string | null;
    }[];
    const from = new Date(started.created_at).getTime();
    const to = new Date(started.started_at).getTime();
    const startedBetween = heavyJobs.filter(
      (j) => j.started_at && new Date(j.started_at).getTime() >= from && new Date(j.started_at).getTime() <= to,
    ).length;
    const stillQueued = await countJobs(t.url, HEAVY, "queued");
    process.stdout.write(
      `fairness: heavy queued at the light submit ${queuedBefore}, heavy started before the light one ${startedBetween}, ` +
        `light waited ${to - from} ms, heavy still queued ${stillQueued}\n`,
    );
    expect(queuedBefore).toBeGreaterThanOrEqual(90);
    expect(startedBetween).toBeLessThanOrEqual(2);
    expect(stillQueued).toBeGreaterThanOrEqual(80);
  }, 120_000);
});

describe("jobs.results budget", () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode(
      {
        API_KEYS: ADMIN_KEY,
        CLIENT_KEYS: `${HEAVY},${LIGHT}`,
        RATE_LIMIT: "0",
        COMPUTE_THREADS: "1",
        JOBS_POLL_MS: "50",
        JOBS_RESULTS_MAX_MB: "1",
      },
      ["api", "jobs", "compute"],
      await memoryDb(),
    );
  });
  afterAll(() => t.node.stop());

  it("drops the oldest result files beyond JOBS_RESULTS_MAX_MB; their jobs stay completed", async () => {
    const done: { job_id: string; status: string; result: { artifact_url: string; bytes: number } }[] = [];
    // One at a time, so their age is their order: each PNG is ~330 KB, five are ~1.7 MB.
    for (let i = 0; i < 5; i++) {
      const r = await submitArt(t.url, LIGHT, `budget ${i}`, 512);
      done.push(await waitFor(t.url, r.body.job_id, ["completed", "failed"], 60_000, asKey(LIGHT)));
    }
    expect(done.map((j) => j.status)).toEqual(Array(5).fill("completed"));
    type Seen = { status: string; result: { artifact_url?: string; dropped?: string; bytes: number } };
    const keptBytesOf = (jobs: Seen[]) =>
      jobs.filter((j) => j.result.artifact_url).reduce((n, j) => n + j.result.bytes, 0);
    // The budget is enforced just after each completion: wait for the last one's sweep.
    const now = await eventually(
      async () => {
        const seen: Seen[] = await Promise.all(
          done.map(async (j) => (await getJson(`${t.url}/api/job/${j.job_id}`, { headers: asKey(LIGHT) })).body),
        );
        return keptBytesOf(seen) <= 1024 * 1024 ? seen : undefined;
      },
      10_000,
      "the results budget to hold",
    );
    const kept = now.filter((j) => j.result.artifact_url);
    const dropped = now.filter((j) => j.result.dropped);
    const keptBytes = keptBytesOf(now);
    process.stdout.write(
      `results budget: sizes ${done.map((j) => j.result.bytes).join(", ")} B; kept ${kept.length} (${keptBytes} B), dropped ${dropped.length}\n`,
    );
    expect(keptBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(dropped.length).toBeGreaterThanOrEqual(1);
    // The oldest go first, the newest stays; every job keeps its status.
    expect(now.map((j) => Boolean(j.result.dropped))).toEqual(now.map((_, i) => i < dropped.length));
    expect(now.every((j) => j.status === "completed")).toBe(true);
    await expectResponseStatus(await fetch(`${t.url}${done[0].result.artifact_url}`), 404);
    await expectResponseStatus(await fetch(`${t.url}${done[4].result.artifact_url}`), 200);
  }, 120_000);
});
