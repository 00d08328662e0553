/** The SQL of the job queue: every statement on the tables jobs and artifacts. All are parameterized. */
import crypto from "node:crypto";
import { Errors } from "moleculer";
import type { Db, Queryable } from "../lib/db";
import { databaseClientError, UnavailableError } from "../lib/errors";
import type { JobStatus } from "./contract";

export interface JobRow {
  id: string;
  /** Who submitted it (see Caller in contract.ts); '' for jobs from inside the cluster. */
  owner: string;
  seq: string;
  kind: string;
  params: Record<string, unknown>;
  params_hash: string;
  status: JobStatus;
  progress: number;
  attempts: number;
  max_attempts: number;
  timeout_s: number;
  node_id: string | null;
  idempotency_key: string | null;
  result: Record<string, unknown> | null;
  error: string | null;
  artifact_id: string | null;
  reused_from: string | null;
  version: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

/**
 * Database faults (connection refused, server gone) are transient for the caller: 503. A data
 * error (a cursor out of range, a bad encoding) is the caller's: 4xx, see databaseClientError.
 */
export function storeFault(err: unknown): never {
  if (err instanceof Errors.MoleculerError) throw err;
  const clientError = databaseClientError(err);
  if (clientError) throw clientError;
  throw new UnavailableError(`the job store is unavailable: ${(err as Error).message}`, { retryAfter: 2 });
}

const COLUMNS = `id::text AS id, owner, seq::text AS seq, kind, params, params_hash, status, progress::float8 AS progress, attempts, max_attempts,
  timeout_s, node_id, idempotency_key, result, error, artifact_id, reused_from::text AS reused_from, version, created_at, started_at, finished_at`;

/** A stable hash of a job's kind and params (key order does not matter). */
export function paramsHash(kind: string, params: Record<string, unknown>): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
          )
        : v;
  return crypto
    .createHash("sha256")
    .update(JSON.stringify([kind, canon(params)]))
    .digest("hex");
}

export interface NewJob {
  owner: string;
  kind: string;
  params: Record<string, unknown>;
  maxAttempts: number;
  timeoutS: number;
  idempotencyKey?: string;
  /** What the params hash covers, when not all of params (an import: not its upload's id). */
  hashed?: Record<string, unknown>;
}

export async function insertJob(tx: Queryable, j: NewJob): Promise<JobRow> {
  const r = await tx.query<JobRow & Record<string, unknown>>(
    `INSERT INTO jobs (id, kind, params, params_hash, status, max_attempts, timeout_s, idempotency_key, owner)
     VALUES ($1, $2, $3::jsonb, $4, 'queued', $5, $6, $7, $8) RETURNING ${COLUMNS}`,
    [
      crypto.randomUUID(),
      j.kind,
      JSON.stringify(j.params),
      paramsHash(j.kind, j.hashed ?? j.params),
      j.maxAttempts,
      j.timeoutS,
      j.idempotencyKey ?? null,
      j.owner,
    ],
  );
  return r.rows[0];
}

/** A new job answered at once from an earlier completed one with the same params. */
export async function insertReused(tx: Queryable, j: NewJob, from: JobRow): Promise<JobRow> {
  const r = await tx.query<JobRow & Record<string, unknown>>(
    `INSERT INTO jobs (id, kind, params, params_hash, status, progress, max_attempts, timeout_s, idempotency_key, result, artifact_id, reused_from, started_at, finished_at, owner)
     VALUES ($1, $2, $3::jsonb, $4, 'completed', 1, $5, $6, $7, $8::jsonb, $9, $10, now(), now(), $11) RETURNING ${COLUMNS}`,
    [
      crypto.randomUUID(),
      j.kind,
      JSON.stringify(j.params),
      from.params_hash,
      j.maxAttempts,
      j.timeoutS,
      j.idempotencyKey ?? null,
      JSON.stringify(from.result),
      from.artifact_id,
      from.id,
      j.owner,
    ],
  );
  return r.rows[0];
}

export async function findReusable(db: Queryable, kind: string, hash: string): Promise<JobRow | undefined> {
  const r = await db.query<JobRow & Record<string, unknown>>(
    `SELECT ${COLUMNS} FROM jobs WHERE kind = $1 AND params_hash = $2 AND status = 'completed' AND NOT result ? 'dropped'
     ORDER BY finished_at DESC LIMIT 1`,
    [kind, hash],
  );
  return r.rows[0];
}

export async function getJob(db: Queryable, id: string): Promise<JobRow | undefined> {
  return (await db.query<JobRow & Record<string, unknown>>(`SELECT ${COLUMNS} FROM jobs WHERE id = $1`, [id])).rows[0];
}

