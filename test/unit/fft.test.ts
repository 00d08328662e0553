import { isPowerOfTwo, loadPffft, nextPowerOfTwo, pffftTakes, PlanCache } from "../../compute/lib/fft";
import { analyzeSpectrum, stft, transformBatch, windowCoefficients } from "../../compute/lib/spectrum";
import { mulberry32 } from "../../compute/lib/prng";

let plans: PlanCache;
beforeAll(async () => {
  plans = new PlanCache(await loadPffft());
});

function naiveDft(x: ArrayLike<number>): { re: Float64Array; im: Float64Array } {
  const n = x.length;
  const re = new Float64Array(n / 2 + 1);
  const im = new Float64Array(n / 2 + 1);
  for (let k = 0; k <= n / 2; k++) {
    let sr = 0;
    let si = 0;
    for (let t = 0; t < n; t++) {
      const a = (-2 * Math.PI * k * t) / n;
      sr += x[t] * Math.cos(a);
      si += x[t] * Math.sin(a);
    }
    re[k] = sr;
    im[k] = si;
  }
  return { re, im };
}

function sines(n: number, sr: number, parts: [number, number][]): Float64Array {
  return Float64Array.from({ length: n }, (_, i) =>
    parts.reduce((s, [f, a]) => s + a * Math.sin((2 * Math.PI * f * i) / sr + 0.3), 0),
  );
}

describe("fft plans", () => {
  it("use PFFFT where it takes the size and fft.js for small powers of two", () => {
    expect(pffftTakes(4096)).toBe(true);
    expect(pffftTakes(96)).toBe(true);
    expect(pffftTakes(16)).toBe(false);
    expect(pffftTakes(4096 * 7)).toBe(false);
    expect(plans.get(4096).engine).toBe("pffft");
    expect(plans.get(16).engine).toBe("fftjs");
    expect(isPowerOfTwo(1024)).toBe(true);
    expect(nextPowerOfTwo(1000)).toBe(1024);
  });

  it.each([
    [8, "fftjs"],
    [64, "pffft"],
    [64, "fftjs"],
    [1024, "pffft"],
  ] as const)("give the naive DFT's answer on random input (n=%i, %s)", (n, engine) => {
    const rand = mulberry32(n);
    const x = Float64Array.from({ length: n }, () => rand() * 2 - 1);
    const re = new Float64Array(n / 2 + 1);
    const im = new Float64Array(n / 2 + 1);
    plans.get(n, engine).forward(x, re, im);
    const ref = naiveDft(x);
    // PFFFT works in float32: allow its rounding, relative to the spectrum's scale.
    const tol = engine === "pffft" ? 1e-4 * Math.sqrt(n) : 1e-9;
    for (let k = 0; k <= n / 2; k++) {
      expect(Math.abs(re[k] - ref.re[k])).toBeLessThan(tol);
      expect(Math.abs(im[k] - ref.im[k])).toBeLessThan(tol);
    }
  });

  it("satisfy Parseval's identity", () => {
    const n = 4096;
    const rand = mulberry32(7);
    const x = Float64Array.from({ length: n }, () => rand() - 0.5);
    const re = new Float64Array(n / 2 + 1);
    const im = new Float64Array(n / 2 + 1);
    plans.get(n).forward(x, re, im);
    const timeEnergy = x.reduce((s, v) => s + v * v, 0);
    let freqEnergy = re[0] ** 2 + re[n / 2] ** 2;
    for (let k = 1; k < n / 2; k++) freqEnergy += 2 * (re[k] ** 2 + im[k] ** 2);
    expect(freqEnergy / n).toBeCloseTo(timeEnergy, 3);
  });

  it("count hits and misses per size", () => {
    const p = new PlanCache();
    p.get(256);
    p.get(256);
    p.get(512);
    p.get(256);
    expect(p.takeStats()).toEqual({ hits: 2, misses: 2 });
    expect(p.takeStats()).toEqual({ hits: 0, misses: 0 });
  });
});

