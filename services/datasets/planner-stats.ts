/**
 * Fresh planner statistics after bulk writes, on both drivers (PGlite has no autovacuum; on
 * Postgres autovacuum comes later, and a page or search planned on stale estimates in between can
 * be a hundred times slower). The rule is autovacuum's own: a table group is analyzed when the rows
 * changed since its last ANALYZE reach 50 + 10% of its estimated rows. Writers call `after` at their
 * end, outside their transaction; small writes add up until they pass the threshold.
 */
import type { Queryable } from "../lib/db";
import { analyzeTables, plannerRowEstimates, type AnalyzedTable } from "./store";

/** Each group's first table is the one whose changes are counted; the others change with it. */
const GROUPS = {
  examples: ["examples", "bm25_postings", "bm25_terms", "datasets"],
  archive: ["examples_archive"],
} as const satisfies Record<string, readonly AnalyzedTable[]>;

export type TableGroup = keyof typeof GROUPS;

const BASE_THRESHOLD = 50;
const SCALE_FACTOR = 0.1;

export class PlannerStats {
  /** Rows changed since the last ANALYZE, per group (this process's writes only). */
  private readonly pending = new Map<TableGroup, number>();

  constructor(private readonly db: Queryable) {}

  /** Counts a write's changed rows and analyzes each group that passed its threshold; returns those. */
  async after(changed: Partial<Record<TableGroup, number>>): Promise<TableGroup[]> {
    for (const [g, n] of Object.entries(changed) as [TableGroup, number][])
      if (n > 0) this.pending.set(g, (this.pending.get(g) ?? 0) + n);
    if (this.pending.size === 0) return [];
    const groups = [...this.pending.keys()];
    const estimates = await plannerRowEstimates(
      this.db,
      groups.map((g) => GROUPS[g][0]),
    );
    const stale = groups.filter(
      (g) => this.pending.get(g)! >= BASE_THRESHOLD + SCALE_FACTOR * Math.max(0, estimates.get(GROUPS[g][0]) ?? 0),
    );
    if (stale.length === 0) return [];
    for (const g of stale) this.pending.delete(g);
    await analyzeTables(
      this.db,
      stale.flatMap((g) => [...GROUPS[g]]),
    );
    return stale;
  }
}
