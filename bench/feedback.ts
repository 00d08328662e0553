/**
 * bench/feedback: what feedback costs an answer. knowledge.query misses (each query new, so every one
 * runs the search and reads the votes on its hits) over the test corpus grown to EXAMPLES examples, with
 * an empty feedback table (the baseline, same run) and with VOTES votes on those examples spread over
 * as many queries sharing the terms asked; and the vote itself (POST through knowledge.feedback, which
 * reads the shift before and after and may drop cached answers). PGlite in process, then Postgres.
 *
 *   npm run bench:feedback          (EXAMPLES=2000 VOTES=20000 ASKS=200)
 */
import { loadConfig } from "../services/lib/config";
import { PgliteDb, migrate } from "../services/lib/db";
import { startNode, type McaiNode } from "../bin/node";
import { benchDatabase, machine, pct, runMain } from "./lib";

const EXAMPLES = Number(process.env.EXAMPLES ?? 2000);
const VOTES = Number(process.env.VOTES ?? 20_000);
const ASKS = Number(process.env.ASKS ?? 200);
const WORDS = ["tempo", "scale", "rhythm", "chord", "melody", "harmony", "beat", "pitch"];

async function ask(node: McaiNode, tag: string): Promise<number[]> {
  const took: number[] = [];
  for (let i = 0; i < ASKS; i++) {
    const q = `${WORDS[i % WORDS.length]} ${WORDS[(i * 3 + 1) % WORDS.length]} ${tag}${i}`;
    const t0 = performance.now();
    await node.broker.call("knowledge.query", { query: q });
    took.push(performance.now() - t0);
  }
  return took;
}

async function seedVotes(node: McaiNode): Promise<void> {
  // Votes on every example, for queries made of the asked words: each ask finds votes on its hits.
  await node.db!.query(
    `INSERT INTO feedback (query, query_terms, dataset_version, example_id, helpful, client_key)
     SELECT w1 || ' ' || w2, ARRAY[w1, w2], 1, e.id, (g % 3 = 0), 'key:bench' || (g % 50)
     FROM generate_series(1, $1::int) g
     CROSS JOIN LATERAL (SELECT ($2::text[])[1 + g % 8] AS w1, ($2::text[])[1 + (g / 8) % 8] AS w2) w
     JOIN LATERAL (SELECT id FROM examples ORDER BY id OFFSET (g % $3::int) LIMIT 1) e ON true`,
    [VOTES, WORDS.map((w) => w.replace(/s$/, "")), EXAMPLES],
  );
  await node.db!.query("ANALYZE feedback");
}

async function run(label: string, env: Record<string, string>, db?: PgliteDb): Promise<void> {
  const config = loadConfig({ LOG_LEVEL: "warn", COMPUTE_THREADS: "1", MEMORY_WARN_MB: "8192", ...env });
  const node = await startNode(config, ["datasets", "compute", "knowledge"], { db });
  try {
    const examples = Array.from({ length: EXAMPLES }, (_, i) => ({
      content: `${WORDS[i % WORDS.length]} ${WORDS[(i * 5 + 2) % WORDS.length]} example ${i}`,
      response: `It is about ${WORDS[(i * 7) % WORDS.length]} number ${i}.`,
    }));
    for (let i = 0; i < examples.length; i += 500)
      await node.broker.call("datasets.add", { domain: "bench", examples: examples.slice(i, i + 500) });
    await ask(node, "warm");
    const base = await ask(node, "base");
    await seedVotes(node);
    const voted = await ask(node, "voted");
    const votes: number[] = [];
    for (let i = 0; i < ASKS; i++) {
      const t0 = performance.now();
      await node.broker.call(
        "knowledge.feedback",
        {
          query: `${WORDS[i % 8]} ${WORDS[(i + 1) % 8]}`,
          example_id: String(1 + (i % EXAMPLES)),
          helpful: i % 2 === 0,
        },
        { meta: { client: `key:post${i % 7}` } },
      );
      votes.push(performance.now() - t0);
    }
    const f = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(2)} ms, p95 ${pct(xs, 95).toFixed(2)} ms`;
    console.log(`${label}: ${EXAMPLES} examples, ${ASKS} misses each`);
    console.log(`  miss, no feedback rows (baseline): ${f(base)}`);
    console.log(`  miss, ${VOTES} feedback rows:       ${f(voted)}`);
    console.log(`  storing a vote:                    ${f(votes)}`);
  } finally {
    await node.stop();
  }
}

runMain(async () => {
  console.log(`bench:feedback on ${machine()}`);
  const mem = await PgliteDb.open("memory://");
  await migrate(mem);
  await run("PGlite (in process, pgvector: hybrid search)", { RATE_LIMIT: "0" }, mem);
  const pgdb = await benchDatabase("mcai_bench_feedback");
  try {
    await run("Postgres 15 (no pgvector: lexical search)", { RATE_LIMIT: "0", DATABASE_URL: pgdb.url });
  } finally {
    await pgdb.drop();
  }
});
