/**
 * bench/search-scale: lexical search at 1M examples of the bench:datasets synthetic data on the real
 * Postgres. 12-word queries of the data's most frequent words, p50/p95 in process (lexicalSearch)
 * and through the HTTP API (a few at a time, one node), with the default SEARCH_BM25_TERM_LIMIT
 * and exact (0); the bound's quality loss against the exact ranking (top-10 overlap by id, and
 * tie-aware: score recall, nDCG@10 with the exact scores as gains, overlap counting a hit of the
 * exact 10th score as right) and the share of answers proven exact; Postgres's own ts_rank_cd over
 * the OR'ed websearch query as a baseline in the same run. With BASELINE_DIST (another build's
 * dist/, e.g. /work/main/dist) its lexicalSearch runs beside this one, alternating query by query.
 *
 * The database (SCALE_DB, default mcai_scale) is seeded once and reused: batches of BATCH examples
 * go through `INSERT … SELECT FROM unnest(…)` into examples, so the statement triggers of
 * migration 0006 keep postings and statistics exact. Seeding resumes where it stopped (the table
 * bench_scale_seed counts what is in) and stops after SEED_BUDGET_S seconds, so it can be spread
 * over several runs that each hold the test lock a few minutes.
 *
 *   npm run bench:search-scale          (N=1000000 QUERIES=200 CONCURRENCY=4 to change;
 *                                        EXTRA_BUDGETS=… SEARCH_BM25_POSTINGS_BUDGET values to compare)
 */
import pg from "pg";
import { freePort, machine, pct, PG_URL, runMain, startMcai, built } from "./lib";

const { demoExamples } = built("bin/datasets/demo-data.js") as typeof import("../bin/datasets/demo-data");
const { lexicalSearch } = built("services/datasets/search.js") as typeof import("../services/datasets/search");
const { PgDb } = built("services/lib/db/index.js") as typeof import("../services/lib/db");
const { loadConfig } = built("services/lib/config.js") as typeof import("../services/lib/config");
const { PostingsCache } = built(
  "services/datasets/postings-cache.js",
) as typeof import("../services/datasets/postings-cache");

const N = Number(process.env.N ?? 1_000_000);
const QUERIES = Number(process.env.QUERIES ?? 200);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const BATCH = Number(process.env.BATCH ?? 50_000);
const SEED_BUDGET_S = Number(process.env.SEED_BUDGET_S ?? 300);
const SEED_ONLY = process.env.SEED_ONLY === "1";
const API_KEY = "bench-search-scale-admin-key-0123456789";
const K = 10;
/** The exact path and the baseline read every posting of common terms: seconds a query, so fewer. */
const EXACT_QUERIES = Number(process.env.EXACT_QUERIES ?? 20);
type Search = typeof lexicalSearch;
/** Another build's lexicalSearch (BASELINE_DIST: its dist/), measured beside this one. */
const baseline = process.env.BASELINE_DIST
  ? // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path known at run time
    (require(`${process.env.BASELINE_DIST}/services/datasets/search.js`) as { lexicalSearch: Search }).lexicalSearch
  : undefined;

function dbUrl(): string {
  const u = new URL(PG_URL);
  u.pathname = `/${process.env.SCALE_DB ?? "mcai_scale"}`;
  return u.toString();
}

