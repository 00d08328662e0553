/**
 * bench/import-profile: where the time of a SciFact import goes on PGlite, stage by stage, each
 * timed alone on a fresh migrated database folder: the local embedding (one thread), the vectors'
 * text form, the to_tsvector('english') of every text, and the INSERT with and without the
 * embedding column and its HNSW index. Baseline: the rows inserted with neither vectors nor index.
 *
 *   npm run bench:import-profile            (BATCH=256 DIM=384 to change)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadCorpus } from "./ir";
import { machine, runMain } from "./lib";

const ROOT = path.resolve(__dirname, "..");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { PgliteDb, migrate } = require(
  path.join(ROOT, "dist/services/lib/db/index.js"),
) as typeof import("../services/lib/db");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { embedInto } = require(
  path.join(ROOT, "dist/compute/lib/embedding.js"),
) as typeof import("../compute/lib/embedding");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { vectorLiteral } = require(
  path.join(ROOT, "dist/services/datasets/embeddings/index.js"),
) as typeof import("../services/datasets/embeddings");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { insertExamples, ensureDataset } = require(
  path.join(ROOT, "dist/services/datasets/store.js"),
) as typeof import("../services/datasets/store");

const BATCH = Number(process.env.BATCH ?? 256);
const DIM = Number(process.env.DIM ?? 384);

type Db = import("../services/lib/db").Db;
type Example = import("../services/datasets/records").ExampleInput;

async function time(label: string, docs: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  console.log(
    `  ${label.padEnd(64)} ${(ms / 1000).toFixed(2).padStart(7)} s  ${Math.round(docs / (ms / 1000))
      .toString()
      .padStart(7)} docs/s`,
  );
  return ms;
}

/** All rows in batches of BATCH, in one transaction, as the importer writes them. */
async function insertAll(db: Db, rows: Example[], vectors?: Float32Array[]): Promise<void> {
  await db.transaction(async (tx) => {
    const id = await ensureDataset(tx, "scifact");
    for (let i = 0; i < rows.length; i += BATCH)
      await insertExamples(tx, id, rows.slice(i, i + BATCH), vectors?.slice(i, i + BATCH));
  });
}

async function main(): Promise<void> {
  const corpus = loadCorpus();
  const rows: Example[] = corpus.map((d) => ({ content: d.content, response: "", metadata: { doc_id: d.id } }));
  const n = rows.length;
  console.log(`bench/import-profile on ${machine()}: ${n} SciFact documents, batches of ${BATCH}, ${DIM}-d`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-import-profile-"));
  const db = await PgliteDb.open(dir);
  try {
    await migrate(db, undefined, { embedding_dim: DIM });
    const vectors = corpus.map(() => new Float32Array(DIM));
    await time("embedding, feature hashing on one thread", n, () =>
      corpus.forEach((d, i) => embedInto(d.content, vectors[i])),
    );
    await time("vector text literals (vectorLiteral)", n, () => vectors.map(vectorLiteral));
    await time("to_tsvector('english') alone (SELECT, no write)", n, async () => {
      for (let i = 0; i < n; i += BATCH)
        await db.query("SELECT sum(length(to_tsvector('english', c))) FROM unnest($1::text[]) c", [
          rows.slice(i, i + BATCH).map((r) => r.content),
        ]);
    });
    const reset = () => db.query("TRUNCATE examples, datasets CASCADE");
    await time("INSERT without vectors (baseline: tsv, GIN, unique hash)", n, () => insertAll(db, rows));
    await reset();
    await time("INSERT with vectors, HNSW index in place (as today)", n, () => insertAll(db, rows, vectors));
    await reset();
    await db.query("DROP INDEX examples_embedding_hnsw");
    await time("INSERT with vectors, no HNSW index", n, () => insertAll(db, rows, vectors));
    await time("CREATE INDEX hnsw afterwards (m 16, ef_construction 64)", n, () =>
      db.query("CREATE INDEX examples_embedding_hnsw ON examples USING hnsw (embedding vector_cosine_ops)"),
    );
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
