import pg from "pg";
import { createDatabase, describeWithPgAndRedis, dropDatabase, REDIS_URL, uniqueName } from "../helpers/servers";
import { eventually, freePort, getJson, killAll, sleep, spawnMcai, type McaiProcess } from "../helpers/processes";
import { ownRedis, type OwnServer } from "../helpers/own-servers";
import { ADMIN_KEY } from "../helpers/datasets";
import { expectStatus } from "../helpers/expect";

afterAll(killAll);

/** KNOWLEDGE_VERSION_CHECK_MS of the nodes: how old the dataset version behind a hit may be. */
const BOUND_MS = 500;
/** Waits past the bound from now (timers may fire a millisecond early): every node then sees what is committed now. */
const pastTheBound = () => sleep(BOUND_MS + 50);

/** Adds examples to a domain through a node's API. */
async function addExamples(port: number, domain: string, contents: string[]): Promise<void> {
  const add = await getJson(`http://127.0.0.1:${port}/api/datasets/${domain}/examples`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(contents.map((content) => ({ content }))),
  });
  expect(add.body).toMatchObject({ added: contents.length });
}

describeWithPgAndRedis("knowledge across processes sharing a Redis cacher", () => {
  let redis: OwnServer;
  let db: string;
  const ports: number[] = [];
  const nodes: McaiProcess[] = [];
  const ask = (i: number, q: string) =>
    getJson(`http://127.0.0.1:${ports[i]}/api/knowledge?q=${encodeURIComponent(q)}`);

  beforeAll(async () => {
    redis = await ownRedis();
    db = await createDatabase();
    const env = {
      CACHER: redis.url,
      DATABASE_URL: db,
      NAMESPACE: uniqueName("kn"),
      RATE_LIMIT: "0",
      COMPUTE_THREADS: "1",
      API_KEYS: ADMIN_KEY,
      KNOWLEDGE_VERSION_CHECK_MS: String(BOUND_MS),
      // The warm-up's outcome is what the first test reads: a busy machine must not cut it at its bound.
      KNOWLEDGE_WARMUP_MS: "20000",
    };
    for (let i = 0; i < 2; i++) {
      ports.push(await freePort());
      nodes.push(
        spawnMcai(
          ["start", "--services", "api,datasets,compute,knowledge", "--node-id", `k${i}`, "--port", String(ports[i])],
          env,
        ),
      );
      await nodes[i].waitForOutput(/running/);
    }
    await addExamples(ports[0], "music", ["Allegro is a fast tempo marking", "Largo is a very slow tempo"]);
    // These nodes share no transporter, so no event tells node 1 of the change: it sees it within the bound.
    await pastTheBound();
  });
  afterAll(async () => {
    await killAll();
    await redis.stop();
    await dropDatabase(db);
  });

  it("the second node's warm-up finds the shared cache already warm", () => {
    expect(nodes[0].output()).toMatch(/warm-up primed/);
    expect(nodes[1].output()).toMatch(/warm-up skipped: the shared cache is already warm/);
  });

  it("serves on one node a query answered on the other, from L1", async () => {
    expect((await ask(0, "fast tempo")).body.cached).toBe(false);
    expect((await ask(1, "fast tempo")).body).toMatchObject({
      cached: true,
      cache_tier: "l1",
      answer: "Allegro is a fast tempo marking [1]",
    });
  });

  it("a change made through one node is seen by the other within the bound, with no event between them", async () => {
    await ask(1, "presto tempo");
    const hit = await ask(1, "presto tempo");
    expect(hit.body).toMatchObject({ cached: true });
    await addExamples(ports[0], "music", ["Presto is a very fast tempo"]);
    await pastTheBound();
    const after = await ask(1, "presto tempo");
    expect(after.body.cached).toBe(false);
    expect(after.body.matches.map((m: { content: string }) => m.content)).toContain("Presto is a very fast tempo");
    expect(after.body.dataset_version).toBeGreaterThan(hit.body.dataset_version);
  });

  it("keeps answering while Redis is down (L2 or fresh), and serves from L1 again once it is back", async () => {
    await ask(0, "slow tempo");
    await redis.stop();
    const fresh = await ask(1, "very slow largo");
    expectStatus(fresh, 200);
    expect(fresh.body.cached).toBe(false);
    expect((await ask(1, "slow tempo")).body).toMatchObject({ cached: true, cache_tier: "l2" });
    await redis.start();
    // The cacher reconnects by itself.
    await eventually(
      async () => (await ask(1, "slow tempo")).body.cache_tier === "l1",
      15_000,
      "an L1 hit after Redis returned",
    );
    expect((await ask(0, "slow tempo")).body.cache_tier).toBe("l1");
  });
});

