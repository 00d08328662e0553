/** Helpers for the jobs suites: submit over HTTP, wait for a state, read an SSE stream. */
import http from "node:http";
import { eventually, getJson, type Json } from "./processes";

/** The anonymous owner of the jobs the suites submit (a client may keep one token for all its jobs). */
export const OWNER = { "x-owner-token": "suite-owner-token-0123456789abcdef0123456789" };

/** Submits as OWNER unless `headers` say otherwise. */
export async function submit(url: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  return getJson(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...OWNER, ...headers },
    body: JSON.stringify(body),
  });
}

export async function waitFor(
  url: string,
  id: string,
  statuses: string[],
  timeoutMs = 20_000,
  headers: Record<string, string> = OWNER,
): Promise<Json> {
  return eventually(
    async () => {
      const r = await getJson(`${url}/api/job/${id}`, { headers });
      return statuses.includes(r.body.status) ? r.body : undefined;
    },
    timeoutMs,
    `job ${id} to be ${statuses.join(" or ")}`,
  );
}

export interface SseEvent {
  id?: string;
  event?: string;
  data?: Json;
}

/** Reads an SSE stream to its end (or the timeout), parsing events. */
export function readSse(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<{ status: number; events: SseEvent[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      let buf = "";
      const events: SseEvent[] = [];
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: SseEvent = {};
          for (const line of block.split("\n")) {
            const [k, ...v] = line.split(": ");
            if (k === "id") ev.id = v.join(": ");
            if (k === "event") ev.event = v.join(": ");
            if (k === "data") ev.data = JSON.parse(v.join(": "));
          }
          if (ev.event) events.push(ev);
        }
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, events }));
    });
    req.on("error", reject);
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      reject(new Error("SSE stream did not end in time"));
    });
  });
}
