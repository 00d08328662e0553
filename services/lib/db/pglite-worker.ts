/**
 * The worker thread that holds embedded PGlite (PGLITE_WORKER=1, the default): it runs the
 * statements, index builds, VACUUMs and bytea codecs off the main thread, which then keeps serving
 * while the database works. Answers each request of pglite-protocol.ts in the order PGlite
 * finishes them; PGlite itself serializes statements and holds an open transaction exclusively.
 */
import { parentPort, type MessagePort } from "node:worker_threads";
import { PgliteSession, preparePglite } from "./pglite-session";
import { errorFields, type WorkerReply, type WorkerRequest } from "./pglite-protocol";

function parent(): MessagePort {
  if (!parentPort) throw new Error("pglite-worker runs as a worker thread (new Worker), not as a program");
  return parentPort;
}
const port = parent();
// PGlite's modules load and its WASM compiles while the main thread sends the open (and loads its own).
preparePglite();

let session: PgliteSession | undefined;

function opened(): PgliteSession {
  if (!session) throw new Error("the PGlite worker has no open database");
  return session;
}

/** Below this a copy costs less than handing the buffer over. */
const TRANSFER_MIN_BYTES = 64 * 1024;

/**
 * The large ArrayBuffers a result owns whole (bytea values: see byteaParser), handed over instead
 * of copied. Never a SharedArrayBuffer (not transferable), nor a view on part of a buffer.
 */
function transferables(value: unknown): ArrayBuffer[] {
  // A batch answers a list of results.
  const results = (Array.isArray(value) ? value : [value]) as ({ rows?: unknown } | undefined)[];
  const rows = results.flatMap((r) => (Array.isArray(r?.rows) ? (r.rows as unknown[]) : []));
  const out = new Set<ArrayBuffer>();
  for (const row of rows as Record<string, unknown>[]) {
    for (const v of Object.values(row)) {
      if (
        v instanceof Uint8Array &&
        v.buffer instanceof ArrayBuffer &&
        v.byteOffset === 0 &&
        v.byteLength === v.buffer.byteLength &&
        v.byteLength >= TRANSFER_MIN_BYTES
      )
        out.add(v.buffer);
    }
  }
  return [...out];
}

async function handle(m: WorkerRequest): Promise<unknown> {
  switch (m.op) {
    case "open": {
      session = await PgliteSession.open(m.options);
      return { origin: session.origin, templateSkipped: session.templateSkipped };
    }
    case "query":
      return opened().query(m.text, m.params, m.txId, m.prepare);
    case "batch":
      return opened().batch(m.statements, m.txId, m.transaction);
    case "exec":
      return opened().exec(m.sql, m.txId);
    case "begin":
      return opened().begin();
    case "end":
      return opened().end(m.txId, m.commit);
    case "setVectorOid":
      return opened().setVectorOid(m.oid);
    case "dump":
      return opened().dump(m.compression);
    case "close":
      await session?.close();
      return undefined;
  }
}

function fail(id: number, err: unknown): void {
  const reply: WorkerReply = { id, ok: false, error: errorFields(err) };
  port.postMessage(reply);
}

port.on("message", (m: WorkerRequest) => {
  handle(m).then(
    (value) => {
      const reply: WorkerReply = { id: m.id, ok: true, value };
      try {
        port.postMessage(reply, transferables(value));
      } catch (err) {
        // A value that cannot be cloned: the caller gets an error rather than no answer.
        fail(m.id, err);
      }
    },
    (err: unknown) => fail(m.id, err),
  );
});
