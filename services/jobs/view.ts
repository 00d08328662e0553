/** The shapes clients get of jobs: a job, a page of jobs, a submit's answer, a finished job's 409. */
import type { JobPage, JobStatus, JobView, SubmitAnswer } from "./contract";
import type { JobRow } from "./store";

/** What clients see of a stored job: progress to thousandths, the error only when it did not complete. */
export function jobView(j: JobRow): JobView {
  const v: JobView = {
    job_id: j.id,
    kind: j.kind,
    status: j.status,
    progress: Math.round(j.progress * 1000) / 1000,
    attempts: j.attempts,
    created_at: j.created_at,
    started_at: j.started_at,
    finished_at: j.finished_at,
    version: j.version,
  };
  if (j.result) v.result = j.result;
  if (j.error && j.status !== "completed") v.error = j.error;
  if (j.reused_from) v.reused_from = j.reused_from;
  return v;
}

/** A page of rows (one more was asked than shown: `more` says it came); the cursor is the last seq. */
export function jobPage(rows: JobRow[], more: boolean): JobPage {
  return { jobs: rows.map(jobView), next_cursor: more ? rows[rows.length - 1].seq : null };
}

/** A submit's answer: the job's id and status, and where to poll it or stream its events. */
export function submitAnswer(job: JobRow): SubmitAnswer {
  return {
    job_id: job.id,
    status: job.status,
    poll_url: `/api/job/${job.id}`,
    events_url: `/api/job/${job.id}/events`,
    ...(job.reused_from ? { reused_from: job.reused_from } : {}),
  };
}

/** How a cancel's 409 words a job that already finished. */
export function alreadyFinished(id: string, status: JobStatus): string {
  const how = status === "completed" ? "completed" : status === "failed" ? "failed" : "been cancelled";
  return `job ${id} has already ${how}`;
}
