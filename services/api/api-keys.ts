import crypto from "node:crypto";
import type { IncomingMessage } from "node:http";

function digest(s: string): Buffer {
  return crypto.createHash("sha256").update(s).digest();
}

/** The key a request presents: `Authorization: Bearer <key>` or `X-Api-Key: <key>`. */
export function presentedKey(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === "string") {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const key = req.headers["x-api-key"];
  return typeof key === "string" && key.trim() ? key.trim() : undefined;
}

/** Compares against every configured key in constant time per key. */
export function isValidKey(key: string, keys: readonly string[]): boolean {
  const d = digest(key);
  let ok = false;
  for (const k of keys) ok = crypto.timingSafeEqual(d, digest(k)) || ok;
  return ok;
}

/** A short, non-reversible label for a key, used as its rate-limit identity. */
export function keyId(key: string): string {
  return digest(key).toString("hex").slice(0, 16);
}
