/**
 * Imports one source (a file, a stream, a request body) into a domain. Records go in batches:
 * duplicates (by content hash) are dropped before embedding, the rest are embedded through the
 * compute pool (where pgvector is installed) while the previous batch is written, and inserted
 * with their hash (a duplicate that slipped through is skipped by the unique key).
 *
 * The main thread keeps serving meanwhile: the vectors come back already in pgvector's text form
 * (built in the pool: formatting a batch here held the event loop 40–60 ms), and what is done here
 * per record is small and yields between batches.
 *
 * Two ways to commit:
 * - importRecords: the whole source in one transaction (the CLI, the REPL, a JSON body): a
 *   malformed source rolls back whole.
 * - importUpload: an upload kept for an import job (see upload.ts): each batch commits with the
 *   checkpoint of the records it consumed, so a job whose node died resumes after the last batch.
 *
 * A bulk import that at least doubles the rows of the HNSW index drops it and builds it once at
 * the end (one build is 2-3× faster than growing it row by row, see docs/datasets.md).
 */
import type { Context } from "moleculer";
import type { Db, Queryable } from "../lib/db";
import { AbortedError } from "../lib/errors";
import type { Embedder } from "./embeddings";
import { contentHash, isRejected, type ExampleInput, type RecordResult } from "./records";
import {
  bumpVersion,
  deferBm25,
  dropVectorIndex,
  ensureDataset,
  ensureVectorIndex,
  existingHashes,
  finishUpload,
  flushBm25,
  getDataset,
  insertExamples,
  liveExampleCount,
  saveCheckpoint,
  type UploadRow,
} from "./store";

export interface ImportSummary {
  domain: string;
  file: string;
  read: number;
  added: number;
  duplicates: number;
  rejected: number;
  /** The dataset's version after the import (unchanged when nothing was added). */
  version: number | null;
  /** The HNSW index was dropped for the import and built once at its end. */
  index_rebuilt?: boolean;
}

export interface ImportOptions {
  db: Db;
  ctx: Context;
  /** Undefined where the database has no vector column. */
  embedder?: Embedder;
  batchSize: number;
  /** An import of at least this many records that at least doubles the index rebuilds it; 0 = never. */
  rebuildMin: number;
}

/** Records consumed from the source (rejected ones too) and the examples among them. */
interface Batch {
  consumed: number;
  rejected: number;
  examples: ExampleInput[];
}

/** A batch ready to write: its new examples (deduplicated) and their vectors (pgvector text), being computed. */
interface Prepared {
  batch: Batch;
  fresh: ExampleInput[];
  vectors: Promise<string[] | undefined>;
}

/** The source in batches of `size` examples, after skipping its first `skip` records. */
async function* batches(
  records: AsyncIterable<RecordResult> | Iterable<RecordResult>,
  size: number,
  skip: number,
): AsyncGenerator<Batch> {
  let b: Batch = { consumed: 0, rejected: 0, examples: [] };
  let seen = 0;
  for await (const r of records) {
    if (seen++ < skip) continue;
    b.consumed++;
    if (isRejected(r)) b.rejected++;
    else b.examples.push(r);
    if (b.examples.length >= size) {
      yield b;
      b = { consumed: 0, rejected: 0, examples: [] };
    }
  }
  if (b.consumed) yield b;
}

/** Drops the batch's duplicates (within it, and those `datasetId` has) and starts embedding the rest. */
async function prepare(
  o: ImportOptions,
  db: Queryable,
  datasetId: string | undefined,
  batch: Batch,
): Promise<Prepared> {
  const hashes = batch.examples.map((b) => contentHash(b.content));
  const known = datasetId ? await existingHashes(db, datasetId, hashes) : new Set<string>();
  const seen = new Set<string>();
  const fresh = batch.examples.filter((_, i) => {
    const h = hashes[i];
    if (known.has(h) || seen.has(h)) return false;
    seen.add(h);
    return true;
  });
  const vectors =
    o.embedder && fresh.length
      ? o.embedder.embedSql(
          o.ctx,
          fresh.map((b) => (b.response ? `${b.content}\n${b.response}` : b.content)),
        )
      : Promise.resolve(undefined);
  // Awaited by the write; a failure before then must not be an unhandled rejection.
  vectors.catch(() => undefined);
  return { batch, fresh, vectors };
}

/**
 * Runs the batches through prepare and `write` in a two-stage pipeline: batch n+1 is embedded
 * (in the compute pool) while batch n is written. Database calls stay sequential: a PGlite
 * transaction is the only session there is.
 */
async function pipeline(
  source: AsyncIterable<Batch>,
  prep: (b: Batch) => Promise<Prepared>,
  write: (p: Prepared, vectors: string[] | undefined) => Promise<void>,
): Promise<void> {
  let previous: Prepared | undefined;
  for await (const b of source) {
    const next = await prep(b);
    if (previous) await write(previous, await previous.vectors);
    previous = next;
  }
  if (previous) await write(previous, await previous.vectors);
}

function newSummary(domain: string, file: string): ImportSummary {
  return { domain, file, read: 0, added: 0, duplicates: 0, rejected: 0, version: null };
}

