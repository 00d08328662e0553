import { renderMusic, type MusicInput, type MusicPlan } from "../lib/music";

export interface MusicTaskInput extends MusicInput {
  /** Int32[1]: progress in thousandths, written as the audio renders. */
  progress?: SharedArrayBuffer;
}

/** Renders the music of a prompt as a WAV file. */
export default function musicTask(input: MusicTaskInput): { plan: MusicPlan; wav: Uint8Array } {
  const progress = input.progress ? new Int32Array(input.progress) : undefined;
  return renderMusic(input, (p) => progress && Atomics.store(progress, 0, Math.round(p * 1000)));
}
