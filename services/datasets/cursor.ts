/** Opaque keyset cursors: base64url of "e1:<last id>". */
import { BadRequestError } from "../lib/errors";

export function encodeCursor(lastId: string | number | bigint): string {
  return Buffer.from(`e1:${lastId}`).toString("base64url");
}

/** @throws BadRequestError (400) for anything this service did not make. */
export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const m = /^e1:(\d{1,19})$/.exec(text);
  if (!m || Buffer.from(text).toString("base64url") !== cursor)
    throw new BadRequestError("cursor is not valid: pass back the next_cursor of the previous page", {
      field: "cursor",
    });
  return m[1];
}
