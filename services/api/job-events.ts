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
): Promise<void> {
  const first = await broker.call<JobView, { id: string }>("jobs.get", { id });
  const last = Number(req.headers["last-event-id"] ?? 0);
  let sent = Number.isFinite(last) ? last : 0;
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    Connection: "keep-alive",
    "X-Accel-Buffering": "no",
  });
  res.write("retry: 2000\n\n");
  let closed = false;
  let busy = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    hub.off(id, refresh);
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
  hub.on(id, refresh);
  const poll = setInterval(() => void refresh(), POLL_MS);
  const ping = setInterval(() => res.write(": ping\n\n"), PING_MS);
  req.on("close", finish);
  push(first);
}
