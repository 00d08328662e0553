/**
 * Export: a dataset's examples as JSONL in exactly the shape `mcai import` reads back
 * (`{"content", "response", "metadata"}` per line), read in keyset pages so a domain of any size
 * streams in bounded memory (read ahead: 64 KB and one page at most, see EXPORT_PAGE_ROWS); it pulls
 * the next page only when its reader wants more.
 */
import { Readable } from "node:stream";
import type { Queryable } from "../lib/db";
import { exportPage, type ExportRow } from "./store";

/**
 * Rows read per page: one statement each. A page holds at most this many rows of
 * 2 × EXAMPLE_MAX_CHARS characters (content and response), a few hundred KB for typical rows.
 */
export const EXPORT_PAGE_ROWS = 1000;

/** One JSONL line: the fields import maps back to the same example (content hash included). */
export function exportLine(row: ExportRow): string {
  return `${JSON.stringify({ content: row.content, response: row.response, metadata: row.metadata })}\n`;
}

async function* pages(
  db: Queryable,
  table: "examples" | "examples_archive",
  datasetId: string,
  pageRows: number,
): AsyncGenerator<string> {
  let after = "0";
  for (;;) {
    const rows = await exportPage(db, table, datasetId, after, pageRows);
    if (rows.length === 0) return;
    yield rows.map(exportLine).join("");
    if (rows.length < pageRows) return;
    after = rows[rows.length - 1].id;
  }
}

/**
 * The JSONL of one dataset's live examples, or of its archived ones. Rows present when the
 * export starts come exactly once; rows added during it at most once.
 */
export function exportStream(
  db: Queryable,
  datasetId: string,
  archived: boolean,
  pageRows = EXPORT_PAGE_ROWS,
): Readable {
  // objectMode off: each page is one string chunk; highWaterMark bounds what is read ahead.
  return Readable.from(pages(db, archived ? "examples_archive" : "examples", datasetId, pageRows), {
    objectMode: false,
    highWaterMark: 1 << 16,
  });
}
