/** Windows, magnitude spectra, interpolated peaks and STFT spectrograms over a RealFftPlan. */
import { isPowerOfTwo, nextPowerOfTwo, type PlanCache } from "./fft";

export type WindowName = "hann" | "hamming" | "none";
export const WINDOWS: readonly WindowName[] = ["hann", "hamming", "none"];

/** Window coefficients of length n (periodic form, as used for spectral analysis). */
export function windowCoefficients(name: WindowName, n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.cos((2 * Math.PI * i) / n);
    w[i] = name === "hann" ? 0.5 - 0.5 * c : name === "hamming" ? 0.54 - 0.46 * c : 1;
  }
  return w;
}

export interface Peak {
  /** Hz, interpolated between bins. */
  frequency: number;
  /** Amplitude of the sinusoid, in the signal's units (window gain removed). */
  magnitude: number;
  bin: number;
}

export interface SpectrumResult {
  /** Transform size: the signal length, or the next power of two when it was zero-padded. */
  size: number;
  padded: boolean;
  /** Hz per bin. */
  resolution: number;
  peaks: Peak[];
  /** Amplitude spectrum, k = 0..size/2. */
  magnitudes: Float64Array;
}

/**
 * The amplitude spectrum of `signal` and its strongest peaks. Lengths that are not a power of two
 * are zero-padded to the next one. Peaks are local maxima, refined by fitting a parabola to the
 * log magnitudes of the three bins around each (exact for a Gaussian, within ~0.02 bin for Hann).
 */
export function analyzeSpectrum(
  plans: PlanCache,
  signal: ArrayLike<number>,
  sampleRate: number,
  windowName: WindowName,
  maxPeaks: number,
): SpectrumResult {
  const len = signal.length;
  const size = isPowerOfTwo(len) ? len : nextPowerOfTwo(len);
  const w = windowCoefficients(windowName, len);
  let gain = 0;
  const x = new Float64Array(size);
  for (let i = 0; i < len; i++) {
    x[i] = signal[i] * w[i];
    gain += w[i];
  }
  const half = size / 2;
  const re = new Float64Array(half + 1);
  const im = new Float64Array(half + 1);
  plans.get(size).forward(x, re, im);
  const mags = new Float64Array(half + 1);
  for (let k = 0; k <= half; k++) {
    // One-sided amplitude: a sinusoid of amplitude A shows as A at its bin.
    const scale = k === 0 || k === half ? 1 : 2;
    mags[k] = (scale * Math.sqrt(re[k] * re[k] + im[k] * im[k])) / gain;
  }
  return {
    size,
    padded: size !== len,
    resolution: sampleRate / size,
    peaks: findPeaks(mags, sampleRate / size, maxPeaks),
    magnitudes: mags,
  };
}

/**
 * Local maxima above 1e-3 of the largest, strongest first, with log-parabolic refinement. A peak
 * with a neighbour at or below that floor stays at its bin: such a neighbour is a null (an exactly
 * periodic signal, a window's zero), not the skirt of the peak, and the parabola through its log
 * made the peak of a square pulse (1,1,1,1,0,0,0,0, no window) 1.8e37 high.
 */
export function findPeaks(mags: Float64Array, binHz: number, maxPeaks: number): Peak[] {
  let max = 0;
  for (let k = 1; k < mags.length; k++) max = Math.max(max, mags[k]);
  const floor = max * 1e-3;
  const peaks: Peak[] = [];
  for (let k = 1; k < mags.length - 1; k++) {
    const m = mags[k];
    if (m <= floor || m < mags[k - 1] || m <= mags[k + 1]) continue;
    if (mags[k - 1] <= floor || mags[k + 1] <= floor) {
      peaks.push({ frequency: k * binHz, magnitude: m, bin: k });
      continue;
    }
    const a = Math.log(mags[k - 1]);
    const b = Math.log(m);
    const c = Math.log(mags[k + 1]);
    const denom = a - 2 * b + c;
    const delta = denom < 0 ? (0.5 * (a - c)) / denom : 0;
    const height = Math.exp(b - 0.25 * (a - c) * delta);
    peaks.push({ frequency: (k + delta) * binHz, magnitude: height, bin: k + delta });
  }
  peaks.sort((p, q) => q.magnitude - p.magnitude);
  return peaks.slice(0, maxPeaks);
}

export interface Spectrogram {
  frameSize: number;
  hop: number;
  frames: number;
  bins: number;
  /** frames × bins amplitudes, row-major. */
  data: Float32Array;
}

/** Short-time Fourier transform: Hann frames of frameSize (a power of two) every hop samples. */
export function stft(plans: PlanCache, signal: ArrayLike<number>, frameSize: number, hop: number): Spectrogram {
  const frames = signal.length < frameSize ? 1 : 1 + Math.floor((signal.length - frameSize) / hop);
  const bins = frameSize / 2 + 1;
  const data = new Float32Array(frames * bins);
  const w = windowCoefficients("hann", frameSize);
  const gain = w.reduce((s, v) => s + v, 0);
  const x = new Float32Array(frameSize);
  const packed = new Float32Array(frameSize);
  const plan = plans.get(frameSize);
  const half = frameSize / 2;
  for (let f = 0; f < frames; f++) {
    const start = f * hop;
    const avail = Math.min(frameSize, signal.length - start);
    for (let i = 0; i < avail; i++) x[i] = signal[start + i] * w[i];
    x.fill(0, avail);
    plan.forwardPacked(x, packed);
    const row = f * bins;
    data[row] = Math.abs(packed[0]) / gain;
    data[row + half] = Math.abs(packed[1]) / gain;
    for (let k = 1; k < half; k++) {
      const re = packed[2 * k];
      const im = packed[2 * k + 1];
      data[row + k] = (2 * Math.sqrt(re * re + im * im)) / gain;
    }
  }
  return { frameSize, hop, frames, bins, data };
}

/**
 * Transforms frames [frame0, frame1) of a batch: frame f is input[f·n, (f+1)·n); its spectrum goes
 * to output[f·n, (f+1)·n) in the packed order of RealFftPlan.forwardPacked. Returns the count.
 */
export function transformBatch(
  plans: PlanCache,
  input: Float32Array,
  output: Float32Array,
  n: number,
  frame0: number,
  frame1: number,
): number {
  const plan = plans.get(n);
  for (let f = frame0; f < frame1; f++)
    plan.forwardPacked(input.subarray(f * n, (f + 1) * n), output.subarray(f * n, (f + 1) * n));
  return frame1 - frame0;
}
