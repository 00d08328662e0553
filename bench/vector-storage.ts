/**
 * bench/vector-storage: the exact k-nearest scan of examples.embedding on PGlite + pgvector with the
 * vector column's storage left at pgvector's default (EXTENDED: a row over ~2 KB moves its vector
 * out of line into the TOAST table, and the scan fetches each one back through the TOAST index)
 * beside storage MAIN (migration 0013: the vector stays in the heap row). Three tables in one
 * in-memory PGlite, same rows (SciFact's abstracts, or synthetic ~1.5 KB texts without the
 * fixture; seeded random unit vectors): `dflt` (default storage), `main` (MAIN before the
 * inserts), `rewritten` (default storage, then MAIN and the rewrite docs/search.md gives an
 * operator), each with examples' indexes (HNSW included). Prints each one's TOAST size and average stored vector size, and the scan's p50/p95
 * over the same query vectors, the tables alternating. The search's SQL, k = 100.
 *
 *   npx tsx bench/vector-storage.ts         (DIM=384 ROWS=5183 QUERIES=40 to change)
 */
import fs from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { SCIFACT_DIR } from "./ir";
import { runMain } from "./lib";

const DIM = Number(process.env.DIM ?? 384);
const ROWS = Number(process.env.ROWS ?? 5183);
const QUERIES = Number(process.env.QUERIES ?? 40);
const TABLES = ["dflt", "main", "rewritten"] as const;

/** mulberry32: the same vectors on every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function unitVector(r: () => number): string {
  const v = Array.from({ length: DIM }, () => r() * 2 - 1);
  const n = Math.hypot(...v);
  return `[${v.map((x) => (x / n).toFixed(6)).join(",")}]`;
}

function texts(): string[] {
  const file = path.join(SCIFACT_DIR, "corpus.jsonl");
  if (fs.existsSync(file)) {
    const docs = fs
      .readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => (JSON.parse(l) as { content: string }).content);
    return Array.from({ length: ROWS }, (_, i) => docs[i % docs.length]);
  }
  const r = rng(7);
  const words = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}x${Math.floor(r() * 1e4)}`);
  return Array.from({ length: ROWS }, () => {
    let s = "";
    while (s.length < 1500) s += words[Math.floor(r() * words.length)] + " ";
    return s;
  });
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function main(): Promise<void> {
  const db = await PGlite.create({ extensions: { vector } });
  await db.exec("CREATE EXTENSION vector");
  for (const t of TABLES)
    await db.exec(`CREATE TABLE ${t} (
      id bigserial PRIMARY KEY, dataset_id bigint NOT NULL, content text NOT NULL, response text,
      metadata jsonb NOT NULL DEFAULT '{}'::jsonb, content_hash text NOT NULL,
      tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', content || ' ' || coalesce(response, ''))) STORED,
      created_at timestamptz NOT NULL DEFAULT now(), embedding vector(${DIM}))`);
  await db.exec("ALTER TABLE main ALTER COLUMN embedding SET STORAGE MAIN");
  const all = texts();
  const r = rng(42);
  const vectors = all.map(() => unitVector(r));
  console.log(
    `${ROWS} rows, vector(${DIM}), average text ${Math.round(all.reduce((s, x) => s + x.length, 0) / ROWS)} chars`,
  );
  for (const t of TABLES) {
    const started = performance.now();
    for (let i = 0; i < ROWS; i += 500) {
      const slice = all.slice(i, i + 500);
      await db.query(
        `INSERT INTO ${t} (dataset_id, content, content_hash, embedding)
         SELECT 1, c, md5(c), v::vector FROM unnest($1::text[], $2::text[]) AS u(c, v)`,
        [slice, vectors.slice(i, i + 500)],
      );
    }
    console.log(`insert ${t}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  // The indexes examples has (0002): the rewrite rebuilds them, and the planner must still choose
  // the exact scan over the HNSW index with the bigger heap.
  for (const t of TABLES) {
    const started = performance.now();
    await db.exec(`CREATE INDEX ON ${t} (dataset_id, id); CREATE INDEX ON ${t} USING gin (tsv);
      CREATE INDEX ON ${t} USING hnsw (embedding vector_cosine_ops)`);
    console.log(`indexes ${t}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  {
    const started = performance.now();
    await db.exec("ALTER TABLE rewritten ALTER COLUMN embedding SET STORAGE MAIN");
    await db.exec("VACUUM FULL rewritten");
    console.log(`SET STORAGE MAIN + VACUUM FULL rewritten: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  await db.exec(`VACUUM ANALYZE ${TABLES.join(", ")}`);
  for (const t of TABLES) {
    const info = await db.query<{ storage: string; toast: string; heap: string; vec: number; chunks: number }>(
      `SELECT a.attstorage AS storage, pg_size_pretty(pg_relation_size(c.reltoastrelid)) AS toast,
         pg_size_pretty(pg_relation_size(c.oid)) AS heap,
         (SELECT avg(pg_column_size(embedding))::int FROM ${t}) AS vec,
         (SELECT reltuples::int FROM pg_class WHERE oid = c.reltoastrelid) AS chunks
       FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'embedding' WHERE c.relname = $1`,
      [t],
    );
    const x = info.rows[0];
    console.log(
      `${t}: attstorage ${x.storage}, heap ${x.heap}, toast ${x.toast} (${x.chunks} chunks), avg pg_column_size(embedding) ${x.vec} B`,
    );
  }
  // The search's settings (store.ts, nearestExamples: ef_search 2·k).
  await db.exec("SET hnsw.ef_search = 200; SET hnsw.iterative_scan = relaxed_order");
  for (const t of TABLES) {
    const plan = await db.query<{ "QUERY PLAN": string }>(
      `EXPLAIN SELECT id::text AS id, (embedding <=> $1::vector)::float8 AS distance FROM ${t}
       WHERE embedding IS NOT NULL AND dataset_id = 1 ORDER BY distance LIMIT 100`,
      [vectors[0]],
    );
    console.log(`plan ${t}:\n${plan.rows.map((p) => `  ${p["QUERY PLAN"].replace(/'\[[^\]]*\]'/, "$1")}`).join("\n")}`);
  }
  const times: Record<string, number[]> = Object.fromEntries(TABLES.map((t) => [t, []]));
  const qr = rng(99);
  const ids: Record<string, string> = {};
  for (let q = -3; q < QUERIES; q++) {
    const v = unitVector(qr);
    for (const t of q % 2 === 0 ? TABLES : [...TABLES].reverse()) {
      const started = performance.now();
      const res = await db.query<{ id: string }>(
        `SELECT id::text AS id, (embedding <=> $1::vector)::float8 AS distance FROM ${t}
         WHERE embedding IS NOT NULL AND dataset_id = 1 ORDER BY distance LIMIT 100`,
        [v],
      );
      if (q >= 0) times[t].push(performance.now() - started);
      ids[t] = res.rows.map((x) => x.id).join(",");
    }
    if (new Set(Object.values(ids)).size !== 1) throw new Error("the tables answered different neighbours");
  }
  for (const t of TABLES)
    console.log(
      `exact k=100 scan ${t}: p50 ${pct(times[t], 0.5).toFixed(1)} ms, p95 ${pct(times[t], 0.95).toFixed(1)} ms`,
    );
  await db.close();
}

runMain(main);
