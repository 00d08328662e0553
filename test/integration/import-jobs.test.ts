/**
 * Imports as jobs (issue 12): `POST /api/datasets/:domain/import` stores the file, answers 202 with
 * a job at once, and the job imports it a batch per transaction with a checkpoint. On PGlite (with
 * pgvector: embeddings, and the HNSW index dropped and built again) and on Postgres (without).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Db } from "../../services/lib/db";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { eventually, freePort, getJson, killAll, spawnMcai } from "../helpers/processes";
import { readSse, waitFor } from "../helpers/jobs";
import { createDatabase, dropDatabase, PG_URL } from "../helpers/servers";
import { ADMIN_KEY } from "../helpers/datasets";
import { Readable } from "node:stream";
import { READ_PIECE_BYTES, readUpload, storeUpload } from "../../services/datasets/upload";
import { deleteUpload } from "../../services/datasets/store";

const ADMIN = { authorization: `Bearer ${ADMIN_KEY}` };
const ROWS = 6000;
const WORDS = ["tempo", "scale", "chord", "rhythm", "pitch", "timbre", "harmony", "melody", "cadence", "octave"];

/** `n` distinct JSONL examples (every 50th line a record without content: rejected). */
function jsonl(n: number, tag: string): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 50 === 49) lines.push(JSON.stringify({ note: `no content ${i}` }));
    else
      lines.push(
        JSON.stringify({
          content: `${tag} ${i}: ${WORDS[i % 10]} and ${WORDS[(i * 7) % 10]} in example ${i}`,
          response: `answer ${i}`,
        }),
      );
  }
  return lines.join("\n") + "\n";
}
const REJECTED = (n: number) => Math.floor(n / 50);

function post(
  url: string,
  domain: string,
  body: string,
  query = "format=jsonl&filename=big.jsonl",
  headers: Record<string, string> = ADMIN,
) {
  return getJson(`${url}/api/datasets/${domain}/import?${query}`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/octet-stream" },
    body,
  });
}

async function count(db: Db, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await db.query<{ n: string }>(sql, params)).rows[0].n);
}

const DRIVERS: [string, () => Promise<{ db?: Db; env: Record<string, string>; done(): Promise<void> }>][] = [
  ["PGlite", async () => ({ db: await memoryDb(), env: {}, done: () => Promise.resolve() })],
];
if (PG_URL)
  DRIVERS.push([
    "Postgres",
    async () => {
      const url = await createDatabase();
      return { env: { DATABASE_URL: url }, done: () => dropDatabase(url) };
    },
  ]);

