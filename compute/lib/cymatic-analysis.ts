/** What a rendered Chladni field shows: nodal lines, rotational symmetry, spatial frequencies. */
import FFT from "fft.js";
import type { PlanCache } from "./fft";

/** |u| below this share of the peak counts as a nodal line (where the sand gathers). */
export const NODAL_THRESHOLD = 0.05;
export const SYMMETRY_MAX_ORDER = 24;
const SYMMETRY_GRID = 128;
const SYMMETRY_MIN_CORRELATION = 0.97;
const SPECTRUM_GRID = 256;

/** Bilinear sample of the field at unit coordinates (x, y) ∈ [0, 1]²; NaN outside the plate. */
export function sampleAt(field: Float32Array, size: number, x: number, y: number): number {
  const fx = Math.min(size - 1, Math.max(0, x * size - 0.5));
  const fy = Math.min(size - 1, Math.max(0, y * size - 0.5));
  const i = Math.min(size - 2, Math.floor(fx));
  const j = Math.min(size - 2, Math.floor(fy));
  const a = fx - i;
  const b = fy - j;
  if (size === 1) return field[0];
  const v00 = field[j * size + i];
  const v10 = field[j * size + i + 1];
  const v01 = field[(j + 1) * size + i];
  const v11 = field[(j + 1) * size + i + 1];
  return (v00 * (1 - a) + v10 * a) * (1 - b) + (v01 * (1 - a) + v11 * a) * b;
}

/** The field at `out`×`out` cell centres (NaN becomes 0), for previews and further analysis. */
export function resample(field: Float32Array, size: number, out: number): Float64Array {
  const r = new Float64Array(out * out);
  for (let j = 0; j < out; j++) {
    for (let i = 0; i < out; i++) {
      const v = sampleAt(field, size, (i + 0.5) / out, (j + 0.5) / out);
      r[j * out + i] = Number.isNaN(v) ? 0 : v;
    }
  }
  return r;
}

/** Share of plate cells whose |u| is below NODAL_THRESHOLD of the peak. */
export function nodalFraction(field: Float32Array): number {
  let peak = 0;
  for (const v of field) if (!Number.isNaN(v)) peak = Math.max(peak, Math.abs(v));
  let nodal = 0;
  let plate = 0;
  for (const v of field) {
    if (Number.isNaN(v)) continue;
    plate++;
    if (Math.abs(v) <= NODAL_THRESHOLD * peak) nodal++;
  }
  return plate ? nodal / plate : 0;
}

/**
 * The rotational symmetry order of the pattern |u| about the plate's centre: the largest k ≤ 24
 * for which rotating by 2π/k maps it onto itself (correlation ≥ 0.97 over the inscribed disk).
 * 24 means every tested rotation fits: the pattern is radially symmetric.
 */
export function symmetryOrder(field: Float32Array, size: number): number {
  const g = SYMMETRY_GRID;
  const pts: { x: number; y: number; v: number }[] = [];
  for (let j = 0; j < g; j++) {
    for (let i = 0; i < g; i++) {
      const x = 2 * ((i + 0.5) / g) - 1;
      const y = 2 * ((j + 0.5) / g) - 1;
      if (x * x + y * y > 0.9 * 0.9) continue;
      const v = sampleAt(field, size, (x + 1) / 2, (y + 1) / 2);
      pts.push({ x, y, v: Number.isNaN(v) ? 0 : Math.abs(v) });
    }
  }
  const mean = pts.reduce((s, p) => s + p.v, 0) / pts.length;
  let best = 1;
  for (let k = 2; k <= SYMMETRY_MAX_ORDER; k++) {
    const c = Math.cos((2 * Math.PI) / k);
    const s = Math.sin((2 * Math.PI) / k);
    let num = 0;
    let da = 0;
    let db = 0;
    for (const p of pts) {
      const rx = c * p.x - s * p.y;
      const ry = s * p.x + c * p.y;
      const w = sampleAt(field, size, (rx + 1) / 2, (ry + 1) / 2);
      const a = p.v - mean;
      const b = (Number.isNaN(w) ? 0 : Math.abs(w)) - mean;
      num += a * b;
      da += a * a;
      db += b * b;
    }
    const corr = da > 0 && db > 0 ? num / Math.sqrt(da * db) : 1;
    if (corr >= SYMMETRY_MIN_CORRELATION) best = k;
  }
  return best;
}

