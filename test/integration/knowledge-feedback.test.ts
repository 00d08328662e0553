import type { ServiceBroker } from "moleculer";
import type { Db } from "../../services/lib/db";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { eventually, getJson, sleep } from "../helpers/processes";
import { ADMIN_KEY, loadCorpus } from "../helpers/datasets";
import {
  createDatabase,
  describeWithPgAndRedis,
  dropDatabase,
  PG_URL,
  REDIS_URL,
  uniqueName,
} from "../helpers/servers";

/** Two client keys: one vote per client counts, so two votes need two clients. */
const CLIENT_A = "client-key-a-0123456789";
const CLIENT_B = "client-key-b-0123456789";

interface Match {
  id: string;
  content: string;
  feedback_shift?: number;
}

/** Every driver the suite runs on: PGlite always, Postgres when it answers. */
const drivers: [string, boolean][] = [["PGlite", true], ...(PG_URL ? [["Postgres", false] as [string, boolean]] : [])];

describe.each(drivers)("knowledge feedback on %s", (_driver, pglite) => {
  let t: TestNode;
  let broker: ServiceBroker;
  let db: Db;
  let url = "";

  beforeAll(async () => {
    const env = {
      RATE_LIMIT: "0",
      COMPUTE_THREADS: "1",
      API_KEYS: ADMIN_KEY,
      CLIENT_KEYS: `${CLIENT_A},${CLIENT_B}`,
      NODE_ID: "fb",
    };
    const services = ["api", "datasets", "compute", "knowledge", "metrics"] as const;
    if (pglite) t = await startTestNode(env, [...services], await memoryDb());
    else {
      url = await createDatabase();
      t = await startTestNode({ ...env, DATABASE_URL: url }, [...services]);
    }
    broker = t.node.broker;
    db = t.node.db!;
    await loadCorpus(broker);
  });
  afterAll(async () => {
    await t.node.stop();
    if (url) await dropDatabase(url);
  });

  const ask = (q: string) => getJson(`${t.url}/api/knowledge?q=${encodeURIComponent(q)}`);
  const vote = (body: Record<string, unknown>, key?: string) =>
    getJson(`${t.url}/api/knowledge/feedback`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(body),
    });
  const feedbackCount = async () =>
    (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM feedback")).rows[0].n;

  it("two unhelpful votes on the top hit make the second hit the answer, and drop the cached answer", async () => {
    const first = await ask("tempo");
    expect(first.status).toBe(200);
    const [top, second] = first.body.matches as Match[];
    expect([top.content, second.content]).toEqual([
      "Allegro is a fast tempo marking",
      "Tempo is measured in beats per minute",
    ]);
    expect(first.body.answer_id).toMatch(/^a\d+-[0-9a-f]{40}$/);
    expect((await ask("tempo")).body).toMatchObject({ cached: true, answer_id: first.body.answer_id });

    const one = await vote({ query: "Tempo?", answer_id: first.body.answer_id, helpful: false }, CLIENT_A);
    expect(one.status).toBe(201);
    expect(one.body).toMatchObject({
      query: "tempo",
      answer_id: first.body.answer_id,
      example_id: top.id,
      example_ids: (first.body.matches as Match[]).map((m) => m.id),
      dataset_version: first.body.dataset_version,
      helpful: false,
      comment: null,
    });
    expect(one.body.client_key).toMatch(/^key:[0-9a-f]{16}$/);
    expect(one.headers.get("location")).toBe(`/api/admin/feedback/${one.body.id}`);
    const again = await getJson(`${t.url}${one.headers.get("location")}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(again.body).toEqual(one.body);
    // One vote moves nothing: the cached answer stays.
    expect((await ask("tempo")).body).toMatchObject({ cached: true, answer: first.body.answer });

    const two = await vote({ query: "tempo", answer_id: first.body.answer_id, helpful: false }, CLIENT_B);
    expect(two.status).toBe(201);
    const after = await ask("tempo");
    expect(after.body).toMatchObject({ cached: false, source: "dataset" });
    expect(after.body.matches.slice(0, 2).map((m: Match) => m.content)).toEqual([second.content, top.content]);
    expect(after.body.matches[1]).toMatchObject({ id: top.id, feedback_shift: -1 });
    expect(after.body.answer).toMatch(/^Tempo is measured in beats per minute \[1\]/);
    // A close query (same content terms) is reranked the same way.
    expect((await ask("what is the tempo")).body.matches[0].content).toBe(second.content);
  });

  it("does not serve an L2 answer kept from before a vote that moved its ranking, even one the vote's drop missed", async () => {
    const first = (await ask("major scale")).body;
    const order = (first.matches as Match[]).map((m) => m.id);
    expect(order.length).toBeGreaterThanOrEqual(2);
    const kept = await db.query<{ row: unknown }>(
      "SELECT row_to_json(k) AS row FROM knowledge_cache k WHERE query_text = 'major scale'",
    );
    expect(kept.rows).toHaveLength(1);
    for (const key of [CLIENT_A, CLIENT_B])
      expect((await vote({ query: "major scale", answer_id: first.answer_id, helpful: false }, key)).status).toBe(201);
    // The pre-vote answer back in L2, as if the vote's node had died before dropping it, and L1 empty.
    await db.query(
      `INSERT INTO knowledge_cache SELECT * FROM json_populate_record(null::knowledge_cache, $1::json)
       ON CONFLICT (query_hash, dataset_version) DO UPDATE SET response = EXCLUDED.response,
         feedback_generation = EXCLUDED.feedback_generation, expires_at = EXCLUDED.expires_at`,
      [JSON.stringify(kept.rows[0].row)],
    );
    await broker.cacher!.clean("knowledge:q:**");
    const after = (await ask("major scale")).body;
    expect({ cached: after.cached, top: after.matches[0].id }).toEqual({ cached: false, top: order[1] });
  });

  it("counts one vote per client: a client voting again replaces its vote", async () => {
    const before = (await ask("beats per minute")).body;
    const topId = before.matches[0].id;
    for (let i = 0; i < 3; i++)
      expect((await vote({ query: "beats per minute", example_id: topId, helpful: false }, CLIENT_A)).status).toBe(201);
    expect((await ask("beats per minute")).body).toMatchObject({ cached: true, answer: before.answer });
  });

  it("is bounded: ten unhelpful votes move the right answer down two places, no further", async () => {
    await broker.call("datasets.add", {
      domain: "rhythm",
      examples: [
        "syncopation rhythm one",
        "syncopation rhythm two",
        "syncopation rhythm three",
        "syncopation rhythm four",
      ].map((content) => ({ content })),
    });
    const q = "syncopation rhythm";
    const order = ((await ask(q)).body.matches as Match[]).map((m) => m.id);
    expect(order.length).toBeGreaterThanOrEqual(4);
    for (let i = 0; i < 10; i++)
      await broker.call(
        "knowledge.feedback",
        { query: q, example_id: order[0], helpful: false },
        { meta: { client: `key:bulk${i}` } },
      );
    const after = ((await ask(q)).body.matches as Match[]).map((m) => m.id);
    expect(after.slice(0, 4)).toEqual([order[1], order[2], order[0], order[3]]);
  });

  it("is bounded upwards too: ten helpful votes move the fourth hit up two places", async () => {
    await broker.call("datasets.add", {
      domain: "harmony",
      examples: ["consonant chord one", "consonant chord two", "consonant chord three", "consonant chord four"].map(
        (content) => ({ content }),
      ),
    });
    const q = "consonant chord";
    const order = ((await ask(q)).body.matches as Match[]).map((m) => m.id);
    for (let i = 0; i < 10; i++)
      await broker.call(
        "knowledge.feedback",
        { query: q, example_id: order[3], helpful: true },
        { meta: { client: `key:up${i}` } },
      );
    const up = (await ask(q)).body.matches as Match[];
    expect(up.slice(0, 4).map((m) => m.id)).toEqual([order[0], order[3], order[1], order[2]]);
    expect(up[1].feedback_shift).toBe(2);
    // Five of those clients change their minds: only each client's latest vote counts (5 helpful, 5 not),
    // so nothing moves it and the order is search's again. Counting their first votes would keep it up.
    for (let i = 0; i < 5; i++)
      await broker.call(
        "knowledge.feedback",
        { query: q, example_id: order[3], helpful: false },
        { meta: { client: `key:up${i}` } },
      );
    const back = (await ask(q)).body.matches as Match[];
    expect(back.map((m) => m.id)).toEqual(order);
    expect(back.filter((m) => m.feedback_shift !== undefined)).toEqual([]);
  });

  it.each([
    ["no helpful", { query: "tempo" }, "helpful"],
    ["helpful not a boolean", { query: "tempo", helpful: "no" }, "helpful"],
    ["no query", { helpful: true }, "query"],
    ["a comment of 2,001 characters", { query: "tempo", helpful: true, comment: "x".repeat(2001) }, "comment"],
    ["a malformed answer_id", { query: "tempo", helpful: true, answer_id: "not-an-answer" }, "answer_id"],
    ["a malformed example_id", { query: "tempo", helpful: true, example_id: "12x" }, "example_id"],
  ])("refuses %s with a 422 naming the field, and stores nothing", async (_name, body, field) => {
    const n = await feedbackCount();
    const r = await vote(body);
    expect(r.status).toBe(422);
    expect(JSON.stringify(r.body.error)).toContain(field);
    expect(await feedbackCount()).toBe(n);
  });

  it("refuses an answer id of another query (422) or one no longer kept (404), storing nothing", async () => {
    const a = (await ask("mandala patterns")).body;
    const n = await feedbackCount();
    const other = await vote({ query: "flow fields", answer_id: a.answer_id, helpful: true });
    expect(other.status).toBe(422);
    expect(other.body.error.data).toMatchObject({ field: "answer_id" });
    const gone = await vote({ query: "mandala patterns", answer_id: `a1-${"0".repeat(40)}`, helpful: true });
    expect(gone.status).toBe(404);
    const notShown = await vote({
      query: "mandala patterns",
      answer_id: a.answer_id,
      example_id: "999999",
      helpful: true,
    });
    expect(notShown.status).toBe(422);
    expect(notShown.body.error.data).toMatchObject({ field: "example_id" });
    expect(await feedbackCount()).toBe(n);
  });

  it("keeps a comment, and a hashed address (never the raw one) for a caller without a key", async () => {
    const r = await vote({ query: "mandala patterns", helpful: true, comment: "spot on" });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ comment: "spot on", example_id: null, example_ids: [] });
    expect(r.body.client_key).toMatch(/^ip:[0-9a-f]{16}$/);
    const stored = await db.query("SELECT * FROM feedback WHERE client_key LIKE 'ip:%'");
    expect(JSON.stringify(stored.rows)).not.toContain("127.0.0.1");
  });

  it("answers 201 for a stored vote while the cacher fails: a vote cleans nothing there", async () => {
    // The cacher away (a pulled cable): each clean fails. moleculer-db's own cache clean, awaited
    // before its entity event, would turn a vote already stored into an error the client retries.
    const clean = jest.spyOn(broker.cacher!, "clean").mockRejectedValue(new Error("cacher away"));
    try {
      const n = await feedbackCount();
      const r = await vote({ query: "mandala patterns", helpful: false }, CLIENT_B);
      expect(r.status).toBe(201);
      expect(await feedbackCount()).toBe(n + 1);
    } finally {
      clean.mockRestore();
    }
  });

  it("lists votes to an admin, newest first, in keyset pages, filtered by helpful", async () => {
    expect((await getJson(`${t.url}/api/admin/feedback`)).status).toBe(401);
    const admin = { headers: { authorization: `Bearer ${ADMIN_KEY}` } };
    const all = (
      await db.query<{ id: string }>("SELECT id::text AS id FROM feedback ORDER BY feedback.id DESC")
    ).rows.map((r) => r.id);
    const seen: string[] = [];
    let cursor = "";
    for (let page = 0; page < 100; page++) {
      const r = await getJson(`${t.url}/api/admin/feedback?limit=7${cursor ? `&cursor=${cursor}` : ""}`, admin);
      expect(r.status).toBe(200);
      seen.push(...r.body.feedback.map((f: { id: string }) => f.id));
      if (!r.body.next_cursor) break;
      cursor = r.body.next_cursor;
    }
    expect(seen).toEqual(all);
    const helpful = await getJson(`${t.url}/api/admin/feedback?helpful=true&limit=100`, admin);
    const expected = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM feedback WHERE helpful")).rows[0].n;
    expect(helpful.body.feedback).toHaveLength(expected);
    expect(helpful.body.feedback.every((f: { helpful: boolean }) => f.helpful)).toBe(true);
    expect((await getJson(`${t.url}/api/admin/feedback?cursor=abc`, admin)).status).toBe(422);
    expect((await getJson(`${t.url}/api/admin/feedback/999999`, admin)).status).toBe(404);
    expect((await getJson(`${t.url}/api/admin/feedback/${all[0]}`)).status).toBe(401);
    // A client with a key of its own reads no one's votes, not even its own.
    const client = { headers: { authorization: `Bearer ${CLIENT_A}` } };
    expect((await getJson(`${t.url}/api/admin/feedback`, client)).status).toBe(403);
    expect((await getJson(`${t.url}/api/admin/feedback/${all[0]}`, client)).status).toBe(403);
  });

  it("counts votes in mcai_feedback_total{helpful}", async () => {
    const r = await db.query<{ helpful: boolean; n: number }>(
      "SELECT helpful, count(*)::int AS n FROM feedback GROUP BY helpful",
    );
    const text = (await getJson(`${t.url}/metrics`)).body as string;
    for (const row of r.rows)
      expect(text).toContain(`mcai_feedback_total{helpful="${row.helpful}",node_id="fb"} ${row.n}`);
  });
});

/** KNOWLEDGE_VERSION_CHECK_MS of the two-node suite: how long a lost vote broadcast may go unnoticed. */
const CHECK_MS = 500;

describeWithPgAndRedis("knowledge feedback across two nodes with their own memory cachers", () => {
  let url: string;
  let a: TestNode;
  let b: TestNode;

  beforeAll(async () => {
    url = await createDatabase();
    const env = {
      RATE_LIMIT: "0",
      COMPUTE_THREADS: "1",
      DATABASE_URL: url,
      TRANSPORTER: REDIS_URL,
      CACHER: "memory",
      NAMESPACE: uniqueName("fb"),
      KNOWLEDGE_VERSION_CHECK_MS: String(CHECK_MS),
    };
    a = await startTestNode({ ...env, NODE_ID: "fb-a" }, ["datasets", "compute", "knowledge"]);
    b = await startTestNode({ ...env, NODE_ID: "fb-b" }, ["knowledge"]);
    await loadCorpus(a.node.broker);
    await a.node.broker.waitForServices(["knowledge"]);
    await b.node.broker.waitForServices(["datasets", "compute"]);
    // Node a must know node b before a vote on a is broadcast: a broadcast reaches only the nodes its
    // sender has discovered, and node b's INFO reaches node a only once node b's start is done (its
    // knowledge warm-up reads node a's datasets before that).
    await eventually(
      async () =>
        (await a.node.broker.call<{ id: string; available: boolean }[]>("$node.list")).some(
          (n) => n.id === "fb-b" && n.available,
        ),
      10_000,
      "node a to discover node b",
    );
  });
  afterAll(async () => {
    await b.node.stop();
    await a.node.stop();
    await dropDatabase(url);
  });

  type Answer = { cached: boolean; cache_tier?: string; answer_id: string; matches: Match[] };
  // Calls prefer the local service: each node answers from its own cacher.
  const askOn = (t: TestNode, q: string) =>
    t.node.broker.call<Answer, { query: string }>("knowledge.query", { query: q });

  it("a vote on one node that moves the ranking drops the other node's cached answer (the broadcast event)", async () => {
    // Node b learns the datasets' version from node a's event, or from its own re-read within
    // KNOWLEDGE_VERSION_CHECK_MS when the event left before node a knew node b: until then node b's
    // answers are keyed by the version before (and a vote's drop would be hidden by the version's
    // own change). So the precondition is a settled node b: an answer at the current version, then
    // its repeat from L1.
    const { version } = await a.node.broker.call<{ version: number }>("datasets.version");
    const first = await eventually(
      async () => {
        const r = await askOn(b, "tempo");
        if (r.matches.length < 2 || !r.answer_id.startsWith(`a${version}-`)) return undefined;
        const again = await askOn(b, "tempo");
        return again.cached && again.cache_tier === "l1" ? r : undefined;
      },
      10_000,
      `node b answers from the datasets of node a at version ${version}, and the repeat from its L1`,
    );
    for (const client of ["key:one", "key:two"])
      await a.node.broker.call(
        "knowledge.feedback",
        { query: "tempo", answer_id: first.answer_id, helpful: false },
        { meta: { client } },
      );
    const after = await eventually(
      async () => {
        const r = await askOn(b, "tempo");
        return r.cached ? undefined : r;
      },
      5000,
      "node b's cached answer to be dropped",
    );
    expect(after.matches[0].id).toBe(first.matches[1].id);
  });

  it("a vote whose broadcast node b never gets still renews node b's answer within KNOWLEDGE_VERSION_CHECK_MS", async () => {
    // Settled first, as above: node b's answer at the current version, then its repeat from its own L1.
    const { version } = await a.node.broker.call<{ version: number }>("datasets.version");
    const first = await eventually(
      async () => {
        const r = await askOn(b, "scale");
        if (r.matches.length < 2 || !r.answer_id.startsWith(`a${version}-`)) return undefined;
        const again = await askOn(b, "scale");
        return again.cached && again.cache_tier === "l1" ? r : undefined;
      },
      10_000,
      `node b answers "scale" at version ${version}, and the repeat from its L1`,
    );
    // Node a's vote broadcasts are lost, as they are while node a has not discovered node b yet (a joining
    // node's INFO goes out once its start is done), or while node b is away from the transporter.
    const broker = a.node.broker;
    const broadcast = broker.broadcast.bind(broker);
    const lost: string[] = [];
    broker.broadcast = ((event: string, ...rest: unknown[]) => {
      if (event !== "knowledge.feedback.changed") return (broadcast as (...args: unknown[]) => unknown)(event, ...rest);
      lost.push(event);
      return Promise.resolve();
    }) as typeof broker.broadcast;
    try {
      for (const client of ["key:three", "key:four"])
        await broker.call(
          "knowledge.feedback",
          { query: "scale", answer_id: first.answer_id, helpful: false },
          { meta: { client } },
        );
    } finally {
      broker.broadcast = broadcast;
    }
    expect(lost).toContain("knowledge.feedback.changed");
    // Past the bound since the votes were stored, node b reads the feedback generations before it serves
    // a hit: whatever it kept from before the votes is not found any more (no wall-clock assertion: the
    // wait is the bound itself).
    await sleep(CHECK_MS + 50);
    const after = await askOn(b, "scale");
    expect(after.matches.map((m) => m.id).slice(0, 2)).toEqual([first.matches[1].id, first.matches[0].id]);
  });
});
