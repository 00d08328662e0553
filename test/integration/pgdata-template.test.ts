import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { migrate, PgliteDb } from "../../services/lib/db";
import { isDataFolder, pgdataTemplateDir, seedFromTemplate } from "../../services/lib/db/pgdata-template";

const systemId = async (db: PgliteDb) =>
  (await db.query<{ id: string }>("SELECT system_identifier::text AS id FROM pg_control_system()")).rows[0].id;

/** Every file under `dir` with its size and modification time. */
const snapshot = (dir: string) =>
  (fs.readdirSync(dir, { recursive: true }) as string[]).sort().map((f) => {
    const st = fs.statSync(path.join(dir, f));
    return `${f} ${st.size} ${st.mtimeMs}`;
  });

describe("fresh embedded data folders", () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-template-"));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("start from a copy of the build's initdb'd template, then migrate and answer", async () => {
    // The global setup's build made it.
    expect(isDataFolder(pgdataTemplateDir())).toBe(true);
    const before = snapshot(pgdataTemplateDir());
    const a = await PgliteDb.open(tmp());
    const b = await PgliteDb.open(tmp());
    try {
      // initdb gives every cluster a random system identifier: equal ones are copies of one template.
      expect(await systemId(a)).toBe(await systemId(b));
      const res = await migrate(a, undefined, { embedding_dim: 384 });
      expect(res.applied).toContain("0002_datasets");
      expect((await a.query<{ n: number }>("SELECT count(*)::int AS n FROM emotions")).rows[0].n).toBeGreaterThan(0);
    } finally {
      await a.close();
      await b.close();
    }
    // The template itself is untouched by what its copies do.
    expect(snapshot(pgdataTemplateDir())).toEqual(before);
  });

  it("leaves a folder that already holds files alone, and does nothing without a template", () => {
    const busy = path.join(tmp(), "pgdata");
    fs.mkdirSync(busy);
    fs.writeFileSync(path.join(busy, "something"), "x");
    expect(seedFromTemplate(busy)).toBe(false);
    expect(fs.readdirSync(busy)).toEqual(["something"]);
    expect(seedFromTemplate(path.join(tmp(), "pgdata"), path.join(tmp(), "no-template"))).toBe(false);
  });
});
