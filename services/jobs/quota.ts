/**
 * Caps on waiting work: queued and running jobs per owner (429, so one client cannot fill the
 * queue) and in all (503, the node is full for everyone). Both answer with a Retry-After.
 */
import { Errors } from "moleculer";
import type { JobSettings } from "../lib/config";
import { ERR_RATE_LIMITED, UnavailableError } from "../lib/errors";
import type { Queryable } from "../lib/db";
import { waitingCounts } from "./store";

/** The seconds a client is told to wait before it submits again. */
const RETRY_AFTER_S = 5;

/** An owner has as many queued and running jobs as JOBS_OWNER_MAX allows (429). */
export class QuotaError extends Errors.MoleculerClientError {
  constructor(message: string, data: Record<string, unknown>) {
    super(message, 429, ERR_RATE_LIMITED, data);
  }
}

/**
 * @throws QuotaError (429) when `owner` is at JOBS_OWNER_MAX, UnavailableError (503) when the
 * queue is at JOBS_TOTAL_MAX.
 */
export async function checkQuota(tx: Queryable, owner: string, caps: JobSettings): Promise<void> {
  const n = await waitingCounts(tx, owner);
  if (n.owner >= caps.ownerMax)
    throw new QuotaError(
      `you have ${n.owner} jobs queued or running, the limit is ${caps.ownerMax} (JOBS_OWNER_MAX): wait for some to finish`,
      { field: "jobs", limit: caps.ownerMax, actual: n.owner, retryAfter: RETRY_AFTER_S },
    );
  if (n.total >= caps.totalMax)
    throw new UnavailableError(
      `the job queue is full (${n.total} jobs queued or running, JOBS_TOTAL_MAX ${caps.totalMax}): try again later`,
      { limit: caps.totalMax, retryAfter: RETRY_AFTER_S },
    );
}