export async function getByIdempotencyKey(db: Queryable, key: string): Promise<JobRow | undefined> {
  return (
    await db.query<JobRow & Record<string, unknown>>(`SELECT ${COLUMNS} FROM jobs WHERE idempotency_key = $1`, [key])
  ).rows[0];
}

export interface ListFilter {
  /** Only this owner's jobs; undefined: everyone's (an admin). */
  owner?: string;
  status?: JobStatus;
  kind?: string;
  beforeSeq?: string;
  limit: number;
}

/** Newest first, keyset on seq. */
export async function listJobs(db: Queryable, f: ListFilter): Promise<{ rows: JobRow[]; more: boolean }> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.owner !== undefined) where.push(`owner = $${params.push(f.owner)}`);
  if (f.status) where.push(`status = $${params.push(f.status)}`);
  if (f.kind) where.push(`kind = $${params.push(f.kind)}`);
  if (f.beforeSeq) where.push(`seq < $${params.push(f.beforeSeq)}`);
  params.push(f.limit + 1);
  const r = await db.query<JobRow & Record<string, unknown>>(
    `SELECT ${COLUMNS} FROM jobs j ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY j.seq DESC LIMIT $${params.length}`,
    params,
  );
  return { rows: r.rows.slice(0, f.limit), more: r.rows.length > f.limit };
}

/**
 * Claims up to `n` runnable jobs for `nodeId`, fairly across owners: each owner's queued jobs are
 * numbered oldest first, and a job ranks by its number plus the jobs its owner has running now, so
 * an owner with nothing running goes before the 2nd job of one with 100 queued. Equal ranks go to
 * the owner served least recently (never, first), then the oldest job: round-robin, so a worker
 * with one thread alternates between owners instead of draining the first one's queue. The ranking
 * reads without locks; the claim then locks the best `n` still queued with SKIP LOCKED, so
 * concurrent claimers never share a job. Only jobs of `kinds` (what this worker can run).
 */
/** `timeoutMs` bounds the wait for the answer (see QueryOptions): a claim that committed unseen is requeued as stale. */
export async function claimJobs(
  db: Queryable,
  nodeId: string,
  n: number,
  kinds: readonly string[],
  timeoutMs?: number,
): Promise<JobRow[]> {
  const r = await db.query<JobRow & Record<string, unknown>>(
    `WITH served AS (
       SELECT owner, count(*) FILTER (WHERE status = 'processing') AS running, max(started_at) AS last_start
       FROM jobs WHERE status = 'processing' OR started_at > now() - interval '1 hour' GROUP BY owner
     ), ranked AS (
       SELECT j.id, j.seq, s.last_start,
         coalesce(s.running, 0) + row_number() OVER (PARTITION BY j.owner ORDER BY j.run_after, j.seq) AS rank
       FROM jobs j LEFT JOIN served s ON s.owner = j.owner
       WHERE j.status = 'queued' AND j.run_after <= now() AND j.kind = ANY($3::text[])
     ), best AS (
       SELECT id, rank, last_start, seq FROM ranked ORDER BY rank, last_start NULLS FIRST, seq LIMIT $2 * 2
     ), claim AS (
       SELECT j.id FROM jobs j JOIN best b ON b.id = j.id WHERE j.status = 'queued'
       ORDER BY b.rank, b.last_start NULLS FIRST, b.seq LIMIT $2 FOR UPDATE OF j SKIP LOCKED
     )
     UPDATE jobs SET status = 'processing', node_id = $1, attempts = attempts + 1, started_at = now(), heartbeat_at = now(),
       progress = 0, version = version + 1
     WHERE id IN (SELECT id FROM claim)
     RETURNING ${COLUMNS}`,
    [nodeId, n, kinds],
    { timeoutMs },
  );
  return r.rows;
}

/** Queued and running jobs of `owner`, and of everyone. */
export async function waitingCounts(db: Queryable, owner: string): Promise<{ owner: number; total: number }> {
  const r = await db.query<{ owner: number; total: number }>(
    `SELECT count(*) FILTER (WHERE owner = $1)::int AS owner, count(*)::int AS total
     FROM jobs WHERE status IN ('queued', 'processing')`,
    [owner],
  );
  return r.rows[0];
}

/** Serializes the submits of one owner to the end of the transaction (its cap is then exact). */
export async function lockOwner(tx: Queryable, owner: string): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext('mcai.jobs.owner:' || $1))", [owner]);
}

