import { Errors } from "moleculer";
import ApiGateway from "moleculer-web";
import { toHttpError } from "../../services/api/http-errors";
import {
  ConflictError,
  ERR_BAD_REQUEST,
  ERR_CONFLICT,
  ERR_INTERNAL,
  ERR_NOT_FOUND,
  ERR_PAYLOAD_TOO_LARGE,
  ERR_RATE_LIMITED,
  ERR_UNAVAILABLE,
  ERR_VALIDATION,
  NotImplementedError,
  RateLimitedError,
  UnavailableError,
} from "../../services/lib/errors";

const REQ = { method: "GET", url: "/api/nowhere?x=1", originalUrl: "/api/nowhere?x=1" };
const LIMIT = 1024;

/** body-parser's errors: an Error with its `type` string and an HTTP `status`. */
function bodyParserError(type: string, status: number, message: string): Error {
  return Object.assign(new Error(message), { type, status });
}

describe("api.http-errors toHttpError", () => {
  it.each<[string, unknown, { status: number; type: string; message?: string | RegExp; headers?: object }]>([
    [
      "a body over the limit",
      bodyParserError("entity.too.large", 413, "request entity too large"),
      { status: 413, type: ERR_PAYLOAD_TOO_LARGE, message: "request body is larger than 1024 bytes" },
    ],
    [
      "a body nested too deep",
      bodyParserError("entity.too.deep", 400, "too deep"),
      { status: 400, type: ERR_BAD_REQUEST, message: "too deep" },
    ],
    [
      "a body that is not JSON",
      bodyParserError("entity.parse.failed", 400, "Unexpected token"),
      { status: 400, type: ERR_BAD_REQUEST, message: "request body is not valid JSON: Unexpected token" },
    ],
    [
      "another body-parser 4xx",
      bodyParserError("encoding.unsupported", 415, "unsupported charset"),
      { status: 415, type: ERR_BAD_REQUEST, message: "unsupported charset" },
    ],
    [
      "moleculer-web's unknown route",
      new ApiGateway.Errors.NotFoundError("NOT_FOUND", null),
      { status: 404, type: ERR_NOT_FOUND, message: "no route GET /api/nowhere" },
    ],
    [
      "moleculer-web's service unavailable (no node runs the alias's service)",
      new ApiGateway.Errors.ServiceUnavailableError(undefined as unknown as string, null),
      {
        status: 503,
        type: ERR_UNAVAILABLE,
        message: "the service for this route is not running on any node",
        headers: { "Retry-After": "5" },
      },
    ],
    [
      "Moleculer's service not found",
      new Errors.ServiceNotFoundError({ action: "jobs.view" }),
      {
        status: 503,
        type: ERR_UNAVAILABLE,
        message: "jobs.view is not running on any node reachable now",
      },
    ],
    [
      "a rate limit with its wait",
      new RateLimitedError("over the limit", 2.2),
      { status: 429, type: ERR_RATE_LIMITED, message: "over the limit", headers: { "Retry-After": "3" } },
    ],
    [
      "moleculer-web's own rate limit",
      new ApiGateway.Errors.RateLimitExceeded(undefined as unknown as string, null),
      {
        status: 429,
        type: ERR_RATE_LIMITED,
        message: "too many requests: try again later",
        headers: { "Retry-After": "1" },
      },
    ],
    [
      "a client error of ours",
      new ConflictError("the job is final", { status: "completed" }),
      { status: 409, type: ERR_CONFLICT, message: "the job is final", headers: {} },
    ],
    [
      "a transient fault with its retry time",
      new UnavailableError("the store is down", { retryAfter: 2 }),
      { status: 503, type: ERR_UNAVAILABLE, message: "the store is down", headers: { "Retry-After": "2" } },
    ],
    [
      "a 501",
      new NotImplementedError("no pgvector"),
      { status: 501, type: "ERR_NOT_IMPLEMENTED", message: "no pgvector", headers: {} },
    ],
    [
      "a database error that is the caller's (class 23)",
      Object.assign(new Error("duplicate key value violates unique constraint"), { code: "23505" }),
      { status: 409, type: ERR_CONFLICT, message: "the request conflicts with stored data" },
    ],
    [
      "a plain Error (a bug): its message stays in the log",
      new Error("secret internals"),
      { status: 500, type: ERR_INTERNAL, message: "internal error" },
    ],
    ["a thrown string", "boom", { status: 500, type: ERR_INTERNAL, message: "internal error" }],
  ])("maps %s", (_what, err, expected) => {
    expect(toHttpError(err, REQ, LIMIT)).toMatchObject(expected);
  });

  it("names the fields of a validation error, with their details in data", () => {
    const err = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
      { type: "number", field: "size", message: "The 'size' field must be a number.", actual: "x" },
    ]);
    expect(toHttpError(err, REQ, LIMIT)).toEqual({
      status: 422,
      type: ERR_VALIDATION,
      message: "The 'size' field must be a number.",
      data: { fields: [{ type: "number", field: "size", message: "The 'size' field must be a number.", actual: "x" }] },
      headers: {},
    });
  });

  it("keeps the data of a Moleculer error and never leaks a database message", () => {
    expect(toHttpError(new ConflictError("taken", { key: "k" }), REQ, LIMIT).data).toEqual({ key: "k" });
    const db = toHttpError(
      Object.assign(new Error("value 99999 out of range for type integer"), { code: "22003" }),
      REQ,
      LIMIT,
    );
    expect(db).toMatchObject({ status: 422, type: ERR_VALIDATION, data: { sqlstate: "22003" } });
    expect(db.message).not.toContain("99999");
  });
});