describe.each(DRIVERS)("imports as jobs on %s", (_driver, open) => {
  let t: TestNode;
  let db: Db;
  let cleanup: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const d = await open();
    cleanup = () => d.done();
    t = await startTestNode(
      {
        ...d.env,
        API_KEYS: ADMIN_KEY,
        RATE_LIMIT: "0",
        COMPUTE_THREADS: "1",
        EMBEDDINGS_BATCH: "200",
        IMPORT_MAX_MB: "1",
        IMPORT_HNSW_REBUILD_MIN: "1000",
        // An import runs longer than a request may: it must not be one.
        REQUEST_TIMEOUT_MS: "5000",
      },
      ["api", "jobs", "datasets", "compute"],
      d.db,
    );
    db = t.node.db!;
  });
  afterAll(async () => {
    await (t as TestNode | undefined)?.node.stop();
    await cleanup?.();
  });

  it("answers a big import with 202 and a queued job, which completes with progress over SSE", async () => {
    // Every compute.embed call of the import asks for pgvector text: the vectors are formatted in
    // the pool, not on the main thread (where a batch's formatting held the event loop 40-60 ms).
    const calls = jest.spyOn(t.node.broker, "call");
    const r = await post(t.url, "bulk", jsonl(ROWS, "bulk"));
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ status: "queued", domain: "bulk", records: ROWS });
    expect(r.body.poll_url).toBe(`/api/job/${r.body.job_id}`);
    const sse = await readSse(`${t.url}${r.body.events_url}`, ADMIN, 120_000);
    const progress = sse.events.filter((e) => e.event === "progress").map((e) => e.data.progress as number);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const last = sse.events.at(-1)?.data;
    expect({ status: last?.status, error: last?.error }).toEqual({ status: "completed", error: undefined });
    const job = (await getJson(`${t.url}/api/job/${r.body.job_id}`, { headers: ADMIN })).body;
    expect(job).toMatchObject({
      kind: "import",
      status: "completed",
      result: {
        domain: "bulk",
        read: ROWS,
        added: ROWS - REJECTED(ROWS),
        duplicates: 0,
        rejected: REJECTED(ROWS),
      },
    });
    const d = (await getJson(`${t.url}/api/datasets`)).body.datasets.find(
      (x: { domain: string }) => x.domain === "bulk",
    );
    expect(d.example_count).toBe(ROWS - REJECTED(ROWS));
    // The file's bytes are gone once imported; the summary stays with the upload row.
    expect(await count(db, "SELECT count(*) AS n FROM import_chunks")).toBe(0);
    const embeds = calls.mock.calls.filter(([action]) => action === "compute.embed");
    calls.mockRestore();
    if (db.capabilities.vector) {
      expect(embeds.length).toBeGreaterThanOrEqual(Math.ceil((ROWS - REJECTED(ROWS)) / 200));
      expect(embeds.filter(([, params]) => (params as { format?: string }).format !== "sql")).toEqual([]);
      expect(job.result.index_rebuilt).toBe(true);
      expect(await count(db, "SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'examples_embedding_hnsw'")).toBe(
        1,
      );
      const hits = (await getJson(`${t.url}/api/search?q=bulk%2017%20melody&mode=vector&domain=bulk&k=3`)).body.hits;
      expect(hits.map((h: { content: string }) => h.content)).toContain("bulk 17: melody and octave in example 17");
    }
    // The same file again: a new job that adds nothing.
    const again = await post(t.url, "bulk", jsonl(ROWS, "bulk"));
    const second = await waitFor(t.url, again.body.job_id, ["completed", "failed"], 120_000, ADMIN);
    expect(second.result).toMatchObject({ added: 0, duplicates: ROWS - REJECTED(ROWS) });
  });

  it("reads a stored upload back in pieces of READ_PIECE_BYTES, a turn of the event loop apart", async () => {
    const body = jsonl(20_000, "pieces");
    expect(body.length).toBeGreaterThan(1 << 20); // more than one stored chunk
    const spec = {
      domain: "pieces",
      format: "jsonl" as const,
      filename: "p.jsonl",
      maxBytes: 8 << 20,
      maxChars: 1000,
      maxJsonBytes: 1 << 20,
    };
    const up = await storeUpload(db, Readable.from([Buffer.from(body)]), spec);
    try {
      let turns = 0;
      let on = true;
      const tick = () => on && (turns++, setImmediate(tick));
      setImmediate(tick);
      const pieces: Buffer[] = [];
      for await (const p of readUpload(db, up.id)) pieces.push(p as Buffer);
      on = false;
      expect(Buffer.concat(pieces).toString()).toBe(body);
      expect(Math.max(...pieces.map((p) => p.length))).toBeLessThanOrEqual(READ_PIECE_BYTES);
      expect(turns).toBeGreaterThanOrEqual(pieces.length - 1);
    } finally {
      await deleteUpload(db, up.id);
    }
  });

  it("answers bad input with a 4xx and changes nothing: no job, no upload, no rows", async () => {
    const state = async () => ({
      jobs: await count(db, "SELECT count(*) AS n FROM jobs"),
      uploads: await count(db, "SELECT count(*) AS n FROM imports"),
      chunks: await count(db, "SELECT count(*) AS n FROM import_chunks"),
      examples: await count(db, "SELECT count(*) AS n FROM examples"),
      version: (await t.node.broker.call<{ version: number }>("datasets.version")).version,
    });
    const before = await state();
    const malformed = jsonl(3000, "bad") + '{"content": "unterminated\n';
    const cases: [string, () => ReturnType<typeof post>, number, RegExp][] = [
      ["malformed JSONL", () => post(t.url, "bad", malformed), 422, /^big\.jsonl: line 3001: /],
      ["empty file", () => post(t.url, "bad", ""), 422, /holds no records/],
      ["blank lines only", () => post(t.url, "bad", "\n  \n\n"), 422, /holds no records/],
      ["unknown format", () => post(t.url, "bad", "x", "format=csv"), 400, /format must be one of json, jsonl, txt/],
      ["bad domain", () => post(t.url, "Bad!", "x", "format=jsonl"), 400, /domain must be/],
      ["over IMPORT_MAX_MB", () => post(t.url, "bad", jsonl(20_000, "huge")), 413, /larger than 1048576 bytes/],
      [
        "bad Idempotency-Key",
        () => post(t.url, "bad", jsonl(10, "key"), undefined, { ...ADMIN, "idempotency-key": "a b" }),
        422,
        /Idempotency-Key/,
      ],
    ];
    for (const [name, send, status, message] of cases) {
      const r = await send().catch((e: unknown) => ({
        status: `${(e as Error).message}: ${String(((e as Error).cause as Error | undefined)?.message)}`,
        body: null,
      }));
      expect({ name, status: r.status, message: r.body?.error?.message }).toEqual({
        name,
        status,
        message: expect.stringMatching(message),
      });
    }
    expect(await state()).toEqual(before);
  });

  it("answers an import without an API key with 401 (the gate reads the body it refuses)", async () => {
    const r = await post(t.url, "bad", jsonl(10, "nokey"), undefined, {});
    expect({ status: r.status, message: r.body.error.message }).toEqual({
      status: 401,
      message: expect.stringMatching(/API key/),
    });
  });

  it("keeps an Idempotency-Key's job for the same file, and refuses another file with 409", async () => {
    const headers = { ...ADMIN, "idempotency-key": "import-once-1" };
    const first = await post(t.url, "idem", jsonl(100, "idem"), undefined, headers);
    const same = await post(t.url, "idem", jsonl(100, "idem"), undefined, headers);
    expect([first.status, same.status]).toEqual([202, 202]);
    expect(same.body.job_id).toBe(first.body.job_id);
    const other = await post(t.url, "idem", jsonl(101, "idem"), undefined, headers);
    expect(other.status).toBe(409);
    await waitFor(t.url, first.body.job_id, ["completed"], 60_000, ADMIN);
    expect(await count(db, "SELECT count(*) AS n FROM imports WHERE domain = 'idem'")).toBe(1);
  });

  it("keeps a cancelled import's committed batches, and a retry resumes after them", async () => {
    const r = await post(t.url, "resume", jsonl(ROWS, "resume"));
    expect(r.status).toBe(202);
    const id = r.body.job_id as string;
    await eventually(
      async () => {
        const j = (await getJson(`${t.url}/api/job/${id}`, { headers: ADMIN })).body;
        return j.status === "processing" && j.progress > 0;
      },
      60_000,
      "the import to commit a batch",
    );
    const cancelled = await getJson(`${t.url}/api/job/${id}`, { method: "DELETE", headers: ADMIN });
    expect(cancelled.status).toBe(200);
    // The batch being written when the cancel came commits; nothing after it does.
    const kept = await eventually(
      async () => {
        // The checkpoint and the rows in one statement (one snapshot: a batch commits both at once),
        // read after the rows stood still for 500 ms; read apart, a batch committing in between made
        // the rows one batch ahead of the checkpoint read before them.
        const a = await count(db, "SELECT example_count AS n FROM datasets WHERE domain_name = 'resume'");
        await new Promise((res) => setTimeout(res, 500));
        const u = (
          await db.query<{ done: number; n: number }>(
            `SELECT (SELECT records_done FROM imports WHERE job_id = $1) AS done,
                    (SELECT example_count FROM datasets WHERE domain_name = 'resume')::int AS n`,
            [id],
          )
        ).rows[0];
        return a === u.n ? { done: u.done, rows: u.n } : undefined;
      },
      30_000,
      "the cancelled import to stop writing",
    );
    expect(kept.done).toBeGreaterThan(0);
    expect(kept.done).toBeLessThan(ROWS);
    expect(kept.rows).toBe(kept.done - Math.floor(kept.done / 50));
    const retried = await getJson(`${t.url}/api/job/${id}/retry`, { method: "POST", headers: ADMIN });
    expect(retried.status).toBe(200);
    const job = await waitFor(t.url, id, ["completed", "failed"], 120_000, ADMIN);
    expect(job.result).toMatchObject({
      read: ROWS,
      added: ROWS - REJECTED(ROWS),
      duplicates: 0,
      resumed_at: kept.done,
    });
    expect(await count(db, "SELECT example_count AS n FROM datasets WHERE domain_name = 'resume'")).toBe(
      ROWS - REJECTED(ROWS),
    );
    // The bounds of its own waits (an import of ROWS twice over, on PGlite, beside another suite on 2
    // cores): jest's 60 s default cut it short in a CI run.
  }, 240_000);
});

