/**
 * Fresh planner statistics after bulk writes, on both drivers (PGlite has no autovacuum; on
 * Postgres autovacuum comes later, and a page or search planned on stale estimates in between can
 * be a hundred times slower). The rule is autovacuum's own: a table group is analyzed when the rows
 * changed since its last ANALYZE reach 50 + 10% of its estimated rows. Writers call `after` at their
 * end, outside their transaction; small writes add up until they pass the threshold. In embedded
 * mode (`vacuum`), a write that deleted rows gets VACUUM (ANALYZE) instead: nothing else would
 * reclaim its dead rows or set the visibility map that index-only scans need.
 */
import type { Queryable } from "../lib/db";
import { analyzeTables, plannerRowEstimates, vacuumAnalyze, type AnalyzedTable } from "./store";

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

  /** @param vacuum vacuum as well after deletes (embedded mode: PGlite has no autovacuum). */
  constructor(
    private readonly db: Queryable,
    private readonly vacuum = false,
  ) {}

  /**
   * Counts a write's changed rows and analyzes each group that passed its threshold (vacuuming too
   * when the write `deleted` rows and this is embedded mode); returns those groups and whether they
   * were vacuumed.
   */
  async after(
    changed: Partial<Record<TableGroup, number>>,
    deleted = false,
  ): Promise<{ groups: TableGroup[]; vacuumed: boolean }> {
    for (const [g, n] of Object.entries(changed) as [TableGroup, number][])
      if (n > 0) this.pending.set(g, (this.pending.get(g) ?? 0) + n);
    if (this.pending.size === 0) return { groups: [], vacuumed: false };
    const groups = [...this.pending.keys()];
    const estimates = await plannerRowEstimates(
      this.db,
      groups.map((g) => GROUPS[g][0]),
    );
    const stale = groups.filter(
      (g) => this.pending.get(g)! >= BASE_THRESHOLD + SCALE_FACTOR * Math.max(0, estimates.get(GROUPS[g][0]) ?? 0),
    );
    if (stale.length === 0) return { groups: [], vacuumed: false };
    for (const g of stale) this.pending.delete(g);
    const tables = stale.flatMap((g) => [...GROUPS[g]]);
    const vacuumed = this.vacuum && deleted;
    await (vacuumed ? vacuumAnalyze(this.db, tables) : analyzeTables(this.db, tables));
    return { groups: stale, vacuumed };
  }
}
