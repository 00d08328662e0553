import { isOptional, objectSchema, ruleSchema } from "../../services/api/openapi-schema";

describe("api.openapi-schema", () => {
  it.each([
    ["string shorthand", "string", { type: "string" }],
    ["shorthand with flags", "number|integer|min:1", { type: "integer", minimum: 1 }],
    [
      "string bounds and pattern",
      { type: "string", min: 1, max: 64, pattern: /^[a-z]+$/ },
      { type: "string", minLength: 1, maxLength: 64, pattern: "^[a-z]+$" },
    ],
    ["a pattern lost in transit is left out", { type: "string", pattern: {} }, { type: "string" }],
    [
      "number",
      { type: "number", min: 0, max: 1, default: 0.5 },
      { type: "number", minimum: 0, maximum: 1, default: 0.5 },
    ],
    ["positive integer", { type: "number", integer: true, positive: true }, { type: "integer", exclusiveMinimum: 0 }],
    ["enum", { type: "enum", values: ["a", "b"] }, { enum: ["a", "b"] }],
    ["boolean", { type: "boolean", convert: true }, { type: "boolean" }],
    [
      "array of strings",
      { type: "array", items: "string", min: 1, max: 10 },
      { type: "array", items: { type: "string" }, minItems: 1, maxItems: 10 },
    ],
    [
      "object with props",
      { type: "object", strict: true, props: { a: "number", b: { type: "string", optional: true } } },
      {
        type: "object",
        properties: { a: { type: "number" }, b: { type: "string" } },
        required: ["a"],
        additionalProperties: false,
      },
    ],
    ["several rules", ["string", "number"], { anyOf: [{ type: "string" }, { type: "number" }] }],
    ["a rule type it does not know", { type: "luhn" }, { description: 'fastest-validator rule "luhn"' }],
    [
      "the pattern's message as the description",
      { type: "string", pattern: /^\d+$/, messages: { stringPattern: "'id' must be digits" } },
      { type: "string", pattern: "^\\d+$", description: "'id' must be digits" },
    ],
  ])("maps %s", (_name, rule, schema) => {
    expect(ruleSchema(rule as never)).toEqual(schema);
  });

  it("lists required params, leaving out optional ones, defaults and $$ keys", () => {
    expect(
      objectSchema({
        q: "string",
        k: { type: "number", optional: true },
        n: { type: "number", default: 3 },
        $$strict: true,
      } as never),
    ).toEqual({
      type: "object",
      properties: { q: { type: "string" }, k: { type: "number" }, n: { type: "number", default: 3 } },
      required: ["q"],
    });
    expect(isOptional("string|optional")).toBe(true);
    expect(isOptional("string")).toBe(false);
  });
});
