/**
 * Imports one source (a file, a stream, a request body) into a domain, in one transaction:
 * examples are embedded in batches through the compute pool (where pgvector is installed),
 * inserted with their content hash (duplicates skipped), and the dataset's version bumps once
 * at the end when anything was added. A malformed source rolls back whole.
 */
import type { Context } from "moleculer";
import type { Db } from "../lib/db";
import type { Embedder } from "./embeddings";
import { contentHash, isRejected, type ExampleInput, type RecordResult } from "./records";
import { bumpVersion, ensureDataset, existingHashes, insertExamples } from "./store";

export interface ImportSummary {
  domain: string;
  file: string;
  read: number;
  added: number;
  duplicates: number;
  rejected: number;
  /** The dataset's version after the import (unchanged when nothing was added). */
  version: number | null;
}

export interface ImportOptions {
  db: Db;
  ctx: Context;
  /** Undefined where the database has no vector column. */
  embedder?: Embedder;
  batchSize: number;
}

export async function importRecords(
  o: ImportOptions,
  domain: string,
  file: string,
  records: AsyncIterable<RecordResult> | Iterable<RecordResult>,
): Promise<ImportSummary> {
  const summary: ImportSummary = { domain, file, read: 0, added: 0, duplicates: 0, rejected: 0, version: null };
  return o.db.transaction(async (tx) => {
    // The dataset row is made with the first example to write: a source of only rejected
    // records (or none) leaves the database as it was.
    let datasetId: string | undefined;
    let batch: ExampleInput[] = [];
    const flush = async () => {
      if (!batch.length) return;
      datasetId ??= await ensureDataset(tx, domain);
      // Duplicates are dropped before embedding: re-importing a file costs hash lookups, not embeddings.
      const known = await existingHashes(
        tx,
        datasetId,
        batch.map((b) => contentHash(b.content)),
      );
      const seen = new Set<string>();
      const fresh = batch.filter((b) => {
        const h = contentHash(b.content);
        if (known.has(h) || seen.has(h)) return false;
        seen.add(h);
        return true;
      });
      const vectors =
        o.embedder && fresh.length
          ? await o.embedder.embed(
              o.ctx,
              fresh.map((b) => (b.response ? `${b.content}\n${b.response}` : b.content)),
            )
          : undefined;
      const added = await insertExamples(tx, datasetId, fresh, vectors);
      summary.added += added;
      summary.duplicates += batch.length - added;
      batch = [];
    };
    for await (const r of records) {
      summary.read++;
      if (isRejected(r)) summary.rejected++;
      else batch.push(r);
      if (batch.length >= o.batchSize) await flush();
    }
    await flush();
    if (datasetId && summary.added > 0) summary.version = await bumpVersion(tx, datasetId, summary.added);
    return summary;
  });
}
