/**
 * The messages between PgliteDb (main thread) and the worker thread that holds the PGlite
 * session (pglite-worker.ts): one request per PgliteSession call, answered by its id.
 */
import type { PgliteOrigin, PgliteSessionOptions, SessionResult, SessionStatement } from "./pglite-session";

export type WorkerRequest = { id: number } & (
  | { op: "open"; options: PgliteSessionOptions }
  | { op: "query"; text: string; params?: unknown[]; txId?: number; prepare?: string }
  | { op: "batch"; statements: SessionStatement[]; txId?: number; transaction?: boolean }
  | { op: "exec"; sql: string; txId?: number }
  | { op: "begin" }
  | { op: "end"; txId: number; commit: boolean }
  | { op: "setVectorOid"; oid: number | undefined }
  | { op: "dump"; compression: "none" | "gzip" }
  | { op: "close" }
);

/** What each request answers. */
export interface WorkerAnswers {
  open: { origin: PgliteOrigin; templateSkipped?: string };
  query: SessionResult;
  batch: SessionResult[];
  exec: undefined;
  begin: number;
  end: undefined;
  setVectorOid: undefined;
  dump: Blob;
  close: undefined;
}

/** A database error's fields as they cross the thread: its SQLSTATE `code` and the rest. */
export type ErrorFields = Record<string, string | number | boolean>;

export type WorkerReply = { id: number } & ({ ok: true; value: unknown } | { ok: false; error: ErrorFields });

/**
 * The primitive own fields of an error (message, name, code, detail, constraint, position,
 * the query text…): what services/lib/errors.ts and a log need. The parameters and options
 * PGlite attaches stay behind (large, or not cloneable).
 */
export function errorFields(err: unknown): ErrorFields {
  if (!(err instanceof Error)) return { name: "Error", message: String(err) };
  const out: ErrorFields = { name: err.name, message: err.message };
  for (const [k, v] of Object.entries(err)) {
    if (k !== "params" && (typeof v === "string" || typeof v === "number" || typeof v === "boolean")) out[k] = v;
  }
  return out;
}

/** The error back on the caller's side: an Error with the same name, message, `code` and fields. */
export function errorFrom(fields: ErrorFields): Error {
  const { message, name, ...rest } = fields;
  const err = Object.assign(new Error(String(message)), rest);
  err.name = String(name);
  return err;
}
