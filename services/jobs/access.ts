/**
 * Who may see a job: its owner, an admin key, or a call from inside the cluster (no caller: the
 * REPL, the gateway's own reads after its check). Anyone else gets the 404 of a job that does not
 * exist, so a job id reveals nothing of other owners' jobs.
 */
import type { Db } from "../lib/db";
import { NotFoundError } from "../lib/errors";
import type { Caller } from "./contract";
import { getJob, storeFault, type JobRow } from "./store";

/** True when `caller` may see and act on `job`. */
export function canSee(caller: Caller | undefined, job: Pick<JobRow, "owner">): boolean {
  return !caller || caller.admin || (caller.owner !== undefined && caller.owner === job.owner);
}

/**
 * Whose jobs a list shows: undefined for everyone's (admin, inside the cluster), null for none (a
 * caller that owns nothing yet), else the caller's owner id.
 */
export function listedOwner(caller: Caller | undefined): string | null | undefined {
  if (!caller || caller.admin) return undefined;
  return caller.owner ?? null;
}

/** The job, when `caller` may see it. @throws NotFoundError (404) otherwise, or when there is none. */
export async function visibleJob(db: Db, id: string, caller: Caller | undefined): Promise<JobRow> {
  const j = await getJob(db, id).catch(storeFault);
  if (!j || !canSee(caller, j)) throw new NotFoundError(`no job ${id}`, { id });
  return j;
}