function count(s: ImportSummary, b: Batch, added: number): void {
  s.read += b.consumed;
  s.rejected += b.rejected;
  s.added += added;
  s.duplicates += b.examples.length - added;
}

/** Whether an import of `records` rows rebuilds the HNSW index instead of growing it. */
async function rebuildsIndex(o: ImportOptions, db: Queryable, records: number): Promise<boolean> {
  if (!o.embedder || o.rebuildMin <= 0 || records < o.rebuildMin) return false;
  return records >= (await liveExampleCount(db));
}

/** Imports `records` into `domain` in one transaction. @throws MalformedFileError (nothing written) */
export async function importRecords(
  o: ImportOptions,
  domain: string,
  file: string,
  records: AsyncIterable<RecordResult> | Iterable<RecordResult>,
): Promise<ImportSummary> {
  const summary = newSummary(domain, file);
  return o.db.transaction(async (tx) => {
    // The dataset row is made with the first example to write: a source of only rejected
    // records (or none) leaves the database as it was.
    let datasetId = (await getDataset(tx, domain))?.id;
    // The BM25 postings of all the batches are written once, before the commit (see deferBm25).
    await deferBm25(tx);
    // The index is dropped once this import has written rebuildMin records and as many as the
    // index held before: inside this transaction, so a crash or a failure restores it. Only on
    // PGlite, where the transaction holds the database anyway; on Postgres the drop's lock would
    // stop every search until the import commits.
    const before = o.embedder && o.db.driver === "pglite" && o.rebuildMin > 0 ? await liveExampleCount(tx) : Infinity;
    // Set inside the write callback: a write TypeScript's narrowing cannot see from here.
    let rebuilding = false as boolean;
    await pipeline(
      batches(records, o.batchSize, 0),
      (b) => prepare(o, tx, datasetId, b),
      async (p, vectors) => {
        const written = summary.read + p.batch.consumed;
        if (!rebuilding && written >= o.rebuildMin && written >= before) {
          await dropVectorIndex(tx);
          rebuilding = true;
        }
        if (p.fresh.length) datasetId ??= await ensureDataset(tx, domain);
        count(
          summary,
          p.batch,
          datasetId && p.fresh.length ? await insertExamples(tx, datasetId, p.fresh, vectors) : 0,
        );
      },
    );
    await flushBm25(tx);
    if (rebuilding) {
      await ensureVectorIndex(tx);
      summary.index_rebuilt = true;
    }
    if (datasetId && summary.added > 0) summary.version = await bumpVersion(tx, datasetId, summary.added);
    return summary;
  });
}

export interface UploadImportOptions extends ImportOptions {
  /** Called after each committed batch with the records done so far. */
  progress(done: number, total: number): void;
  /** True once the job is cancelled: the import stops before its next batch. */
  aborted(): boolean;
}

/**
 * Imports an upload for its job, a batch per transaction with the checkpoint, resuming after the
 * upload's last committed batch; the upload's bytes are deleted at the end. Each batch bumps the
 * dataset's version, so caches never serve what was there before a committed batch.
 * @throws AbortedError when cancelled (the committed batches stay), MalformedFileError
 */
export async function importUpload(
  o: UploadImportOptions,
  upload: UploadRow,
  records: AsyncIterable<RecordResult>,
): Promise<ImportSummary> {
  const summary: ImportSummary = {
    ...newSummary(upload.domain, upload.filename),
    read: upload.records_done,
    added: upload.summary.added ?? 0,
    duplicates: upload.summary.duplicates ?? 0,
    rejected: upload.summary.rejected ?? 0,
    version: upload.summary.version ?? null,
  };
  let datasetId = (await getDataset(o.db, upload.domain))?.id;
  const rebuilding = await rebuildsIndex(o, o.db, upload.records - upload.records_done);
  // Committed at once: a crash before the end leaves the index missing, and the datasets service
  // builds it again when it starts (see ensureVectorIndex in its started()).
  if (rebuilding) await dropVectorIndex(o.db);
  try {
    await pipeline(
      batches(records, o.batchSize, upload.records_done),
      (b) => prepare(o, o.db, datasetId, b),
      async (p, vectors) => {
        if (o.aborted()) throw new AbortedError(`import ${upload.id} was cancelled`, { id: upload.id });
        await o.db.transaction(async (tx) => {
          if (p.fresh.length) datasetId ??= await ensureDataset(tx, upload.domain);
          const added = datasetId && p.fresh.length ? await insertExamples(tx, datasetId, p.fresh, vectors) : 0;
          count(summary, p.batch, added);
          if (datasetId && added) summary.version = await bumpVersion(tx, datasetId, added);
          await saveCheckpoint(tx, upload.id, summary.read, summary);
        });
        o.progress(summary.read, upload.records);
      },
    );
  } finally {
    if (rebuilding) await ensureVectorIndex(o.db);
  }
  if (rebuilding) summary.index_rebuilt = true;
  await o.db.transaction((tx) => finishUpload(tx, upload.id, summary));
  return summary;
}
