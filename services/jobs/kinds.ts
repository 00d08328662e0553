/** What each kind of job runs and keeps: the compute action, its params, and its file. */
import type { HeavyKind } from "../compute/contract";

interface KindSpec {
  /** The field of the compute result that holds the file, base64. */
  fileField?: string;
  contentType?: string;
  /** Params added for the job run (a cymatic job keeps its PNG). */
  runParams?: Record<string, unknown>;
}

export const KINDS: Record<HeavyKind, KindSpec> = {
  art: { fileField: "png_base64", contentType: "image/png" },
  music: { fileField: "wav_base64", contentType: "audio/wav" },
  cymatic: { fileField: "png_base64", contentType: "image/png", runParams: { png: true } },
  video: { fileField: "gif_base64", contentType: "image/gif" },
  emotion: {},
};

/** Splits a compute result into the job's summary and its file. */
export function splitResult(
  kind: HeavyKind,
  out: Record<string, unknown>,
): { summary: Record<string, unknown>; file?: { bytes: Buffer; contentType: string } } {
  const spec = KINDS[kind];
  if (!spec.fileField || typeof out[spec.fileField] !== "string") return { summary: out };
  const { [spec.fileField]: b64, ...summary } = out;
  return { summary, file: { bytes: Buffer.from(b64 as string, "base64"), contentType: spec.contentType! } };
}