describe("an import job whose embedded node is killed with -9", () => {
  afterAll(killAll);

  it("resumes after its last committed batch at the next start, with the HNSW index built again", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-import-kill-"));
    const port = await freePort();
    const env = {
      MCAI_DATA_DIR: dataDir,
      PORT: String(port),
      API_KEYS: ADMIN_KEY,
      RATE_LIMIT: "0",
      DEMO_DATA: "false",
      COMPUTE_THREADS: "1",
      EMBEDDINGS_BATCH: "200",
      IMPORT_HNSW_REBUILD_MIN: "1000",
    };
    const url = `http://127.0.0.1:${port}`;
    const start = async () => {
      const p = spawnMcai(["start", "--services", "api,jobs,datasets,compute"], env);
      await p.waitForOutput(/ running /, 60_000);
      return p;
    };
    try {
      const first = await start();
      const r = await post(url, "killed", jsonl(ROWS, "killed"));
      expect(r.status).toBe(202);
      const id = r.body.job_id as string;
      await eventually(
        async () => {
          const j = (await getJson(`${url}/api/job/${id}`, { headers: ADMIN })).body;
          return j.status === "processing" && j.progress > 0 && j.progress < 0.5;
        },
        60_000,
        "the import to commit a batch",
      );
      first.kill("SIGKILL");
      await first.exited;
      const second = await start();
      // The first attempt dropped the index and died before building it: the start builds it.
      expect(second.output()).toMatch(/the HNSW index is missing/);
      const job = await waitFor(url, id, ["completed", "failed"], 120_000, ADMIN);
      expect(job.result).toMatchObject({
        read: ROWS,
        added: ROWS - REJECTED(ROWS),
        duplicates: 0,
        index_rebuilt: true,
        resumed_at: expect.any(Number),
      });
      expect(job.result.resumed_at).toBeGreaterThan(0);
      const d = (await getJson(`${url}/api/datasets`)).body.datasets.find(
        (x: { domain: string }) => x.domain === "killed",
      );
      expect(d.example_count).toBe(ROWS - REJECTED(ROWS));
      second.kill("SIGTERM");
      await second.exited;
    } finally {
      await killAll();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