/** Seeds up to N examples, resuming; returns whether all N are in. */
async function seed(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("CREATE TABLE IF NOT EXISTS bench_scale_seed (n bigint NOT NULL, seconds float8 NOT NULL)");
    const have = (await c.query<{ n: string; s: number }>("SELECT n::text AS n, seconds AS s FROM bench_scale_seed"))
      .rows[0] as { n: string; s: number } | undefined;
    let done = have ? Number(have.n) : 0;
    let seconds = have ? have.s : 0;
    if (!have) await c.query("INSERT INTO bench_scale_seed VALUES (0, 0)");
    if (done >= N) {
      console.log(`seeded already: ${done} examples (seeding took ${seconds.toFixed(0)} s in all)`);
      return true;
    }
    const t0 = performance.now();
    const gen = demoExamples(N);
    for (let i = 0; i < done; i++) gen.next();
    while (done < N && (performance.now() - t0) / 1000 < SEED_BUDGET_S) {
      const domains: string[] = [];
      const contents: string[] = [];
      const responses: string[] = [];
      for (let i = 0; i < BATCH && done + i < N; i++) {
        const ex = gen.next().value!;
        domains.push(ex.domain);
        contents.push(ex.content);
        responses.push(ex.response);
      }
      const tb = performance.now();
      await c.query("BEGIN");
      await c.query(
        "INSERT INTO datasets (domain_name) SELECT DISTINCT unnest($1::text[]) ON CONFLICT (domain_name) DO NOTHING",
        [domains],
      );
      // One statement per batch: the statement triggers of 0006 run once over its rows.
      await c.query(
        `INSERT INTO examples (dataset_id, content, response, metadata, content_hash)
         SELECT d.id, x.c, nullif(x.r, ''), '{"source":"demo"}', md5(x.c || chr(1) || x.r)
         FROM unnest($1::text[], $2::text[], $3::text[]) AS x(domain, c, r)
         JOIN datasets d ON d.domain_name = x.domain`,
        [domains, contents, responses],
      );
      await c.query(
        `UPDATE datasets d SET example_count = (SELECT count(*) FROM examples e WHERE e.dataset_id = d.id)`,
      );
      const dt = (performance.now() - tb) / 1000;
      done += contents.length;
      seconds += dt;
      await c.query("UPDATE bench_scale_seed SET n = $1, seconds = $2", [done, seconds]);
      await c.query("COMMIT");
      console.log(`  seeded ${done} (batch of ${contents.length} in ${dt.toFixed(1)} s)`);
    }
    if (done >= N) {
      const ta = performance.now();
      await c.query("VACUUM ANALYZE examples");
      await c.query("VACUUM ANALYZE bm25_postings");
      await c.query("VACUUM ANALYZE bm25_terms");
      await c.query("ANALYZE datasets");
      const va = (performance.now() - ta) / 1000;
      seconds += va;
      await c.query("UPDATE bench_scale_seed SET seconds = $1", [seconds]);
      console.log(`  VACUUM ANALYZE ${va.toFixed(1)} s; seeding took ${seconds.toFixed(0)} s in all`);
    }
    return done >= N;
  } finally {
    await c.end();
  }
}

