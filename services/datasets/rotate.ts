/**
 * Rotation: the oldest examples of each domain beyond the limit move to examples_archive, every
 * domain in one transaction (the SQL is in store.ts). One node at a time: the run holds a
 * transaction-level advisory lock; a node that cannot take it reports the run as skipped.
 */
import type { Db } from "../lib/db";
import { archiveOldest, bumpVersion, datasetsOver, tryRotationLock } from "./store";

export interface RotationResult {
  skipped: boolean;
  dryRun: boolean;
  max: number;
  domains: { domain: string; moved: number; version?: number }[];
}

export async function rotate(db: Db, max: number, dryRun: boolean): Promise<RotationResult> {
  return db.transaction(async (tx) => {
    if (!(await tryRotationLock(tx))) return { skipped: true, dryRun, max, domains: [] };
    const domains: RotationResult["domains"] = [];
    for (const d of await datasetsOver(tx, max)) {
      if (dryRun) {
        domains.push({ domain: d.domain, moved: d.excess });
        continue;
      }
      const moved = await archiveOldest(tx, d.id, d.excess, db.capabilities.vector);
      const version = await bumpVersion(tx, d.id, -moved, moved);
      domains.push({ domain: d.domain, moved, version });
    }
    return { skipped: false, dryRun, max, domains };
  });
}
