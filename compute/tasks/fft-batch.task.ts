import { threadPlans, type PlanStats } from "../lib/fft";
import { transformBatch } from "../lib/spectrum";

export interface FftBatchInput {
  /** frames × n float32 samples. */
  input: SharedArrayBuffer;
  /** frames × n float32, the packed spectra, written in place for [frame0, frame1). */
  output: SharedArrayBuffer;
  n: number;
  frame0: number;
  frame1: number;
}

/** Real FFTs of a range of equal-length frames, in shared memory (threads take disjoint ranges). */
export default async function fftBatchTask(input: FftBatchInput): Promise<{ frames: number; plans: PlanStats }> {
  const plans = await threadPlans();
  const frames = transformBatch(
    plans,
    new Float32Array(input.input),
    new Float32Array(input.output),
    input.n,
    input.frame0,
    input.frame1,
  );
  return { frames, plans: plans.takeStats() };
}