export interface SpatialFrequency {
  /** Cycles across the plate's width (x) and height (y). */
  cycles_x: number;
  cycles_y: number;
  /** Share of the pattern's (non-DC) power at this frequency. */
  power: number;
}

/**
 * The strongest spatial frequencies of the pattern, from a 2D FFT of a 256² resample:
 * real FFTs along rows, complex FFTs along columns. Frequencies ±k are folded together.
 */
export function dominantSpatialFrequencies(
  plans: PlanCache,
  field: Float32Array,
  size: number,
  count: number,
): SpatialFrequency[] {
  const n = SPECTRUM_GRID;
  const half = n / 2;
  const grid = resample(field, size, n);
  const rowRe = new Float64Array(half + 1);
  const rowIm = new Float64Array(half + 1);
  // spec[ky][kx] complex, kx = 0..n/2 (real input: the other half mirrors it).
  const specRe = new Float64Array(n * (half + 1));
  const specIm = new Float64Array(n * (half + 1));
  const plan = plans.get(n);
  for (let j = 0; j < n; j++) {
    plan.forward(grid.subarray(j * n, (j + 1) * n), rowRe, rowIm);
    for (let k = 0; k <= half; k++) {
      specRe[j * (half + 1) + k] = rowRe[k];
      specIm[j * (half + 1) + k] = rowIm[k];
    }
  }
  const colFft = new FFT(n);
  const colIn = colFft.createComplexArray();
  const colOut = colFft.createComplexArray();
  const power = new Float64Array((half + 1) * (half + 1));
  let total = 0;
  for (let k = 0; k <= half; k++) {
    for (let j = 0; j < n; j++) {
      colIn[2 * j] = specRe[j * (half + 1) + k];
      colIn[2 * j + 1] = specIm[j * (half + 1) + k];
    }
    colFft.transform(colOut, colIn);
    for (let ky = 0; ky < n; ky++) {
      const p = colOut[2 * ky] ** 2 + colOut[2 * ky + 1] ** 2;
      const fy = ky <= half ? ky : n - ky;
      if (k === 0 && fy === 0) continue;
      power[fy * (half + 1) + k] += p;
      total += p;
    }
  }
  const found: SpatialFrequency[] = [];
  for (let fy = 0; fy <= half; fy++) {
    for (let fx = 0; fx <= half; fx++) {
      const p = power[fy * (half + 1) + fx];
      if (p > 0) found.push({ cycles_x: fx, cycles_y: fy, power: total ? p / total : 0 });
    }
  }
  found.sort((a, b) => b.power - a.power);
  return found.slice(0, count).map((f) => ({ ...f, power: Math.round(f.power * 1e4) / 1e4 }));
}

/**
 * RGBA pixels of the pattern as sand on a plate: nodal lines bright, antinodes dark, and black
 * outside a circular plate.
 */
export function patternRgba(field: Float32Array): Uint8Array {
  let peak = 0;
  for (const v of field) if (!Number.isNaN(v)) peak = Math.max(peak, Math.abs(v));
  const px = new Uint8Array(field.length * 4);
  const band = Math.max(peak * 0.08, 1e-12);
  for (let p = 0; p < field.length; p++) {
    const v = field[p];
    const o = p * 4;
    px[o + 3] = 255;
    if (Number.isNaN(v)) continue;
    const sand = Math.exp(-((v / band) ** 2));
    px[o] = Math.round(18 + sand * 232);
    px[o + 1] = Math.round(22 + sand * 214);
    px[o + 2] = Math.round(46 + sand * 170);
  }
  return px;
}
