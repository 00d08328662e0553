/**
 * mcai backup / restore in embedded mode, and the export's hand-off to a running node: the real
 * program, spawned from dist/, on PGlite data folders.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PgliteDb } from "../../services/lib/db";
import { freePort, getJson, killAll, spawnMcai, type McaiProcess } from "../helpers/processes";

afterAll(killAll);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-backup-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const dir = (name: string) => path.join(tmp, name);
const env = (dataDir: string, extra: Record<string, string> = {}) => ({
  MCAI_DATA_DIR: dataDir,
  LOG_LEVEL: "warn",
  COMPUTE_THREADS: "1",
  ...extra,
});

/** Every example of the folder's database: domain, content hash, response, metadata; and the job count. */
async function contents(dataDir: string): Promise<{ examples: string[]; datasets: string[] }> {
  const db = await PgliteDb.open(path.join(dataDir, "db"));
  try {
    const examples = await db.query<{ row: string }>(
      `SELECT concat_ws(' ', d.domain_name, e.content_hash, coalesce(e.response, '<null>'), e.metadata::text) AS row
       FROM examples e JOIN datasets d ON d.id = e.dataset_id ORDER BY 1`,
    );
    const datasets = await db.query<{ row: string }>(
      "SELECT concat_ws(' ', domain_name, version, example_count, archived_count) AS row FROM datasets ORDER BY 1",
    );
    return { examples: examples.rows.map((r) => r.row), datasets: datasets.rows.map((r) => r.row) };
  } finally {
    await db.close();
  }
}

describe("mcai backup and restore (embedded)", () => {
  let node: McaiProcess;
  let port: number;
  const source = dir("source");

  beforeAll(async () => {
    fs.mkdirSync(dir("in"));
    fs.writeFileSync(
      path.join(dir("in"), "poems.jsonl"),
      '{"content":"the sea at night","response":"dark","metadata":{"by":"a"}}\n{"content":"morning light"}\n',
    );
    port = await freePort();
    // The first start imports the demo knowledge base: a few hundred examples over many domains.
    node = spawnMcai(["start"], env(source, { PORT: String(port), LOG_LEVEL: "info" }));
    await node.waitForOutput(/API at http:\/\/localhost:\d+\/api\/health/, 60_000);
    const imp = spawnMcai(["import", dir("in")], env(source));
    expect(await imp.exited).toBe(0);
  });

  it("takes the backup through the running node, which keeps serving", async () => {
    const b = spawnMcai(["backup", "--out", dir("live.tar.gz")], env(source));
    expect(await b.exited).toBe(0);
    expect(b.output()).toMatch(new RegExp(`backup of the running node on port ${port} written to .*live\\.tar\\.gz`));
    expect(fs.statSync(dir("live.tar.gz")).size).toBeGreaterThan(1000);
    expect((await getJson(`http://127.0.0.1:${port}/api/health`)).status).toBe(200);
    // The folder holds no stray partial file, and an existing file is never overwritten.
    expect(fs.existsSync(dir("live.tar.gz.partial"))).toBe(false);
    expect(await spawnMcai(["backup", "--out", dir("live.tar.gz")], env(source)).exited).toBe(2);
  });

  it("exports through the running node too", async () => {
    const e = spawnMcai(["export", "--out", dir("export"), "--domain", "poems"], env(source));
    expect(await e.exited).toBe(0);
    expect(e.output()).toMatch(new RegExp(`from the running node's API on port ${port}`));
    expect(e.output()).toMatch(/^poems\s+2\s+-\s+\d+$/m);
    expect(fs.readFileSync(path.join(dir("export"), "poems.jsonl"), "utf8")).toBe(
      '{"content":"the sea at night","response":"dark","metadata":{"by":"a"}}\n' +
        '{"content":"morning light","response":null,"metadata":{}}\n',
    );
  });

  it("restores into an empty folder the same database", async () => {
    node.kill("SIGTERM");
    expect(await node.exited).toBe(0);
    const r = spawnMcai(["restore", dir("live.tar.gz")], env(dir("restored")));
    expect(await r.exited).toBe(0);
    const want = await contents(source);
    expect(want.examples.length).toBeGreaterThan(100);
    expect(r.output()).toMatch(new RegExp(`${want.datasets.length} datasets, ${want.examples.length} examples`));
    expect(await contents(dir("restored"))).toEqual(want);
  });

  it("refuses a folder that holds a database, and a file that is not a backup, changing nothing", async () => {
    const again = spawnMcai(["restore", dir("live.tar.gz")], env(dir("restored")));
    expect(await again.exited).toBe(1);
    expect(again.output()).toMatch(/db is not empty: restore goes into an empty folder/);
    fs.writeFileSync(dir("junk.tar.gz"), "not a tarball");
    const junk = spawnMcai(["restore", dir("junk.tar.gz")], env(dir("junk")));
    expect(await junk.exited).toBe(1);
    expect(junk.output()).toMatch(/is not a backup this version can restore/);
    // Left empty, so a good backup can go there next.
    expect(fs.readdirSync(dir("junk"))).toEqual([]);
  });

  it("backs up a folder no node runs on, and points Postgres users to pg_dump", async () => {
    const b = spawnMcai(["backup", "--out", dir("cold.tar.gz")], env(dir("restored")));
    expect(await b.exited).toBe(0);
    const r = spawnMcai(["restore", dir("cold.tar.gz")], env(dir("cold")));
    expect(await r.exited).toBe(0);
    expect(await contents(dir("cold"))).toEqual(await contents(source));
    const pg = spawnMcai(["backup", "--out", dir("pg.tar.gz")], { DATABASE_URL: "postgres://u@127.0.0.1:9/none" });
    expect(await pg.exited).toBe(2);
    expect(pg.output()).toMatch(/pg_dump -Fc -d "\$DATABASE_URL"/);
    expect(await spawnMcai(["restore"], env(dir("x"))).exited).toBe(2);
    expect(await spawnMcai(["backup", "--out", dir("none.tar.gz")], env(dir("empty"))).exited).toBe(1);
  });
});
