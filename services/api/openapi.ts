/**
 * The OpenAPI 3.1 document of the gateway, generated on request from what it serves: the aliases
 * moleculer-web holds (every route, whoever added it), the actions' fastest-validator `params`
 * from the service registry (so actions on other nodes are described too), their `admin` flag,
 * and HANDLER_ROUTES for the routes that are handlers of their own. Nothing in it is written by
 * hand per route: a new alias appears in the document as soon as the gateway serves it.
 */
import type { OpenAPIV3_1 } from "openapi-types";
import { ERR_VALIDATION } from "../lib/errors";
import { objectSchema, ruleSchema, type JsonSchema } from "./openapi-schema";
import { HANDLER_ROUTES } from "./routes";

/** What the generator reads of a moleculer-web alias. */
export interface AliasInfo {
  method: string;
  fullPath: string;
  /** The action's name; null for a handler of its own. */
  action: string | null;
  /** "call", or "stream" for a streamed request body. */
  type: string;
}

/** What the generator reads of an action's schema (the registry's copy). */
export interface ActionInfo {
  params?: Record<string, unknown>;
  admin?: boolean;
  /** The Content-Type of a 2xx that is not JSON (a stream, a PNG). */
  responseType?: string;
  /** URL params of a streamed-body action, which has no `params` of its own (the body is the stream). */
  streamParams?: Record<string, unknown>;
}

export interface OpenApiOptions {
  version: string;
  /** URL paths of the static files served now, to give `:file` params a real example. */
  staticPaths: string[];
}

type Operation = OpenAPIV3_1.OperationObject;
type Rule = Parameters<typeof ruleSchema>[0];

const ERROR_RESPONSES: Record<string, string> = {
  "400": "Malformed request: the body is not valid JSON, or a parameter is not valid",
  "401": "An admin route without an API key, or a key that is not one of ours",
  "403": "An admin route with a key that is not an admin key",
  "404": "No such route or resource",
  "413": "The body, or a size the caller chose, is over its bound",
  "422": `A parameter breaks a rule: \`data.fields\` names each field and rule (type ${ERR_VALIDATION})`,
  "429": "Over the rate limit (or the bound on open event streams); `Retry-After` says when to come back",
  "500": "An unexpected fault (message `internal error`), logged with the request id",
  "503": "The route's service runs on no node, or a dependency is down; `Retry-After`",
};