/** QUERIES distinct 12-word queries of the data's most frequent words (deterministic). */
function buildQueries(): string[] {
  const stop = new Set(
    "a an the is are of in to and or for with by on at as it its how what which where when do does does their there this that from into more each one not".split(
      " ",
    ),
  );
  const counts = new Map<string, number>();
  for (const ex of demoExamples(30_000))
    for (const w of `${ex.content} ${ex.response}`.toLowerCase().match(/[a-z]{3,}/g) ?? [])
      if (!stop.has(w)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const common = [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([w]) => w)
    .slice(0, 60);
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
  const out = new Set<string>();
  while (out.size < QUERIES) {
    const ws = new Set<string>();
    while (ws.size < 12) ws.add(common[Math.floor(rnd() * common.length)]);
    out.add([...ws].join(" "));
  }
  return [...out];
}

const f = (x: number) => x.toFixed(1).padStart(7);

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

interface Run {
  lat: number[];
  top: { id: string; score: number }[][];
  /** Answers proven exact (undefined: a build that does not say). */
  exact: (boolean | undefined)[];
}

/** The queries through each of `searches` in turn, the order alternating query by query. */
async function inProcessEach(
  db: import("../services/lib/db").Db,
  queries: string[],
  termLimit: number,
  searches: {
    search: Search;
    postingsBudget: number;
    db?: import("../services/lib/db").Db;
    /** Lists kept in memory across the queries, as a node keeps them (SEARCH_POSTINGS_CACHE_MB). */
    postings?: import("../services/datasets/postings-cache").PostingsCache;
  }[],
): Promise<Run[]> {
  const cfg = loadConfig({}).datasets;
  const bm25 = { k1: cfg.bm25K1, b: cfg.bm25B };
  const runs: Run[] = searches.map(() => ({ lat: [], top: [], exact: [] }));
  for (const [i, q] of queries.entries()) {
    const order = searches.map((_, j) => j);
    if (i % 2) order.reverse();
    for (const j of order) {
      const { search, postingsBudget, db: own, postings } = searches[j];
      // The node's exact-read threshold with the default term limit (at 1M a 12-word query of common
      // terms has far more postings, so it is bounded); none when a limit is measured on its own.
      const exactPostings = termLimit === 1000 ? cfg.bm25ExactPostings : 0;
      const [t, r] = await timed(() =>
        search(own ?? db, q, { depth: K, bm25, termLimit, postingsBudget, exactPostings, postings }),
      );
      runs[j].lat.push(t);
      runs[j].top.push(r.ranked.slice(0, K).map((x) => ({ id: x.id, score: x.score })));
      runs[j].exact.push((r as { exact?: boolean }).exact);
    }
  }
  return runs;
}

async function inProcess(
  db: import("../services/lib/db").Db,
  queries: string[],
  termLimit: number,
  postingsBudget = loadConfig({}).datasets.bm25PostingsBudget,
): Promise<Run> {
  return (await inProcessEach(db, queries, termLimit, [{ search: lexicalSearch, postingsBudget }]))[0];
}

async function overHttp(base: string, queries: string[], concurrency = CONCURRENCY): Promise<number[]> {
  const lat: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < queries.length) {
        const q = queries[next++];
        const [t, r] = await timed(() =>
          fetch(`${base}/api/search?q=${encodeURIComponent(q)}&k=${K}&mode=lexical`, {
            headers: { authorization: `Bearer ${API_KEY}` },
          }),
        );
        if (r.status !== 200) throw new Error(`search answered ${r.status}: ${await r.text()}`);
        if (((await r.json()) as { cached?: boolean }).cached) throw new Error(`a cached answer for "${q}"`);
        lat.push(t);
      }
    }),
  );
  return lat;
}

/** DCG of a list of gains (log2 discount from rank 1). */
function dcg(gains: number[]): number {
  return gains.reduce((t, g, i) => t + g / Math.log2(i + 2), 0);
}

interface Loss {
  ids: number;
  idsMin: number;
  ties: number;
  tiesMin: number;
  mass: number;
  massMin: number;
  ndcg: number;
  ndcgMin: number;
}

/**
 * The loss of each bounded top-10 against the exact one. By id: the share of the exact ids kept.
 * Tie-aware (the templated data has many documents of equal score, and the exact list breaks ties
 * by id): every returned score is the document's exact BM25 score (rescored), so the bounded list
 * is judged by its scores: overlap counting a hit whose score is at least the exact 10th score as
 * right; score recall, the bounded top-10's score sum over the exact one's; nDCG@10 with the exact
 * scores as gains (the exact list's DCG is the ideal). 1 for each means no loss but tie order.
 */
function overlap(a: { id: string; score: number }[][], b: { id: string; score: number }[][]): Loss {
  const ids: number[] = [];
  const ties: number[] = [];
  const mass: number[] = [];
  const ndcg: number[] = [];
  a.forEach((x, i) => {
    const e = b[i];
    if (!e.length) return;
    const s = new Set(e.map((h) => h.id));
    const kth = e[e.length - 1].score;
    const tol = 1e-9 * Math.max(1, kth);
    ids.push(x.filter((h) => s.has(h.id)).length / e.length);
    ties.push(Math.min(1, x.filter((h) => h.score >= kth - tol).length / e.length));
    mass.push(x.reduce((t, h) => t + h.score, 0) / e.reduce((t, h) => t + h.score, 0));
    ndcg.push(dcg(x.map((h) => h.score)) / dcg(e.map((h) => h.score)));
  });
  const mean = (v: number[]) => v.reduce((t, y) => t + y, 0) / v.length;
  return {
    ids: mean(ids),
    idsMin: Math.min(...ids),
    ties: mean(ties),
    tiesMin: Math.min(...ties),
    mass: mean(mass),
    massMin: Math.min(...mass),
    ndcg: mean(ndcg),
    ndcgMin: Math.min(...ndcg),
  };
}

