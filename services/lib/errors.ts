/**
 * mcai's errors: MoleculerClientError subclasses (4xx, never retried) for the caller's mistakes,
 * MoleculerRetryableError for transient faults. The gateway turns every one of them into
 * `{error: {type, message, data}}` with the status in `code`.
 */
import { Errors } from "moleculer";

export const ERR_BAD_REQUEST = "ERR_BAD_REQUEST";
export const ERR_VALIDATION = "VALIDATION_ERROR";
export const ERR_UNAUTHORIZED = "ERR_UNAUTHORIZED";
export const ERR_FORBIDDEN = "ERR_FORBIDDEN";
export const ERR_NOT_FOUND = "ERR_NOT_FOUND";
export const ERR_CONFLICT = "ERR_CONFLICT";
export const ERR_PAYLOAD_TOO_LARGE = "ERR_PAYLOAD_TOO_LARGE";
export const ERR_UNSUPPORTED_MEDIA_TYPE = "ERR_UNSUPPORTED_MEDIA_TYPE";
export const ERR_RATE_LIMITED = "ERR_RATE_LIMITED";
export const ERR_UNAVAILABLE = "ERR_UNAVAILABLE";
export const ERR_NOT_IMPLEMENTED = "ERR_NOT_IMPLEMENTED";
export const ERR_INTERNAL = "ERR_INTERNAL";

export type ErrorData = Record<string, unknown> | undefined;

/** 400: the request is malformed. */
export class BadRequestError extends Errors.MoleculerClientError {
  constructor(message: string, data?: ErrorData) {
    super(message, 400, ERR_BAD_REQUEST, data);
  }
}

/** 401: no credentials where they are required. */
export class UnauthorizedError extends Errors.MoleculerClientError {
  constructor(message = "an API key is required (Authorization: Bearer <key> or X-Api-Key)") {
    super(message, 401, ERR_UNAUTHORIZED);
  }
}

/** 403: a key of ours that may not do this (a client key on an admin route). */
export class ForbiddenError extends Errors.MoleculerClientError {
  constructor(message = "the API key is not an admin key: this route needs one of API_KEYS") {
    super(message, 403, ERR_FORBIDDEN);
  }
}

/** 404: nothing at that address. */
export class NotFoundError extends Errors.MoleculerClientError {
  constructor(message: string, data?: ErrorData) {
    super(message, 404, ERR_NOT_FOUND, data);
  }
}

/** 409: the request conflicts with the current state. */
export class ConflictError extends Errors.MoleculerClientError {
  constructor(message: string, data?: ErrorData) {
    super(message, 409, ERR_CONFLICT, data);
  }
}

/** 413: a body or a chosen size over its bound. */
export class PayloadTooLargeError extends Errors.MoleculerClientError {
  constructor(message: string, data?: ErrorData) {
    super(message, 413, ERR_PAYLOAD_TOO_LARGE, data);
  }
}

/** 415: a body in a format the route does not read (text or a form where it reads JSON). */
export class UnsupportedMediaTypeError extends Errors.MoleculerClientError {
  constructor(message: string, data?: ErrorData) {
    super(message, 415, ERR_UNSUPPORTED_MEDIA_TYPE, data);
  }
}

/** 422: well-formed input that breaks a rule (a field out of range). */
export class UnprocessableError extends Errors.MoleculerClientError {
  constructor(message: string, data?: ErrorData) {
    super(message, 422, ERR_VALIDATION, data);
  }
}

/** 501: this deployment cannot do that (a missing extension). */
export class NotImplementedError extends Errors.MoleculerError {
  constructor(message: string, data?: ErrorData) {
    super(message, 501, ERR_NOT_IMPLEMENTED, data);
  }
}

/** 503: a transient fault (a database or a pool out of reach); safe to retry. */
export class UnavailableError extends Errors.MoleculerRetryableError {
  constructor(message: string, data?: ErrorData) {
    super(message, 503, ERR_UNAVAILABLE, data);
  }
}

export const ERR_COMPUTE_FAILED = "ERR_COMPUTE_FAILED";
export const ERR_ABORTED = "ERR_ABORTED";

/** A compute task failed in its worker thread (the error's class is lost crossing the thread; its message is kept). */
export class ComputeFailedError extends Errors.MoleculerError {
  constructor(task: string, message: string) {
    super(`compute task ${task} failed: ${message}`, 500, ERR_COMPUTE_FAILED, { task });
  }
}

/** A compute task was stopped by a cancel or a timeout. */
export class AbortedError extends Errors.MoleculerClientError {
  constructor(message: string, data?: ErrorData) {
    super(message, 409, ERR_ABORTED, data);
  }
}

/** 429: the client is over its rate limit or its share of a bounded resource. */
export class RateLimitedError extends Errors.MoleculerClientError {
  constructor(message: string, retryAfterS: number, data?: ErrorData) {
    super(message, 429, ERR_RATE_LIMITED, { ...data, retryAfter: Math.max(1, Math.ceil(retryAfterS)) });
  }
}

/** mcai's error classes by name, for {@link McaiErrorRegenerator}. */
const RESTORABLE: ReadonlyMap<string, { readonly prototype: Errors.MoleculerError }> = new Map(
  [
    BadRequestError,
    UnauthorizedError,
    ForbiddenError,
    NotFoundError,
    ConflictError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    UnprocessableError,
    NotImplementedError,
    UnavailableError,
    ComputeFailedError,
    AbortedError,
    RateLimitedError,
  ].map((c) => [c.name, c]),
);

/**
 * Restores mcai's errors when they cross the transporter. Moleculer's own regenerator knows only
 * its classes: any other arrives as a plain `Error`, so on a gateway without the service a 404,
 * 413, 422 or 503 thrown on another node was answered as a 500. The class is found by name (a
 * subclass outside this file is restored as its nearest Moleculer class by `retryable` and `code`).
 */
export class McaiErrorRegenerator extends Errors.Regenerator {
  restoreCustomError(plain: Errors.PlainMoleculerError): Error | undefined {
    // Moleculer's own classes (ValidationError, ServiceNotAvailableError...) are its regenerator's.
    if (plain.name in Errors || typeof plain.code !== "number" || typeof plain.type !== "string") return undefined;
    const Class = RESTORABLE.get(plain.name);
    const Base = plain.retryable
      ? Errors.MoleculerRetryableError
      : plain.code >= 400 && plain.code < 500
        ? Errors.MoleculerClientError
        : undefined;
    if (!Class && !Base) return undefined;
    const err = new (Base ?? Errors.MoleculerError)(plain.message, plain.code, plain.type, plain.data);
    if (Class) Object.setPrototypeOf(err, Class.prototype);
    err.name = plain.name;
    return err;
  }
}

/** The SQLSTATE of a database error (pg and PGlite both carry it as a 5-character `code`). */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * The one mapping of database errors that are the caller's, not the database's: class 22 (data
 * exception: a number out of range, a bad encoding) is 422, class 23 (integrity constraint) is 409.
 * The message never carries the database's text (it can quote SQL or values); the SQLSTATE goes in
 * `data`. Anything else returns undefined: the caller decides whether it is a fault (503) or a bug.
 */
export function databaseClientError(err: unknown): Errors.MoleculerClientError | undefined {
  const state = sqlState(err);
  if (state?.startsWith("22")) {
    return new UnprocessableError("a value in the request is out of range or not valid for the database", {
      sqlstate: state,
    });
  }
  if (state?.startsWith("23")) {
    return new ConflictError("the request conflicts with stored data", { sqlstate: state });
  }
  return undefined;
}
