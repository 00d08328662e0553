/**
 * GET /api/job/:id/events: Server-Sent Events of a job's progress and final state. Each event's
 * id is the job's version, so a client reconnecting with Last-Event-ID gets only what changed.
 * Events come from `job.progress` broadcasts (the job may run on any node), with a poll every
 * 2 s as a safety net; the stream ends after the final state.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { EventEmitter } from "node:events";
import type { ServiceBroker } from "moleculer";
import { FINAL_STATUSES, type JobView } from "../jobs/contract";
import { RateLimitedError, UnavailableError } from "../lib/errors";

const FINAL = new Set<string>(FINAL_STATUSES);
const POLL_MS = 2000;
const PING_MS = 15_000;

/** job.progress events received by this gateway, by job id. */
export class JobEventHub extends EventEmitter {
  constructor() {
    super();
    this.setMaxListeners(0);
  }
}

/**
 * The open event streams of this gateway, in total and per client: each holds a socket and polls
 * the store, so both are bounded (SSE_MAX_STREAMS, SSE_MAX_PER_CLIENT).
 */
export class StreamSlots {
  private total = 0;
  private readonly perClient = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerClient: number,
  ) {}

  /**
   * Takes a slot for `client`; returns its release (idempotent).
   * @throws RateLimitedError (429) when the client has its share open, UnavailableError (503) when the gateway is full.
   */
  acquire(client: string): () => void {
    const mine = this.perClient.get(client) ?? 0;
    if (mine >= this.maxPerClient) {
      throw new RateLimitedError(`at most ${this.maxPerClient} open event streams per client`, 5, {
        limit: this.maxPerClient,
      });
    }
    if (this.total >= this.maxTotal) {
      throw new UnavailableError(`this gateway has its ${this.maxTotal} event streams open`, {
        limit: this.maxTotal,
        retryAfter: 5,
      });
    }
    this.total++;
    this.perClient.set(client, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const n = (this.perClient.get(client) ?? 1) - 1;
      if (n > 0) this.perClient.set(client, n);
      else this.perClient.delete(client);
    };
  }

  get open(): number {
    return this.total;
  }
}

/**
 * Where a stream starts: after the client's Last-Event-ID when that is a version the job has had;
 * from the current state when it is missing, malformed, or beyond the job's version (a client that
 * saw another job's ids, or a store that was reset) so the client always gets the current state.
 */
export function startVersion(lastEventId: unknown, current: number): number {
  const last = Number(lastEventId ?? 0);
  if (!Number.isSafeInteger(last) || last < 0 || last > current) return 0;
  return last;
}

function sse(res: ServerResponse, job: JobView): void {
  const event = FINAL.has(job.status) ? job.status : "progress";
  res.write(`id: ${job.version}\nevent: ${event}\ndata: ${JSON.stringify(job)}\n\n`);
}

export async function streamJobEvents(
  broker: ServiceBroker,
  hub: JobEventHub,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
  release: () => void = () => undefined,
): Promise<void> {
  let first: JobView;
  try {
    first = await broker.call<JobView, { id: string }>("jobs.get", { id });
  } catch (err) {
    release();
    throw err;
  }
  let sent = startVersion(req.headers["last-event-id"], first.version);
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    Connection: "keep-alive",
    "X-Accel-Buffering": "no",
  });
  if ((req as { $head?: boolean }).$head) {
    release();
    res.end();
    return;
  }
  res.write("retry: 2000\n\n");
  let closed = false;
  let busy = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    release();
    hub.off(id, onEvent);
    clearInterval(poll);
    clearInterval(ping);
    res.end();
  };
  const push = (j: JobView) => {
    if (j.version > sent) {
      sent = j.version;
      sse(res, j);
    }
    if (FINAL.has(j.status)) finish();
  };
  async function refresh() {
    if (closed || busy) return;
    busy = true;
    try {
      push(await broker.call<JobView, { id: string }>("jobs.get", { id }));
    } catch {
      // the store is briefly away: the poll tries again
    } finally {
      busy = false;
    }
  }
  // refresh() catches its own errors; the hub's listeners return nothing.
  const onEvent = () => void refresh();
  hub.on(id, onEvent);
  const poll = setInterval(() => void refresh(), POLL_MS);
  const ping = setInterval(() => res.write(": ping\n\n"), PING_MS);
  req.on("close", finish);
  push(first);
}
