/**
 * fast-check arbitraries of bad requests, built from the gateway's own OpenAPI document (every
 * route it serves, with the fastest-validator schemas of their params): bad bodies, bad query
 * strings, cursors, path params and made-up keys, for the property suite of issue 12
 * (test/integration/abuse-properties.test.ts). A valid request of each operation is made from its
 * schema; a bad one replaces one of its values (or the whole body) with one from the pools below.
 */
import fc from "fast-check";

/** What the generators read of a JSON Schema (the OpenAPI document's subset). */
export interface Schema {
  type?: string;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
}

/** One route of the document. */
export interface Operation {
  method: string;
  /** "/api/job/{id}" as the document writes it. */
  template: string;
  pathParams: string[];
  query: Record<string, Schema>;
  /** The JSON body's schema, when the route takes one. */
  body?: Schema;
  admin: boolean;
  /** A streamed (non-JSON) body: the import. */
  streamed: boolean;
}

/** A request to send. `body` is the exact text (JSON that JSON.stringify cannot write, too). */
export interface Probe {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** What the generator changed, for the failure message and the tallies. */
  label: string;
}

interface OpenApiDoc {
  paths: Record<string, Record<string, OpenApiOp>>;
}
interface OpenApiOp {
  parameters?: { name: string; in: string; schema?: Schema }[];
  requestBody?: { content: Record<string, { schema?: Schema }> };
  security?: Record<string, unknown>[];
}

/** Every operation of the document. */
export function operationsOf(doc: OpenApiDoc): Operation[] {
  const ops: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) {
      const params = op.parameters ?? [];
      const content = op.requestBody?.content ?? {};
      ops.push({
        method: method.toUpperCase(),
        template,
        pathParams: params.filter((p) => p.in === "path").map((p) => p.name),
        query: Object.fromEntries(params.filter((p) => p.in === "query").map((p) => [p.name, p.schema ?? {}])),
        body: "application/json" in content ? content["application/json"].schema : undefined,
        admin: op.security?.length === 2, // admin routes list only the two key schemes
        streamed: "application/octet-stream" in content,
      });
    }
  return ops;
}

/** Valid values of the path params and string fields whose schema is a pattern. */
export interface Fixtures {
  domain: string;
  exampleId: string;
  jobId: string;
  artifactId: string;
  feedbackId: string;
  file: string;
  emotion: string;
}

/** A value the schema accepts (the smallest, mostly): the base a bad request changes one value of. */
export function validValue(name: string, s: Schema, f: Fixtures): unknown {
  if (s.enum) return s.enum[0];
  if (s.type === "boolean") return true;
  if (s.type === "integer" || s.type === "number") {
    const low = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1);
    return s.maximum !== undefined ? Math.min(low, s.maximum) : low;
  }
  if (name === "examples") return [{ content: "an example the abuse suite adds" }];
  if (s.type === "array") return Array.from({ length: Math.max(s.minItems ?? 1, 4) }, () => 440);
  if (s.type === "object") return validObject(s, f);
  if (name === "domain") return f.domain;
  if (name === "answer_id") return `a1-${"0".repeat(40)}`;
  if (name === "example_id") return f.exampleId;
  return "x";
}

function validObject(s: Schema, f: Fixtures): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.properties ?? {})) out[k] = validValue(k, v, f);
  return out;
}

/** The value of a path param that names something that exists (or could). */
function validPathParam(op: Operation, name: string, f: Fixtures): string {
  if (name === "domain") return f.domain;
  if (name === "name") return f.emotion;
  if (name === "file") return f.file;
  if (op.template.startsWith("/api/examples")) return f.exampleId;
  if (op.template.startsWith("/api/artifacts")) return f.artifactId;
  if (op.template.startsWith("/api/admin/feedback")) return f.feedbackId;
  return f.jobId;
}

/** The route's path with `values` in place of its params (already encoded). */
function fill(op: Operation, values: Record<string, string>): string {
  return op.template.replace(/\{([A-Za-z0-9_]+)\}/g, (_m, n: string) => values[n]);
}

