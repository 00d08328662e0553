/**
 * What callers of compute need: the kinds of heavy work with their parameter schemas and types
 * (compute's actions declare them; jobs builds its submit schemas from them), the defaults a kind
 * uses when the caller gives none, the size bounds each kind has in config, and the progress
 * event. Imports nothing heavy: constants of the pure compute/lib modules, and types.
 */
import type { ActionParams } from "moleculer";
import { ART_STYLES, type ArtStyle } from "../../compute/lib/art";
import type { Plate } from "../../compute/lib/chladni";
import { EMOTION_NAMES } from "../../compute/lib/emotions";
import { SAMPLE_RATE } from "../../compute/lib/music";
import type { WindowName } from "../../compute/lib/spectrum";
import type { ComputeLimits } from "../lib/config";

/** The kinds of heavy work, each a compute action of the same name. */
export const HEAVY_KINDS = ["art", "music", "cymatic", "video", "emotion"] as const;
export type HeavyKind = (typeof HEAVY_KINDS)[number];

/** Long operations take an id: progress events carry it and `compute.abort {id}` stops them. */
export interface OperationId {
  operation_id?: string;
}

/** Params of compute.art. */
export interface ArtParams {
  prompt: string;
  style: ArtStyle;
  width?: number;
  height?: number;
  seed?: number;
}

/** Params of compute.music; `duration` in seconds. */
export interface MusicParams {
  prompt: string;
  duration: number;
  seed?: number;
  emotion?: string;
}

/** Params of compute.cymatic; `png` asks for the image along with the analysis. */
export interface CymaticParams {
  frequencies: number[];
  size?: number;
  plate?: Plate;
  preview?: number;
  png?: boolean;
}

/** Params of compute.video. */
export interface VideoParams {
  from_hz: number;
  to_hz: number;
  frames?: number;
  size?: number;
  plate?: Plate;
  fps?: number;
}

/** Params of compute.emotion. */
export interface EmotionParams {
  text: string;
}

/** Params of each kind, by kind. */
export interface KindParams {
  art: ArtParams;
  music: MusicParams;
  cymatic: CymaticParams;
  video: VideoParams;
  emotion: EmotionParams;
}

/** Params of compute.fft. */
export interface FftParams {
  signal: number[];
  sampleRate: number;
  window?: WindowName;
  peaks?: number;
  spectrum?: boolean;
  stft?: { frameSize: number; hop: number };
}

/** Params of compute.embed. */
export interface EmbedParams {
  texts: string[];
  dim: number;
  /** base64 float32 row-major (the default), or pgvector text, one string a vector. */
  format?: "base64" | "sql";
}

/** `compute.progress`: how far operation `id` is, in [0, 1]. */
export interface ProgressEvent {
  id: string;
  task: string;
  progress: number;
}

/** What a kind uses when the caller gives none: the one copy of these defaults. */
export const DEFAULTS = {
  artWidth: 512,
  artHeight: 512,
  cymaticSize: 512,
  cymaticPreview: 100,
  videoFrames: 60,
  videoSize: 256,
  videoFps: 15,
} as const;

const HZ = { type: "number", positive: true, max: 20_000 } as const;
const OPERATION_ID = { type: "string", optional: true, max: 128 } as const;
const SEED = { type: "number", integer: true, min: 0, max: 4_294_967_295, optional: true } as const;

/** The fastest-validator schema of each kind's params; sizes are bounded by config (see kindSizeBreach). */
export const KIND_PARAMS: Record<HeavyKind, ActionParams> = {
  art: {
    prompt: { type: "string", min: 1, max: 2000, trim: true },
    style: { type: "enum", values: [...ART_STYLES] },
    width: { type: "number", integer: true, min: 16, optional: true },
    height: { type: "number", integer: true, min: 16, optional: true },
    seed: SEED,
    operation_id: OPERATION_ID,
  },
  music: {
    prompt: { type: "string", min: 1, max: 2000, trim: true },
    duration: { type: "number", positive: true },
    seed: SEED,
    emotion: { type: "enum", values: EMOTION_NAMES, optional: true },
    operation_id: OPERATION_ID,
  },
  cymatic: {
    frequencies: { type: "array", items: HZ, min: 1 },
    size: { type: "number", integer: true, min: 16, optional: true },
    plate: { type: "enum", values: ["square", "circle"], optional: true },
    preview: { type: "number", integer: true, min: 10, max: 200, optional: true },
    png: { type: "boolean", optional: true },
    operation_id: OPERATION_ID,
  },
  video: {
    from_hz: HZ,
    to_hz: HZ,
    frames: { type: "number", integer: true, min: 1, optional: true },
    size: { type: "number", integer: true, min: 16, optional: true },
    plate: { type: "enum", values: ["square", "circle"], optional: true },
    fps: { type: "number", integer: true, min: 1, max: 50, optional: true },
    operation_id: OPERATION_ID,
  },
  emotion: { text: { type: "string", min: 1 } },
};

