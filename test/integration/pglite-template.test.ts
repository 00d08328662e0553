import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { migrate, PgliteDb, readMigrations } from "../../services/lib/db";
import { makeTemplate, stampFileOf } from "../../services/lib/db/pglite-template";

describe("PGlite's prebuilt cluster for a fresh data folder", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-template-"));
  const template = path.join(root, "build", "pglite-template.tar.gz");
  const open: PgliteDb[] = [];
  afterAll(async () => {
    for (const db of open) await db.close().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  });

  async function openDir(name: string, tpl: string): Promise<PgliteDb> {
    const db = await PgliteDb.open(path.join(root, name), { template: tpl });
    open.push(db);
    return db;
  }

  /** Migrates `db` and shows it works: the ledger is whole and a vector column answers a query. */
  async function expectWorkingMigrated(db: PgliteDb): Promise<void> {
    const res = await migrate(db);
    expect(res.applied).toEqual(readMigrations().map((m) => m.name));
    expect(db.capabilities.vector).toBe(true);
    await db.query("CREATE TABLE probe (v vector(3))");
    await db.query("INSERT INTO probe VALUES ('[1,0,0]'), ('[0,1,0]')");
    const near = await db.query<{ v: string }>("SELECT v::text FROM probe ORDER BY v <-> '[0.9,0.1,0]' LIMIT 1");
    expect(near.rows).toEqual([{ v: "[1,0,0]" }]);
  }

  it("makes the template once, stamped with the installed PGlite, and skips a second make", async () => {
    expect(await makeTemplate(template)).toBe(true);
    expect(JSON.parse(fs.readFileSync(stampFileOf(template), "utf8"))).toEqual({ pglite: expect.any(String) });
    expect(await makeTemplate(template)).toBe(false);
  });

  it("loads the template into a fresh folder (no initdb) and migrates it into a working database", async () => {
    const db = await openDir("fresh", template);
    expect(db.origin).toBe("template");
    await expectWorkingMigrated(db);
    await db.close();
    const again = await openDir("fresh", template);
    expect(again.origin).toBe("existing");
    expect((await migrate(again)).applied).toEqual([]);
    expect((await again.query("SELECT count(*)::int AS n FROM probe")).rows).toEqual([{ n: 2 }]);
    await again.close();
  });

  it("begins again over what a first start killed while unpacking left behind", async () => {
    const partial = path.join(root, "killed", "pgdata.partial");
    fs.mkdirSync(partial, { recursive: true });
    fs.writeFileSync(path.join(partial, "PG_VERSION"), "17\n");
    const db = await openDir("killed", template);
    expect(db.origin).toBe("template");
    expect(fs.existsSync(partial)).toBe(false);
    await expectWorkingMigrated(db);
    await db.close();
  });

  it("runs initdb when the template was made with another PGlite version", async () => {
    const other = path.join(root, "other", "pglite-template.tar.gz");
    fs.mkdirSync(path.dirname(other), { recursive: true });
    fs.copyFileSync(template, other);
    fs.writeFileSync(stampFileOf(other), JSON.stringify({ pglite: "0.0.1" }));
    const db = await openDir("other-version", other);
    expect(db.origin).toBe("initdb");
    expect(db.templateSkipped).toMatch(/made with PGlite 0\.0\.1, this is \d+\.\d+\.\d+/);
    await expectWorkingMigrated(db);
    await db.close();
  });

  it("runs initdb on an emptied folder when the template is damaged", async () => {
    const damaged = path.join(root, "damaged", "pglite-template.tar.gz");
    fs.mkdirSync(path.dirname(damaged), { recursive: true });
    fs.writeFileSync(damaged, Buffer.from("not a tarball"));
    fs.copyFileSync(stampFileOf(template), stampFileOf(damaged));
    const db = await openDir("damaged", damaged);
    expect(db.origin).toBe("initdb");
    expect(db.templateSkipped).toMatch(/^loading .*damaged\/pglite-template\.tar\.gz failed: /);
    await expectWorkingMigrated(db);
    await db.close();
  });

  it("runs initdb when there is no template", async () => {
    const db = await openDir("missing", path.join(root, "nowhere", "pglite-template.tar.gz"));
    expect(db.origin).toBe("initdb");
    expect(db.templateSkipped).toMatch(/^no template at .*nowhere/);
    await expectWorkingMigrated(db);
    await db.close();
  });
});
