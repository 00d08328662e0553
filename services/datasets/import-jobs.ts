/**
 * Imports as jobs: `POST /api/datasets/:domain/import` stores the upload (upload.ts) and queues a
 * job of kind "import" (answering 202 at once); the job worker of a node running datasets calls
 * datasets.runImportJob, which imports the upload a batch per transaction with its checkpoint
 * (importer.ts: importUpload), reporting progress like any job.
 */
import type { Context } from "moleculer";
import type { Db } from "../lib/db";
import { NotFoundError } from "../lib/errors";
import type { ImportJobParams, SubmitAnswer, SubmitMeta } from "../jobs/contract";
import { importUpload, type ImportSummary, type UploadImportOptions } from "./importer";
import { parseStream } from "./records";
import { readUpload, storeUpload, type UploadSpec } from "./upload";
import { deleteUpload, getUpload, setUploadJob } from "./store";

/** What the submit answers: the job's URLs, and what was uploaded. */
export interface ImportSubmitAnswer extends SubmitAnswer {
  domain: string;
  records: number;
  bytes: number;
}

/**
 * Stores the upload and queues its job. A failure after the upload (a cap, a conflicting
 * Idempotency-Key) deletes it; an Idempotency-Key sent again with the same file answers the
 * first job and keeps only the first upload.
 * @throws MalformedFileError, 413 too large, and what jobs.submitImport throws
 */
export async function submitUpload(
  db: Db,
  ctx: Context<unknown, SubmitMeta>,
  input: NodeJS.ReadableStream,
  spec: UploadSpec,
): Promise<ImportSubmitAnswer> {
  const upload = await storeUpload(db, input as never, spec);
  let answer: SubmitAnswer & { import_id?: string };
  try {
    const params: ImportJobParams = {
      import_id: upload.id,
      domain: spec.domain,
      format: spec.format,
      filename: spec.filename,
      records: upload.records,
      size: upload.size,
      sha256: upload.sha256,
    };
    answer = await ctx.call<SubmitAnswer & { import_id?: string }, ImportJobParams>("jobs.submitImport", params, {
      meta: ctx.meta,
    });
  } catch (err) {
    await deleteUpload(db, upload.id);
    throw err;
  }
  if (answer.import_id === upload.id) await setUploadJob(db, upload.id, answer.job_id);
  else await deleteUpload(db, upload.id);
  const { import_id: _internal, ...shown } = answer;
  return { ...shown, domain: spec.domain, records: upload.records, bytes: upload.size };
}

/**
 * Runs (or resumes) the import of an upload for job `jobId`; a finished upload answers its
 * summary again (the job's earlier attempt committed it all but could not complete).
 * @throws NotFoundError when the upload is gone, AbortedError when cancelled
 */
export async function runUploadJob(
  o: Omit<UploadImportOptions, "progress">,
  bounds: Pick<UploadSpec, "maxChars" | "maxJsonBytes">,
  jobId: string,
  importId: string,
): Promise<ImportSummary & { resumed_at?: number }> {
  const upload = await getUpload(o.db, importId);
  if (!upload) throw new NotFoundError(`the upload of import job ${jobId} is gone`, { id: importId });
  if (upload.finished_at)
    return {
      domain: upload.domain,
      file: upload.filename,
      read: upload.records_done,
      added: upload.summary.added ?? 0,
      duplicates: upload.summary.duplicates ?? 0,
      rejected: upload.summary.rejected ?? 0,
      version: upload.summary.version ?? null,
    };
  const records = parseStream(
    upload.filename,
    upload.format as UploadSpec["format"],
    readUpload(o.db, upload.id),
    bounds.maxChars,
    bounds.maxJsonBytes,
  );
  const progress = (done: number, total: number) =>
    void o.ctx.broker.broadcastLocal("compute.progress", {
      id: jobId,
      task: "import",
      progress: total ? done / total : 1,
    });
  const summary = await importUpload({ ...o, progress }, upload, records);
  return upload.records_done ? { ...summary, resumed_at: upload.records_done } : summary;
}
