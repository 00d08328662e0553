import { PNG } from "pngjs";
import type { ServiceBroker } from "moleculer";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { eventually, getJson } from "../helpers/processes";
import { OWNER, readSse, submit, waitFor } from "../helpers/jobs";
import { ADMIN_KEY } from "../helpers/datasets";
import { createDatabase, describeWithPg, dropDatabase } from "../helpers/servers";
import { expectResponseStatus, expectStatus } from "../helpers/expect";

let t: TestNode;
let broker: ServiceBroker;

beforeAll(async () => {
  t = await startTestNode(
    {
      API_KEYS: ADMIN_KEY,
      RATE_LIMIT: "0",
      COMPUTE_THREADS: "2",
      JOBS_POLL_MS: "100",
      JOBS_RETRY_DELAY_S: "1",
      JOBS_ATTEMPTS: "3,music=2",
      // 300 s of music is this suite's long-running job (its WAV is over the default RESULT_MAX_BYTES).
      RESULT_MAX_BYTES: String(256 << 20),
    },
    ["api", "jobs", "compute"],
    await memoryDb(),
  );
  broker = t.node.broker;
});
afterAll(() => t.node.stop());

describe("job endpoints", () => {
  it.each([
    [
      "/api/art/generate-async",
      { prompt: "a lighthouse", style: "waves", options: { width: 64, height: 48, seed: 7 } },
      "image/png",
    ],
    ["/api/music/generate-async", { prompt: "calm sea", duration: 1 }, "audio/wav"],
    ["/api/cymatic/analyze-async", { frequencies: [440], options: { size: 64 } }, "image/png"],
    ["/api/video/generate-async", { from_hz: 200, to_hz: 800, options: { frames: 3, size: 32 } }, "image/gif"],
    ["/api/emotion/analyze-async", { text: "so happy today" }, null],
  ] as const)("%s answers 202 at once and the job completes with its result", async (path, body, contentType) => {
    const r = await submit(t.url, path, body);
    expectStatus(r, 202);
    expect(r.body).toEqual({
      job_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: "queued",
      poll_url: `/api/job/${r.body.job_id}`,
      events_url: `/api/job/${r.body.job_id}/events`,
    });
    const job = await waitFor(t.url, r.body.job_id, ["completed", "failed"]);
    expect(job).toMatchObject({
      status: "completed",
      progress: 1,
      attempts: 1,
      kind: path.split("/")[2].replace("generate-async", "").replace("analyze-async", "") || expect.any(String),
    });
    // Timestamps of the job's own life, in order (not compared with the clock).
    expect(job.finished_at).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
    expect(Date.parse(job.finished_at)).toBeGreaterThanOrEqual(Date.parse(job.started_at));
    if (contentType) {
      expect(job.result).toMatchObject({
        artifact_url: expect.stringMatching(/^\/api\/artifacts\/[0-9a-f]{64}$/),
        content_type: contentType,
      });
      expect(job.result.png_base64 ?? job.result.wav_base64 ?? job.result.gif_base64).toBeUndefined();
      const a = await fetch(`${t.url}${job.result.artifact_url}`);
      await expectResponseStatus(a, 200);
      expect(a.headers.get("content-type")).toBe(contentType);
      expect(a.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      const etag = a.headers.get("etag")!;
      expect(etag).toBe(`"${job.result.artifact_url.split("/").pop()}"`);
      const bytes = Buffer.from(await a.arrayBuffer());
      expect(bytes.length).toBe(job.result.bytes);
      if (contentType === "image/png" && path.includes("art")) expect(PNG.sync.read(bytes).width).toBe(64);
      const again = await fetch(`${t.url}${job.result.artifact_url}`, { headers: { "if-none-match": etag } });
      await expectResponseStatus(again, 304);
    } else {
      expect(job.result).toMatchObject({ dominant: "joy" });
    }
  });

  it.each<[string, string, object, number, object]>([
    [
      "an unknown style",
      "/api/art/generate-async",
      { prompt: "x", style: "cubism" },
      422,
      { error: { data: { fields: [expect.objectContaining({ field: "style" })] } } },
    ],
    [
      "a width over the limit",
      "/api/art/generate-async",
      { prompt: "x", style: "waves", options: { width: 100000 } },
      413,
      { error: { message: "width is 100000, over the limit of 2048" } },
    ],
    [
      "a duration over the limit",
      "/api/music/generate-async",
      { prompt: "x", duration: 301 },
      413,
      { error: { type: "ERR_PAYLOAD_TOO_LARGE" } },
    ],
    ["no text", "/api/emotion/analyze-async", {}, 422, { error: { type: "VALIDATION_ERROR" } }],
  ])("refuses %s with 4xx and queues nothing", async (_what, path, body, status, bodyMatch) => {
    const queued = async () => (await getJson(`${t.url}/api/jobs?limit=200`, { headers: OWNER })).body.jobs.length;
    const before = await queued();
    expectStatus(await submit(t.url, path, body), status, bodyMatch);
    expect(await queued()).toBe(before);
  });

  it.each([
    ["00000000-0000-4000-8000-000000000000", 404],
    ["nope", 422],
  ])("answers job %s with %d", async (id, status) => {
    expectStatus(await getJson(`${t.url}/api/job/${id}`, { headers: OWNER }), status);
  });

  it("lists jobs newest first, by status and kind, in keyset pages", async () => {
    const all = (await getJson(`${t.url}/api/jobs?kind=art&status=completed`, { headers: OWNER })).body;
    expect(all.jobs.length).toBeGreaterThan(0);
    expect(all.jobs.every((j: { kind: string; status: string }) => j.kind === "art" && j.status === "completed")).toBe(
      true,
    );
    const p1 = (await getJson(`${t.url}/api/jobs?limit=2`, { headers: OWNER })).body;
    const p2 = (await getJson(`${t.url}/api/jobs?limit=2&cursor=${p1.next_cursor}`, { headers: OWNER })).body;
    expect(p1.jobs).toHaveLength(2);
    expect(p2.jobs[0].job_id).not.toBe(p1.jobs[1].job_id);
    expect(new Date(p1.jobs[0].created_at).getTime()).toBeGreaterThanOrEqual(new Date(p2.jobs[0].created_at).getTime());
    expectStatus(await getJson(`${t.url}/api/jobs?status=done`, { headers: OWNER }), 422);
  });
});

describe("job semantics", () => {
  it("reuses an earlier result for identical params, unless options.fresh", async () => {
    const body = { prompt: "reuse me", style: "mandala", options: { width: 32, height: 32 } };
    const first = await submit(t.url, "/api/art/generate-async", body);
    const done = await waitFor(t.url, first.body.job_id, ["completed"]);
    const second = await submit(t.url, "/api/art/generate-async", body);
    expect(second.body).toMatchObject({ status: "completed", reused_from: first.body.job_id });
    expect((await getJson(`${t.url}/api/job/${second.body.job_id}`, { headers: OWNER })).body.result).toEqual(
      done.result,
    );
    const fresh = await submit(t.url, "/api/art/generate-async", {
      ...body,
      options: { ...body.options, fresh: true },
    });
    expect(fresh.body.status).toBe("queued");
    const ran = await waitFor(t.url, fresh.body.job_id, ["completed"]);
    // Identical bytes: the artifact is stored once and shared.
    expect(ran.result.artifact_url).toBe(done.result.artifact_url);
    expect(
      (
        await t.node.db!.query("SELECT count(*)::int AS n FROM artifacts WHERE id = $1", [
          done.result.artifact_url.split("/").pop(),
        ])
      ).rows[0].n,
    ).toBe(1);
  });

  it("gives the same job for the same Idempotency-Key, and 409 for another request with it", async () => {
    const body = { prompt: "idempotent", style: "waves", options: { width: 32, height: 32, fresh: true } };
    const a = await submit(t.url, "/api/art/generate-async", body, { "idempotency-key": "key-123" });
    const b = await submit(t.url, "/api/art/generate-async", body, { "idempotency-key": "key-123" });
    expect(b.body.job_id).toBe(a.body.job_id);
    const c = await submit(
      t.url,
      "/api/art/generate-async",
      { ...body, prompt: "other" },
      { "idempotency-key": "key-123" },
    );
    expectStatus(c, 409);
  });

  it("streams progress and the final state over SSE, resumable with Last-Event-ID", async () => {
    const r = await submit(t.url, "/api/art/generate-async", {
      prompt: "stream",
      style: "flow-field",
      options: { width: 1024, height: 1024, fresh: true },
    });
    const { status, events } = await readSse(`${t.url}${r.body.events_url}`, OWNER);
    expect(status).toBe(200);
    const last = events[events.length - 1];
    expect(last.event).toBe("completed");
    expect(last.data).toMatchObject({ job_id: r.body.job_id, status: "completed", progress: 1 });
    expect(events.some((e) => e.event === "progress" && e.data.status === "processing")).toBe(true);
    const ids = events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    // Resuming after the last event: nothing to resend, the stream just ends.
    expect((await readSse(`${t.url}${r.body.events_url}`, { ...OWNER, "last-event-id": last.id! })).events).toEqual([]);
    // Resuming from an earlier event: the current (final) state comes again.
    expect(
      (await readSse(`${t.url}${r.body.events_url}`, { ...OWNER, "last-event-id": "1" })).events.map((e) => e.event),
    ).toEqual(["completed"]);
    expect((await readSse(`${t.url}/api/job/00000000-0000-4000-8000-000000000000/events`, OWNER)).status).toBe(404);
  });

  it("cancels a running job, aborting its task within a second", async () => {
    const r = await submit(t.url, "/api/music/generate-async", {
      prompt: "very long",
      duration: 300,
      options: { fresh: true },
    });
    await waitFor(t.url, r.body.job_id, ["processing"]);
    await eventually(
      async () => (await broker.call<{ running: number }>("compute.stats")).running > 0,
      5000,
      "the task to run",
    );
    const cancelled = await getJson(`${t.url}/api/job/${r.body.job_id}`, { method: "DELETE", headers: OWNER });
    expect(cancelled.body).toMatchObject({ status: "cancelled" });
    // 300 s of audio: a task still running after this bounded wait was not stopped.
    await eventually(
      async () => (await broker.call<{ running: number }>("compute.stats")).running === 0,
      15_000,
      "the task to stop",
    );
    await new Promise((res) => setTimeout(res, 300));
    expect((await getJson(`${t.url}/api/job/${r.body.job_id}`, { headers: OWNER })).body.status).toBe("cancelled");
    expectStatus(await getJson(`${t.url}/api/job/${r.body.job_id}`, { method: "DELETE", headers: OWNER }), 409);
  });
});

describe("timeouts", () => {
  it("aborts a job's task past its kind's limit and fails it after its attempts", async () => {
    // Music of 900 s takes several seconds to render on any machine; its limit here is 1 s.
    const n = await startTestNode(
      {
        RATE_LIMIT: "0",
        COMPUTE_THREADS: "1",
        JOBS_POLL_MS: "100",
        JOBS_RETRY_DELAY_S: "0",
        JOBS_ATTEMPTS: "2",
        JOBS_TIMEOUT_S: "300,music=1",
        MUSIC_MAX_SECONDS: "900",
        RESULT_MAX_BYTES: String(256 << 20),
      },
      ["api", "jobs", "compute"],
      await memoryDb(),
    );
    try {
      const r = await submit(n.url, "/api/music/generate-async", { prompt: "endless", duration: 900 });
      const job = await waitFor(n.url, r.body.job_id, ["failed", "completed"], 30_000);
      expect(job).toMatchObject({ status: "failed", error: "timed out after 1 s", attempts: 2 });
      expect((await n.node.broker.call<{ running: number }>("compute.stats")).running).toBe(0);
    } finally {
      await n.node.stop();
    }
  });
});

describe("retries", () => {
  let small: TestNode;
  beforeAll(async () => {
    small = await startTestNode(
      {
        API_KEYS: ADMIN_KEY,
        RATE_LIMIT: "0",
        COMPUTE_THREADS: "1",
        COMPUTE_QUEUE_MAX: "0",
        JOBS_POLL_MS: "100",
        JOBS_RETRY_DELAY_S: "1",
        JOBS_ATTEMPTS: "2",
        RESULT_MAX_BYTES: String(256 << 20),
      },
      ["api", "jobs", "compute"],
      await memoryDb(),
    );
  });
  afterAll(() => small.node.stop());

  // A direct call that occupies the only thread: job attempts then find the pool full (503).
  const occupy = (id: string) =>
    small.node.broker.call("compute.music", { prompt: "busy", duration: 300, operation_id: id }).catch(() => undefined);

  it("retries after a transient failure, then succeeds", async () => {
    const busy = occupy("busy-1");
    await eventually(
      async () => (await small.node.broker.call<{ running: number }>("compute.stats")).running === 1,
      5000,
      "pool busy",
    );
    const r = await submit(small.url, "/api/emotion/analyze-async", { text: "retry me" });
    await eventually(
      async () =>
        (await getJson(`${small.url}/api/job/${r.body.job_id}`, { headers: OWNER })).body.error?.includes(
          "queue is full",
        ),
      5000,
      "a failed first attempt",
    );
    await small.node.broker.broadcast("compute.abort", { id: "busy-1" });
    await busy;
    const job = await waitFor(small.url, r.body.job_id, ["completed", "failed"]);
    expect(job).toMatchObject({ status: "completed", attempts: 2 });
    expect(job.error).toBeUndefined();
  });

  it("fails the job after its last attempt, keeps it, and lets an operator retry it", async () => {
    const busy = occupy("busy-2");
    await eventually(
      async () => (await small.node.broker.call<{ running: number }>("compute.stats")).running === 1,
      5000,
      "pool busy",
    );
    const r = await submit(small.url, "/api/emotion/analyze-async", { text: "exhaust me" });
    const failed = await waitFor(small.url, r.body.job_id, ["failed"]);
    expect(failed).toMatchObject({ status: "failed", attempts: 2 });
    expect(failed.error).toMatch(/compute queue is full/);
    await small.node.broker.broadcast("compute.abort", { id: "busy-2" });
    await busy;
    // Another owner (here: no owner at all) does not learn the job exists; an admin may retry it.
    expectStatus(await getJson(`${small.url}/api/job/${r.body.job_id}/retry`, { method: "POST" }), 404);
    const retried = await getJson(`${small.url}/api/job/${r.body.job_id}/retry`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    // Queued again: no start and no end of the failed attempts shown.
    expect(retried.body).toMatchObject({ status: "queued", attempts: 0, started_at: null, finished_at: null });
    expect(await waitFor(small.url, r.body.job_id, ["completed"])).toMatchObject({ attempts: 1 });
  });
});

describeWithPg("jobs on Postgres", () => {
  it("never runs a job cancelled while queued, even when a worker comes later", async () => {
    const url = await createDatabase();
    const submitter = await startTestNode({ DATABASE_URL: url, RATE_LIMIT: "0" }, ["api", "jobs"]);
    let worker: TestNode | undefined;
    try {
      const r = await submit(submitter.url, "/api/art/generate-async", {
        prompt: "never",
        style: "waves",
        options: { width: 16, height: 16 },
      });
      expect(r.body.status).toBe("queued");
      expect(
        (await getJson(`${submitter.url}/api/job/${r.body.job_id}`, { method: "DELETE", headers: OWNER })).body.status,
      ).toBe("cancelled");
      worker = await startTestNode({ DATABASE_URL: url, RATE_LIMIT: "0", JOBS_POLL_MS: "50" }, [
        "api",
        "jobs",
        "compute",
      ]);
      const other = await submit(worker.url, "/api/art/generate-async", {
        prompt: "runs",
        style: "waves",
        options: { width: 16, height: 16 },
      });
      await waitFor(worker.url, other.body.job_id, ["completed"]);
      const job = (await getJson(`${worker.url}/api/job/${r.body.job_id}`, { headers: OWNER })).body;
      expect(job).toMatchObject({ status: "cancelled", attempts: 0 });
      expect(job.result).toBeUndefined();
    } finally {
      await worker?.node.stop();
      await submitter.node.stop();
      await dropDatabase(url);
    }
  });
});
