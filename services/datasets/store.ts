/** The SQL of the datasets service. Every statement is parameterized; pages are keyset. */
import type { Queryable } from "../lib/db";
import { vectorLiteral } from "./embeddings";
import type { ExampleInput } from "./records";
import { contentHash } from "./records";

export interface DatasetRow {
  domain: string;
  version: number;
  example_count: number;
  archived_count: number;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export interface ExampleRow {
  id: string;
  domain: string;
  content: string;
  response: string | null;
  metadata: Record<string, unknown>;
  created_at: string;
}

const DATASET_COLUMNS = `domain_name AS domain, version::float8 AS version, example_count::float8 AS example_count,
  archived_count::float8 AS archived_count, metadata, created_at, updated_at`;
const EXAMPLE_COLUMNS = "e.id::text AS id, d.domain_name AS domain, e.content, e.response, e.metadata, e.created_at";

export async function listDatasets(db: Queryable): Promise<DatasetRow[]> {
  return (
    await db.query<DatasetRow & Record<string, unknown>>(`SELECT ${DATASET_COLUMNS} FROM datasets ORDER BY domain_name`)
  ).rows;
}

export async function getDataset(db: Queryable, domain: string): Promise<(DatasetRow & { id: string }) | undefined> {
  const r = await db.query<DatasetRow & { id: string } & Record<string, unknown>>(
    `SELECT id::text AS id, ${DATASET_COLUMNS} FROM datasets WHERE domain_name = $1`,
    [domain],
  );
  return r.rows[0];
}

/** The dataset's id, creating it on first use. */
export async function ensureDataset(tx: Queryable, domain: string): Promise<string> {
  await tx.query("INSERT INTO datasets (domain_name) VALUES ($1) ON CONFLICT (domain_name) DO NOTHING", [domain]);
  const r = await tx.query<{ id: string }>("SELECT id::text AS id FROM datasets WHERE domain_name = $1", [domain]);
  return r.rows[0].id;
}

/** Gives the dataset a new version (larger than every one before) and moves its counts. */
export async function bumpVersion(
  tx: Queryable,
  datasetId: string,
  liveDelta: number,
  archivedDelta = 0,
): Promise<number> {
  const r = await tx.query<{ version: number }>(
    `UPDATE datasets SET version = nextval('dataset_version_seq'), example_count = example_count + $2,
       archived_count = archived_count + $3, updated_at = now()
     WHERE id = $1 RETURNING version::float8 AS version`,
    [datasetId, liveDelta, archivedDelta],
  );
  return r.rows[0].version;
}

/** The global version: the largest dataset version (0 with no datasets). */
export async function globalVersion(db: Queryable): Promise<number> {
  const r = await db.query<{ v: number }>("SELECT coalesce(max(version), 0)::float8 AS v FROM datasets");
  return r.rows[0].v;
}

/** Which of `hashes` the dataset already has. */
export async function existingHashes(tx: Queryable, datasetId: string, hashes: string[]): Promise<Set<string>> {
  const r = await tx.query<{ h: string }>(
    "SELECT content_hash AS h FROM examples WHERE dataset_id = $1 AND content_hash = ANY($2::text[])",
    [datasetId, hashes],
  );
  return new Set(r.rows.map((x) => x.h));
}

/** Inserts examples, skipping those whose content hash the dataset has; returns how many were added. */
export async function insertExamples(
  tx: Queryable,
  datasetId: string,
  rows: ExampleInput[],
  vectors?: ArrayLike<number>[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const params: unknown[] = [
    datasetId,
    rows.map((r) => r.content),
    rows.map((r) => r.response),
    rows.map((r) => JSON.stringify(r.metadata)),
    rows.map((r) => contentHash(r.content)),
  ];
  let sql = `INSERT INTO examples (dataset_id, content, response, metadata, content_hash)
    SELECT $1, c, r, m::jsonb, h FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(c, r, m, h)
    ON CONFLICT (dataset_id, content_hash) DO NOTHING`;
  if (vectors) {
    params.push(vectors.map(vectorLiteral));
    sql = `INSERT INTO examples (dataset_id, content, response, metadata, content_hash, embedding)
      SELECT $1, c, r, m::jsonb, h, e::vector FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS t(c, r, m, h, e)
      ON CONFLICT (dataset_id, content_hash) DO NOTHING`;
  }
  return (await tx.query(sql, params)).rowCount;
}

/**
 * One keyset page: rows after `afterId` in id order, and whether more follow.
 * The row comparison (dataset_id, id) > ($1, $2) with dataset_id <= $1 is the whole page for the
 * composite index, and it keeps the planner off the primary key: with "dataset_id = $1 ORDER BY
 * id" it walks the primary key and filters, reading every other domain's rows on the way (ids of
 * one domain are contiguous after an import), 30-100 ms at 1M rows instead of 0.1 ms.
 */
export async function pageExamples(
  db: Queryable,
  datasetId: string,
  domain: string,
  afterId: string,
  limit: number,
): Promise<{ rows: ExampleRow[]; more: boolean }> {
  const r = await db.query<ExampleRow & Record<string, unknown>>(
    `SELECT e.id::text AS id, $4::text AS domain, e.content, e.response, e.metadata, e.created_at FROM examples e
     WHERE (e.dataset_id, e.id) > ($1::bigint, $2::bigint) AND e.dataset_id <= $1::bigint
     ORDER BY e.dataset_id, e.id LIMIT $3`,
    [datasetId, afterId, limit + 1, domain],
  );
  return { rows: r.rows.slice(0, limit), more: r.rows.length > limit };
}

export async function getExample(db: Queryable, id: string): Promise<ExampleRow | undefined> {
  const r = await db.query<ExampleRow & Record<string, unknown>>(
    `SELECT ${EXAMPLE_COLUMNS} FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE e.id = $1`,
    [id],
  );
  return r.rows[0];
}

export async function getExamplesByIds(db: Queryable, ids: string[]): Promise<Map<string, ExampleRow>> {
  if (ids.length === 0) return new Map();
  const r = await db.query<ExampleRow & Record<string, unknown>>(
    `SELECT ${EXAMPLE_COLUMNS} FROM examples e JOIN datasets d ON d.id = e.dataset_id WHERE e.id = ANY($1::bigint[])`,
    [ids],
  );
  return new Map(r.rows.map((row) => [row.id, row]));
}

/** Deletes an example; returns its dataset id, or undefined when there was none. */
export async function deleteExample(
  tx: Queryable,
  id: string,
): Promise<{ datasetId: string; domain: string } | undefined> {
  const r = await tx.query<{ dataset_id: string; domain: string }>(
    `DELETE FROM examples e USING datasets d WHERE e.id = $1 AND d.id = e.dataset_id RETURNING e.dataset_id::text AS dataset_id, d.domain_name AS domain`,
    [id],
  );
  return r.rows[0] ? { datasetId: r.rows[0].dataset_id, domain: r.rows[0].domain } : undefined;
}
