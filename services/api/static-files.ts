/**
 * The static files the gateway serves: the web client at / (its assets under content-hashed
 * names, immutable; the HTML revalidated by ETag) and the dashboard at /dashboard. Files are read
 * and compressed (brotli, gzip) once, on first use.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import type { IncomingMessage, ServerResponse } from "node:http";
import { PROJECT_ROOT } from "../lib/paths";

interface Asset {
  body: Buffer;
  br: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
  immutable: boolean;
  /** HTML pages: their Content-Security-Policy (inline <style> blocks allowed by hash). */
  csp?: string;
}

/**
 * The pages' policy: scripts, styles, fetches and event streams from this origin only; artifacts
 * (images, audio) from this origin; never framed. An inline <style> block is allowed by its hash.
 */
export function pageCsp(html: string): string {
  const hashes = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map(
    (m) => `'sha256-${crypto.createHash("sha256").update(m[1]).digest("base64")}'`,
  );
  return [
    "default-src 'self'",
    "script-src 'self'",
    `style-src 'self'${hashes.map((h) => ` ${h}`).join("")}`,
    "img-src 'self' data: blob:",
    "media-src 'self' data: blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

function asset(body: Buffer, type: string, immutable: boolean): Asset {
  return {
    csp: type.startsWith("text/html") ? pageCsp(body.toString("utf8")) : undefined,
    body,
    br: zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }),
    gzip: zlib.gzipSync(body, { level: 9 }),
    type,
    etag: `"${crypto.createHash("sha256").update(body).digest("hex").slice(0, 20)}"`,
    immutable,
  };
}

const read = (rel: string) => fs.readFileSync(path.join(PROJECT_ROOT, rel));

let site: Map<string, Asset> | undefined;

/** URL path → asset. The client's JS and CSS get their content hash in the name. */
function load(): Map<string, Asset> {
  if (site) return site;
  const m = new Map<string, Asset>();
  let html = read("public/index.html").toString("utf8");
  for (const name of ["app.js", "app.css"]) {
    const body = read(`public/${name}`);
    const hash = crypto.createHash("sha256").update(body).digest("hex").slice(0, 12);
    const hashed = name.replace(/\.(\w+)$/, `.${hash}.$1`);
    m.set(`/assets/${hashed}`, asset(body, TYPES[path.extname(name)], true));
    html = html.split(`/assets/${name}`).join(`/assets/${hashed}`);
  }
  m.set("/", asset(Buffer.from(html), TYPES[".html"], false));
  m.set("/dashboard", asset(read("public/dashboard.html"), TYPES[".html"], false));
  m.set("/dashboard/dashboard.js", asset(read("public/dashboard.js"), TYPES[".js"], false));
  m.set("/dashboard/uplot.js", asset(read("node_modules/uplot/dist/uPlot.iife.min.js"), TYPES[".js"], false));
  m.set("/dashboard/uplot.css", asset(read("node_modules/uplot/dist/uPlot.min.css"), TYPES[".css"], false));
  site = m;
  return m;
}

/** Serves `urlPath` when it is one of the static files; false otherwise. */
export function serveStatic(req: IncomingMessage, res: ServerResponse, urlPath: string): boolean {
  const a = load().get(urlPath);
  if (!a) return false;
  const headers: Record<string, string | number> = {
    "Content-Type": a.type,
    ETag: a.etag,
    Vary: "Accept-Encoding",
    "Cache-Control": a.immutable ? "public, max-age=31536000, immutable" : "no-cache",
  };
  if (a.csp) headers["Content-Security-Policy"] = a.csp;
  if (req.headers["if-none-match"] === a.etag) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  const accept = req.headers["accept-encoding"] ?? "";
  let body = a.body;
  if (/\bbr\b/.test(accept)) {
    body = a.br;
    headers["Content-Encoding"] = "br";
  } else if (/\bgzip\b/.test(accept)) {
    body = a.gzip;
    headers["Content-Encoding"] = "gzip";
  }
  headers["Content-Length"] = body.length;
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : body);
  return true;
}
