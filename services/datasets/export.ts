/**
 * Export: a dataset's examples as JSONL in exactly the shape `mcai import` reads back
 * (`{"content", "response", "metadata"}` per line), read in keyset pages so a domain of any size
 * streams in bounded memory (read ahead: 64 KB and one page at most, see EXPORT_PAGE_CHARS); it pulls
 * the next page only when its reader wants more.
 */
import { Readable } from "node:stream";
import type { Queryable } from "../lib/db";
import { exportPage, type ExportRow } from "./store";

/** Rows read per page at most: one statement each. */
export const EXPORT_PAGE_ROWS = 1000;
/**
 * Characters of content and response per page: a page ends after the row that reaches it, so it
 * holds at most this plus one row's (2 × EXAMPLE_MAX_CHARS). Typical rows fill EXPORT_PAGE_ROWS
 * long before it (a few hundred KB); rows near the size limit would make a page of tens of MB.
 */
export const EXPORT_PAGE_CHARS = 4_000_000;

/** One JSONL line: the fields import maps back to the same example (content hash included). */
export function exportLine(row: ExportRow): string {
  return `${JSON.stringify({ content: row.content, response: row.response, metadata: row.metadata })}\n`;
}

async function* pages(
  db: Queryable,
  table: "examples" | "examples_archive",
  datasetId: string,
  pageRows: number,
  pageChars: number,
): AsyncGenerator<string> {
  let after = "0";
  for (;;) {
    const { rows, more } = await exportPage(db, table, datasetId, after, pageRows, pageChars);
    if (rows.length === 0) return;
    yield rows.map(exportLine).join("");
    if (!more) return;
    after = rows[rows.length - 1].id;
  }
}

/**
 * The JSONL of one dataset's live examples, or of its archived ones. Rows present when the
 * export starts come exactly once; rows added during it at most once. The first page is read
 * before the stream is given: a read that fails at once rejects here, so an HTTP export answers
 * its error instead of a 200 whose body breaks off (a later page's failure can only end the
 * stream with an error).
 */
export async function exportStream(
  db: Queryable,
  datasetId: string,
  archived: boolean,
  pageRows = EXPORT_PAGE_ROWS,
  pageChars = EXPORT_PAGE_CHARS,
): Promise<Readable> {
  const walk = pages(db, archived ? "examples_archive" : "examples", datasetId, pageRows, pageChars);
  const first = await walk.next();
  async function* all(): AsyncGenerator<string> {
    if (first.done) return;
    yield first.value;
    yield* walk;
  }
  // objectMode off: each page is one string chunk; highWaterMark bounds what is read ahead.
  return Readable.from(all(), { objectMode: false, highWaterMark: 1 << 16 });
}
