/**
 * fastest-validator rules (the actions' `params`) as JSON Schema 2020-12, the dialect of OpenAPI
 * 3.1. Covers the rule types mcai's actions use; any other becomes an unconstrained schema that
 * names its rule type, so a new rule never breaks the document.
 */

/** A JSON Schema object (OpenAPI 3.1's Schema Object). */
export type JsonSchema = Record<string, unknown>;

type Rule = string | Record<string, unknown> | Rule[];

/** A rule as an object: "string|optional" and "number" shorthands expanded. */
function expand(rule: Rule): Record<string, unknown> {
  if (typeof rule === "string") {
    const [type, ...flags] = rule.split("|");
    const out: Record<string, unknown> = { type };
    for (const f of flags) {
      const [k, v] = f.split(":") as [string, string | undefined];
      out[k] = v === undefined ? true : v === "true" ? true : v === "false" ? false : isNaN(Number(v)) ? v : Number(v);
    }
    return out;
  }
  if (Array.isArray(rule)) return { type: "multi", rules: rule };
  return rule;
}

/** A pattern as the string JSON Schema takes: a RegExp's source (a serialized one from a remote node is lost). */
function patternOf(p: unknown): string | undefined {
  if (p instanceof RegExp) return p.source;
  return typeof p === "string" ? p : undefined;
}

function put(target: JsonSchema, key: string, value: unknown): void {
  if (value !== undefined && value !== null) target[key] = value;
}

function stringSchema(r: Record<string, unknown>): JsonSchema {
  const s: JsonSchema = { type: "string" };
  put(s, "minLength", r.min ?? (r.empty === false ? 1 : undefined));
  put(s, "maxLength", r.max);
  if (typeof r.length === "number") s.minLength = s.maxLength = r.length;
  put(s, "pattern", patternOf(r.pattern));
  put(s, "enum", r.enum);
  return s;
}

function numberSchema(r: Record<string, unknown>): JsonSchema {
  const s: JsonSchema = { type: r.integer ? "integer" : "number" };
  put(s, "minimum", r.min);
  put(s, "maximum", r.max);
  if (r.positive) s.exclusiveMinimum = 0;
  if (r.negative) s.exclusiveMaximum = 0;
  return s;
}

/** An object of rules (params, or an object rule's props) as an object schema with `required`. */
export function objectSchema(props: Record<string, Rule> | undefined, strict = false): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, rule] of Object.entries(props ?? {})) {
    if (name.startsWith("$$")) continue;
    properties[name] = ruleSchema(rule);
    if (!isOptional(rule)) required.push(name);
  }
  const s: JsonSchema = { type: "object", properties };
  if (required.length) s.required = required;
  if (strict) s.additionalProperties = false;
  return s;
}

const SIMPLE: Record<string, JsonSchema> = {
  boolean: { type: "boolean" },
  email: { type: "string", format: "email" },
  uuid: { type: "string", format: "uuid" },
  url: { type: "string", format: "uri" },
  date: { type: "string", format: "date-time" },
  any: {},
};

function typed(r: Record<string, unknown>): JsonSchema {
  switch (r.type) {
    case "string":
      return stringSchema(r);
    case "number":
      return numberSchema(r);
    case "enum":
      return { enum: r.values };
    case "equal":
      return { const: r.value };
    case "array": {
      const s: JsonSchema = { type: "array" };
      if (r.items !== undefined) s.items = ruleSchema(r.items as Rule);
      put(s, "minItems", r.min ?? (r.empty === false ? 1 : undefined));
      put(s, "maxItems", r.max);
      if (typeof r.length === "number") s.minItems = s.maxItems = r.length;
      return s;
    }
    case "object":
      return r.props || r.properties
        ? objectSchema((r.props ?? r.properties) as Record<string, Rule>, r.strict === true || r.strict === "remove")
        : { type: "object" };
    case "multi":
      return { anyOf: (r.rules as Rule[]).map(ruleSchema) };
    default: {
      const known = SIMPLE[String(r.type)] as JsonSchema | undefined;
      return known ? { ...known } : { description: `fastest-validator rule "${String(r.type)}"` };
    }
  }
}

/** One rule as a schema, with its default and the message of its pattern. */
export function ruleSchema(rule: Rule): JsonSchema {
  const r = expand(rule);
  const s = typed(r);
  put(s, "default", r.default);
  const patternMessage = (r.messages as Record<string, unknown> | undefined)?.stringPattern;
  if (typeof patternMessage === "string") s.description = patternMessage;
  return s;
}

export function isOptional(rule: Rule): boolean {
  const r = expand(rule);
  return r.optional === true || r.default !== undefined;
}
