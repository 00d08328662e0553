/**
 * The real Postgres and Redis of the integration suites, as global-setup found them, and a
 * fresh database per test file.
 */
import crypto from "node:crypto";
import pg from "pg";

/** Postgres admin URL, or "" when none answers (its suites are skipped). */
export const PG_URL = process.env.MCAI_TEST_DATABASE_URL ?? "";
/** Redis URL, or "" when none answers (its suites are skipped). */
export const REDIS_URL = process.env.MCAI_TEST_REDIS_URL ?? "";

export const describeWithPg = PG_URL ? describe : describe.skip;
export const describeWithRedis = REDIS_URL ? describe : describe.skip;
export const describeWithPgAndRedis = PG_URL && REDIS_URL ? describe : describe.skip;

/** A unique name for databases, namespaces and node ids of one test file. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${crypto.randomBytes(3).toString("hex")}`;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates an empty database and returns its URL. */
export async function createDatabase(prefix = "mcai_t"): Promise<string> {
  const name = uniqueName(prefix);
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops a database made by createDatabase, cutting its remaining connections. */
export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
