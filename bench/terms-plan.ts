/**
 * bench/terms-plan: the search's terms statement (queryTerms: each query lexeme's df and term id in
 * the searched datasets) on a database holding several datasets, on PGlite and the real Postgres:
 * its plan (as run, and the generic plan a prepared statement switches to) and its time per call,
 * for a query over one dataset and over all of them. With INDEX=1, the same with a second index on
 * bm25_terms, (term, dataset_id), built and dropped in turn in the same run (the baseline alternated
 * with it). The datasets are seeded by INSERT into examples (the statement triggers of migration
 * 0006 keep bm25_terms exact), then analyzed as PlannerStats does after an import.
 *
 *   npx tsx bench/terms-plan.ts      DATASETS=6 ROWS=2000 CALLS=300 ROUNDS=4 INDEX=1 DRIVERS=pglite,postgres
 */
import { loadConfig } from "../services/lib/config";
import type { Db, QueryOptions, QueryResult, Row } from "../services/lib/db";
import { migrate, PgDb, PgliteDb } from "../services/lib/db";
import { analyzeTables, queryTerms } from "../services/datasets/store";
import { benchDatabase, machine, pct, runMain } from "./lib";

const DATASETS = Number(process.env.DATASETS ?? 6);
const ROWS = Number(process.env.ROWS ?? 2000);
const CALLS = Number(process.env.CALLS ?? 300);
const DRIVERS = (process.env.DRIVERS ?? "pglite,postgres").split(",");

/** Zipf-like words: a shared vocabulary of 5,000 (w1 in most rows) and 1,500 of the domain's own. */
function rows(domain: string, n: number, seed0: number): string[] {
  let seed = seed0;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const shared = Array.from({ length: 25 }, () => `w${Math.floor(Math.exp(rand() * Math.log(5000)))}`);
    const own = Array.from({ length: 5 }, () => `${domain}${Math.floor(Math.exp(rand() * Math.log(1500)))}`);
    out.push(`${domain} row ${i}: ${[...shared, ...own].join(" ")}`);
  }
  return out;
}

async function seed(db: Db): Promise<string[]> {
  const ids: string[] = [];
  for (let d = 0; d < DATASETS; d++) {
    const domain = `d${String.fromCharCode(97 + d)}x`;
    const contents = rows(domain, ROWS, 7919 * (d + 1));
    await db.transaction(async (tx) => {
      const r = await tx.query<{ id: string }>(
        "INSERT INTO datasets (domain_name) VALUES ($1) RETURNING id::text AS id",
        [domain],
      );
      ids.push(r.rows[0].id);
      // One statement: the statement triggers of 0006 keep bm25_terms exact.
      await tx.query(
        `INSERT INTO examples (dataset_id, content, response, metadata, content_hash)
         SELECT $1, c, NULL, '{}', md5(c) FROM unnest($2::text[]) AS c`,
        [r.rows[0].id, contents],
      );
    });
  }
  // What PlannerStats runs after an import (its examples group).
  await analyzeTables(db, ["examples", "bm25_postings", "bm25_terms", "datasets"]);
  return ids;
}

/** The terms statement's text and parameters, as queryTerms sends them. */
async function termsStatement(db: Db, text: string, datasetId: string | undefined) {
  let seen: { text: string; params: unknown[] } | undefined;
  const rec = Object.assign(Object.create(db) as Db, {
    query: <R extends Row = Row>(t: string, p?: unknown[], o?: QueryOptions): Promise<QueryResult<R>> => {
      seen = { text: t, params: p ?? [] };
      return db.query<R>(t, p, o);
    },
  });
  await queryTerms(rec, text, datasetId, undefined);
  return seen!;
}

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Relation Name"?: string;
  "Index Cond"?: string;
  Filter?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Index Searches"?: number;
  "Shared Hit Blocks"?: number;
  Plans?: PlanNode[];
}
const flat = (p: PlanNode): PlanNode[] => [p, ...(p.Plans ?? []).flatMap(flat)];

