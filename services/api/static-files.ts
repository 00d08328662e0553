/**
 * The static files the gateway serves: the web client at / and the API's reference at /docs
 * (Swagger UI from node_modules; their assets under content-hashed names, immutable; the HTML
 * revalidated by ETag) and the dashboard at /dashboard. Files are read once, on first use, and
 * each is compressed (brotli, gzip) once, the first time a client asks for that encoding.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import type { IncomingMessage, ServerResponse } from "node:http";
import { PROJECT_ROOT } from "../lib/paths";

interface Asset {
  body: Buffer;
  /** Compressed copies, made on first request for each. */
  encoded: { br?: Buffer; gzip?: Buffer };
  /** Encodings being compressed in the thread pool (large files). */
  compressing?: Set<"br" | "gzip">;
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
    encoded: {},
    type,
    etag: `"${crypto.createHash("sha256").update(body).digest("hex").slice(0, 20)}"`,
    immutable,
  };
}

const read = (rel: string) => fs.readFileSync(path.join(PROJECT_ROOT, rel));

let site: Map<string, Asset> | undefined;

/** Files served under /assets with their content hash in the name: [served name, file]. */
const HASHED_ASSETS: [string, string][] = [
  ["app.js", "public/app.js"],
  ["app.css", "public/app.css"],
  ["docs.js", "public/docs.js"],
  ["swagger-ui.css", "node_modules/swagger-ui-dist/swagger-ui.css"],
  ["swagger-ui-bundle.js", "node_modules/swagger-ui-dist/swagger-ui-bundle.js"],
];

/** URL path → asset. Pages name their assets /assets/<name>; they are served under hashed names. */
function load(): Map<string, Asset> {
  if (site) return site;
  const m = new Map<string, Asset>();
  const renamed: [string, string][] = [];
  for (const [name, file] of HASHED_ASSETS) {
    const body = read(file);
    const hash = crypto.createHash("sha256").update(body).digest("hex").slice(0, 12);
    const hashed = name.replace(/\.(\w+)$/, `.${hash}.$1`);
    m.set(`/assets/${hashed}`, asset(body, TYPES[path.extname(name)], true));
    renamed.push([`/assets/${name}`, `/assets/${hashed}`]);
  }
  const page = (file: string) =>
    Buffer.from(renamed.reduce((html, [from, to]) => html.split(from).join(to), read(file).toString("utf8")));
  m.set("/", asset(page("public/index.html"), TYPES[".html"], false));
  m.set("/docs", asset(page("public/docs.html"), TYPES[".html"], false));
  m.set("/dashboard", asset(read("public/dashboard.html"), TYPES[".html"], false));
  m.set("/dashboard/dashboard.js", asset(read("public/dashboard.js"), TYPES[".js"], false));
  m.set("/dashboard/uplot.js", asset(read("node_modules/uplot/dist/uPlot.iife.min.js"), TYPES[".js"], false));
  m.set("/dashboard/uplot.css", asset(read("node_modules/uplot/dist/uPlot.min.css"), TYPES[".css"], false));
  site = m;
  return m;
}

/** Every URL path served as a static file. */
export function staticPaths(): string[] {
  return [...load().keys()];
}

/**
 * Up to this size gzip (level 9) runs on the event loop on first request: ~8 ms for the 188 KB
 * Swagger UI stylesheet. Brotli 11 always runs in the thread pool: it takes ~130 ms for the 51 KB
 * uPlot bundle and seconds for the Swagger UI bundle.
 */
const SYNC_GZIP_MAX = 256 * 1024;

/** Starts compressing a file in libuv's thread pool, once per encoding. */
function compressLater(a: Asset, encoding: "br" | "gzip"): void {
  if (a.compressing?.has(encoding)) return;
  (a.compressing ??= new Set()).add(encoding);
  const done = (err: Error | null, out: Buffer) => {
    if (!err) a.encoded[encoding] = out;
    else a.compressing?.delete(encoding);
  };
  if (encoding === "br") zlib.brotliCompress(a.body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }, done);
  else zlib.gzip(a.body, { level: 9 }, done);
}

/**
 * The file in `encoding`, compressed on first request: gzip at once for a small file; brotli, and
 * gzip for a large file, undefined (the caller falls back) until the thread pool has compressed it.
 */
function encoded(a: Asset, encoding: "br" | "gzip"): Buffer | undefined {
  const ready = a.encoded[encoding];
  if (ready) return ready;
  if (encoding === "gzip" && a.body.length <= SYNC_GZIP_MAX)
    return (a.encoded.gzip = zlib.gzipSync(a.body, { level: 9 }));
  compressLater(a, encoding);
  return undefined;
}

const ACCEPTS = { br: /\bbr\b/, gzip: /\bgzip\b/ } as const;

/** The best encoding the client accepts that is ready now (brotli, then gzip), or none. */
function pickEncoding(a: Asset, accept: string): { encoding?: "br" | "gzip"; body: Buffer } {
  for (const encoding of ["br", "gzip"] as const) {
    if (!ACCEPTS[encoding].test(accept)) continue;
    const body = encoded(a, encoding);
    if (body) return { encoding, body };
  }
  return { body: a.body };
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
  const { encoding, body } = pickEncoding(a, accept);
  if (encoding) headers["Content-Encoding"] = encoding;
  headers["Content-Length"] = body.length;
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : body);
  return true;
}
