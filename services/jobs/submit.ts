/**
 * Submitting a job: the submit actions' schemas (built from compute's), the params a job keeps,
 * the size bounds, the Idempotency-Key, and the insert, which answers at once from an earlier
 * completed job with the same params unless the caller asks for a fresh run.
 */
import type { ActionParams } from "moleculer";
import type { Config } from "../lib/config";
import type { Db, Queryable } from "../lib/db";
import { ConflictError, PayloadTooLargeError, UnprocessableError } from "../lib/errors";
import type { JobSettings } from "../lib/config";
import { KIND_PARAMS, kindSizeBreach, type HeavyKind } from "../compute/contract";
import { IMPORT_KIND, type Caller, type ImportJobParams, type SubmitParams } from "./contract";
import {
  findReusable,
  getByIdempotencyKey,
  insertJob,
  insertReused,
  lockOwner,
  paramsHash,
  retryJob,
  storeFault,
  type JobRow,
  type NewJob,
} from "./store";
import { checkQuota } from "./quota";
import { KINDS } from "./kinds";

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/**
 * The schema of `jobs.submit<Kind>`: compute's schema of the kind at the top (but operation_id,
 * which the worker sets), and `options` with the kind's optional fields and `fresh`. Unknown
 * fields are dropped. An option's rule keeps its bare name as label, so a 422 names it as it did
 * when the options were checked after the merge ("The 'width' field …").
 */
export function submitSchema(kind: HeavyKind): ActionParams {
  const { operation_id: _setByWorker, ...fields } = KIND_PARAMS[kind];
  const options: ActionParams = {};
  for (const [name, rule] of Object.entries(fields))
    if (typeof rule === "object" && rule.optional === true) options[name] = { ...rule, label: name };
  options.fresh = { type: "boolean", optional: true };
  return {
    ...fields,
    options: { type: "object", optional: true, strict: "remove", props: options },
    $$strict: "remove",
  };
}

/** The params a job keeps, from validated submit params: the kind's fields, options winning, no `fresh`. */
export function jobParams(body: SubmitParams<HeavyKind>): Record<string, unknown> {
  const { options, ...top } = body;
  const { fresh: _notKept, ...tunables } = options ?? {};
  const params: Record<string, unknown> = { ...top, ...tunables };
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
}

/**
 * The Idempotency-Key as stored: scoped by its owner, so one owner's key never finds (nor blocks
 * with a 409) another owner's job. The key is visible ASCII and an owner id has no space, so
 * "<owner> <key>" is one owner's key only.
 * @throws UnprocessableError (422) when the key is not 1-200 visible ASCII characters.
 */
function storedIdempotencyKey(key: string | undefined, owner: string): string | undefined {
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key))
    throw new UnprocessableError("Idempotency-Key must be 1-200 visible ASCII characters", {
      field: "Idempotency-Key",
    });
  return `${owner} ${key}`;
}

/** The params of jobs.submitImport (the datasets service checked the file itself). */
export const IMPORT_PARAMS: ActionParams = {
  import_id: { type: "uuid" },
  domain: { type: "string", min: 1, max: 64 },
  format: { type: "enum", values: ["json", "jsonl", "txt"] },
  filename: { type: "string", max: 1000 },
  records: { type: "number", integer: true, min: 0 },
  size: { type: "number", integer: true, min: 0 },
  sha256: { type: "string", pattern: /^[0-9a-f]{64}$/ },
  $$strict: "remove",
};

/** Imports run longer than compute jobs: an hour unless JOBS_TIMEOUT_S names `import`. */
const IMPORT_TIMEOUT_S = 3600;

/**
 * Stores the import job of an upload. Its params hash is of the domain, format and file bytes, so
 * an Idempotency-Key sent again with the same file gives the same job (and another file a 409).
 * An import is never answered from an earlier one: importing a file again adds what is missing.
 * @throws as submitJob
 */
