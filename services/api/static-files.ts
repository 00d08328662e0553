/** The dashboard's files, read once, served with an ETag and revalidation. */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import { PROJECT_ROOT } from "../lib/paths";

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

const FILES: Record<string, [string, string]> = {
  "": ["public/dashboard.html", "text/html; charset=utf-8"],
  "dashboard.js": ["public/dashboard.js", "text/javascript; charset=utf-8"],
  "uplot.js": ["node_modules/uplot/dist/uPlot.iife.min.js", "text/javascript; charset=utf-8"],
  "uplot.css": ["node_modules/uplot/dist/uPlot.min.css", "text/css; charset=utf-8"],
};

const cache = new Map<string, StaticFile>();

function load(name: string): StaticFile | undefined {
  const spec = FILES[name];
  if (!spec) return undefined;
  let f = cache.get(name);
  if (!f) {
    const body = fs.readFileSync(path.join(PROJECT_ROOT, spec[0]));
    f = { body, type: spec[1], etag: `"${crypto.createHash("sha1").update(body).digest("hex").slice(0, 16)}"` };
    cache.set(name, f);
  }
  return f;
}

/** Serves /dashboard and its assets; false when `name` is not one of them. */
export function serveDashboard(req: IncomingMessage, res: ServerResponse, name: string): boolean {
  const f = load(name);
  if (!f) return false;
  if (req.headers["if-none-match"] === f.etag) {
    res.writeHead(304, { ETag: f.etag });
    res.end();
    return true;
  }
  res.writeHead(200, { "Content-Type": f.type, "Content-Length": f.body.length, ETag: f.etag, "Cache-Control": "no-cache" });
  res.end(req.method === "HEAD" ? undefined : f.body);
  return true;
}
