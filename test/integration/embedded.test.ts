import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadKnowledgeBase } from "../../bin/demo/knowledge-base";
import { PgliteDb } from "../../services/lib/db";
import { eventually, exitWithin, freePort, getJson, killAll, spawnMcai, type McaiProcess } from "../helpers/processes";

afterAll(killAll);

describe("embedded mode (PGlite under MCAI_DATA_DIR)", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-embedded-"));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  async function startNode(): Promise<{ p: McaiProcess; port: number }> {
    const port = await freePort();
    const p = spawnMcai(["start"], { MCAI_DATA_DIR: dataDir, PORT: String(port) });
    await p.waitForOutput(/API at http:\/\/localhost:\d+\/api\/health/, 30_000);
    return { p, port };
  }

  async function stop(p: McaiProcess): Promise<void> {
    p.kill("SIGTERM");
    expect(await exitWithin(p, 30_000)).toBe(0);
  }

  async function withDb<T>(fn: (db: PgliteDb) => Promise<T>): Promise<T> {
    const db = await PgliteDb.open(path.join(dataDir, "db"));
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  }

  it("starts on a fresh folder, applying the migrations, and answers health", async () => {
    const { p, port } = await startNode();
    expect(p.output()).toMatch(/migrations applied: 0001_runtime/);
    const h = await getJson(`http://127.0.0.1:${port}/api/health`);
    expect(h.body).toMatchObject({ status: "ok", db: { driver: "pglite", vector: true }, transporter: null });
    // The curated demo knowledge base is there, every domain with every example of its file.
    const datasets = await getJson(`http://127.0.0.1:${port}/api/datasets`);
    const counts = Object.fromEntries(
      (datasets.body.datasets as { domain: string; example_count: number }[]).map((d) => [d.domain, d.example_count]),
    );
    expect(counts).toEqual(
      Object.fromEntries(loadKnowledgeBase().map(({ domain, examples }) => [domain, examples.length])),
    );
    await stop(p);
    expect(p.output()).toMatch(/SIGTERM: draining requests and stopping/);
    expect(fs.existsSync(path.join(dataDir, "mcai.lock"))).toBe(false);
  });

  it("keeps data across a stop and a start, and does not apply migrations again", async () => {
    const ledgerBefore = await withDb(async (db) => {
      await db.query("CREATE TABLE kept (note text)");
      await db.query("INSERT INTO kept VALUES ($1)", ["written before the restart"]);
      return (await db.query("SELECT id, applied_at FROM mcai_migrations ORDER BY id")).rows;
    });
    const { p, port } = await startNode();
    expect(p.output()).not.toMatch(/migrations applied/);
    expect((await getJson(`http://127.0.0.1:${port}/api/health`)).body.status).toBe("ok");
    await stop(p);
    await withDb(async (db) => {
      expect((await db.query("SELECT note FROM kept")).rows).toEqual([{ note: "written before the restart" }]);
      expect((await db.query("SELECT id, applied_at FROM mcai_migrations ORDER BY id")).rows).toEqual(ledgerBefore);
    });
  });

  it("refuses a second process on the same folder, and takes over after a kill -9", async () => {
    const { p } = await startNode();
    const second = spawnMcai(["start"], { MCAI_DATA_DIR: dataDir, PORT: String(await freePort()) });
    expect(await exitWithin(second, 60_000)).toBe(1);
    expect(second.output()).toContain(`is in use by process ${p.pid}`);
    // The console of a running embedded node is its own (README): `mcai repl` says how to get it.
    const repl = spawnMcai(["repl"], { MCAI_DATA_DIR: dataDir, PORT: "0" }, "health\n");
    expect(await exitWithin(repl, 60_000)).toBe(1);
    expect(repl.output()).toContain(`is in use by process ${p.pid}`);
    expect(repl.output()).toContain("start it with 'mcai start --repl'");
    p.kill("SIGKILL");
    await p.exited;
    const { p: again, port } = await startNode();
    await eventually(
      async () => (await getJson(`http://127.0.0.1:${port}/api/health`)).body.status === "ok",
      10_000,
      "health after takeover",
    );
    await stop(again);
    await withDb(async (db) => {
      expect((await db.query("SELECT count(*)::int AS n FROM kept")).rows[0].n).toBe(1);
    });
  });
});

describe("mcai repl on an embedded data folder", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-repl-"));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("runs mcai's commands piped on stdin, one after another", async () => {
    const file = path.join(dataDir, "poems.jsonl");
    fs.writeFileSync(
      file,
      '{"content":"Ode to a nightingale","response":"Keats"}\n{"content":"The tyger","response":"Blake"}\n',
    );
    const script = [
      `import ${file}`,
      "datasets",
      "rotate --max 1 --dry-run",
      "call jobs.submitEmotion --text happy",
      "jobs",
      "cache stats",
      "cache clear",
      "job 00000000-0000-4000-8000-000000000000",
      "jobs bogus",
      "job 123",
      'call knowledge.feedback {"query":"Ode to a nightingale?","helpful":false,"comment":"wrong poet"}',
      'call knowledge.feedback {"query":"the tyger","helpful":true}',
      "feedback --helpful false",
      "help",
    ].join("\n");
    // PORT=0: the console's local node must not fight another process for port 3000.
    const repl = spawnMcai(["repl"], { MCAI_DATA_DIR: dataDir, COMPUTE_THREADS: "1", PORT: "0" }, `${script}\n`);
    // A first start initialises PGlite (seconds) before the nine commands run: bounded for a busy machine.
    expect(await exitWithin(repl, 150_000)).toBe(0);
    const out = repl.output();
    expect(out).toMatch(/^poems\s+2\s+2\s+0\s+0$/m); // import's summary table
    expect(out).toMatch(/^poems\s+v\d+\s+2 live\s+0 archived$/m); // datasets
    expect(out).toMatch(/poems: would move 1 examples to the archive/); // rotate --dry-run
    expect(out).toMatch(/[0-9a-f-]{36} {2}emotion\s+(queued|processing|completed)/); // jobs
    expect(out).toMatch(/"l2": \{\s+"hits": 0/); // cache stats (Moleculer's cache command, extended)
    expect(out).toMatch(/\{"cleared":true,"l2_entries":\d+\}/); // cache clear: both knowledge tiers
    expect(out).toContain("error: no job 00000000-0000-4000-8000-000000000000");
    expect(out).toContain('unknown action "bogus"');
    expect(out).toContain("error: 'id' must be a job id (a UUID)"); // the rule broken, not "Parameters validation error!"
    // feedback --helpful false: only the unhelpful vote, with its query and comment
    expect(out).toMatch(/\d+ {2}not helpful {2}example -\s+v\d+ .* "ode to a nightingale" {2}comment: "wrong poet"$/m);
    expect(out).not.toMatch(/\d+ {2}helpful {4}.*"the tyger"$/m);
    expect(out).toMatch(/^\s+feedback \[options\]\s+votes on answers/m); // listed in help
    // The commands ran in order: the import's table before the datasets listing.
    expect(out.indexOf("poems  ")).toBeLessThan(out.search(/poems\s+v\d+/));
  }, 180_000);
});
