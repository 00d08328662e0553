import { renderSweepFrames, type SweepSpec } from "../lib/video";

export interface VideoFramesInput {
  spec: SweepSpec;
  frame0: number;
  frame1: number;
  /** frames × size × size palette indices, written in place for [frame0, frame1). */
  out: SharedArrayBuffer;
}

/** Renders a range of a sweep's frames into shared memory. */
export default function videoFramesTask(input: VideoFramesInput): { frames: number } {
  renderSweepFrames(input.spec, input.frame0, input.frame1, new Uint8Array(input.out));
  return { frames: input.frame1 - input.frame0 };
}