export function validPath(op: Operation, f: Fixtures): string {
  return fill(op, Object.fromEntries(op.pathParams.map((n) => [n, encodeURIComponent(validPathParam(op, n, f))])));
}

/** A JSON value written as is: NaN, 1e400, a number past 2^64, a lone surrogate's escape. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON text of `v`, with RawJson written verbatim (JSON.stringify cannot write them). */
export function jsonText(v: unknown): string {
  if (v instanceof RawJson) return v.text;
  if (Array.isArray(v)) return `[${v.map(jsonText).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`)
      .join(",")}}`;
  return JSON.stringify(v === undefined ? null : v);
}

/** Percent-encodes a string that may hold lone surrogates (encodeURIComponent throws on them). */
export function percentEncode(s: string): string {
  return Array.from(s)
    .map((ch) => {
      const c = ch.charCodeAt(0);
      if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff)
        return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
          .map((b) => `%${b.toString(16).toUpperCase()}`)
          .join("");
      return encodeURIComponent(ch);
    })
    .join("");
}

const BAD_CHARS = ["\u0000", "\ud800", "\udfff", "\udbff", "\udc00", "\u0000\ud83d"];

/** A string with a NUL or a lone surrogate somewhere in it. */
export const badUnicode = fc
  .tuple(fc.string({ maxLength: 12 }), fc.constantFrom(...BAD_CHARS), fc.string({ maxLength: 12 }))
  .map(([a, bad, b]) => a + bad + b);

const HUGE_NUMBERS = [
  "1e308",
  "-1e308",
  "1e400",
  "-1e400",
  "9223372036854775808",
  "18446744073709551616",
  "9007199254740993",
  "-9007199254740993",
  "99999999999999999999999999",
  "-0",
  "1e-400",
  "NaN",
  "Infinity",
];

/** Nested `depth` deep, arrays and objects mixed. */
function nested(depth: number, kinds: boolean[]): RawJson {
  const open = kinds.slice(0, depth).map((a) => (a ? "[" : '{"k":'));
  const close = [...open].reverse().map((o) => (o === "[" ? "]" : "}"));
  return new RawJson(`${open.join("")}1${close.join("")}`);
}

const deepValue = fc
  .tuple(fc.integer({ min: 65, max: 6000 }), fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }))
  .map(([depth, bits]) =>
    nested(
      depth,
      Array.from({ length: depth }, (_, i) => bits[i % 64]),
    ),
  );

/** Values no field of ours takes: huge and non-finite numbers, wrong types, bad Unicode, oversized strings, deep nesting. */
export function badValue(s: Schema): fc.Arbitrary<{ value: unknown; kind: string }> {
  const over = (s.maxLength ?? 2000) + 1;
  return fc.oneof(
    fc.constantFrom(...HUGE_NUMBERS).map((t) => ({ value: new RawJson(t), kind: `number ${t}` })),
    fc.integer({ min: -1_000_000, max: -1 }).map((n) => ({ value: n, kind: "negative number" })),
    fc.double({ min: -1e12, max: 1e12, noNaN: true }).map((n) => ({ value: n, kind: "fraction" })),
    fc
      .constantFrom<unknown>(null, true, false, [], {}, "", "1", [1, "a"], { $ne: 1 }, "0x10", " ")
      .map((v) => ({ value: v, kind: `wrong type ${JSON.stringify(v)}` })),
    badUnicode.map((v) => ({ value: v, kind: "NUL or lone surrogate" })),
    fc.constantFrom(over, 70_000, 2_000_000).map((n) => ({ value: "a".repeat(n), kind: `string of ${n}` })),
    deepValue.map((v) => ({ value: v, kind: "deep nesting" })),
    fc
      .constantFrom("' OR '1'='1", "1; DROP TABLE examples; --", "x' UNION SELECT * FROM jobs --", "$1")
      .map((v) => ({ value: v, kind: "SQL text" })),
  );
}

/** The fields of a body schema as paths, nested options included. */
function fieldPaths(s: Schema, prefix: string[] = []): { path: string[]; schema: Schema }[] {
  const out: { path: string[]; schema: Schema }[] = [];
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    out.push({ path: [...prefix, k], schema: v });
    if (v.type === "object") out.push(...fieldPaths(v, [...prefix, k]));
  }
  return out;
}

function setAt(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
  o[path[path.length - 1]] = value;
}

/** Who a probe comes as: nobody, an admin key, a client key, an anonymous owner. */
export interface Identities {
  adminKey: string;
  clientKey: string;
  ownerToken: string;
}

function identity(ids: Identities, admin: boolean): fc.Arbitrary<Record<string, string>> {
  const all: Record<string, string>[] = [{}, { "x-api-key": ids.clientKey }, { "x-owner-token": ids.ownerToken }];
  // Admin routes get the admin key most of the time: without it the 401 comes before the validator.
  return admin
    ? fc.oneof(
        { weight: 3, arbitrary: fc.constant<Record<string, string>>({ "x-api-key": ids.adminKey }) },
        fc.constantFrom(...all),
      )
    : fc.constantFrom<Record<string, string>>(...all, { authorization: `Bearer ${ids.clientKey}` });
}

const JSON_HEADERS = { "content-type": "application/json" };

/** Bad JSON bodies for every route that takes one: one field made bad, extra fields, or a bad whole body. */
export function badBodies(ops: Operation[], f: Fixtures, ids: Identities): fc.Arbitrary<Probe> {
  const withBody = ops.filter((o) => o.method === "POST" && !o.streamed);
  return fc.constantFrom(...withBody).chain((op) => {
    const base = validObject(op.body ?? {}, f);
    const fields = fieldPaths(op.body ?? {});
    const oneField =
      fields.length === 0
        ? fc.constant({ body: base, label: "no fields" })
        : fc.constantFrom(...fields).chain((field) =>
            badValue(field.schema).map(({ value, kind }) => {
              const body = structuredClone(base);
              setAt(body, field.path, value);
              return { body: body, label: `${field.path.join(".")}: ${kind}` };
            }),
          );
    const extra = fc
      .dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 4 })
      .map((d) => ({ body: { ...base, ...d }, label: "extra fields" }));
    const badKey = badUnicode.map((k) => ({ body: { ...base, [k]: 1 }, label: "bad Unicode in a key" }));
    const whole = fc.oneof(
      badValue({}).map(({ value, kind }) => ({ body: value, label: `whole body: ${kind}` })),
      fc
        .constantFrom("{", "[1,2", '{"a":', "\u0000", "{'a':1}", '{"a":1}{"b":2}', "\ufeff{}")
        .map((t) => ({ body: new RawJson(t), label: `malformed ${JSON.stringify(t)}` })),
    );
    return fc
      .tuple(fc.oneof({ weight: 4, arbitrary: oneField }, extra, badKey, whole), identity(ids, op.admin))
      .map(([{ body, label }, headers]) => ({
        method: op.method,
        path: validPath(op, f),
        headers: { ...JSON_HEADERS, ...headers },
        body: jsonText(body),
        label: `${op.method} ${op.template} ${label}`,
      }));
  });
}

/** Query values as they arrive in a URL: already percent-encoded. */
const badQueryValue: fc.Arbitrary<{ text: string; kind: string }> = fc.oneof(
  badUnicode.map((v) => ({ text: percentEncode(v), kind: "NUL or lone surrogate" })),
  fc.constantFrom(...HUGE_NUMBERS, "-1", "0", "1.5", "0x10", "1e3", " 1", "true").map((t) => ({
    text: encodeURIComponent(t),
    kind: `number ${t}`,
  })),
  fc.constantFrom(2001, 7000).map((n) => ({ text: "a".repeat(n), kind: `string of ${n}` })),
  fc.constantFrom("' OR '1'='1", "1;DROP TABLE jobs--", "%", "%zz", "%C0%AF", "%FF%FE").map((t) => ({
    text: t.startsWith("%") ? t : encodeURIComponent(t),
    kind: `text ${t}`,
  })),
  fc.string({ maxLength: 20, unit: "binary" }).map((v) => ({ text: percentEncode(v), kind: "random Unicode" })),
);

/** One query param in a bad form: a bad value, repeated (an array), nested (an object), or unknown. */
function badQueryParam(names: string[]): fc.Arbitrary<{ text: string; kind: string }> {
  const name = names.length ? fc.constantFrom(...names) : fc.constant("q");
  return fc.oneof(
    fc.tuple(name, badQueryValue).map(([n, v]) => ({ text: `${n}=${v.text}`, kind: `${n}: ${v.kind}` })),
    name.map((n) => ({ text: `${n}=1&${n}=2`, kind: `${n} repeated` })),
    name.map((n) => ({ text: `${n}[a][b]=1`, kind: `${n} nested` })),
    name.map((n) => ({ text: `${n}[]=1`, kind: `${n} as an array` })),
    fc.constantFrom("__proto__[x]=1", "constructor[prototype][x]=1", "$$strict=false", "$params=1").map((t) => ({
      text: t,
      kind: `param ${t}`,
    })),
  );
}

/** Routes a keyed probe may reach: the backup is a whole database dump (bench, not abuse). */
const keyed = (ops: Operation[]) => ops.filter((o) => o.template !== "/api/admin/backup");

/** A GET or DELETE of every route with one or two query params made bad. */
export function badQueries(ops: Operation[], f: Fixtures, ids: Identities): fc.Arbitrary<Probe> {
  const targets = keyed(ops).filter((o) => o.method === "GET" || o.method === "DELETE");
  return fc.constantFrom(...targets).chain((op) =>
    fc
      .tuple(fc.array(badQueryParam(Object.keys(op.query)), { minLength: 1, maxLength: 2 }), identity(ids, op.admin))
      .map(([params, headers]) => ({
        method: op.method,
        path: `${validPath(op, f)}?${params.map((p) => p.text).join("&")}`,
        headers,
        label: `${op.method} ${op.template} ${params.map((p) => p.kind).join(", ")}`,
      })),
  );
}

/** Path params that name nothing: traversal forms, SQL text, overflowing ids, bad Unicode. Already encoded. */
const TRAVERSALS = [
  "..%2f..%2fetc%2fpasswd",
  "%2e%2e%2f%2e%2e%2fpackage.json",
  "..%5c..%5cpackage.json",
  "%252e%252e%252fpackage.json",
  "....%2f%2fpackage.json",
  "..%c0%afpackage.json",
  "..%2f.env",
  "%2e%2e",
  "..%00",
  ".%00.",
  "..;",
  "%2f",
  "%2fetc%2fpasswd",
  "..%2f..%2fservices%2fapi.service.ts",
  "index.html%00.png",
];
/** Bad path params of every name; a domain may be all digits, so numbers are no bad domain. */
function badPathParam(name: string): fc.Arbitrary<{ text: string; kind: string }> {
  const forms: fc.Arbitrary<{ text: string; kind: string }>[] = [
    fc.constantFrom(...TRAVERSALS).map((t) => ({ text: t, kind: `traversal ${t}` })),
    fc
      .constantFrom(
        "1' OR '1'='1",
        "1;DROP TABLE examples--",
        "1 UNION SELECT 1",
        "00000000-0000-4000-8000-000000000000'",
      )
      .map((t) => ({ text: encodeURIComponent(t), kind: `SQL ${t}` })),
    badUnicode.map((v) => ({ text: percentEncode(v), kind: "NUL or lone surrogate" })),
    fc.constantFrom(65, 300, 5000).map((n) => ({ text: "a".repeat(n), kind: `${n} characters` })),
  ];
  if (name !== "domain")
    forms.push(
      fc.bigInt({ min: 2n ** 63n - 1n, max: 10n ** 40n }).map((n) => ({ text: String(n), kind: "overflowing id" })),
      fc.constantFrom("-1", "0x1", "1e3", "1.5").map((t) => ({ text: t, kind: `number ${t}` })),
    );
  return fc.oneof(...forms);
}

/** Every route with a path param, one param made bad. */
export function badPaths(ops: Operation[], f: Fixtures, ids: Identities): fc.Arbitrary<Probe> {
  const targets = keyed(ops).filter((o) => o.pathParams.length && !o.streamed);
  return fc.constantFrom(...targets).chain((op) =>
    fc
      .constantFrom(...op.pathParams)
      .chain((name) => fc.tuple(fc.constant(name), badPathParam(name), identity(ids, op.admin)))
      .map(([name, bad, headers]) => {
        const values = Object.fromEntries(op.pathParams.map((n) => [n, encodeURIComponent(validPathParam(op, n, f))]));
        values[name] = bad.text;
        const body = op.body ? jsonText(validObject(op.body, f)) : undefined;
        return {
          method: op.method,
          path: fill(op, values),
          headers: body ? { ...JSON_HEADERS, ...headers } : headers,
          body,
          label: `${op.method} ${op.template} ${name}: ${bad.kind}`,
        };
      }),
  );
}

/** What the cursor suite needs to know of the data: the domain paged, another domain's dataset id and cursor. */
export interface CursorFixtures {
  domain: string;
  datasetId: string;
  otherDatasetId: string;
  /** A real next_cursor of the other domain's pages. */
  otherCursor: string;
}

/** A cursor probe and what it must get: a 4xx (`refused`), or either (a forged cursor may name a real page). */
export interface CursorProbe extends Probe {
  refused: boolean;
}

const MAX_BIGINT = 2n ** 63n - 1n;
const b64 = (s: string) => Buffer.from(s).toString("base64url");

/** Cursors a page never gave out: random bytes, another domain's, overflowing, forged. */
export function badCursors(c: CursorFixtures, ids: Identities): fc.Arbitrary<CursorProbe> {
  const id = fc.bigInt({ min: 0n, max: 10n ** 25n });
  const examples = (cursor: string) => `/api/datasets/${c.domain}/examples?limit=2&cursor=${cursor}`;
  const probe = (path: string, label: string, refused: boolean, headers: Record<string, string> = {}) => ({
    method: "GET",
    path,
    headers,
    label,
    refused,
  });
  return fc.oneof(
    fc
      .uint8Array({ minLength: 1, maxLength: 48 })
      .chain((bytes) =>
        fc.constantFrom(
          probe(examples(Buffer.from(bytes).toString("base64url")), "random base64url", true),
          probe(examples(encodeURIComponent(Buffer.from(bytes).toString("base64"))), "random base64", true),
          probe(`/api/jobs?cursor=${Buffer.from(bytes).toString("base64url")}`, "random jobs cursor", true),
          probe(
            `/api/admin/feedback?cursor=${Buffer.from(bytes).toString("base64url")}`,
            "random feedback cursor",
            true,
            { "x-api-key": ids.adminKey },
          ),
        ),
      ),
    fc.constant(probe(examples(c.otherCursor), "another domain's real cursor", true)),
    id.map((n) => probe(examples(b64(`e2:${c.otherDatasetId}:${n}`)), "forged, another domain's id", true)),
    fc
      .tuple(fc.bigInt({ min: MAX_BIGINT + 1n, max: 10n ** 19n - 1n }), fc.boolean())
      .map(([n, which]) =>
        probe(examples(b64(which ? `e2:${n}:1` : `e2:${c.datasetId}:${n}`)), "dataset or example id past bigint", true),
      ),
    fc
      .bigInt({ min: MAX_BIGINT + 1n, max: 10n ** 30n })
      .map((n) => probe(`/api/jobs?cursor=${n}`, "jobs cursor past bigint", true)),
    fc.bigInt({ min: 10n ** 18n, max: 10n ** 30n }).map((n) =>
      probe(`/api/admin/feedback?cursor=${n}`, "feedback cursor past its 18 digits", true, {
        "x-api-key": ids.adminKey,
      }),
    ),
    fc
      .string({ maxLength: 64 })
      .map((s) => probe(`/api/search?q=x&cursor=${percentEncode(s || "x")}`, "any search cursor", true)),
    // A forged cursor of the right domain names a real (maybe empty) page: a 200 is right.
    fc
      .bigInt({ min: 0n, max: MAX_BIGINT })
      .map((n) => probe(examples(b64(`e2:${c.datasetId}:${n}`)), "forged, own domain", false)),
  );
}

/** Made-up keys: as X-Api-Key, as a Bearer token, or a Bearer header without one. */
export const madeUpKey: fc.Arbitrary<{ headers: Record<string, string>; kind: string }> = fc
  .tuple(
    fc.string({
      minLength: 1,
      maxLength: 80,
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
    }),
    fc.nat(3),
  )
  .map(([key, how]): { headers: Record<string, string>; kind: string } => {
    if (how === 0) return { headers: { "x-api-key": key }, kind: "X-Api-Key" };
    if (how === 1) return { headers: { authorization: `Bearer ${key}` }, kind: "Bearer" };
    if (how === 2) return { headers: { authorization: `bearer   ${key}  ` }, kind: "bearer, spaced" };
    return { headers: { authorization: "Bearer" }, kind: "Bearer without a token" };
  });

/** Every route (pages and /metrics too), with a made-up key and otherwise valid. */
export function madeUpKeys(ops: Operation[], f: Fixtures): fc.Arbitrary<Probe> {
  return fc.tuple(fc.constantFrom(...ops.filter((o) => !o.streamed)), madeUpKey).map(([op, key]) => {
    const body = op.body ? jsonText(validObject(op.body, f)) : undefined;
    return {
      method: op.method,
      path: validPath(op, f),
      headers: body ? { ...JSON_HEADERS, ...key.headers } : key.headers,
      body,
      label: `${op.method} ${op.template} ${key.kind}`,
    };
  });
}

const HEADER_TEXT = fc.string({
  maxLength: 300,
  // Latin-1 but DEL: what a header may carry.
  unit: fc.integer({ min: 0x20, max: 0xfe }).map((c) => String.fromCharCode(c === 0x7f ? 0xff : c)),
});

/** Headers the gateway or an action reads, with values no client of ours sends. */
const oddHeader: fc.Arbitrary<{ headers: Record<string, string>; method?: string; kind: string }> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(
        "idempotency-key",
        "if-none-match",
        "last-event-id",
        "x-owner-token",
        "cookie",
        "origin",
        "accept",
        "accept-encoding",
        "content-type",
        "x-request-id",
        "range",
        "x-forwarded-for",
      ),
      fc.oneof(
        HEADER_TEXT,
        fc.constantFrom("mcai_owner=" + "a".repeat(200), "*/*;q=NaN", "image/png", "99999999999999999999", "-1", ""),
      ),
    )
    .map(([name, value]) => ({ headers: { [name]: value }, kind: `${name}: odd value` })),
  fc
    .constantFrom("PUT", "PATCH", "TRACE", "PROPFIND", "HEAD", "OPTIONS")
    .map((m) => ({ headers: {}, method: m, kind: `method ${m}` })),
);

/** Every route, otherwise valid, with an odd header or an odd method. */
export function oddHeaders(ops: Operation[], f: Fixtures, ids: Identities): fc.Arbitrary<Probe> {
  return fc
    .constantFrom(...keyed(ops).filter((o) => !o.streamed && !o.template.endsWith("/events")))
    .chain((op) => fc.tuple(fc.constant(op), oddHeader, identity(ids, op.admin)))
    .map(([op, odd, who]) => {
      const { method, headers } = odd;
      const body = op.body ? jsonText(validObject(op.body, f)) : undefined;
      return {
        method: method ?? op.method,
        path: validPath(op, f),
        headers: { ...(body ? JSON_HEADERS : {}), ...who, ...headers },
        body,
        label: `${method ?? op.method} ${op.template} ${odd.kind}`,
      };
    });
}