/** The loss figures of one bounded run (and its share proven exact) as one line. */
function lossLine(label: string, r: Run, exact: Run): string {
  const o = overlap(r.top.slice(0, exact.top.length), exact.top);
  const known = r.exact.slice(0, exact.top.length).filter((x) => x !== undefined);
  const proven = known.length
    ? `${known.filter(Boolean).length}/${known.length} proven exact`
    : "exactness not reported";
  return (
    `    ${label}: overlap by id ${o.ids.toFixed(3)} (min ${o.idsMin.toFixed(2)}); tie-aware ${o.ties.toFixed(3)} ` +
    `(min ${o.tiesMin.toFixed(2)}), score recall ${o.mass.toFixed(4)} (min ${o.massMin.toFixed(4)}), ` +
    `nDCG@10 ${o.ndcg.toFixed(4)} (min ${o.ndcgMin.toFixed(4)}); ${proven}`
  );
}

async function main(): Promise<void> {
  console.log(`bench/search-scale on ${machine()}`);
  const url = dbUrl();
  const queries = buildQueries();
  console.log(`e.g. "${queries[0]}"`);
  // A node first: it runs the migrations on a fresh database.
  const startNode = async (limit: string) => {
    const port = await freePort();
    const node = startMcai(["--services", "api,datasets", "--node-id", `scale-${limit}`, "--port", String(port)], {
      API_KEYS: API_KEY,
      RATE_LIMIT: "0",
      DEMO_DATA: "false",
      DATABASE_URL: url,
      SEARCH_BM25_TERM_LIMIT: limit,
    });
    await node.ready;
    return { node, base: `http://127.0.0.1:${port}` };
  };
  const first = await startNode("1000");
  let complete: boolean;
  try {
    complete = await seed(url);
  } catch (err) {
    first.node.proc.kill();
    throw err;
  }
  if (!complete || SEED_ONLY) {
    first.node.proc.kill();
    console.log(complete ? "seeded" : "not all seeded yet: run again to continue");
    return;
  }
  const db = new PgDb({ connectionString: url, max: 1 });
  const baseDb = baseline ? new PgDb({ connectionString: url, max: 1 }) : undefined;
  try {
    const n = (await db.query<{ n: number }>("SELECT sum(bm25_docs)::int AS n FROM datasets")).rows[0].n;
    const p = (
      await db.query<{ n: string }>("SELECT reltuples::bigint::text AS n FROM pg_class WHERE relname = 'bm25_postings'")
    ).rows[0].n;
    console.log(`\nPostgres, ${n} examples in 6 domains, ~${p} postings; ${queries.length} 12-word queries, k=${K}`);
    const line = (label: string, lat: number[]) =>
      console.log(
        `  ${label.padEnd(62)} p50 ${f(pct(lat, 50))} ms  p95 ${f(pct(lat, 95))} ms  max ${f(Math.max(...lat))} ms  (${lat.length})`,
      );
    // Warm the caches once.
    await inProcess(db, queries.slice(0, 20), 1000);
    const budget = loadConfig({}).datasets.bm25PostingsBudget;
    const kept = new PostingsCache(loadConfig({}).datasets.postingsCacheMb * 1024 * 1024);
    // Warm the kept lists as a node's first queries would.
    await inProcessEach(db, queries.slice(0, 20), 1000, [
      { search: lexicalSearch, postingsBudget: budget, postings: kept },
    ]);
    const runs = await inProcessEach(db, queries, 1000, [
      { search: lexicalSearch, postingsBudget: budget },
      { search: lexicalSearch, postingsBudget: budget, postings: kept },
      // Its own connection: the two builds' prepared statements share names.
      ...(baseline && baseDb ? [{ search: baseline, postingsBudget: budget, db: baseDb }] : []),
    ]);
    const bounded = runs[0];
    const fromMemory = runs[1];
    const before = baseline ? runs[2] : undefined;
    line(`in process, SEARCH_BM25_TERM_LIMIT=1000 (default), budget ${budget}`, bounded.lat);
    line(
      `  the same, lists kept in memory (${kept.size} lists, ${(kept.bytes / 2 ** 20).toFixed(1)} MB)`,
      fromMemory.lat,
    );
    if (before) line(`  the same, BASELINE_DIST's build, alternating`, before.lat);
    line("HTTP, one at a time, SEARCH_BM25_TERM_LIMIT=1000", await overHttp(first.base, queries, 1));
    const http1 = await overHttp(
      first.base,
      queries.map((q) => q.split(" ").reverse().join(" ")),
    );
    line(`HTTP, ${CONCURRENCY} at a time, SEARCH_BM25_TERM_LIMIT=1000`, http1);
    const few = queries.slice(0, EXACT_QUERIES);
    const exact = await inProcess(db, few, 0);
    line("in process, SEARCH_BM25_TERM_LIMIT=0 (exact)", exact.lat);
    console.log(`  loss against exact, ${few.length} queries:`);
    console.log(lossLine(`1000, budget ${budget}`, bounded, exact));
    console.log(lossLine(`1000, budget ${budget}, lists in memory`, fromMemory, exact));
    if (before) console.log(lossLine("1000, BASELINE_DIST's build", before, exact));
    // Larger budgets and bounds on the same queries: what quality costs in latency.
    for (const b of (process.env.EXTRA_BUDGETS ?? "100000").split(",").filter(Boolean).map(Number)) {
      const r = await inProcess(db, few, 1000, b);
      line(`in process, SEARCH_BM25_TERM_LIMIT=1000, SEARCH_BM25_POSTINGS_BUDGET=${b}`, r.lat);
      console.log(lossLine(`1000, budget ${b}`, r, exact));
    }
    for (const limit of (process.env.EXTRA_LIMITS ?? "5000,20000").split(",").filter(Boolean).map(Number)) {
      const r = await inProcess(db, few, limit, 0);
      line(`in process, SEARCH_BM25_TERM_LIMIT=${limit}, one round`, r.lat);
      console.log(lossLine(`${limit}, one round`, r, exact));
    }
    const base: number[] = [];
    for (const q of few) {
      const [t] = await timed(() =>
        db.query(
          `SELECT id FROM examples, to_tsquery('english', $1) q WHERE tsv @@ q ORDER BY ts_rank_cd(tsv, q) DESC, id LIMIT ${K}`,
          [
            q
              .split(" ")
              .map((w) => w.replace(/\W/g, ""))
              .join(" | "),
          ],
        ),
      );
      base.push(t);
    }
    line("baseline: ts_rank_cd over the OR'ed tsquery (GIN), in process", base);
  } finally {
    first.node.proc.kill();
  }
  const second = await startNode("0");
  try {
    const http0 = await overHttp(second.base, queries.slice(0, EXACT_QUERIES));
    console.log(
      `  ${`HTTP, ${CONCURRENCY} at a time, SEARCH_BM25_TERM_LIMIT=0`.padEnd(62)} p50 ${f(pct(http0, 50))} ms  p95 ${f(pct(http0, 95))} ms  max ${f(Math.max(...http0))} ms  (${http0.length})`,
    );
  } finally {
    second.node.proc.kill();
    await db.close();
    await baseDb?.close();
  }
}

runMain(main);
