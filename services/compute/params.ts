/**
 * Parameter schemas and size checks of the compute operations, shared by the compute actions
 * and by jobs.submit, which validates a job's params for its kind before anything is queued.
 */
import type { ActionParams } from "moleculer";
import { ART_STYLES } from "../../compute/lib/art";
import { EMOTION_NAMES } from "../../compute/lib/emotions";
import type { ComputeLimits } from "../lib/config";
import { DEFAULT_SIZES } from "./defaults";
import { checkLimit } from "./limits";

const HZ = { type: "number", positive: true, max: 20_000 } as const;
const OPERATION_ID = { type: "string", optional: true, max: 128 } as const;
const SEED = { type: "number", integer: true, min: 0, max: 4_294_967_295, optional: true } as const;

/** The kinds of heavy work, each a compute action of the same name. */
export const HEAVY_KINDS = ["art", "music", "cymatic", "video", "emotion"] as const;
export type HeavyKind = (typeof HEAVY_KINDS)[number];

export const PARAMS: Record<HeavyKind, ActionParams> = {
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

/** @throws PayloadTooLargeError (413) naming the first size over its bound. */
export function checkLimits(kind: HeavyKind, p: Record<string, unknown>, limits: ComputeLimits): void {
  switch (kind) {
    case "art":
      checkLimit("width", (p.width as number) ?? DEFAULT_SIZES.art.width, limits.artMaxSize);
      checkLimit("height", (p.height as number) ?? DEFAULT_SIZES.art.height, limits.artMaxSize);
      return;
    case "music":
      checkLimit("duration", p.duration as number, limits.musicMaxSeconds, " s");
      return;
    case "cymatic":
      checkLimit("frequencies", (p.frequencies as number[]).length, limits.cymaticMaxFrequencies, " frequencies");
      checkLimit("size", (p.size as number) ?? DEFAULT_SIZES.cymatic.size, limits.cymaticMaxSize);
      return;
    case "video":
      checkLimit("frames", (p.frames as number) ?? DEFAULT_SIZES.video.frames, limits.videoMaxFrames);
      checkLimit("size", (p.size as number) ?? DEFAULT_SIZES.video.size, limits.videoMaxSize);
      return;
    case "emotion":
      checkLimit("text", (p.text as string).length, limits.textMaxChars, " characters");
  }
}
