/**
 * Rotation: the oldest examples of a domain beyond the limit move to examples_archive in one
 * transaction per domain. One node at a time: the run holds a transaction-level advisory lock;
 * a node that cannot take it reports the run as skipped.
 */
import type { Db } from "../lib/db";
import { bumpVersion } from "./store";

export interface RotationResult {
  skipped: boolean;
  dryRun: boolean;
  max: number;
  domains: { domain: string; moved: number; version?: number }[];
}

export async function rotate(db: Db, max: number, dryRun: boolean): Promise<RotationResult> {
  const embedding = db.capabilities.vector ? ", embedding" : "";
  return db.transaction(async (tx) => {
    const lock = await tx.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext('mcai.rotate')) AS ok");
    if (!lock.rows[0].ok) return { skipped: true, dryRun, max, domains: [] };
    const over = await tx.query<{ id: string; domain: string; excess: number }>(
      `SELECT id::text AS id, domain_name AS domain, (example_count - $1)::float8 AS excess FROM datasets WHERE example_count > $1 ORDER BY domain_name FOR UPDATE`,
      [max],
    );
    const domains: RotationResult["domains"] = [];
    for (const d of over.rows) {
      if (dryRun) {
        domains.push({ domain: d.domain, moved: d.excess });
        continue;
      }
      const moved = await tx.query(
        `WITH moved AS (
           DELETE FROM examples WHERE id IN (SELECT id FROM examples WHERE dataset_id = $1 ORDER BY id LIMIT $2)
           RETURNING id, dataset_id, content, response, metadata, content_hash, created_at${embedding}
         )
         INSERT INTO examples_archive (id, dataset_id, content, response, metadata, content_hash, created_at${embedding})
         SELECT id, dataset_id, content, response, metadata, content_hash, created_at${embedding} FROM moved`,
        [d.id, d.excess],
      );
      const version = await bumpVersion(tx, d.id, -moved.rowCount, moved.rowCount);
      domains.push({ domain: d.domain, moved: moved.rowCount, version });
    }
    return { skipped: false, dryRun, max, domains };
  });
}
