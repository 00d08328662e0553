/**
 * Checks on request input that hold for every route, before any action or database sees it:
 * the nesting depth of a JSON body (scanned on the raw bytes, before JSON.parse, so a body nested
 * 5,000 deep costs one linear pass and a 400, never a deep recursion), and every string and number
 * in the params (no NUL, no lone UTF-16 surrogate, no number past 2^53 or infinite).
 */
import { UnprocessableError } from "../lib/errors";

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** An error body-parser passes on with its status and type (see http-errors.ts). */
export class JsonTooDeepError extends Error {
  readonly status = 400;
  readonly type = "entity.too.deep";
  constructor(readonly limit: number) {
    super(`request body is nested deeper than ${limit} levels`);
  }
}

/** The deepest nesting of arrays and objects in JSON text, stopping as soon as it passes `limit`. */
export function jsonDepthOver(buf: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** body-parser's `verify` option: refuses a body nested deeper than `limit` before it is parsed. */
export function jsonDepthVerifier(limit: number): (req: unknown, res: unknown, buf: Buffer) => void {
  return (_req, _res, buf) => {
    if (jsonDepthOver(buf, limit)) throw new JsonTooDeepError(limit);
  };
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function stringProblem(s: string): string | undefined {
  if (s.includes("\u0000")) return "contains a NUL character";
  if (LONE_SURROGATE.test(s)) return "contains a lone UTF-16 surrogate (not valid Unicode)";
  return undefined;
}

interface Problem {
  path: (string | number)[];
  message: string;
  limit?: number;
}

function problemIn(value: unknown): Problem | undefined {
  if (typeof value === "string") {
    const message = stringProblem(value);
    return message ? { path: [], message } : undefined;
  }
  if (typeof value === "number") {
    // JSON's 1e999 parses to Infinity.
    if (!Number.isFinite(value)) return { path: [], message: "is not a finite number" };
    return Math.abs(value) > Number.MAX_SAFE_INTEGER
      ? { path: [], message: "is beyond the largest accepted number (2^53 - 1)", limit: Number.MAX_SAFE_INTEGER }
      : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      // Numbers are the common large arrays (signals): checked inline, without a call each.
      const v: unknown = value[i];
      if (typeof v === "number" && Math.abs(v) <= Number.MAX_SAFE_INTEGER) continue;
      const p = problemIn(v);
      if (p) return { ...p, path: [i, ...p.path] };
    }
    return undefined;
  }
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const keyProblem = stringProblem(k);
      if (keyProblem) return { path: [], message: `has a key that ${keyProblem}` };
      const p = problemIn(v);
      if (p) return { ...p, path: [k, ...p.path] };
    }
  }
  return undefined;
}

function fieldName(path: (string | number)[]): string {
  return path.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : s ? `${s}.${k}` : k), "");
}

/**
 * Throws a 422 naming the first field whose string (or key) holds a NUL or a lone surrogate, or
 * whose number is an integer beyond ±2^53 (no id, cursor, size or count of ours goes there, and
 * past it JavaScript numbers and Postgres bigints disagree). Depth is bounded by JSON_MAX_DEPTH
 * and by the query parser, so the walk's recursion is too.
 */
export function checkParams(params: unknown): void {
  const p = problemIn(params);
  if (!p) return;
  const field = fieldName(p.path);
  throw new UnprocessableError(`${field || "the request"} ${p.message}`, {
    field,
    ...(p.limit !== undefined ? { limit: p.limit } : {}),
  });
}
