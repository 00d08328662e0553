import { Readable } from "node:stream";
import type { ServiceBroker } from "moleculer";
import type { BatchOptions, Db, Queryable, QueryOptions, QueryResult, Row, Statement } from "../../services/lib/db";
import { runSearch, type SearchMode } from "../../services/datasets/search";
import { pageExamples, pageExamplesJson } from "../../services/datasets/store";
import { startTestNode, type TestNode } from "../helpers/node";
import { computeEmbedder } from "../helpers/datasets";
import { memoryDb } from "../helpers/pglite";
import { createDatabase, dropDatabase, PG_URL } from "../helpers/servers";

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Relation Name"?: string;
  "Sort Key"?: string[];
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Index Cond"?: string;
  /** Descents into the index (Postgres 18, PGlite: a skip scan makes several a loop). */
  "Index Searches"?: number;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  Plans?: PlanNode[];
}

function nodes(p: PlanNode): PlanNode[] {
  return [p, ...(p.Plans ?? []).flatMap(nodes)];
}

/** Runs `fn` against a Db that records every statement it runs (with its parameters). */
function recording(db: Db): { db: Db; seen: { text: string; params?: unknown[] }[] } {
  const seen: { text: string; params?: unknown[] }[] = [];
  const wrap = (q: Queryable): Queryable => ({
    query<R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
      seen.push({ text, params });
      return q.query<R>(text, params, options);
    },
    batch(statements: Statement[]): Promise<QueryResult[]> {
      seen.push(...statements.map(({ text, params }) => ({ text, params })));
      return q.batch(statements);
    },
  });
  const direct = wrap(db);
  const rec: Db = Object.assign(Object.create(db) as Db, {
    query: <R extends Row = Row>(text: string, params?: unknown[], options?: QueryOptions) =>
      direct.query<R>(text, params, options),
    batch: (statements: Statement[], options?: BatchOptions) => {
      seen.push(...statements.map(({ text, params }) => ({ text, params })));
      return db.batch(statements, options);
    },
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => db.transaction((tx) => fn(wrap(tx))),
  });
  return { db: rec, seen };
}

/** The plan the statement ran with (EXPLAIN ANALYZE: actual rows and pages, not only estimates), as a flat node list. */
async function plan(db: Db, text: string, params?: unknown[]): Promise<PlanNode[]> {
  const r = await db.transaction(async (tx) => {
    // The vector query sets its HNSW settings first, in the same transaction.
    if (/embedding <=>/.test(text))
      await tx.query(
        "SELECT set_config('hnsw.ef_search', '100', true), set_config('hnsw.iterative_scan', 'relaxed_order', true)",
      );
    return tx.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, params);
  });
  const json = r.rows[0]["QUERY PLAN"];
  return nodes((typeof json === "string" ? JSON.parse(json) : json)[0].Plan);
}

let prepared = 0;

/**
 * The generic plan of a statement (the one a prepared statement uses after five runs when it costs
 * no more than planning each time): prepared, and explained with plan_cache_mode forcing it.
 */
