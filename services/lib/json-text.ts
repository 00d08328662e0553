/**
 * Answers that already exist as JSON text (a cached search result or page, a page Postgres wrote
 * as JSON) go to an HTTP client as that text: the gateway marks the contexts of the actions it
 * calls (`jsonText`, api/routes.ts), and such an action answers the text with
 * `ctx.meta.$responseType`, which moleculer-web writes as it is instead of JSON.stringifying an
 * object parsed from it. Any other caller (a service, the REPL, a test's broker.call) gets the
 * object, as the action's type says.
 */
import type { Context } from "moleculer";

/** What moleculer-web sends for an object too. */
export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/** The gateway service: only its direct calls may be answered with text. */
const GATEWAY = "api";

export interface JsonTextMeta {
  /** Set by the gateway: it writes a string answered with `$responseType` as it is. */
  jsonText?: boolean;
  $responseType?: string;
}

/**
 * `text` (a JSON text) as the answer of the action of `ctx`: the text itself to the gateway; to
 * anyone else `value` (what the text encodes) when the action has it, else the parsed text. The
 * action types it as the value. Nested calls inherit the gateway's meta, so the caller is checked
 * too: a service calling this action on behalf of an HTTP request gets the object.
 */
export function answerJsonText(ctx: Context<unknown, JsonTextMeta>, text: string, value?: unknown): unknown {
  if (ctx.meta.jsonText === true && ctx.caller === GATEWAY) {
    ctx.meta.$responseType = JSON_CONTENT_TYPE;
    return text;
  }
  return value ?? JSON.parse(text);
}
