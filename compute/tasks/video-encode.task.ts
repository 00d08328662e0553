import { encodeSweepGif } from "../lib/video";

export interface VideoEncodeInput {
  out: SharedArrayBuffer;
  frames: number;
  size: number;
  delayMs: number;
}

/** Encodes rendered sweep frames as an animated GIF. */
export default function videoEncodeTask(input: VideoEncodeInput): { gif: Uint8Array } {
  return { gif: encodeSweepGif(new Uint8Array(input.out), input.frames, input.size, input.delayMs) };
}