/** Updates progress of a job this node still holds; false when it no longer does. */
export async function setProgress(
  db: Queryable,
  id: string,
  nodeId: string,
  attempt: number,
  progress: number,
): Promise<boolean> {
  const r = await db.query(
    `UPDATE jobs SET progress = $4, heartbeat_at = now(), version = version + 1
     WHERE id = $1 AND node_id = $2 AND attempts = $3 AND status = 'processing' AND progress < $4`,
    [id, nodeId, attempt, progress],
  );
  return r.rowCount > 0;
}

export async function heartbeat(db: Queryable, nodeId: string, ids: string[], timeoutMs?: number): Promise<void> {
  if (ids.length)
    await db.query(
      `UPDATE jobs SET heartbeat_at = now() WHERE node_id = $1 AND status = 'processing' AND id = ANY($2::uuid[])`,
      [nodeId, ids],
      { timeoutMs },
    );
}

/** Stores bytes once by their sha256; returns the id. */
export async function putArtifact(tx: Queryable, bytes: Buffer, contentType: string): Promise<string> {
  const id = crypto.createHash("sha256").update(bytes).digest("hex");
  await tx.query(
    `INSERT INTO artifacts (id, content_type, size, bytes) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
    [id, contentType, bytes.length, bytes],
  );
  return id;
}

export async function getArtifact(
  db: Queryable,
  id: string,
): Promise<{ content_type: string; bytes: Buffer } | undefined> {
  const r = await db.query<{ content_type: string; bytes: Buffer | Uint8Array }>(
    `SELECT content_type, bytes FROM artifacts WHERE id = $1`,
    [id],
  );
  const row = r.rows.at(0);
  return row ? { content_type: row.content_type, bytes: Buffer.from(row.bytes) } : undefined;
}

/** Completes a job this node holds in this attempt; false when it no longer holds it (requeued, cancelled). */
export async function completeJob(
  tx: Queryable,
  id: string,
  nodeId: string,
  attempt: number,
  result: Record<string, unknown>,
  artifactId: string | null,
): Promise<boolean> {
  const r = await tx.query(
    `UPDATE jobs SET status = 'completed', progress = 1, result = $4::jsonb, artifact_id = $5, error = NULL, finished_at = now(), version = version + 1
     WHERE id = $1 AND node_id = $2 AND attempts = $3 AND status = 'processing'`,
    [id, nodeId, attempt, JSON.stringify(result), artifactId],
  );
  return r.rowCount > 0;
}

/** After a failed attempt: back to the queue after `delayS`, or failed for good. */
export async function failAttempt(
  db: Queryable,
  id: string,
  nodeId: string,
  attempt: number,
  error: string,
  delayS: number | null,
): Promise<JobStatus | undefined> {
  const r = await db.query<{ status: JobStatus }>(
    delayS === null
      ? `UPDATE jobs SET status = 'failed', error = $4, finished_at = now(), version = version + 1
         WHERE id = $1 AND node_id = $2 AND attempts = $3 AND status = 'processing' RETURNING status`
      : `UPDATE jobs SET status = 'queued', error = $4, node_id = NULL, progress = 0, run_after = now() + make_interval(secs => $5), version = version + 1
         WHERE id = $1 AND node_id = $2 AND attempts = $3 AND status = 'processing' RETURNING status`,
    delayS === null ? [id, nodeId, attempt, error] : [id, nodeId, attempt, error, delayS],
  );
  return r.rows[0]?.status;
}

/** Cancels a job that has not finished; returns the row as it was before, or undefined. */
export async function cancelJob(db: Queryable, id: string): Promise<JobRow | undefined> {
  const r = await db.query<JobRow & Record<string, unknown>>(
    `UPDATE jobs j SET status = 'cancelled', finished_at = now(), version = j.version + 1, error = 'cancelled'
     FROM jobs old WHERE j.id = $1 AND old.id = j.id AND j.status IN ('queued', 'processing')
     RETURNING old.id::text AS id, old.status, old.node_id, j.version`,
    [id],
  );
  return r.rows[0];
}

/**
 * An operator's retry of a failed or cancelled job: queued again with fresh attempts. Returns the
 * row as this update left it (a worker may claim it the moment it commits), or undefined when the
 * job is in another status.
 */
export async function retryJob(db: Queryable, id: string): Promise<JobRow | undefined> {
  const r = await db.query<JobRow & Record<string, unknown>>(
    `UPDATE jobs SET status = 'queued', attempts = 0, error = NULL, progress = 0, node_id = NULL, run_after = now(), started_at = NULL, finished_at = NULL, version = version + 1
     WHERE id = $1 AND status IN ('failed', 'cancelled')
     RETURNING ${COLUMNS}`,
    [id],
  );
  return r.rows[0];
}

/**
 * Puts back in the queue the jobs of nodes that are gone: those of `nodeId`, or those whose
 * heartbeat is older than `staleS` (except `exceptIds`, running here now). The lost attempt is
 * not counted against the job. A row locked by another transaction is skipped, not waited for
 * (its holder is completing or failing it, or is a node gone mid-transaction whose lock the server
 * has not yet dropped): the stale-heartbeat round takes it later.
 */
export async function requeueOrphans(
  db: Queryable,
  by: { nodeId?: string; staleS?: number; exceptIds?: string[] },
  timeoutMs?: number,
): Promise<string[]> {
  const cond =
    by.nodeId !== undefined
      ? "node_id = $1"
      : "heartbeat_at < now() - make_interval(secs => $1) AND NOT (id = ANY($2::uuid[]))";
  const params = by.nodeId !== undefined ? [by.nodeId] : [by.staleS, by.exceptIds ?? []];
  const r = await db.query<{ id: string }>(
    `UPDATE jobs SET status = 'queued', node_id = NULL, attempts = greatest(attempts - 1, 0), progress = 0, run_after = now(), version = version + 1
     WHERE id IN (SELECT id FROM jobs WHERE status = 'processing' AND ${cond} FOR UPDATE SKIP LOCKED)
     RETURNING id::text AS id`,
    params,
    { timeoutMs },
  );
  return r.rows.map((x) => x.id);
}

/** Deletes finished jobs older than the retention, then artifacts no job refers to. */
export async function expire(tx: Queryable, retentionDays: number): Promise<{ jobs: number; artifacts: number }> {
  const jobs = await tx.query(
    `DELETE FROM jobs WHERE status IN ('completed', 'failed', 'cancelled') AND finished_at < now() - make_interval(days => $1)`,
    [retentionDays],
  );
  const artifacts = await tx.query(
    `DELETE FROM artifacts a WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.artifact_id = a.id) AND a.created_at < now() - make_interval(days => $1)`,
    [retentionDays],
  );
  return { jobs: jobs.rowCount, artifacts: artifacts.rowCount };
}

/**
 * Keeps the stored result files within `maxBytes`: the oldest artifacts beyond it are deleted and
 * the jobs that pointed at them keep their status, with `{dropped}` as result. One node at a time
 * (a transaction-scoped advisory lock, taken without waiting). Returns the artifacts dropped.
 */
export async function enforceResultsBudget(db: Db, maxBytes: number): Promise<number> {
  return db.transaction(async (tx) => {
    const lock = await tx.query<{ ok: boolean }>(
      "SELECT pg_try_advisory_xact_lock(hashtext('mcai.jobs.results-budget')) AS ok",
    );
    if (!lock.rows[0].ok) return 0;
    const over = await tx.query<{ id: string }>(
      `SELECT id FROM (SELECT id, sum(size) OVER (ORDER BY created_at DESC, id DESC) AS kept FROM artifacts) a WHERE kept > $1`,
      [maxBytes],
    );
    const ids = over.rows.map((x) => x.id);
    if (!ids.length) return 0;
    await tx.query(
      `UPDATE jobs SET artifact_id = NULL, version = version + 1,
         result = jsonb_build_object('dropped', 'the result was dropped to keep stored results within JOBS_RESULTS_MAX_MB')
       WHERE artifact_id = ANY($1::text[])`,
      [ids],
    );
    await tx.query(`DELETE FROM artifacts WHERE id = ANY($1::text[])`, [ids]);
    return ids.length;
  });
}

/**
 * The retention sweep on one node at a time: under a transaction-scoped advisory lock, taken
 * without waiting; undefined when another node holds it.
 */
export async function expireOnce(
  db: Db,
  retentionDays: number,
): Promise<{ jobs: number; artifacts: number } | undefined> {
  return db.transaction(async (tx) => {
    const lock = await tx.query<{ ok: boolean }>(
      "SELECT pg_try_advisory_xact_lock(hashtext('mcai.jobs.expire')) AS ok",
    );
    return lock.rows[0].ok ? expire(tx, retentionDays) : undefined;
  });
}

export async function waitingByKind(db: Queryable): Promise<{ kind: string; status: string; n: number }[]> {
  return (
    await db.query<{ kind: string; status: string; n: number }>(
      `SELECT kind, status, count(*)::int AS n FROM jobs WHERE status IN ('queued', 'processing') GROUP BY kind, status`,
    )
  ).rows;
}
