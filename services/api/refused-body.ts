/**
 * A request answered with an error before its body was read (the gate's 401/429/403, or a route's
 * refusal such as authorize's 401 on a streamed import): its body is read and dropped first, within a
 * bound, so a client still sending reads the answer instead of a reset socket; past the bound the
 * answer goes with `Connection: close`, so Node does not go on reading an unbounded body after it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * How much of a refused body is read before answering, and for how long. The client has not
 * proved a key (or is over its budget): a refusal must not let it make the server read an
 * import-sized body or hold the connection for seconds. A body past this is answered with
 * `Connection: close` at once (the client may then see a reset instead of the answer).
 */
const DROP_MAX_BYTES = 1024 * 1024;
const DROP_MAX_MS = 1000;

/**
 * Reads and drops the rest of a request's body, bounded in bytes and time; true when it was read
 * to its end, false when it was too long (by its Content-Length or as it came) or too slow.
 */
export function dropBody(req: IncomingMessage): Promise<boolean> {
  if (req.complete || req.readableEnded || req.destroyed) return Promise.resolve(true);
  if (Number(req.headers["content-length"] ?? 0) > DROP_MAX_BYTES) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    let bytes = 0;
    const done = (ended: boolean) => {
      clearTimeout(timer);
      req.off("data", onData).off("end", onEnd).off("error", onCut).off("close", onCut);
      resolve(ended);
    };
    const onEnd = () => done(true);
    const onCut = () => done(false);
    const onData = (chunk: Buffer | string) => {
      bytes += chunk.length;
      if (bytes > DROP_MAX_BYTES) done(false);
    };
    const timer = setTimeout(onCut, DROP_MAX_MS);
    req.on("data", onData).on("end", onEnd).on("error", onCut).on("close", onCut);
  });
}

const settled = new WeakSet<IncomingMessage>();

/** Reads what is left of a refused request's body (bounded), or marks the answer to close the connection. */
export async function settleRefusedBody(req: IncomingMessage, res: ServerResponse): Promise<void> {
  // The gate settles first and then hands the error to the route's responder: once is enough.
  if (settled.has(req)) return;
  settled.add(req);
  if (await dropBody(req)) return;
  req.pause();
  if (!res.headersSent) res.setHeader("Connection", "close");
}
