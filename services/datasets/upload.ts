/**
 * An import sent over HTTP is kept in the database before its job runs (migrations/0008_imports.sql):
 * the bytes in chunks, read back by the job, whichever node runs it and however often it resumes.
 * While the bytes are stored they are parsed too, so a malformed file or one over the size bound
 * is refused (422, 413) before any job exists, and its upload is deleted: nothing changes.
 */
import crypto from "node:crypto";
import { once } from "node:events";
import { PassThrough, Readable } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { Queryable } from "../lib/db";
import { PayloadTooLargeError } from "../lib/errors";
import { MalformedFileError, parseStream, type FileFormat, type RecordResult } from "./records";
import { createUpload, deleteUpload, getUploadChunk, putUploadChunk, sealUpload } from "./store";

/** Bytes per stored chunk. */
const CHUNK_BYTES = 1024 * 1024;
/** Past this much of a refused body, the socket is closed rather than the body read to its end. */
const DISCARD_MAX_BYTES = 64 * 1024 * 1024;

export interface UploadSpec {
  domain: string;
  format: FileFormat;
  filename: string;
  maxBytes: number;
  maxChars: number;
  maxJsonBytes: number;
}

export interface StoredUpload {
  id: string;
  size: number;
  /** Records in the file (rejected ones too). */
  records: number;
  /** sha256 of the bytes: the same file under the same Idempotency-Key is the same job. */
  sha256: string;
}

async function countRecords(records: AsyncIterable<RecordResult>): Promise<number> {
  let n = 0;
  for await (const _r of records) n++;
  return n;
}

/** Reads and drops what is left of `input` (see storeUpload's catch). */
export async function discard(input: Readable, maxBytes = DISCARD_MAX_BYTES): Promise<void> {
  // An ended stream's iterator would wait for an 'end' that has already been.
  if (input.readableEnded || input.destroyed) return;
  let dropped = 0;
  try {
    for await (const chunk of input as AsyncIterable<Buffer | string>) {
      dropped += chunk.length;
      // A body far past what we would take is not worth reading to its end: the socket closes.
      if (dropped > maxBytes) return;
    }
  } catch {
    // the client went away: nothing to answer
  }
}

/**
 * Stores `input` as a new upload and checks that it parses.
 * @throws MalformedFileError (nothing kept), PayloadTooLargeError (413) over maxBytes
 */
export async function storeUpload(db: Queryable, input: Readable, spec: UploadSpec): Promise<StoredUpload> {
  const id = crypto.randomUUID();
  const hash = crypto.createHash("sha256");
  await createUpload(db, { id, domain: spec.domain, format: spec.format, filename: spec.filename });
  const parserInput = new PassThrough();
  const counted = countRecords(parseStream(spec.filename, spec.format, parserInput, spec.maxChars, spec.maxJsonBytes));
  // Awaited below; a parse error before then must not be an unhandled rejection.
  counted.catch(() => undefined);
  let size = 0;
  let n = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (!pendingBytes) return;
    await putUploadChunk(db, id, n++, Buffer.concat(pending));
    pending = [];
    pendingBytes = 0;
  };
  try {
    // Leaving this loop early (a parse error, 413) must not destroy the request: the rest of the
    // body is drained below so that the client reads the 4xx instead of a reset socket.
    for await (const c of input.iterator({ destroyOnReturn: false }) as AsyncIterable<unknown>) {
      const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
      size += chunk.length;
      if (size > spec.maxBytes)
        throw new PayloadTooLargeError(`the file is larger than ${spec.maxBytes} bytes (IMPORT_MAX_MB)`, {
          field: "file",
          limit: spec.maxBytes,
        });
      hash.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= CHUNK_BYTES) await flush();
      // The parser may stop early on an error: then its rejection ends the wait.
      if (!parserInput.write(chunk)) await Promise.race([once(parserInput, "drain"), counted]);
    }
    parserInput.end();
    await flush();
    const records = await counted;
    // An empty file (or one of blank lines) would queue a job that imports nothing.
    if (records === 0) throw new MalformedFileError(spec.filename, "the whole file", "it holds no records");
    await sealUpload(db, id, size, records);
    return { id, size, records, sha256: hash.digest("hex") };
  } catch (err) {
    parserInput.destroy();
    await deleteUpload(db, id);
    // Read the rest before answering: a client still sending when the answer comes and the socket
    // closes sees a reset, not the 4xx. The request timeout bounds a body that never ends.
    await discard(input);
    throw err;
  }
}

/**
 * Bytes handed to the parser per turn of the event loop: readline splits what it is given in one
 * go, and a stored chunk (1 MB) of short lines held the loop for its thousands of lines at once.
 */
export const READ_PIECE_BYTES = 64 * 1024;

/** The bytes of an upload, chunk by chunk (in pieces of READ_PIECE_BYTES, a turn apart), as a stream. */
export function readUpload(db: Queryable, id: string): Readable {
  return Readable.from(
    (async function* () {
      for (let n = 0; ; n++) {
        const chunk = await getUploadChunk(db, id, n);
        if (!chunk) return;
        for (let at = 0; at < chunk.length; at += READ_PIECE_BYTES) {
          if (at > 0) await nextTurn();
          yield chunk.subarray(at, at + READ_PIECE_BYTES);
        }
      }
    })(),
    { objectMode: false },
  );
}
