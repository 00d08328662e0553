/**
 * Fresh planner statistics after bulk writes, on both drivers (PGlite has no autovacuum; on
 * Postgres autovacuum comes later, and a page or search planned on stale estimates in between can
 * be a hundred times slower). The rule is autovacuum's own: a table group is analyzed when the rows
 * changed since its last ANALYZE reach 50 + 10% of its estimated rows. Writers call `after` at their
 * end, outside their transaction; small writes add up until they pass the threshold.
 *
 * Embedded mode (`vacuum`) has no autovacuum either, and PGlite runs one statement at a time, so a
 * VACUUM stalls every query of the node for as long as it runs. Its cost is nearly all index
 * cleanup, the HNSW index's above all (bench/vacuum.ts, docs/operations.md), so it is split in two:
 * - a write that deleted rows gets VACUUM (ANALYZE, INDEX_CLEANUP OFF): the heap's dead rows are
 *   pruned and the statistics gathered in a fraction of the time, their index entries left;
 * - the scheduled run (`vacuumDue`) does the full VACUUM (ANALYZE), index cleanup included, of each
 *   table whose dead rows pass autovacuum's vacuum rule (50 + 20% of its live rows), and of no other
 *   (the dead line pointers the heap-only VACUUM leaves are among them: its ANALYZE counts them).
 */
import type { Db } from "../lib/db";
import {
  analyzeTables,
  deadTupleCounts,
  plannerRowEstimates,
  vacuumAnalyze,
  vacuumHeapAnalyze,
  type AnalyzedTable,
} from "./store";

/** Each group's first table is the one whose changes are counted; the others change with it. */
const GROUPS = {
  examples: ["examples", "bm25_postings", "bm25_terms", "datasets"],
  archive: ["examples_archive"],
} as const satisfies Record<string, readonly AnalyzedTable[]>;

export type TableGroup = keyof typeof GROUPS;

const BASE_THRESHOLD = 50;
const SCALE_FACTOR = 0.1;
/** autovacuum_vacuum_threshold and autovacuum_vacuum_scale_factor's defaults. */
const VACUUM_BASE_THRESHOLD = 50;
const VACUUM_SCALE_FACTOR = 0.2;

/** A table's dead rows against autovacuum's rule, as the scheduled run saw them. */
export interface VacuumCandidate {
  table: string;
  dead: number;
  live: number;
}

export class PlannerStats {
  /** Rows changed since the last ANALYZE, per group (this process's writes only). */
  private readonly pending = new Map<TableGroup, number>();
  /** @param vacuum vacuum as well after deletes (embedded mode: PGlite has no autovacuum). */
  constructor(
    // The Db, not a transaction's handle: VACUUM cannot run inside one.
    private readonly db: Db,
    private readonly vacuum = false,
  ) {}

  /**
   * Counts a write's changed rows and analyzes each group that passed its threshold; when the
   * write `deleted` rows (from examples: the only table writers delete from) and this is embedded
   * mode, that is a heap-only VACUUM (ANALYZE, INDEX_CLEANUP OFF). Returns those groups and
   * whether they were vacuumed.
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
      (g) =>
        (this.pending.get(g) ?? 0) >= BASE_THRESHOLD + SCALE_FACTOR * Math.max(0, estimates.get(GROUPS[g][0]) ?? 0),
    );
    if (stale.length === 0) return { groups: [], vacuumed: false };
    for (const g of stale) this.pending.delete(g);
    const tables = stale.flatMap((g) => [...GROUPS[g]]);
    const vacuumed = this.vacuum && deleted;
    await (vacuumed ? vacuumHeapAnalyze(this.db, tables) : analyzeTables(this.db, tables));
    return { groups: stale, vacuumed };
  }

  /**
   * Embedded mode's scheduled run: VACUUM (ANALYZE) with index cleanup of each table whose dead
   * rows (n_dead_tup) pass 50 + 20% of its live rows. The dead line pointers a heap-only VACUUM
   * leaves behind count there: its ANALYZE reports them as dead rows, so they stay owed until an
   * index cleanup, across restarts too. Returns the tables vacuumed (none: nothing to do).
   */
  async vacuumDue(): Promise<VacuumCandidate[]> {
    const due = (await deadTupleCounts(this.db)).filter(
      (c) => c.dead > VACUUM_BASE_THRESHOLD + VACUUM_SCALE_FACTOR * c.live,
    );
    if (due.length)
      await vacuumAnalyze(
        this.db,
        due.map((c) => c.table),
      );
    return due.map(({ name, dead, live }) => ({ table: name, dead, live }));
  }
}
