/**
 * bench/vacuum: what a VACUUM costs in embedded mode (PGlite runs one statement at a time, so the
 * node answers nothing that needs the database meanwhile). SciFact is imported once through the
 * importer into a fresh PGlite folder; each variant then runs on its own copy of that folder after
 * the same rotation (ROTATE rows moved to examples_archive). Baseline: VACUUM (ANALYZE) of the
 * example tables, which is what a rotation ran until now.
 *
 *   npx tsx bench/vacuum.ts            (ROTATE=1000 DIM=384 to change; VARIANTS=2: the first two only)
 */
import { loadConfig } from "../services/lib/config";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Context } from "moleculer";
import { embedInto } from "../compute/lib/embedding";
import { PgliteDb, migrate } from "../services/lib/db";
import { importRecords } from "../services/datasets/importer";
import { rotate } from "../services/datasets/rotate";
import { analyzeTables } from "../services/datasets/store";
import { vectorTexts, type Embedder } from "../services/datasets/embeddings";
import { loadCorpus } from "./ir";
import { machine, runMain } from "./lib";

const ROTATE = Number(process.env.ROTATE ?? 1000);
const DIM = Number(process.env.DIM ?? 384);
const VARIANTS = Number(process.env.VARIANTS ?? 99);
const TABLES = "examples, examples_archive, bm25_postings, bm25_terms, datasets";

const embed = (texts: string[]) =>
  texts.map((t) => {
    const v = new Float32Array(DIM);
    embedInto(t, v);
    return v;
  });
const embedder: Embedder = {
  name: "bench-hash",
  dim: DIM,
  embed: (_ctx, texts) => Promise.resolve(embed(texts)),
  embedSql: (_ctx, texts) => vectorTexts(embed(texts)),
};

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

type Db = PgliteDb;

async function deadTuples(db: Db): Promise<number> {
  // pgstattuple is not in PGlite: the heap's dead tuples through the statistics views.
  const r = await db.query<{ n: number }>(
    "SELECT coalesce(sum(n_dead_tup), 0)::int AS n FROM pg_stat_user_tables WHERE relname IN ('examples', 'bm25_postings')",
  );
  return r.rows[0].n;
}

async function main(): Promise<void> {
  const corpus = loadCorpus();
  console.log(`bench/vacuum on ${machine()}: ${corpus.length} SciFact documents, rotate ${ROTATE}, ${DIM}-d`);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-vacuum-"));
  const seed = path.join(base, "seed");
  try {
    {
      const db = await PgliteDb.open(seed);
      await migrate(db, undefined, { embedding_dim: DIM });
      const ms = await timed(() =>
        importRecords(
          {
            db,
            ctx: undefined as unknown as Context,
            embedder,
            batchSize: 256,
            rebuildMin: loadConfig({}).datasets.importRebuildMin,
          },
          "scifact",
          "corpus.jsonl",
          corpus.map((d) => ({ content: d.content, response: "", metadata: { doc_id: d.id } })),
        ),
      );
      await analyzeTables(db, ["examples", "bm25_postings", "bm25_terms", "datasets"]);
      await db.query(`VACUUM (ANALYZE) ${TABLES}`);
      const n = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM examples")).rows[0].n;
      console.log(`  import of ${n} rows (seed, then VACUUM): ${(ms / 1000).toFixed(1)} s`);
      await db.close();
    }
    const variants: [string, string[], string][] = [
      ["VACUUM (ANALYZE) (baseline: as until now)", [], `VACUUM (ANALYZE) ${TABLES}`],
      ["VACUUM (ANALYZE, INDEX_CLEANUP OFF)", [], `VACUUM (ANALYZE, INDEX_CLEANUP OFF) ${TABLES}`],
      ["ANALYZE alone", [], `ANALYZE ${TABLES}`],
      ["VACUUM (ANALYZE), HNSW index dropped", ["DROP INDEX examples_embedding_hnsw"], `VACUUM (ANALYZE) ${TABLES}`],
      ["VACUUM (ANALYZE), GIN tsv index dropped", ["DROP INDEX examples_tsv"], `VACUUM (ANALYZE) ${TABLES}`],
      [
        "VACUUM (ANALYZE), HNSW and GIN dropped",
        ["DROP INDEX examples_embedding_hnsw", "DROP INDEX examples_tsv"],
        `VACUUM (ANALYZE) ${TABLES}`,
      ],
      ["VACUUM (ANALYZE) examples only", [], "VACUUM (ANALYZE) examples"],
      ["VACUUM (ANALYZE) bm25_postings only", [], "VACUUM (ANALYZE) bm25_postings"],
    ];
    let baseline = 0;
    for (const [label, setup, sql] of variants.slice(0, VARIANTS)) {
      const dir = path.join(base, "copy");
      fs.rmSync(dir, { recursive: true, force: true });
      fs.cpSync(seed, dir, { recursive: true });
      const db = await PgliteDb.open(dir);
      try {
        for (const s of setup) await db.query(s);
        const count = (await db.query<{ n: number }>("SELECT example_count::int AS n FROM datasets")).rows[0].n;
        const rot = await timed(() => rotate(db, count - ROTATE, false));
        const dead = await deadTuples(db);
        const ms = await timed(() => db.query(sql));
        if (!baseline) baseline = ms;
        // A second, full VACUUM right after: what the scheduled run pays later for the index cleanup.
        const later =
          sql.includes("INDEX_CLEANUP OFF") || sql.startsWith("ANALYZE")
            ? await timed(() => db.query(`VACUUM (ANALYZE) ${TABLES}`))
            : undefined;
        console.log(
          `  ${label.padEnd(44)} ${(ms / 1000).toFixed(2).padStart(6)} s  ${(ms / baseline).toFixed(2).padStart(5)}×` +
            `  (rotation ${(rot / 1000).toFixed(1)} s, dead before ${dead}` +
            `${later === undefined ? "" : `, full VACUUM afterwards ${(later / 1000).toFixed(2)} s`})`,
        );
      } finally {
        await db.close();
      }
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

runMain(main);
