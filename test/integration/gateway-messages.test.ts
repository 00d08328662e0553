/**
 * What a refusal tells the caller. A 403 says the key is not an admin key (a client key is a
 * valid key: "the API key is not valid" sent its holder looking for a typo). A 422 from a params rule: the value sent and the values allowed (an enum),
 * and the pattern the field must match as a regex that really is the rule (a pattern with a
 * backslash lost it in fastest-validator's `expected`: `/^\d{1,18}$/` came out as `/^d{1,18}$/`).
 */
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { getJson } from "../helpers/processes";
import { expectStatus } from "../helpers/expect";

interface FieldError {
  field: string;
  message: string;
  expected?: string;
}

const ADMIN = "admin-key-0123456789abcdef";
const CLIENT = "client-key-0123456789abcdef";

describe("gateway: refusal messages", () => {
  let t: TestNode;

  beforeAll(async () => {
    t = await startTestNode({ API_KEYS: ADMIN, CLIENT_KEYS: CLIENT }, ["api", "jobs", "datasets"], await memoryDb());
  });
  afterAll(() => (t as TestNode | undefined)?.node.stop());

  const fieldOf = async (path: string): Promise<FieldError> => {
    const r = await getJson(`${t.url}${path}`);
    expectStatus(r, 422);
    return (r.body as { error: { data: { fields: FieldError[] } } }).error.data.fields[0];
  };

  it.each([
    [CLIENT, 403, "ERR_FORBIDDEN", "the API key is not an admin key: this route needs one of API_KEYS"],
    ["made-up-key-0123456789abcdef", 401, "ERR_UNAUTHORIZED", "the API key is not valid"],
  ])("an admin route with key %s: %i %s", async (key, status, type, message) => {
    const r = await getJson(`${t.url}/api/admin/cache/clear`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
    });
    expectStatus(r, status, { error: { type, message, data: null } });
  });

  it.each([
    ["/api/jobs?status=weird", "status", "weird", "queued, processing, completed, failed, cancelled"],
    ["/api/search?q=x&mode=fuzzy", "mode", "fuzzy", "hybrid, lexical, vector"],
  ])("%s: names the value sent and the allowed values", async (path, field, sent, allowed) => {
    const f = await fieldOf(path);
    expect(f.field).toBe(field);
    expect(f.message).toBe(`The '${field}' field value '${sent}' is not one of the allowed values: ${allowed}.`);
  });

  it.each([
    ["/api/examples/abc", "id", "42"],
    ["/api/jobs?cursor=abc", "cursor", "12"],
  ])("%s: `expected` is the pattern that accepts a good %s", async (path, field, good) => {
    const f = await fieldOf(path);
    expect(f.field).toBe(field);
    const m = /^\/(.*)\/([a-z]*)$/.exec(f.expected ?? "");
    expect({ expected: f.expected, acceptsGood: m ? new RegExp(m[1], m[2]).test(good) : false }).toEqual({
      expected: f.expected,
      acceptsGood: true,
    });
  });

  it("answers a body that is not JSON on a JSON route with 415, and takes any type on a file import", async () => {
    const send = (path: string, type: string, body: string) =>
      getJson(`${t.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": type },
        body,
      });
    const body = JSON.stringify({ text: "a media type check" });
    // Before: 422 "The 'text' field is required." (the body was never read).
    for (const type of ["text/plain", "application/x-www-form-urlencoded"])
      expectStatus(await send("/api/emotion/analyze-async", type, body), 415, {
        error: {
          type: "ERR_UNSUPPORTED_MEDIA_TYPE",
          message: `the body is ${type}: this route reads JSON (send Content-Type: application/json)`,
        },
      });
    const submitted = await send("/api/emotion/analyze-async", "application/json; charset=utf-8", body);
    expectStatus(submitted, 202);
    // A POST without a body reads none, whatever type it names (a job's cancel or retry).
    const retry = await getJson(`${t.url}/api/job/${submitted.body.job_id as string}/retry`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "text/plain" },
    });
    expect(retry.status).not.toBe(415);
    const file = await send("/api/datasets/media/import?format=txt", "text/plain", "a line of text\n");
    expectStatus(file, 202);
  });
});
