/**
 * Real FFTs with per-thread plans. PFFFT (WebAssembly SIMD) for sizes it takes (multiples of 32
 * whose only prime factors are 2, 3, 5), fft.js (radix-4 JavaScript) for the small powers of two
 * below 32. bench/compute measures both against FFTW.
 */
import FFT from "fft.js";
import type { PffftModule } from "@echogarden/pffft-wasm/simd";

export type FftEngineName = "pffft" | "fftjs";

/** A real forward transform of one size: `forward` returns the half spectrum (k = 0..n/2). */
export interface RealFftPlan {
  readonly n: number;
  readonly engine: FftEngineName;
  /** re[k], im[k] for k = 0..n/2, unnormalized (sum over x[t]·e^(-2πikt/n)). */
  forward(input: ArrayLike<number>, re: Float64Array, im: Float64Array): void;
  /**
   * The fast path for float32 batches: n samples in, n floats out in PFFFT's ordered packing
   * [X0.re, X(n/2).re, X1.re, X1.im, X2.re, X2.im, …].
   */
  forwardPacked(input: Float32Array, out: Float32Array): void;
}

export interface PlanStats {
  hits: number;
  misses: number;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 2 && (n & (n - 1)) === 0;
}

/** The smallest power of two ≥ n. */
export function nextPowerOfTwo(n: number): number {
  let p = 2;
  while (p < n) p *= 2;
  return p;
}

/** PFFFT's rule for real transforms; a size outside it aborts the wasm module, so check first. */
export function pffftTakes(n: number): boolean {
  if (!Number.isInteger(n) || n < 32 || n % 32 !== 0) return false;
  let m = n;
  for (const f of [2, 3, 5]) while (m % f === 0) m /= f;
  return m === 1;
}

// PFFFT's enum values (pffft.h): PFFFT_REAL, PFFFT_FORWARD.
const PFFFT_REAL = 0;
const PFFFT_FORWARD = 0;

class PffftPlan implements RealFftPlan {
  readonly engine = "pffft" as const;
  private readonly setup: number;
  private readonly inPtr: number;
  private readonly outPtr: number;
  private readonly workPtr: number;

  constructor(
    private readonly mod: PffftModule,
    readonly n: number,
  ) {
    this.setup = mod._pffft_new_setup(n, PFFFT_REAL);
    // Always a work buffer: without one, large sizes overflow the 64 KB wasm stack.
    this.inPtr = mod._pffft_aligned_malloc(n * 4);
    this.outPtr = mod._pffft_aligned_malloc(n * 4);
    this.workPtr = mod._pffft_aligned_malloc(n * 4);
  }

  forwardPacked(input: Float32Array, out: Float32Array): void {
    const n = this.n;
    // Re-read HEAPF32 on every call: memory growth (another plan's malloc) replaces the view.
    this.mod.HEAPF32.set(input.subarray(0, n), this.inPtr >> 2);
    this.mod._pffft_transform_ordered(this.setup, this.inPtr, this.outPtr, this.workPtr, PFFFT_FORWARD);
    out.set(this.mod.HEAPF32.subarray(this.outPtr >> 2, (this.outPtr >> 2) + n));
  }

  forward(input: ArrayLike<number>, re: Float64Array, im: Float64Array): void {
    const n = this.n;
    // Re-read HEAPF32 on every call: memory growth (another plan's malloc) replaces the view.
    let heap = this.mod.HEAPF32;
    const inView = heap.subarray(this.inPtr >> 2, (this.inPtr >> 2) + n);
    const len = Math.min(input.length, n);
    for (let i = 0; i < len; i++) inView[i] = input[i];
    inView.fill(0, len);
    this.mod._pffft_transform_ordered(this.setup, this.inPtr, this.outPtr, this.workPtr, PFFFT_FORWARD);
    heap = this.mod.HEAPF32;
    const o = this.outPtr >> 2;
    // Ordered real output: [X0.re, X(n/2).re, X1.re, X1.im, X2.re, X2.im, ...].
    re[0] = heap[o];
    im[0] = 0;
    re[n / 2] = heap[o + 1];
    im[n / 2] = 0;
    for (let k = 1; k < n / 2; k++) {
      re[k] = heap[o + 2 * k];
      im[k] = heap[o + 2 * k + 1];
    }
  }
}

class FftJsPlan implements RealFftPlan {
  readonly engine = "fftjs" as const;
  private readonly fft: FFT;
  private readonly out: number[];
  private readonly buf: Float64Array;

  constructor(readonly n: number) {
    this.fft = new FFT(n);
    this.out = this.fft.createComplexArray();
    this.buf = new Float64Array(n);
  }

  forward(input: ArrayLike<number>, re: Float64Array, im: Float64Array): void {
    const len = Math.min(input.length, this.n);
    for (let i = 0; i < len; i++) this.buf[i] = input[i];
    this.buf.fill(0, len);
    this.fft.realTransform(this.out, this.buf);
    for (let k = 0; k <= this.n / 2; k++) {
      re[k] = this.out[2 * k];
      im[k] = this.out[2 * k + 1];
    }
  }

  forwardPacked(input: Float32Array, out: Float32Array): void {
    const n = this.n;
    for (let i = 0; i < n; i++) this.buf[i] = input[i];
    this.fft.realTransform(this.out, this.buf);
    out[0] = this.out[0];
    out[1] = this.out[n];
    for (let k = 1; k < n / 2; k++) {
      out[2 * k] = this.out[2 * k];
      out[2 * k + 1] = this.out[2 * k + 1];
    }
  }
}

let pffft: PffftModule | undefined;
let pffftLoading: Promise<PffftModule> | undefined;

/** Loads PFFFT's SIMD build once per thread. */
export async function loadPffft(): Promise<PffftModule> {
  if (pffft) return pffft;
  pffftLoading ??= import("@echogarden/pffft-wasm/simd").then(async (m) => (pffft = await m.default()));
  return pffftLoading;
}

/**
 * Plans by size and engine, kept for the life of the thread. Per-thread caches (this one, pffft's
 * module, the scratch arrays, the Bessel zero table) are the only module state of compute/.
 */
export class PlanCache {
  private readonly plans = new Map<string, RealFftPlan>();
  readonly stats: PlanStats = { hits: 0, misses: 0 };

  constructor(private readonly pffftModule?: PffftModule) {}

  /** The plan for n: PFFFT where it takes n (and is loaded), else fft.js for powers of two. */
  get(n: number, engine?: FftEngineName): RealFftPlan {
    const use: FftEngineName = engine ?? (this.pffftModule && pffftTakes(n) ? "pffft" : "fftjs");
    const key = `${use}:${n}`;
    const hit = this.plans.get(key);
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    this.stats.misses++;
    let plan: RealFftPlan;
    if (use === "pffft") {
      if (!this.pffftModule || !pffftTakes(n)) throw new RangeError(`PFFFT cannot transform ${n} points`);
      plan = new PffftPlan(this.pffftModule, n);
    } else {
      if (!isPowerOfTwo(n)) throw new RangeError(`fft.js needs a power of two, got ${n}`);
      plan = new FftJsPlan(n);
    }
    this.plans.set(key, plan);
    return plan;
  }

  /** Takes and zeroes the counters (each task reports what it used). */
  takeStats(): PlanStats {
    const s = { ...this.stats };
    this.stats.hits = 0;
    this.stats.misses = 0;
    return s;
  }
}

let threadCache: PlanCache | undefined;

/** This thread's plan cache, with PFFFT loaded. */
export async function threadPlans(): Promise<PlanCache> {
  threadCache ??= new PlanCache(await loadPffft());
  return threadCache;
}