describeWithPgAndRedis("knowledge on a node without datasets, over a Redis transporter", () => {
  let db: string;
  const ports: number[] = [];
  // kt0 runs datasets; kt1, asked here, runs only the gateway and knowledge: every version it reads is remote.
  const ask = (q: string) => getJson(`http://127.0.0.1:${ports[1]}/api/knowledge?q=${encodeURIComponent(q)}`);
  const versionStats = async () =>
    (await getJson(`http://127.0.0.1:${ports[1]}/api/admin/cache/stats`, { headers: { "x-api-key": ADMIN_KEY } })).body
      .dataset_version as {
      value: number;
      events: number;
    };

  beforeAll(async () => {
    db = await createDatabase();
    const env = {
      TRANSPORTER: REDIS_URL,
      CACHER: REDIS_URL,
      DATABASE_URL: db,
      NAMESPACE: uniqueName("knt"),
      RATE_LIMIT: "0",
      COMPUTE_THREADS: "1",
      API_KEYS: ADMIN_KEY,
      KNOWLEDGE_VERSION_CHECK_MS: String(BOUND_MS),
    };
    const services = ["api,datasets,compute,knowledge", "api,knowledge"];
    const nodes: McaiProcess[] = [];
    for (const [i, list] of services.entries()) {
      ports.push(await freePort());
      nodes.push(spawnMcai(["start", "--services", list, "--node-id", `kt${i}`, "--port", String(ports[i])], env));
      await nodes[i].waitForOutput(/running/);
    }
    // kt0 sends its events only to the nodes it knows of; until it has kt1's INFO packet they are lost
    // (and the bound covers them). The event test needs them to arrive.
    await nodes[0].waitForOutput(/Node 'kt1' connected/);
    await addExamples(ports[0], "music", ["Allegro is a fast tempo marking", "Largo is a very slow tempo"]);
  });
  afterAll(async () => {
    await killAll();
    await dropDatabase(db);
  });

  it("a change on the datasets node invalidates the other node's hits within the bound, by its event", async () => {
    await eventually(async () => (await ask("fast tempo")).body.cached === true, 10_000, "a hit on kt1");
    const hit = await ask("fast tempo");
    const eventsBefore = (await versionStats()).events;
    await addExamples(ports[0], "music", ["Allegro ma non troppo is fast, but not too fast"]);
    await pastTheBound();
    const after = await ask("fast tempo");
    expect(after.body).toMatchObject({ cached: false });
    expect(after.body.dataset_version).toBeGreaterThan(hit.body.dataset_version);
    await eventually(
      async () => (await versionStats()).events > eventsBefore,
      10_000,
      "kt1 counting the datasets.changed event",
    );
  });

  it("a change whose event is lost (made in the database, no event sent) is caught within the bound", async () => {
    await ask("slow tempo");
    const hit = await ask("slow tempo");
    expect(hit.body).toMatchObject({ cached: true });
    const eventsBefore = (await versionStats()).events;
    const c = new pg.Client({ connectionString: db });
    await c.connect();
    const bumped = await c
      .query<{ v: number }>(
        "UPDATE datasets SET version = nextval('dataset_version_seq') WHERE domain_name = 'music' RETURNING version::float8 AS v",
      )
      .finally(() => c.end());
    await pastTheBound();
    const after = await ask("slow tempo");
    expect(after.body).toMatchObject({ cached: false, dataset_version: bumped.rows[0].v });
    expect((await versionStats()).events).toBe(eventsBefore);
  });
});
