import { createDatabase, describeWithPgAndRedis, dropDatabase, uniqueName } from "../helpers/servers";
import { eventually, freePort, getJson, killAll, spawnMcai, type McaiProcess } from "../helpers/processes";
import { ownRedis, type OwnServer } from "../helpers/own-servers";
import { ADMIN_KEY } from "../helpers/datasets";

afterAll(killAll);

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
    const add = await getJson(`http://127.0.0.1:${ports[0]}/api/datasets/music/examples`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify([{ content: "Allegro is a fast tempo marking" }, { content: "Largo is a very slow tempo" }]),
    });
    expect(add.body.added).toBe(2);
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

  it("keeps answering while Redis is down (L2 or fresh), and serves from L1 again once it is back", async () => {
    await ask(0, "slow tempo");
    await redis.stop();
    const fresh = await ask(1, "very slow largo");
    expect(fresh.status).toBe(200);
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
