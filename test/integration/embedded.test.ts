import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PgliteDb } from "../../services/lib/db";
import { eventually, freePort, getJson, killAll, spawnMcai, type McaiProcess } from "../helpers/processes";

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
    expect(await p.exited).toBe(0);
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
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(`is in use by process ${p.pid}`);
    p.kill("SIGKILL");
    await p.exited;
    const { p: again, port } = await startNode();
    await eventually(async () => (await getJson(`http://127.0.0.1:${port}/api/health`)).body.status === "ok", 10_000, "health after takeover");
    await stop(again);
    await withDb(async (db) => {
      expect((await db.query("SELECT count(*)::int AS n FROM kept")).rows[0].n).toBe(1);
    });
  });
});
