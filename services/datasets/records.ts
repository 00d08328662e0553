/**
 * Reading dataset files: JSON (`{"examples": [...]}` or a bare array), JSONL (one object per line)
 * and TXT (one example per blank-line-separated paragraph). JSONL and TXT stream, so a file larger
 * than memory imports; JSON is parsed whole (bounded by the caller). A syntax error stops the file
 * with its line (JSONL, TXT) or position (JSON).
 *
 * The parsers run on the main thread beside request handling: they hand the event loop back every
 * RECORDS_PER_TURN records. readline splits a whole chunk at once and the records then flow through
 * promises only, so without these turns a 1 MB chunk (some thousands of records) was one stretch
 * of 60–100 ms during an import (docs/operations.md).
 */
import crypto from "node:crypto";
import path from "node:path";
import readline from "node:readline";
import type { Readable } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";

/** Records (lines for JSONL and TXT) parsed per turn of the event loop. */
export const RECORDS_PER_TURN = 256;

export type FileFormat = "json" | "jsonl" | "txt";
export const FORMATS: readonly FileFormat[] = ["json", "jsonl", "txt"];

/** One example as it will be stored. */
export interface ExampleInput {
  content: string;
  response: string | null;
  metadata: Record<string, unknown>;
}

/** A record that is well-formed but not an example (no content, too long): counted, skipped. */
export interface Rejected {
  rejected: string;
}

export type RecordResult = ExampleInput | Rejected;

/** The file is not valid in its format: nothing from it is written. */
export class MalformedFileError extends Error {
  constructor(
    readonly file: string,
    readonly where: string,
    detail: string,
  ) {
    super(`${file}: ${where}: ${detail}`);
    this.name = "MalformedFileError";
  }
}

/** The format of a file by its extension, or undefined. */
export function formatOf(file: string): FileFormat | undefined {
  const ext = path.extname(file).slice(1).toLowerCase();
  if (ext === "ndjson") return "jsonl";
  return (FORMATS as readonly string[]).includes(ext) ? (ext as FileFormat) : undefined;
}

/** The domain a file goes to: its stem, lower-cased, with other characters as "-". */
export function domainOf(file: string): string {
  return path
    .basename(file, path.extname(file))
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 64);
}

/** sha256 of the content with whitespace folded and case kept: the dedup key within a domain. */
export function contentHash(content: string): string {
  return crypto.createHash("sha256").update(content.trim().replace(/\s+/g, " ")).digest("hex");
}

/**
 * Maps an object to an example: `content` (or `completion`, or `prompt`) and `response`; a
 * `metadata` object becomes the metadata, and every other field goes into it too (a `prompt`
 * beside `completion` is kept there).
 */
export function toExample(obj: unknown, maxChars: number): RecordResult {
  if (typeof obj === "string") obj = { content: obj };
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return { rejected: "not an object" };
  const o = obj as Record<string, unknown>;
  const key = ["content", "completion", "prompt"].find((k) => {
    const v = o[k];
    return typeof v === "string" && v.trim() !== "";
  });
  if (!key) return { rejected: "no content, completion or prompt" };
  const content = (o[key] as string).trim();
  const response = typeof o.response === "string" ? o.response : o.response == null ? null : JSON.stringify(o.response);
  if (content.length > maxChars || (response?.length ?? 0) > maxChars)
    return { rejected: `longer than ${maxChars} characters` };
  // A `metadata` object is the metadata itself (the shape mcai's own files use); any other
  // field is kept in it beside those keys.
  const given = o.metadata;
  const isObject = given !== null && typeof given === "object" && !Array.isArray(given);
  const metadata: Record<string, unknown> = isObject ? { ...(given as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(o))
    if (k !== key && k !== "response" && !(k === "metadata" && isObject)) metadata[k] = v;
  return { content, response, metadata };
}

function jsonError(file: string, text: string, err: Error): MalformedFileError {
  const m = /position (\d+)/.exec(err.message);
  if (!m) return new MalformedFileError(file, "JSON", err.message);
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const col = pos - before.lastIndexOf("\n");
  return new MalformedFileError(
    file,
    `line ${line}, column ${col} (position ${pos})`,
    err.message.replace(/ in JSON at position \d+.*$/, ""),
  );
}

/** Parses a whole JSON document: `{"examples": [...]}` or a bare array. */
export function* parseJson(file: string, text: string, maxChars: number): Generator<RecordResult> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw jsonError(file, text, err as Error);
  }
  const list = Array.isArray(doc) ? doc : (doc as { examples?: unknown } | null)?.examples;
  if (!Array.isArray(list)) throw new MalformedFileError(file, "JSON", 'expected an array or {"examples": [...]}');
  for (const item of list) yield toExample(item, maxChars);
}

/** Streams JSONL: one JSON object per non-blank line. */
export async function* parseJsonl(file: string, input: Readable, maxChars: number): AsyncGenerator<RecordResult> {
  const rl = readline.createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (n % RECORDS_PER_TURN === 0) await nextTurn();
    if (line.trim() === "") continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      rl.close();
      throw new MalformedFileError(file, `line ${n}`, (err as Error).message);
    }
    yield toExample(obj, maxChars);
  }
}

/** Streams TXT: paragraphs separated by blank lines; each paragraph is one example's content. */
export async function* parseTxt(file: string, input: Readable, maxChars: number): AsyncGenerator<RecordResult> {
  const rl = readline.createInterface({ input, crlfDelay: Infinity });
  let para: string[] = [];
  let n = 0;
  for await (const line of rl) {
    n++;
    if (n % RECORDS_PER_TURN === 0) await nextTurn();
    if (line.includes("\u0000")) {
      rl.close();
      throw new MalformedFileError(file, `line ${n}`, "binary data (NUL byte) in a text file");
    }
    if (line.trim() === "") {
      if (para.length) yield toExample(para.join("\n"), maxChars);
      para = [];
    } else para.push(line);
  }
  if (para.length) yield toExample(para.join("\n"), maxChars);
}

async function readAll(input: Readable, maxBytes: number, file: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of input) {
    size += (c as Buffer).length;
    if (size > maxBytes)
      throw new MalformedFileError(file, "JSON", `larger than ${maxBytes} bytes: use JSONL for large files`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The records of a file in `format`, streaming where the format allows. */
export async function* parseStream(
  file: string,
  format: FileFormat,
  input: Readable,
  maxChars: number,
  maxJsonBytes: number,
): AsyncGenerator<RecordResult> {
  if (format === "jsonl") yield* parseJsonl(file, input, maxChars);
  else if (format === "txt") yield* parseTxt(file, input, maxChars);
  else {
    // JSON.parse of the document is one call (bounded by maxJsonBytes); its records go a few at a turn.
    let n = 0;
    for (const r of parseJson(file, await readAll(input, maxJsonBytes, file), maxChars)) {
      if (++n % RECORDS_PER_TURN === 0) await nextTurn();
      yield r;
    }
  }
}

export function isRejected(r: RecordResult): r is Rejected {
  return "rejected" in r;
}
