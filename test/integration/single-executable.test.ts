/**
 * The single executable (npm run package): built once, copied alone into an empty folder and run
 * there with no Node on PATH and no node_modules anywhere above it.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { eventually, freePort, getJson, ROOT } from "../helpers/processes";
import { createDatabase, describeWithPgAndRedis, dropDatabase, REDIS_URL, uniqueName } from "../helpers/servers";
import { OWNER, submit } from "../helpers/jobs";
import { watch, type Watched } from "../helpers/watched";
import { expectResponseStatus, expectStatus } from "../helpers/expect";

jest.setTimeout(300_000);

const EXE = "mcai-linux-x64";
let dir = "";
/** PATH holds one empty folder: no node, no npm, nothing else. */
let env: Record<string, string> = {};
const running: Watched[] = [];

function run(args: string[], extra: Record<string, string> = {}, input?: string): Watched {
  const proc = spawn(path.join(dir, EXE), args, {
    cwd: dir,
    env: { ...env, ...extra },
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (input !== undefined) proc.stdin!.end(input);
  const w = watch(proc);
  running.push(w);
  return w;
}

function exited(w: Watched): Promise<number | string> {
  if (w.proc.exitCode !== null) return Promise.resolve(w.proc.exitCode);
  return new Promise((r) => w.proc.once("exit", (code, sig) => r(code ?? sig ?? -1)));
}

async function stop(w: Watched): Promise<void> {
  w.proc.kill("SIGTERM");
  expect(await exited(w)).toBe(0);
}

beforeAll(() => {
  const out = execFileSync("npm", ["run", "package", "--silent"], { cwd: ROOT, encoding: "utf8", timeout: 240_000 });
  console.log(out.trim().split("\n").pop());
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-sea-test-"));
  fs.copyFileSync(path.join(ROOT, "dist", EXE), path.join(dir, EXE));
  fs.chmodSync(path.join(dir, EXE), 0o755);
  fs.mkdirSync(path.join(dir, "empty-path"));
  env = { PATH: path.join(dir, "empty-path"), HOME: dir, TMPDIR: path.join(dir, "tmp"), LOG_LEVEL: "info" };
  fs.mkdirSync(env.TMPDIR);
});

afterAll(async () => {
  for (const w of running) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill("SIGKILL");
  await Promise.all(running.map(exited));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("the single executable", () => {
  it("is alone in its folder, with no node_modules above it", () => {
    expect(fs.readdirSync(dir).sort()).toEqual(["empty-path", EXE, "tmp"].sort());
    for (let d = dir; d !== path.dirname(d); d = path.dirname(d))
      expect(fs.existsSync(path.join(d, "node_modules"))).toBe(false);
  });

  it("starts embedded: demo data, the web client and dashboard, a search, an art job to its PNG", async () => {
    const port = await freePort();
    const node = run(["start"], { PORT: String(port), HOST: "127.0.0.1" });
    await node.waitForOutput(/API at http:\/\/localhost:\d+\/api\/health/, 60_000);
    expect(node.output()).toMatch(/imported the demo knowledge base, \d+ examples/);
    const url = `http://127.0.0.1:${port}`;
    const h = await getJson(`${url}/api/health`);
    expect(h.body).toMatchObject({ status: "ok", db: { driver: "pglite", vector: true } });
    for (const page of ["/", "/dashboard", "/dashboard/uplot.js"])
      await expectResponseStatus(await fetch(`${url}${page}`), 200);
    const search = await getJson(`${url}/api/search?q=${encodeURIComponent("which emotions are there")}`);
    expectStatus(search, 200);
    expect(search.body.hits.length).toBeGreaterThan(0);
    const job = await submit(url, "/api/art/generate-async", { prompt: "one file", style: "flow-field" });
    expectStatus(job, 202);
    const done = await eventually(
      async () => {
        const j = (await getJson(`${url}/api/job/${job.body.job_id}`, { headers: OWNER })).body;
        return j.status === "completed" ? j : undefined;
      },
      60_000,
      "art job completed",
    );
    const png = Buffer.from(await (await fetch(`${url}${done.result.artifact_url}`)).arrayBuffer());
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
    await stop(node);
    // The program was unpacked once, into a folder of this user's only, named by its content.
    const unpacked = fs.readdirSync(env.TMPDIR);
    expect(unpacked).toEqual([expect.stringMatching(/^mcai-\d+-[0-9a-f]{16}$/)]);
    expect(fs.statSync(path.join(env.TMPDIR, unpacked[0])).mode & 0o777).toBe(0o700);
  });

  it("runs migrate, import and a piped repl on the same data folder", async () => {
    const migrate = run(["migrate"]);
    expect(await exited(migrate)).toBe(0);
    expect(migrate.output()).toMatch(/up to date \(\d+ migrations\)/);
    fs.writeFileSync(
      path.join(dir, "notes.jsonl"),
      `${JSON.stringify({ content: "What is in the single executable?", response: "The program and its files." })}\n`,
    );
    const imp = run(["import", "notes.jsonl"]);
    expect(await exited(imp)).toBe(0);
    const repl = run(["repl"], {}, "health\n");
    expect(await exited(repl)).toBe(0);
    expect(repl.output()).toMatch(/"status":\s*"ok"/);
    fs.rmSync(path.join(dir, "notes.jsonl"));
  });
});

describeWithPgAndRedis("three nodes of the single executable over Redis", () => {
  it("gateway and two workers join, and run an art job", async () => {
    const db = await createDatabase();
    const port = await freePort();
    const cluster = { TRANSPORTER: REDIS_URL, NAMESPACE: uniqueName("sea"), DATABASE_URL: db, HOST: "127.0.0.1" };
    try {
      const gw = run(["start", "--services", "api,jobs", "--node-id", "gw", "--port", String(port)], cluster);
      await gw.waitForOutput(/running/, 60_000);
      const workers = ["w1", "w2"].map((id) => run(["start", "--services", "jobs,compute", "--node-id", id], cluster));
      await Promise.all(workers.map((w) => w.waitForOutput(/running/, 60_000)));
      const url = `http://127.0.0.1:${port}`;
      await eventually(
        async () =>
          (await getJson(`${url}/api/health`)).body.nodes.filter((n: { available: boolean }) => n.available).length ===
          3,
        20_000,
        "three nodes",
      );
      const job = await submit(url, "/api/art/generate-async", { prompt: "three nodes", style: "waves" });
      expectStatus(job, 202);
      await eventually(
        async () =>
          (await getJson(`${url}/api/job/${job.body.job_id}`, { headers: OWNER })).body.status === "completed",
        60_000,
        "art job completed on a worker",
      );
      await Promise.all([gw, ...workers].map(stop));
    } finally {
      await dropDatabase(db);
    }
  });
});