function components(): OpenAPIV3_1.ComponentsObject {
  const retryAfter = { description: "Seconds to wait", schema: { type: "integer" } } as const;
  const responses: Record<string, OpenAPIV3_1.ResponseObject> = {};
  for (const [status, description] of Object.entries(ERROR_RESPONSES))
    responses[`E${status}`] = {
      description,
      ...(status === "429" || status === "503" ? { headers: { "Retry-After": retryAfter } } : {}),
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
  return {
    schemas: {
      Error: {
        type: "object",
        required: ["error"],
        properties: {
          error: {
            type: "object",
            required: ["type", "message", "data"],
            properties: {
              type: { type: "string", examples: ["ERR_NOT_FOUND", ERR_VALIDATION] },
              message: { type: "string" },
              data: { description: "Details: the field and its limit, or null" },
            },
          },
        },
      },
    },
    responses,
    securitySchemes: {
      bearer: { type: "http", scheme: "bearer", description: "`Authorization: Bearer <key>`: an API key" },
      apiKey: { type: "apiKey", in: "header", name: "X-Api-Key", description: "The same key in its own header" },
    },
  };
}

const errors = (...statuses: string[]): OpenAPIV3_1.ResponsesObject =>
  Object.fromEntries(statuses.map((s) => [s, { $ref: `#/components/responses/E${s}` }]));

/** "/api/job/:id/events" → "/api/job/{id}/events", and the names of its path params. */
function openApiPath(fullPath: string): { path: string; names: string[] } {
  const names: string[] = [];
  const p = fullPath.replace(/:([A-Za-z0-9_]+)\??/g, (_m, n: string) => {
    names.push(n);
    return `{${n}}`;
  });
  return { path: p, names };
}

/** A served static path matching the route, as the example of its one param. */
function exampleFor(fullPath: string, staticPaths: string[]): string | undefined {
  const re = new RegExp(`^${fullPath.replace(/:[A-Za-z0-9_]+/g, "([^/]+)")}$`);
  for (const p of staticPaths) {
    const m = re.exec(p);
    if (m) return m[1];
  }
  return undefined;
}

function parameters(
  names: string[],
  inQuery: Record<string, unknown>,
  props: Record<string, unknown>,
): OpenAPIV3_1.ParameterObject[] {
  const out: OpenAPIV3_1.ParameterObject[] = names.map((name) => ({
    name,
    in: "path",
    required: true,
    schema: props[name] === undefined ? { type: "string" } : ruleSchema(props[name] as Rule),
  }));
  const q = objectSchema(inQuery as Record<string, Rule>);
  const required = new Set((q.required as string[] | undefined) ?? []);
  for (const [name, schema] of Object.entries(q.properties as Record<string, JsonSchema>))
    out.push({ name, in: "query", required: required.has(name), schema });
  return out;
}

function actionOperation(
  alias: AliasInfo,
  actionName: string,
  action: ActionInfo,
  names: string[],
  operationId: string,
): Operation {
  const params = action.params ?? {};
  const rest = Object.fromEntries(Object.entries(params).filter(([k]) => !names.includes(k) && !k.startsWith("$$")));
  const streamed = alias.type === "stream";
  const inBody = alias.method === "POST" && !streamed;
  const admin = action.admin === true || alias.fullPath.startsWith("/api/admin/");
  const responses: OpenAPIV3_1.ResponsesObject = {
    "2XX": {
      description: "Success",
      content: { [action.responseType ?? "application/json"]: { schema: {} } },
    },
    ...errors("400", "404", "429", "500", "503"),
    ...(admin ? errors("401", "403") : {}),
    ...(Object.keys(params).length || streamed ? errors("422") : {}),
    ...(inBody || streamed ? errors("413") : {}),
  };
  const op: Operation = {
    operationId,
    tags: [actionName.split(".")[0]],
    summary: `${actionName}${admin ? " (admin)" : ""}`,
    parameters: parameters(names, streamed ? (action.streamParams ?? {}) : inBody ? {} : rest, params),
    responses,
    security: admin ? [{ bearer: [] }, { apiKey: [] }] : [{}, { bearer: [] }, { apiKey: [] }],
  };
  if (inBody && Object.keys(rest).length) {
    const schema = objectSchema(rest as never);
    // A POST without a body is taken as {}: the body is required only when a field is.
    op.requestBody = { required: "required" in schema, content: { "application/json": { schema } } };
  }
  if (streamed)
    op.requestBody = {
      required: true,
      content: {
        "application/octet-stream": { schema: { type: "string", contentMediaType: "application/octet-stream" } },
      },
    };
  return op;
}

function handlerOperation(alias: AliasInfo, names: string[], o: OpenApiOptions, operationId: string): Operation {
  const key = `${alias.method} ${alias.fullPath}`;
  const doc = HANDLER_ROUTES[key] ?? { summary: key, tag: "other", contentType: "*/*" };
  const example = names.length === 1 ? exampleFor(alias.fullPath, o.staticPaths) : undefined;
  const isApi = alias.fullPath.startsWith("/api/");
  return {
    operationId,
    tags: [doc.tag],
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    parameters: names.map((name) => ({
      name,
      in: "path" as const,
      required: true,
      schema: { type: "string" },
      ...(example ? { example } : {}),
    })),
    responses: {
      "200": { description: doc.summary, content: { [doc.contentType]: { schema: { type: "string" } } } },
      ...errors("404", "429", ...(isApi ? ["500", "503"] : [])),
    },
    ...(isApi ? { security: [{}, { bearer: [] }, { apiKey: [] }] } : {}),
  };
}

/** The tags in use, the services' first and the pages last: the order a reader meets them. */
function tagsOf(paths: Record<string, Record<string, Operation>>): OpenAPIV3_1.TagObject[] {
  const names = new Set(Object.values(paths).flatMap((item) => Object.values(item).flatMap((op) => op.tags ?? [])));
  const last = (n: string) => (n === "pages" ? 1 : 0);
  return [...names].sort((x, y) => last(x) - last(y) || x.localeCompare(y)).map((name) => ({ name }));
}

/** The document for these aliases and actions. */
export function buildOpenApi(
  aliases: AliasInfo[],
  actions: Map<string, ActionInfo>,
  o: OpenApiOptions,
): OpenAPIV3_1.Document {
  const paths: Record<string, Record<string, Operation>> = {};
  const used = new Set<string>();
  const sorted = [...aliases].sort((a, b) => a.fullPath.localeCompare(b.fullPath) || a.method.localeCompare(b.method));
  for (const alias of sorted) {
    const method = alias.method === "*" ? "get" : alias.method.toLowerCase();
    const { path, names } = openApiPath(alias.fullPath);
    // A handler's id comes from its route: "GET /api/job/:id/events" → "get_api_job_id_events", "/" → "get_root".
    let operationId =
      alias.action ?? `${method}_${alias.fullPath.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, "") || "root"}`;
    if (used.has(operationId)) operationId = `${operationId}.${method}`;
    used.add(operationId);
    const action = alias.action ? actions.get(alias.action) : undefined;
    paths[path] ??= {};
    paths[path][method] =
      alias.action !== null
        ? actionOperation(alias, alias.action, action ?? {}, names, operationId)
        : handlerOperation(alias, names, o, operationId);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "mcai",
      version: o.version,
      description:
        "The MC AI backend's HTTP API, generated from the gateway's routes and the actions' parameter schemas. " +
        "Every error has one shape (`Error`). Admin routes need an API key; on other /api routes a key " +
        "identifies the caller (its own rate-limit budget, its jobs).",
    },
    servers: [{ url: "/" }],
    tags: tagsOf(paths),
    paths,
    components: components(),
  };
}
