import { Errors, ServiceBroker, type ServiceSchema } from "moleculer";
import { brokerOptions, type NodeMetadata } from "../../moleculer.config";
import { toHttpError } from "../../services/api/http-errors";
import { loadConfig } from "../../services/lib/config";
import {
  ConflictError,
  ERR_NOT_FOUND,
  ERR_RATE_LIMITED,
  ERR_UNAVAILABLE,
  NotFoundError,
  NotImplementedError,
  PayloadTooLargeError,
  RateLimitedError,
  UnavailableError,
} from "../../services/lib/errors";
import { QuotaError } from "../../services/jobs/quota";

const THROWERS: Record<string, () => Error> = {
  notFound: () => new NotFoundError('no dataset "nope"', { domain: "nope" }),
  tooLarge: () => new PayloadTooLargeError("size is 9999, over the limit of 2048", { field: "size", limit: 2048 }),
  conflict: () => new ConflictError("job j is completed"),
  notImplemented: () => new NotImplementedError("vector search needs pgvector", { mode: "vector" }),
  unavailable: () => new UnavailableError("the job queue is full", { retryAfter: 5 }),
  rateLimited: () => new RateLimitedError("too many", 3),
  quota: () => new QuotaError("you have 20 jobs", { limit: 20, retryAfter: 5 }),
  plain: () => new Error("a bug"),
};

const thrower: ServiceSchema = {
  name: "thrower",
  actions: {
    ...Object.fromEntries(
      Object.entries(THROWERS).map(([name, make]) => [
        name,
        () => {
          throw make();
        },
      ]),
    ),
    ranged: { params: { n: { type: "number", max: 10 } }, handler: () => "ok" },
  },
};

const REQ = { method: "GET", url: "/api/x", originalUrl: "/api/x" };

/** What a caller on another node gets: the error as restored, and the HTTP answer the gateway makes of it. */
async function remote(broker: ServiceBroker, action: string): Promise<{ err: Error; status: number; type: string }> {
  const err = await broker.call(`thrower.${action}`).then(
    () => {
      throw new Error(`thrower.${action} answered`);
    },
    (e: unknown) => e as Error,
  );
  const http = toHttpError(err, REQ, 1024);
  return { err, status: http.status, type: http.type };
}

describe("moleculer.config errorRegenerator (mcai's errors across the transporter)", () => {
  // Two nodes over Moleculer's in-memory transporter: every call and its error are serialized.
  const config = loadConfig({});
  const metadata: NodeMetadata = { version: "test", startedAt: new Date(0).toISOString(), db: null };
  const namespace = `regen-${process.pid}`;
  const node = (nodeID: string) =>
    new ServiceBroker({ ...brokerOptions(config, metadata), nodeID, namespace, transporter: "Fake", logger: false });
  const gateway = node("gateway");
  const worker = node("worker");
  worker.createService(thrower);

  beforeAll(async () => {
    await Promise.all([gateway.start(), worker.start()]);
    await gateway.waitForServices("thrower", 5000);
  });
  afterAll(() => Promise.all([gateway.stop(), worker.stop()]));

  it.each<[string, abstract new (...args: never[]) => Error, number, string]>([
    ["notFound", NotFoundError, 404, ERR_NOT_FOUND],
    ["tooLarge", PayloadTooLargeError, 413, "ERR_PAYLOAD_TOO_LARGE"],
    ["conflict", ConflictError, 409, "ERR_CONFLICT"],
    ["notImplemented", NotImplementedError, 501, "ERR_NOT_IMPLEMENTED"],
    ["unavailable", UnavailableError, 503, ERR_UNAVAILABLE],
    ["rateLimited", RateLimitedError, 429, ERR_RATE_LIMITED],
    ["quota", Errors.MoleculerClientError, 429, ERR_RATE_LIMITED],
  ])("keeps %s's class and status on the calling node", async (action, Class, status, type) => {
    const r = await remote(gateway, action);
    expect({ name: r.err.name, isClass: r.err instanceof Class, status: r.status, type: r.type }).toEqual({
      name: THROWERS[action]().name,
      isClass: true,
      status,
      type,
    });
    expect(r.err.message).toBe(THROWERS[action]().message);
    expect((r.err as { data?: unknown }).data).toEqual((THROWERS[action]() as { data?: unknown }).data);
  });

  it("keeps retryable on a transient fault and not on a caller's mistake", async () => {
    expect((await remote(gateway, "unavailable")).err).toMatchObject({ retryable: true });
    expect((await remote(gateway, "notFound")).err).toMatchObject({ retryable: false });
  });

  it("leaves Moleculer's own errors to Moleculer: a params violation is still a ValidationError, 422 with its fields", async () => {
    const err = await gateway.call("thrower.ranged", { n: 11 }).then(
      () => new Error("answered"),
      (e: unknown) => e as Error,
    );
    const http = toHttpError(err, REQ, 1024);
    expect({ isValidation: err instanceof Errors.ValidationError, status: http.status, data: http.data }).toEqual({
      isValidation: true,
      status: 422,
      data: { fields: [expect.objectContaining({ field: "n", type: "numberMax" })] },
    });
  });

  it("still answers a plain error from another node as a 500", async () => {
    const r = await remote(gateway, "plain");
    expect({ status: r.status, type: r.type }).toEqual({ status: 500, type: "ERR_INTERNAL" });
  });
});