async function explain(db: Db, text: string, params: unknown[], generic: boolean): Promise<PlanNode[]> {
  const literal = (v: unknown) => (v === null ? "NULL" : `'${(v as string).replace(/'/g, "''")}'`);
  const r = await db.transaction(async (tx) => {
    if (!generic) return tx.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, params);
    await tx.query("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)");
    await tx.query(`PREPARE terms_plan AS ${text}`);
    try {
      return await tx.query<{ "QUERY PLAN": unknown }>(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE terms_plan(${params.map(literal).join(", ")})`,
      );
    } finally {
      await tx.query("DEALLOCATE terms_plan");
    }
  });
  const json = r.rows[0]["QUERY PLAN"];
  return flat((typeof json === "string" ? JSON.parse(json) : json)[0].Plan);
}

const QUERY = "w1 w2 w17 w300 w2500 dax7 dbx40 zzunknown";
/** INDEX=1: also a (term, dataset_id) index on bm25_terms, built and dropped in turn (the same run). */
const INDEX = process.env.INDEX === "1";
const ROUNDS = Number(process.env.ROUNDS ?? 4);

async function showPlans(db: Db, st: { text: string; params: unknown[] }, label: string): Promise<void> {
  for (const generic of [false, true]) {
    const p = await explain(db, st.text, st.params, generic);
    console.log(`    ${label}, ${generic ? "generic" : "custom"} plan:`);
    for (const n of p.filter((x) => x["Relation Name"] === "bm25_terms" || x["Index Name"]?.startsWith("bm25_terms")))
      console.log(
        `      ${n["Node Type"]} ${n["Index Name"] ?? ""} cond=${n["Index Cond"] ?? "-"} rows=${n["Actual Rows"]}x${n["Actual Loops"]} searches=${n["Index Searches"] ?? "-"} buffers=${n["Shared Hit Blocks"]}`,
      );
  }
}

async function time(db: Db, id: string | undefined): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const ts = performance.now();
    await queryTerms(db, QUERY, id, undefined);
    ms.push(performance.now() - ts);
  }
  return ms;
}

async function run(name: string, db: Db): Promise<void> {
  const t0 = performance.now();
  const ids = await seed(db);
  const terms = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM bm25_terms")).rows[0].n;
  console.log(
    `\n${name}: ${DATASETS} datasets x ${ROWS} rows, ${terms} bm25_terms rows (${Math.round(terms / DATASETS)} a dataset), seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const variants = INDEX ? ["baseline", "term index"] : ["as is"];
  const setVariant = async (v: string) => {
    if (v === "term index")
      await db.query("CREATE INDEX IF NOT EXISTS bench_terms_term ON bm25_terms (term, dataset_id)");
    else await db.query("DROP INDEX IF EXISTS bench_terms_term");
  };
  for (const [label, id] of [
    ["one dataset", ids[0]],
    ["all datasets", undefined],
  ] as const) {
    const st = await termsStatement(db, QUERY, id);
    console.log(`  ${label}:`);
    const times = new Map<string, number[]>(variants.map((v) => [v, []]));
    for (const v of variants) {
      await setVariant(v);
      await showPlans(db, st, v);
    }
    // Timed as the search runs it (prepared: the generic plan from the sixth call on), the
    // variants in turn.
    for (let r = 0; r < ROUNDS; r++)
      for (const v of variants) {
        await setVariant(v);
        await time(db, id); // warm: the plan settles
        times.get(v)!.push(...(await time(db, id)));
      }
    for (const [v, ms] of times)
      console.log(
        `    ${v.padEnd(10)} p50 ${pct(ms, 50).toFixed(3)} ms  p95 ${pct(ms, 95).toFixed(3)} ms  (${ms.length} calls)`,
      );
  }
  await setVariant("baseline");
}

runMain(async () => {
  console.log(`bench/terms-plan on ${machine()}; query "${QUERY}"`);
  if (DRIVERS.includes("pglite")) {
    const db = await PgliteDb.open("memory://", { worker: loadConfig({}).pglite.worker });
    try {
      await migrate(db);
      await run("PGlite", db);
    } finally {
      await db.close();
    }
  }
  if (DRIVERS.includes("postgres")) {
    const bench = await benchDatabase("mcai_terms");
    const db = new PgDb({ connectionString: bench.url });
    try {
      await migrate(db);
      await run("Postgres", db);
    } finally {
      await db.close();
      await bench.drop();
    }
  }
});
