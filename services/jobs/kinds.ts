/** What each kind of job runs and keeps: the compute action, its params, and its file. */
import type { HeavyKind } from "../compute/contract";

interface KindSpec {
  /** The field of the compute result that holds the file, base64. */
  file?: { field: string; contentType: string };
  /** Params added for the job run (a cymatic job keeps its PNG). */
  runParams?: Record<string, unknown>;
}

export const KINDS: Record<HeavyKind, KindSpec> = {
  art: { file: { field: "png_base64", contentType: "image/png" } },
  music: { file: { field: "wav_base64", contentType: "audio/wav" } },
  cymatic: { file: { field: "png_base64", contentType: "image/png" }, runParams: { png: true } },
  video: { file: { field: "gif_base64", contentType: "image/gif" } },
  emotion: {},
};

/** Splits a compute result into the job's summary and its file. */
export function splitResult(
  kind: HeavyKind,
  out: Record<string, unknown>,
): { summary: Record<string, unknown>; file?: { bytes: Buffer; contentType: string } } {
  const spec = KINDS[kind].file;
  if (!spec || typeof out[spec.field] !== "string") return { summary: out };
  const { [spec.field]: b64, ...summary } = out;
  return { summary, file: { bytes: Buffer.from(b64 as string, "base64"), contentType: spec.contentType } };
}
