import { threadPlans, type PlanStats } from "../lib/fft";
import { analyzeSpectrum, stft, type Peak, type WindowName } from "../lib/spectrum";

export interface FftTaskInput {
  /** Float32 samples; `length` of them are the signal. */
  signal: SharedArrayBuffer;
  length: number;
  sampleRate: number;
  window: WindowName;
  peaks: number;
  spectrum: boolean;
  stft?: { frameSize: number; hop: number };
}

export interface FftTaskResult {
  size: number;
  padded: boolean;
  resolution: number;
  engine: string;
  peaks: Peak[];
  spectrum?: number[];
  stft?: { frameSize: number; hop: number; frames: number; bins: number; data: Float32Array };
  plans: PlanStats;
}

/** Spectrum, peaks and optionally an STFT of a signal in shared memory. */
export default async function fftTask(input: FftTaskInput): Promise<FftTaskResult> {
  const plans = await threadPlans();
  const signal = new Float32Array(input.signal, 0, input.length);
  const s = analyzeSpectrum(plans, signal, input.sampleRate, input.window, input.peaks);
  const result: FftTaskResult = {
    size: s.size,
    padded: s.padded,
    resolution: s.resolution,
    engine: plans.get(s.size).engine,
    peaks: s.peaks,
    spectrum: input.spectrum ? Array.from(s.magnitudes) : undefined,
    plans: { hits: 0, misses: 0 },
  };
  if (input.stft) {
    const sg = stft(plans, signal, input.stft.frameSize, input.stft.hop);
    result.stft = sg;
  }
  result.plans = plans.takeStats();
  return result;
}
