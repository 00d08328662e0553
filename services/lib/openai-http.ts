/**
 * One call to an OpenAI-compatible HTTP API, as the embeddings (datasets) and the LLM (knowledge)
 * make it: POST JSON, an optional bearer key, a timeout. Callers check the answer's shape; the
 * circuit breaker is Moleculer's, around the action that makes the call.
 */

export interface OpenAiEndpoint {
  /** Base URL (…/v1); a trailing slash is ignored. */
  url: string;
  key?: string;
  timeoutMs: number;
}

/**
 * POSTs `body` to `<url>/<path>` and returns the parsed JSON answer.
 * @throws Error "`name` endpoint answered <status>" on an HTTP error status; fetch's own errors
 * (timeout, connection refused) and a body that is not JSON as they come.
 */
export async function postOpenAi(
  name: string,
  endpoint: OpenAiEndpoint,
  path: string,
  body: unknown,
): Promise<unknown> {
  const res = await fetch(`${endpoint.url.replace(/\/$/, "")}/${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(endpoint.key ? { authorization: `Bearer ${endpoint.key}` } : {}),
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(endpoint.timeoutMs),
  });
  if (!res.ok) throw new Error(`${name} endpoint answered ${res.status}`);
  return res.json();
}
