/**
 * knowledge: a vote that lands while an answer is being built (after its ranking read the votes,
 * before the answer was kept) drops nothing, since nothing is kept yet. The answer kept then is the
 * pre-vote one, and it must not be served until its TTL. The interleaving is made exact, not timed:
 * the database's answer to the ranking's read of the votes is held until the vote is stored.
 */
import type { Db } from "../../services/lib/db";
import type { QueryOptions, QueryResult, Row } from "../../services/lib/db/db";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { getJson } from "../helpers/processes";
import { ADMIN_KEY, loadCorpus } from "../helpers/datasets";
import { expectStatus } from "../helpers/expect";

const CLIENT_A = "race-client-key-a-0123456789";
const CLIENT_B = "race-client-key-b-0123456789";

/** The ranking's read of the votes (store.votesFor). */
const VOTES_READ = /FROM feedback\s+WHERE example_id = ANY/;

interface Match {
  id: string;
  content: string;
}

describe("knowledge: a vote racing an answer being built", () => {
  let t: TestNode;
  let db: Db;

  beforeAll(async () => {
    t = await startTestNode(
      {
        RATE_LIMIT: "0",
        COMPUTE_THREADS: "1",
        API_KEYS: ADMIN_KEY,
        CLIENT_KEYS: `${CLIENT_A},${CLIENT_B}`,
      },
      ["api", "datasets", "compute", "knowledge", "metrics"],
      await memoryDb(),
    );
    db = t.node.db!;
    await loadCorpus(t.node.broker);
  });
  afterAll(async () => {
    await (t as TestNode | undefined)?.node.stop(); // unset when beforeAll failed
  });

  const ask = (q: string, k?: number) =>
    getJson(`${t.url}/api/knowledge?q=${encodeURIComponent(q)}${k ? `&k=${k}` : ""}`);
  const vote = (body: Record<string, unknown>, key: string) =>
    getJson(`${t.url}/api/knowledge/feedback`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });

  /** Runs `fn` with the next read of the votes held until `meanwhile` resolved. */
  async function withVoteBetween<T>(meanwhile: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
    const original = db.query.bind(db);
    let armed = true;
    db.query = async <R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions) => {
      const r: QueryResult<R> = await original<R>(text, params, options);
      if (armed && VOTES_READ.test(text)) {
        armed = false;
        await meanwhile();
      }
      return r;
    };
    try {
      return await fn();
    } finally {
      db.query = original;
    }
  }

  it("does not keep serving the pre-vote answer after a vote that came while it was built", async () => {
    // k=3: another cache entry than the raced ask's (k=5), to learn the order without caching that one.
    const before = await ask("tempo", 3);
    expectStatus(before, 200);
    const [top, second] = before.body.matches as Match[];
    expect([top.content, second.content]).toEqual([
      "Allegro is a fast tempo marking",
      "Tempo is measured in beats per minute",
    ]);
    // One unhelpful vote moves nothing; the second (another client) moves the top hit down.
    expectStatus(await vote({ query: "tempo", example_id: top.id, helpful: false }, CLIENT_A), 201);

    const raced = await withVoteBetween(
      async () => expectStatus(await vote({ query: "tempo", example_id: top.id, helpful: false }, CLIENT_B), 201),
      () => ask("tempo"),
    );
    // Built from the votes before the second: right for a request that began before it.
    expectStatus(raced, 200, { cached: false });
    expect((raced.body.matches as Match[])[0].content).toBe(top.content);

    const after = await ask("tempo");
    expectStatus(after, 200);
    expect({ cached: after.body.cached, top: (after.body.matches as Match[])[0].content }).toEqual({
      cached: false,
      top: second.content,
    });
  });
});
