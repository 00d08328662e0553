/** What each kind of job runs and keeps: the compute action, its params, and its file. */
import type { HeavyKind } from "../compute/contract";

interface KindSpec {
  /** The field of the compute result that holds the file: base64, or a Buffer when asked `fileAsBytes`. */
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
  const value = spec && out[spec.field];
  if (!spec || (typeof value !== "string" && !(value instanceof Uint8Array))) return { summary: out };
  const { [spec.field]: _file, ...summary } = out;
  const bytes =
    typeof value === "string"
      ? Buffer.from(value, "base64")
      : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return { summary, file: { bytes, contentType: spec.contentType } };
}