describe("analyzeSpectrum", () => {
  it.each(["hann", "hamming"] as const)("finds sinusoids at known frequencies within 0.1 Hz (%s window)", (win) => {
    const sr = 8000;
    const x = sines(8192, sr, [
      [440.37, 1],
      [1234.81, 0.5],
      [3001.2, 0.25],
    ]);
    const s = analyzeSpectrum(plans, x, sr, win, 3);
    const found = s.peaks.map((p) => p.frequency).sort((a, b) => a - b);
    expect(found[0]).toBeCloseTo(440.37, 1);
    expect(Math.abs(found[0] - 440.37)).toBeLessThan(0.1);
    expect(Math.abs(found[1] - 1234.81)).toBeLessThan(0.1);
    expect(Math.abs(found[2] - 3001.2)).toBeLessThan(0.1);
    // Amplitudes come back in the signal's units (within the window's scalloping).
    expect(s.peaks[0].magnitude).toBeGreaterThan(0.95);
    expect(s.peaks[0].magnitude).toBeLessThan(1.05);
  });

  it.each([
    ["a square pulse, no window", [1, 1, 1, 1, 0, 0, 0, 0], "none", [1, 3]],
    ["a ramp, Hann", [1, 2, 3, 4], "hann", [1]],
  ] as const)("never makes a peak higher than its bins allow next to a null (%s)", (_, signal, win, bins) => {
    const s = analyzeSpectrum(plans, signal, 8, win, 4);
    const top = Math.max(...s.magnitudes);
    expect(s.peaks.map((p) => Math.round(p.bin)).sort()).toEqual(bins);
    // 1.6: a rectangular window's worst scalloping loss (3.92 dB) is the most a refined peak may add.
    expect(s.peaks.filter((p) => !(p.magnitude <= top * 1.6))).toEqual([]);
  });

  it("zero-pads a length that is not a power of two and says so", () => {
    const s = analyzeSpectrum(plans, sines(1000, 1000, [[100, 1]]), 1000, "hann", 1);
    expect(s.size).toBe(1024);
    expect(s.padded).toBe(true);
    expect(Math.abs(s.peaks[0].frequency - 100)).toBeLessThan(0.5);
    expect(analyzeSpectrum(plans, sines(1024, 1000, [[100, 1]]), 1000, "none", 1).padded).toBe(false);
  });

  it("computes windows and an STFT whose frames follow a chirp upwards", () => {
    expect(windowCoefficients("hann", 4)[0]).toBe(0);
    expect(windowCoefficients("none", 4)).toEqual(new Float64Array([1, 1, 1, 1]));
    const sr = 8000;
    const n = 16384;
    const chirp = Float64Array.from({ length: n }, (_, i) =>
      Math.sin(2 * Math.PI * (200 * (i / sr) + 0.5 * 800 * (i / sr) ** 2)),
    );
    const sg = stft(plans, chirp, 512, 256);
    expect(sg.frames).toBe(1 + Math.floor((n - 512) / 256));
    const peakBin = (f: number) => {
      let best = 0;
      for (let k = 1; k < sg.bins; k++) if (sg.data[f * sg.bins + k] > sg.data[f * sg.bins + best]) best = k;
      return best;
    };
    expect(peakBin(sg.frames - 1)).toBeGreaterThan(peakBin(0) + 20);
  });
});

describe("transformBatch", () => {
  it("writes each frame's packed spectrum, equal to the single-frame transform", () => {
    const n = 256;
    const frames = 5;
    const rand = mulberry32(3);
    const input = Float32Array.from({ length: n * frames }, () => rand() - 0.5);
    const out = new Float32Array(n * frames);
    expect(transformBatch(plans, input, out, n, 1, 4)).toBe(3);
    expect(Array.from(out.subarray(0, n)).every((v) => v === 0)).toBe(true); // frame 0 untouched
    const re = new Float64Array(n / 2 + 1);
    const im = new Float64Array(n / 2 + 1);
    plans.get(n).forward(input.subarray(2 * n, 3 * n), re, im);
    const f2 = out.subarray(2 * n, 3 * n);
    expect(f2[0]).toBeCloseTo(re[0], 4);
    expect(f2[1]).toBeCloseTo(re[n / 2], 4);
    expect(f2[2 * 7]).toBeCloseTo(re[7], 4);
    expect(f2[2 * 7 + 1]).toBeCloseTo(im[7], 4);
  });
});
