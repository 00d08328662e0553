/**
 * Reaching the node that owns an embedded data folder: the CLI's commands (import, rotate, export,
 * backup) hand their work to it over its API, with the token it left in the folder's node.json.
 */
import http from "node:http";
import type { Readable } from "node:stream";
import type { DataDirBusyError } from "../../services/lib/db";
import { readNodeFile, type NodeFile } from "../../services/api/local-admin";

/** The running node that holds the folder `busy` names; throws when it left no node.json. */
export function runningNode(dataDir: string, busy: DataDirBusyError): NodeFile {
  const info = readNodeFile(dataDir);
  if (!info)
    throw new Error(`${busy.message}, and it left no node.json to reach it (is it running the api service?)`, {
      cause: busy,
    });
  return info;
}

/** The message of the gateway's error shape `{error: {message}}`, when `text` is one. */
function errorMessage(text: string): string | undefined {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } } | null)?.error?.message;
    return typeof message === "string" ? message : undefined;
  } catch {
    return undefined;
  }
}

/** Reads an error answer to its end and rejects with its message. */
function rejectWith(res: http.IncomingMessage, reject: (err: Error) => void): void {
  let text = "";
  res.setEncoding("utf8");
  res.on("data", (d: string) => (text += d));
  res.on("end", () => reject(new Error(errorMessage(text) ?? `HTTP ${res.statusCode ?? 500}`)));
}

/** A JSON request to the node; an error status rejects with the error's message. */
export function httpJson<T>(
  port: number,
  token: string,
  method: string,
  urlPath: string,
  body?: Readable | string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path: urlPath,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": typeof body === "string" ? "application/json" : "application/octet-stream",
        },
      },
      (res) => {
        if ((res.statusCode ?? 500) >= 400) {
          rejectWith(res, reject);
          return;
        }
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          try {
            resolve(JSON.parse(text) as T);
          } catch {
            reject(new Error(`the node answered ${res.statusCode ?? 200} with no JSON: ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on("error", reject);
    if (typeof body === "string") req.end(body);
    else if (body) body.pipe(req);
    else req.end();
  });
}

/** A GET whose answer is streamed back; an error status rejects with the error's message. */
export function httpStream(port: number, token: string, urlPath: string): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: "127.0.0.1", port, path: urlPath, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        if ((res.statusCode ?? 500) < 400) resolve(res);
        else rejectWith(res, reject);
      },
    );
    req.on("error", reject);
  });
}
