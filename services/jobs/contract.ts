/**
 * What callers of jobs need: the job statuses (the one list), what a client sees of a job, the
 * `job.progress` event, and the params and answers of the actions. Imports nothing heavy.
 */
import crypto from "node:crypto";
import { HEAVY_KINDS, type HeavyKind, type KindParams } from "../compute/contract";

/** The kind of job that imports an uploaded dataset file (run by a node with jobs and datasets). */
export const IMPORT_KIND = "import";

/** Every kind of job: compute's heavy kinds and imports. */
export const JOB_KINDS = [...HEAVY_KINDS, IMPORT_KIND] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Params of `jobs.submitImport` (from the datasets service, after it stored the upload). */
export interface ImportJobParams {
  import_id: string;
  domain: string;
  format: string;
  filename: string;
  /** Records in the file and its size, for progress and the client. */
  records: number;
  size: number;
  sha256: string;
}

/** Every status of a job, in the order a job goes through them. */
export const JOB_STATUSES = ["queued", "processing", "completed", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** The statuses a job never leaves (but by an operator's retry). */
export const FINAL_STATUSES: readonly JobStatus[] = ["completed", "failed", "cancelled"];

/** A job id: a UUID (jobs.get answers 422 for anything else, the event stream 404). */
export const JOB_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What clients see of a job. `version` grows with every change (the SSE event id). */
export interface JobView {
  job_id: string;
  kind: string;
  status: JobStatus;
  progress: number;
  attempts: number;
  result?: Record<string, unknown>;
  error?: string;
  reused_from?: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  version: number;
}

/** `job.progress`: a job changed (broadcast; the gateway wakes the SSE streams watching it). */
export interface JobEvent {
  job_id: string;
  status: JobStatus;
  progress: number;
}

/**
 * Params of `jobs.submit<Kind>`: the kind's compute params at the top, the optional ones also
 * under `options` (where they win), with `options.fresh` to run again instead of reusing a result.
 */
export type SubmitParams<K extends HeavyKind> = KindParams[K] & {
  options?: Partial<KindParams[K]> & { fresh?: boolean };
};

/** The response header (and request header) of an anonymous owner's token. */
export const OWNER_TOKEN_HEADER = "X-Owner-Token";

/** The owner id of an anonymous owner token: only its hash is stored. */
export function ownerOfToken(token: string): string {
  return `anon:${crypto.createHash("sha256").update(token).digest("hex").slice(0, 32)}`;
}

/**
 * Who calls a jobs action over HTTP (the gateway sets it, see api/owner.ts): the owner id of its
 * key or token (none: a caller that owns nothing yet), and whether its key is an admin key.
 * A call without a caller comes from inside the cluster (the REPL, the gateway's own reads).
 */
export interface Caller {
  owner?: string;
  admin: boolean;
}

/** Meta of every jobs action: the caller, and the owner token a submit issued to it. */
export interface CallerMeta {
  caller?: Caller;
  ownerToken?: string;
}

/** Meta of a submit: the gateway puts the Idempotency-Key header here. */
export interface SubmitMeta extends CallerMeta {
  idempotencyKey?: string;
  $statusCode?: number;
}

/** The answer of a submit (HTTP 202): where to follow the job. */
export interface SubmitAnswer {
  job_id: string;
  status: JobStatus;
  poll_url: string;
  events_url: string;
  reused_from?: string;
  /** A new anonymous owner's token: send it back as X-Owner-Token to see the job. */
  owner_token?: string;
}

/** Params of jobs.get, jobs.cancel and jobs.retry. */
export interface JobIdParams {
  id: string;
}

/** Params of jobs.list: `cursor` is the previous page's `next_cursor`. */
export interface ListParams {
  status?: JobStatus;
  kind?: JobKind;
  cursor?: string;
  limit?: number;
}

/** A page of jobs.list, newest first. */
export interface JobPage {
  jobs: JobView[];
  next_cursor: string | null;
}

/** Params of jobs.artifact: the sha256 of the file. */
export interface ArtifactParams {
  id: string;
}
