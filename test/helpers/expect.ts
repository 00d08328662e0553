/**
 * Assertions that say why they failed: a status check shows the body the server answered, so a
 * 500 in CI is read from the log, not reproduced.
 */
import { inspect } from "node:util";

/** A response as the suites' helpers return it: the status and the parsed body (JSON or text). */
export interface StatusAndBody {
  status: number;
  body: unknown;
  /** A fetch Response has it (its body is a stream, not shown): read it with getJson instead. */
  json?: never;
}

/**
 * Expects `res.status` to be `status` (and, when given, the body to match `bodyMatch` as
 * toMatchObject does). On a wrong status the error shows the whole body.
 */
export function expectStatus(res: StatusAndBody, status: number, bodyMatch?: object): void {
  if (res.status !== status) {
    const body = inspect(res.body, { depth: 6, breakLength: 120, maxStringLength: 2000 });
    throw new Error(`expected HTTP ${status}, got ${res.status}; the body:\n${body}`);
  }
  if (bodyMatch !== undefined) expect(res.body).toMatchObject(bodyMatch);
}

/** expectStatus for a fetch Response: on a wrong status the error shows its body's text (read from a clone). */
export async function expectResponseStatus(res: Response, status: number): Promise<void> {
  if (res.status !== status) {
    const text = await res.clone().text();
    throw new Error(`expected HTTP ${status}, got ${res.status}; the body:\n${text.slice(0, 4000)}`);
  }
}