export async function submitImportJob(
  db: Db,
  config: Config,
  p: ImportJobParams,
  idempotencyKey: string | undefined,
  caller: Caller | undefined,
): Promise<JobRow> {
  const spec: NewJob = {
    owner: caller?.owner ?? "",
    kind: IMPORT_KIND,
    params: { ...p },
    maxAttempts: config.jobs.attempts[IMPORT_KIND] ?? config.jobs.attempts.default,
    timeoutS: config.jobs.timeoutS[IMPORT_KIND] ?? IMPORT_TIMEOUT_S,
    idempotencyKey: storedIdempotencyKey(idempotencyKey, caller?.owner ?? ""),
    hashed: { domain: p.domain, format: p.format, sha256: p.sha256 },
  };
  const caps = caller?.owner === undefined ? undefined : config.jobs;
  const hash = paramsHash(IMPORT_KIND, { domain: p.domain, format: p.format, sha256: p.sha256 });
  return db.transaction((tx) => insertOnce(tx, spec, hash, true, caps)).catch(storeFault);
}

/** The job this key already made, or a new (or reused) one, within the caps; in one transaction. */
async function insertOnce(
  tx: Queryable,
  spec: NewJob,
  hash: string,
  fresh: boolean,
  caps: JobSettings | undefined,
): Promise<JobRow> {
  if (caps) await lockOwner(tx, spec.owner);
  if (spec.idempotencyKey) {
    const existing = await getByIdempotencyKey(tx, spec.idempotencyKey);
    if (existing) {
      if (existing.kind !== spec.kind || existing.params_hash !== hash)
        throw new ConflictError("this Idempotency-Key was used for a different request", {
          field: "Idempotency-Key",
        });
      return existing;
    }
  }
  const earlier = fresh ? undefined : await findReusable(tx, spec.kind, hash);
  if (earlier) return insertReused(tx, spec, earlier);
  if (caps) await checkQuota(tx, spec.owner, caps);
  return insertJob(tx, spec);
}

/**
 * Stores a job of `kind` for `owner` from validated submit params; `owner` undefined: a job from
 * inside the cluster (no owner, no caps).
 * @throws PayloadTooLargeError (413) a size over its bound, UnprocessableError (422) a bad
 * Idempotency-Key, ConflictError (409) a key used for other params, QuotaError (429) the owner's
 * cap, UnavailableError (503) the total cap or the store away.
 */
export async function submitJob(
  db: Db,
  config: Config,
  kind: HeavyKind,
  body: SubmitParams<HeavyKind>,
  idempotencyKey: string | undefined,
  owner: string | undefined,
): Promise<JobRow> {
  const fresh = body.options?.fresh === true;
  const params = jobParams(body);
  // The sizes of the run, with what the worker adds (a cymatic job's PNG).
  const breach = kindSizeBreach(kind, { ...params, ...KINDS[kind].runParams }, config.compute);
  if (breach) throw new PayloadTooLargeError(breach.message, breach.data);
  const hash = paramsHash(kind, params);
  const spec: NewJob = {
    owner: owner ?? "",
    kind,
    params,
    maxAttempts: config.jobs.attempts[kind] ?? config.jobs.attempts.default,
    timeoutS: config.jobs.timeoutS[kind] ?? config.jobs.timeoutS.default,
    idempotencyKey: storedIdempotencyKey(idempotencyKey, owner ?? ""),
  };
  const caps = owner === undefined ? undefined : config.jobs;
  return db.transaction((tx) => insertOnce(tx, spec, hash, fresh, caps)).catch(storeFault);
}

/**
 * Queues a failed or cancelled job of `owner` again and returns it as queued; undefined when it is
 * in another status. With
 * `caps` (a caller that is not admin), the owner's and the total cap apply as to a submit.
 * @throws QuotaError (429), UnavailableError (503) as submitJob
 */
export async function retryWithinCaps(
  db: Db,
  id: string,
  owner: string,
  caps: JobSettings | undefined,
): Promise<JobRow | undefined> {
  return db
    .transaction(async (tx) => {
      if (caps) {
        await lockOwner(tx, owner);
        await checkQuota(tx, owner, caps);
      }
      return retryJob(tx, id);
    })
    .catch(storeFault);
}
