/**
 * Opaque keyset cursors of a domain's pages: base64url of "e2:<dataset id>:<last id>". The dataset
 * id makes a cursor of one domain's pages useless on another's (400, not a silent wrong page).
 */
import { BadRequestError } from "../lib/errors";

/** The largest bigint: ids beyond it cannot be ours (and would fail in the database). */
const MAX_ID = 9223372036854775807n;

export function encodeCursor(datasetId: string | number | bigint, lastId: string | number | bigint): string {
  return Buffer.from(`e2:${datasetId}:${lastId}`).toString("base64url");
}

/**
 * The dataset id and last example id a cursor carries.
 * @throws BadRequestError (400) for anything this service did not make.
 */
export function parseCursor(cursor: string): { datasetId: string; lastId: string } {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const m = /^e2:(\d{1,19}):(\d{1,19})$/.exec(text);
  if (!m || Buffer.from(text).toString("base64url") !== cursor || BigInt(m[1]) > MAX_ID || BigInt(m[2]) > MAX_ID)
    throw new BadRequestError("cursor is not valid: pass back the next_cursor of the previous page", {
      field: "cursor",
    });
  return { datasetId: m[1], lastId: m[2] };
}