async function genericPlan(db: Db, text: string, params: unknown[]): Promise<PlanNode[]> {
  const name = `plan_check_${++prepared}`;
  const literal = (v: unknown) =>
    v === null ? "NULL" : typeof v === "number" ? String(v) : `'${(v as string).replace(/'/g, "''")}'`;
  const r = await db.transaction(async (tx) => {
    await tx.query("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)");
    await tx.query(`PREPARE ${name} AS ${text}`);
    try {
      return await tx.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE ${name}(${params.map(literal).join(", ")})`,
      );
    } finally {
      await tx.query(`DEALLOCATE ${name}`);
    }
  });
  const json = r.rows[0]["QUERY PLAN"];
  return nodes((typeof json === "string" ? JSON.parse(json) : json)[0].Plan);
}

/** One line per plan node (type, index or table, actual rows): what a failure shows. */
const outline = (ns: PlanNode[]) =>
  ns.map(
    (n) =>
      `${n["Node Type"]}${n["Index Name"] ? ` ${n["Index Name"]}` : n["Relation Name"] ? ` on ${n["Relation Name"]}` : ""} rows=${n["Actual Rows"]}x${n["Actual Loops"]}`,
  );

const indexes = (ns: PlanNode[]) => ns.map((n) => n["Index Name"]).filter(Boolean);
/** Tables read whole, but datasets (one row per domain: a scan is the right plan). */
const seqScans = (ns: PlanNode[]) =>
  ns.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] !== "datasets").map((n) => n["Relation Name"]);
/** Sorts on what an index gives in order: postings by impact, neighbours by distance, a page by id. */
const indexOrderSorts = (ns: PlanNode[]) =>
  ns
    .filter((n) => /Sort/.test(n["Node Type"]))
    .flatMap((n) => n["Sort Key"] ?? [])
    .filter((k) => /impact|<=>|dataset_id|^e\.id$/.test(k));

/**
 * The index a search statement is written for: one name, or several when the planner rightly
 * picks either by size (each inner list: one of them; every list: all of them). Measured with EXPLAIN ANALYZE on these corpora:
 * - the postings of a few candidates (rescoring): at a few thousand rows reading the query terms'
 *   lists through bm25_postings_term_impact (7,473 entries, 0.8 ms on Postgres) costs what the
 *   primary key probes cost (327 rows, 0.9 ms on PGlite); with longer lists the probes win;
 * - the matches of a phrase filter: through examples_tsv or the domain's examples_dataset_id_id
 *   (whichever is more selective), then their postings by primary key;
 * - the nearest neighbours: through the HNSW index, or ranked exactly when they are few (see
 *   EXACT_MAX below).
 */
function intendedIndexes(text: string): string[][] {
  if (/FROM bm25_postings bp/.test(text)) return [["bm25_postings_term_impact"]];
  if (/bm25_terms bt/.test(text)) return [["bm25_terms_dataset_id_term_key"]];
  if (/embedding <=>/.test(text)) return [["examples_embedding_hnsw"]];
  if (/FROM bm25_postings\s+WHERE example_id/.test(text)) return [["bm25_postings_pkey", "bm25_postings_term_impact"]];
  if (/WHERE e\.id = ANY/.test(text)) return [["examples_pkey"]];
  if (/@@ \$3::tsquery/.test(text)) return [["examples_tsv", "examples_dataset_id_id"], ["bm25_postings_pkey"]];
  return [];
}

/** Two adjacent words of the domain's corpus that are both rare (w300 and beyond: ~1% of the rows each). */
function rarePhrase(domain: string): string {
  for (const line of corpus(domain, 200).split("\n")) {
    const words = (JSON.parse(line) as { content: string }).content.split(": ")[1].split(" ");
    const n = (w: string) => Number(w.slice(1));
    for (let i = 0; i + 1 < words.length; i++)
      if (n(words[i]) >= 300 && n(words[i + 1]) >= 300) return `${words[i]} ${words[i + 1]}`;
  }
  throw new Error(`no rare phrase in ${domain}'s corpus`);
}

/** Rows a vector query may rank exactly (a scan of their distances and a top-N sort) rather than through HNSW. */
const EXACT_MAX = 5000;

/** A deterministic corpus with Zipf-like word frequencies: a few words in most rows, most in few. */
function corpus(domain: string, n: number): string {
  let seed = domain.length * 7919;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const words = Array.from({ length: 30 }, () => `w${Math.floor(Math.exp(rand() * Math.log(3000)))}`);
    lines.push(JSON.stringify({ content: `${domain} row ${i}: ${words.join(" ")}` }));
  }
  return lines.join("\n");
}

const drivers: [string, boolean][] = [["PGlite", true], ...(PG_URL ? [["Postgres", false] as [string, boolean]] : [])];

/** Search settings whose statements' plans are checked: bounded reads (no exact read by the query's size). */
const BOUNDED_SETTINGS = {
  bm25: { k1: 1.2, b: 0.4 },
  termLimit: 500,
  postingsBudget: 20_000,
  exactPostings: 0,
  efSearch: 100,
  fusion: { lexicalWeight: 0.7, depth: 100 },
};

describe.each(drivers)("query plans after an import on %s", (driver, pglite) => {
  let t: TestNode;
  let broker: ServiceBroker;
  let url = "";

  beforeAll(async () => {
    const env = { RATE_LIMIT: "0", COMPUTE_THREADS: "1", SEARCH_BM25_TERM_LIMIT: "500" };
    if (pglite) t = await startTestNode(env, ["datasets", "compute"], await memoryDb());
    else {
      url = await createDatabase();
      t = await startTestNode({ ...env, DATABASE_URL: url }, ["datasets", "compute"]);
    }
    broker = t.node.broker;
  });
  afterAll(async () => {
    await t.node.stop();
    if (url) await dropDatabase(url);
  });

  async function importDomain(domain: string, rows: number): Promise<string> {
    const s = await broker.call<{ added: number }, Readable>("datasets.import", Readable.from([corpus(domain, rows)]), {
      meta: { domain, format: "jsonl", filename: `${domain}.jsonl` },
      timeout: 0,
    });
    expect(s.added).toBe(rows);
    const r = await t.node.db!.query<{ id: string }>("SELECT id::text AS id FROM datasets WHERE domain_name = $1", [
      domain,
    ]);
    return r.rows[0].id;
  }

  async function statementsOf(fn: (db: Db) => Promise<unknown>) {
    const rec = recording(t.node.db!);
    await fn(rec.db);
    return rec.seen.filter((s) => !/^SELECT set_config/.test(s.text));
  }

  /** @param alone the domain is the whole table */
  async function checkPlans(datasetId: string, domain: string, alone: boolean) {
    const db = t.node.db!;
    // A page of 20 and one of 100 (the default size), as run and as the generic plan a prepared
    // statement switches to after five runs: the (dataset_id, id) index, never the dedup key plus
    // a sort of the whole domain (what a page of 100 got before migration 0010: 23-42 ms).
    // The same for the statement writing the page as JSON (embedded nodes' page read).
    for (const read of [pageExamples, pageExamplesJson])
      for (const limit of [20, 100])
        for (const generic of [false, true]) {
          const [page] = await statementsOf((d) => read(d, domain, "0", limit));
          const p = generic
            ? await genericPlan(db, page.text, page.params ?? [])
            : await plan(db, page.text, page.params);
          expect({
            read: read.name,
            limit,
            generic,
            plan: outline(p),
            // datasets (one row per domain) is read as the planner likes.
            indexes: indexes(p).filter((i) => i?.startsWith("examples")),
            seq: seqScans(p),
            sorts: p.filter((n) => /Sort/.test(n["Node Type"])).length,
            rows: Math.max(...p.filter((n) => /Scan/.test(n["Node Type"])).map((n) => n["Actual Rows"] ?? 0)),
          }).toEqual({
            read: read.name,
            limit,
            generic,
            plan: outline(p),
            indexes: ["examples_dataset_id_id"],
            seq: [],
            sorts: 0,
            rows: limit + 1,
          });
        }

    const embed = computeEmbedder(broker);
    const settings = BOUNDED_SETTINGS;
    const modes: SearchMode[] = pglite ? ["lexical", "hybrid"] : ["lexical"];
    // w1..w3 are in most rows (their lists are bounded), w2000 in few; rarePhrase is one of a row
    // or so (the GIN index lists its matches), "w1 w2" one of ~15% of the rows.
    for (const mode of modes)
      for (const q of ["w1 w2 w3 w40 w2000", `"${rarePhrase(domain)}" w5`, `"w1 w2" w5`]) {
        const statements = await statementsOf((d) => runSearch(d, embed, { q, datasetId, k: 10, mode }, settings));
        for (const s of statements) {
          const ns = await plan(db, s.text, s.params);
          const sql = s.text.replace(/\s+/g, " ").slice(0, 120);
          // A phrase in most of the rows by the planner's estimate (w1 and w2 are in 94% and 78% of
          // them; it scores a phrase as the product): when the domain is the whole table, reading
          // the table is the right way to list its matches, and any index would read most of it.
          const common = alone && q.startsWith('"w1 w2"') && /@@ \$3::tsquery/.test(s.text);
          // The neighbours ranked exactly, when there are few rows to rank: pgvector costs an HNSW
          // scan as startup cost (ef_search candidates whatever the LIMIT), so over a few thousand
          // rows it plans a scan of their distances and a top-N sort, which is exact and at this
          // size cheap; the gap opens with size (20k rows: exact 20-35 ms, HNSW 1.5-3 ms, STACK-NOTES).
          const exact =
            /embedding <=>/.test(s.text) &&
            !indexes(ns).includes("examples_embedding_hnsw") &&
            Math.max(...ns.filter((n) => /Scan/.test(n["Node Type"])).map((n) => n["Actual Rows"] ?? 0)) <= EXACT_MAX;
          const want = common || exact ? [] : intendedIndexes(s.text);
          const used = indexes(ns);

          // No table is read whole, nothing an index gives in order is sorted again (sorting the
          // computed scores for the top k is the one sort a ranking needs), and the statement's
          // own index is used.
          expect({
            mode,
            q,
            sql,
            plan: outline(ns),
            seq: seqScans(ns).filter((t) => !((common || exact) && t === "examples")),
            sorts: indexOrderSorts(ns).filter((k) => !(exact && k.includes("<=>"))),
            uses: want.every((any) => any.some((w) => used.includes(w))) ? want : used,
          }).toEqual({
            mode,
            q,
            sql,
            plan: outline(ns),
            seq: [],
            sorts: [],
            uses: want,
          });
        }
      }
  }

  it("uses the intended indexes without a sort for one domain of 3,000 rows", async () => {
    const id = await importDomain("first", 3000);
    await checkPlans(id, "first", true);
  });

  it("and still with several domains in the tables", async () => {
    await importDomain("second", 3000);
    const id = await importDomain("third", 500);
    await checkPlans(id, "third", false);
  });

  // The terms statement (each query lexeme's df in the searched datasets) over bm25_terms's one
  // index, (dataset_id, term): each lexeme is probed once per searched dataset. Postgres 15 plans a
  // nested loop over datasets with both columns in the index condition; Postgres 18 (PGlite) plans
  // a skip scan whose condition names the term only but which descends once per dataset_id (Index
  // Searches). Neither reads the whole index for a lexeme, which would make every search's cost grow
  // with all the terms of all the datasets.
  it("probes bm25_terms by dataset and term, never the whole index, with six domains", async () => {
    const db = t.node.db!;
    const ids = [
      await importDomain("fourth", 1000),
      await importDomain("fifth", 1000),
      await importDomain("sixth", 1000),
    ];
    const datasets = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM datasets")).rows[0].n;
    expect(datasets).toBe(6);
    const pages = (
      await db.query<{ n: number }>(
        "SELECT (pg_relation_size('bm25_terms_dataset_id_term_key') / current_setting('block_size')::int)::int AS n",
      )
    ).rows[0].n;
    // A term no example holds has the search ask the spelling statement too (the same probes, for
    // "color" and "colour").
    const q = "w1 w2 w40 w2000 zzabsent color";
    const embed = computeEmbedder(broker);
    const settings = BOUNDED_SETTINGS;
    // One domain, and all of them (what knowledge asks), as run and as the generic plan the prepared
    // statement switches to after five runs.
    for (const datasetId of [ids[0], undefined]) {
      const statements = await statementsOf((d) =>
        runSearch(d, embed, { q, datasetId, k: 10, mode: "lexical" }, settings),
      );
      const terms = statements.filter((s) => /bm25_terms bt/.test(s.text));
      expect(terms.map((s) => (/positions/.test(s.text) ? "spelling" : "terms"))).toEqual(["terms", "spelling"]);
      for (const s of terms)
        for (const generic of [false, true]) {
          const lexemes = (
            await db.query<{ n: number }>("SELECT length(to_tsvector('english', $1))::int AS n", [s.params?.[0]])
          ).rows[0].n;
          const ns = generic ? await genericPlan(db, s.text, s.params ?? []) : await plan(db, s.text, s.params);
          const scans = ns.filter(
            (n) => n["Relation Name"] === "bm25_terms" || n["Index Name"]?.startsWith("bm25_terms"),
          );
          const read = scans.reduce((a, n) => a + (n["Shared Hit Blocks"] ?? 0) + (n["Shared Read Blocks"] ?? 0), 0);
          const probes = scans.map((n) => {
            const cond = n["Index Cond"] ?? "";
            const loops = n["Actual Loops"] ?? 1;
            return {
              index: n["Index Name"],
              term: /\bterm = /.test(cond),
              // Both columns in the condition, or a skip scan: more than one descent a loop.
              perDataset: /\bdataset_id = /.test(cond) || (n["Index Searches"] ?? 0) > loops,
            };
          });
          expect(probes.length).toBeGreaterThan(0);
          // A probe is a root-to-leaf descent and its row (2-3 pages at this size); a whole-index
          // read is every leaf page for each lexeme.
          expect({ datasetId, generic, plan: outline(ns), probes, wholeIndex: read >= (lexemes * pages) / 2 }).toEqual({
            datasetId,
            generic,
            plan: outline(ns),
            probes: probes.map(() => ({ index: "bm25_terms_dataset_id_term_key", term: true, perDataset: true })),
            wholeIndex: false,
          });
        }
    }
  });
});