/** A size over its bound: the message and data of the 413 that compute and jobs answer. */
export interface SizeBreach {
  message: string;
  data: { field: string; limit: number; actual: number };
}

/** The breach when `value` exceeds `limit`, else undefined. */
export function sizeBreach(field: string, value: number, limit: number, unit = ""): SizeBreach | undefined {
  if (value <= limit) return undefined;
  return {
    message: `${field} is ${value}${unit}, over the limit of ${limit}${unit}`,
    data: { field, limit, actual: value },
  };
}

/** Any kind's params, as kindSizeBreach reads them (validated before: required fields are there). */
type SizedParams = Partial<ArtParams & MusicParams & CymaticParams & VideoParams & EmotionParams>;

/**
 * The bytes of the file a kind's params make, before base64 (its answer carries 4/3 of that), as
 * an upper estimate known before any work: WAV samples × 2 channels × 16 bits; PNG as raw RGBA (a
 * PNG is rarely larger); GIF as one byte per pixel per frame. Undefined for a kind with no file.
 */
export function resultBytes(kind: HeavyKind, params: object): number | undefined {
  const p = params as SizedParams;
  const d = DEFAULTS;
  switch (kind) {
    case "art":
      return (p.width ?? d.artWidth) * (p.height ?? d.artHeight) * 4;
    case "music":
      return Math.round((p.duration as number) * SAMPLE_RATE) * 4 + 44;
    case "cymatic":
      return p.png ? (p.size ?? d.cymaticSize) ** 2 * 4 : undefined;
    case "video":
      return (p.frames ?? d.videoFrames) * (p.size ?? d.videoSize) ** 2;
    case "emotion":
      return undefined;
  }
}

/** The field a result's size grows with, by kind: the 413 names it. */
const RESULT_FIELD: Record<HeavyKind, string> = {
  art: "width × height",
  music: "duration",
  cymatic: "size",
  video: "frames × size",
  emotion: "text",
};

/** The breach when the file of a kind's params would be over RESULT_MAX_BYTES. */
export function resultBreach(kind: HeavyKind, params: object, limits: ComputeLimits): SizeBreach | undefined {
  const bytes = resultBytes(kind, params);
  if (bytes === undefined || bytes <= limits.resultMaxBytes) return undefined;
  const field = RESULT_FIELD[kind];
  const what = kind === "music" ? "duration × sample rate" : field;
  return {
    message: `${what} makes a ${bytes}-byte result, over the limit of ${limits.resultMaxBytes} bytes (RESULT_MAX_BYTES)`,
    data: { field, limit: limits.resultMaxBytes, actual: bytes },
  };
}

/** The breach when an STFT of `length` samples would answer more than STFT_MAX_CELLS frames × bins. */
export function stftBreach(
  length: number,
  stft: { frameSize: number; hop: number },
  limits: ComputeLimits,
): SizeBreach | undefined {
  const frames = Math.floor((length - stft.frameSize) / stft.hop) + 1;
  const cells = frames * (stft.frameSize / 2 + 1);
  if (cells <= limits.stftMaxCells) return undefined;
  return {
    message: `stft frames × bins is ${frames} × ${stft.frameSize / 2 + 1} = ${cells}, over the limit of ${limits.stftMaxCells} (STFT_MAX_CELLS): raise stft.hop or lower stft.frameSize`,
    data: { field: "stft", limit: limits.stftMaxCells, actual: cells },
  };
}

/** The first size of a kind's params over its bound in `limits` (its own, then its result's), else undefined. */
export function kindSizeBreach(kind: HeavyKind, params: object, limits: ComputeLimits): SizeBreach | undefined {
  return ownSizeBreach(kind, params, limits) ?? resultBreach(kind, params, limits);
}

function ownSizeBreach(kind: HeavyKind, params: object, limits: ComputeLimits): SizeBreach | undefined {
  const p = params as SizedParams;
  const d = DEFAULTS;
  switch (kind) {
    case "art":
      return (
        sizeBreach("width", p.width ?? d.artWidth, limits.artMaxSize) ??
        sizeBreach("height", p.height ?? d.artHeight, limits.artMaxSize)
      );
    case "music":
      return sizeBreach("duration", p.duration as number, limits.musicMaxSeconds, " s");
    case "cymatic":
      return (
        sizeBreach("frequencies", (p.frequencies as number[]).length, limits.cymaticMaxFrequencies, " frequencies") ??
        sizeBreach("size", p.size ?? d.cymaticSize, limits.cymaticMaxSize)
      );
    case "video":
      return (
        sizeBreach("frames", p.frames ?? d.videoFrames, limits.videoMaxFrames) ??
        sizeBreach("size", p.size ?? d.videoSize, limits.videoMaxSize)
      );
    case "emotion":
      return sizeBreach("text", (p.text as string).length, limits.textMaxChars, " characters");
  }
}
