import crypto from "node:crypto";
import type { PgliteDb } from "../../services/lib/db";
import { createUpload, putUploadChunk, setUploadJob, sweepUploads } from "../../services/datasets/store";
import { insertJob } from "../../services/jobs/store";
import { memoryDb } from "../helpers/pglite";

/** Which uploads a sweep keeps: the one place uploads no import job will read are deleted. */
describe("datasets upload sweep", () => {
  let db: PgliteDb;
  beforeAll(async () => {
    db = await memoryDb();
  });
  afterAll(() => db.close());

  async function upload(ageS: number, withJob: boolean): Promise<string> {
    const id = crypto.randomUUID();
    await createUpload(db, { id, domain: "sweep", format: "jsonl", filename: "f.jsonl" });
    await putUploadChunk(db, id, 0, Buffer.from('{"content":"x"}\n'));
    if (withJob) await setUploadJob(db, id, crypto.randomUUID());
    await db.query("UPDATE imports SET created_at = now() - make_interval(secs => $2) WHERE id = $1", [id, ageS]);
    return id;
  }

  const left = async () =>
    (await db.query<{ id: string }>("SELECT id::text AS id FROM imports ORDER BY id")).rows.map((r) => r.id).sort();
  const chunks = async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM import_chunks")).rows[0].n;

  it("deletes uploads never given a job after the orphan time, and any past the retention, with their chunks", async () => {
    const orphanOld = await upload(2 * 3600, false);
    const orphanNew = await upload(60, false);
    const jobbedOld = await upload(2 * 3600, true);
    const pastRetention = await upload(8 * 86_400, true);
    expect(await chunks()).toBe(4);

    const swept = await sweepUploads(db, 3600, 7);

    expect({ swept, left: await left(), chunks: await chunks() }).toEqual({
      swept: 2,
      left: [orphanNew, jobbedOld].sort(),
      chunks: 2,
    });
    expect(await left()).not.toContain(orphanOld);
    expect(await left()).not.toContain(pastRetention);
  });

  it("keeps an upload without job_id whose import job is queued or running (recording the job on it failed)", async () => {
    await sweepUploads(db, 3600, 7);
    const kept = await left();
    const live: string[] = [];
    for (const status of ["queued", "processing", "failed"]) {
      const id = await upload(2 * 3600, false);
      const job = await insertJob(db, {
        owner: "",
        kind: "import",
        params: { import_id: id, domain: "sweep", format: "jsonl" },
        maxAttempts: 1,
        timeoutS: 60,
      });
      await db.query("UPDATE jobs SET status = $2 WHERE id = $1", [job.id, status]);
      if (status !== "failed") live.push(id);
    }

    const swept = await sweepUploads(db, 3600, 7);

    expect({ swept, left: await left() }).toEqual({ swept: 1, left: [...kept, ...live].sort() });
  });
});
