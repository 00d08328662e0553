/**
 * Who a request is, as the owner of jobs: an API key (its id; admin keys see every job), or an
 * anonymous owner token that the client got at its first submit and sends back (header
 * `X-Owner-Token`, or the `mcai_owner` cookie, which is what an EventSource can send). The gateway
 * puts the answer in `ctx.meta.caller` before every /api call; the jobs service checks it.
 */
import crypto from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, ServiceBroker } from "moleculer";
import type { Config } from "../lib/config";
import { UnauthorizedError, UnprocessableError } from "../lib/errors";
import { OWNER_TOKEN_HEADER, ownerOfToken, type Caller, type CallerMeta } from "../jobs/contract";
import { isValidKey, keyId, presentedKey } from "./api-keys";

const TOKEN = /^[A-Za-z0-9_-]{32,128}$/;
const COOKIE = "mcai_owner";

/** The owner token a request presents (header first, then cookie), if any. */
function presentedToken(req: IncomingMessage): string | undefined {
  const h = req.headers[OWNER_TOKEN_HEADER.toLowerCase()];
  if (typeof h === "string") return h.trim();
  const m = /(?:^|;\s*)mcai_owner=([^;]*)/.exec(req.headers.cookie ?? "");
  return m ? m[1] : undefined;
}

/**
 * The caller of a request. A key that is neither an admin key nor a client key is a 401, never a
 * fresh owner; a malformed owner token is a 422.
 */
export function callerOf(req: IncomingMessage, config: Config, localToken?: string): Caller {
  const key = presentedKey(req);
  if (key) {
    const admins = localToken ? [...config.apiKeys, localToken] : config.apiKeys;
    if (admins.length && isValidKey(key, admins)) return { owner: `key:${keyId(key)}`, admin: true };
    if (config.clientKeys.length && isValidKey(key, config.clientKeys))
      return { owner: `key:${keyId(key)}`, admin: false };
    throw new UnauthorizedError("unknown API key");
  }
  const token = presentedToken(req);
  if (token === undefined) return { admin: false };
  if (!TOKEN.test(token))
    throw new UnprocessableError(`${OWNER_TOKEN_HEADER} must be the owner token a submit returned`, {
      field: OWNER_TOKEN_HEADER,
    });
  return { owner: ownerOfToken(token), admin: false };
}

/** Sends the owner token as the cookie that an EventSource of the same site sends back. */
function setTokenCookie(res: ServerResponse, token: string): void {
  res.setHeader("Set-Cookie", `${COOKIE}=${token}; Path=/api; HttpOnly; SameSite=Strict; Max-Age=31536000`);
}

/**
 * Sets `ctx.meta.caller` for a jobs action and an HTTP import (other actions do not look at owners). A submit by a
 * caller with no identity gets a new owner token, in `ctx.meta.ownerToken` (the answer's body),
 * the `X-Owner-Token` header and a same-site cookie; an anonymous owner's submit renews the cookie.
 */
export function setCaller(
  ctx: Context<unknown, CallerMeta>,
  req: IncomingMessage & { $action?: { name?: string } },
  res: ServerResponse,
  config: Config,
  localToken?: string,
): void {
  const action = req.$action?.name ?? "";
  // An HTTP import is a job too: its submit goes through datasets, which stores the file first.
  if (!action.startsWith("jobs.") && action !== "datasets.submitImport") return;
  const caller = callerOf(req, config, localToken);
  ctx.meta.caller = caller;
  if (!action.startsWith("jobs.submit") || presentedKey(req)) return;
  const presented = presentedToken(req);
  const token = presented ?? crypto.randomBytes(32).toString("base64url");
  if (presented === undefined) {
    caller.owner = ownerOfToken(token);
    ctx.meta.ownerToken = token;
    res.setHeader(OWNER_TOKEN_HEADER, token);
  }
  setTokenCookie(res, token);
}

/**
 * The event stream's check, before it streams as the gateway.
 * @throws NotFoundError (404) unless the caller of `req` may see job `id`; 401, 422 as callerOf
 */
export async function checkJobVisible(
  broker: ServiceBroker,
  req: IncomingMessage,
  id: string,
  config: Config,
  localToken?: string,
): Promise<void> {
  const caller = callerOf(req, config, localToken);
  await broker.call("jobs.get", { id }, { meta: { caller } });
}
