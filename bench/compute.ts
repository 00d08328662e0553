/**
 * bench/compute: FFT and cymatic throughput through the worker pool against baselines measured in
 * the same run (fft.js in one thread, FFTW via a C harness, the Chladni formula in C -O3), and
 * wall time of art and music. Peak RSS of this process (it hosts the pool's threads) after each.
 *
 *   npm run bench:compute        (FFTW baseline needs libfftw3-dev: apt-get install libfftw3-dev)
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import FFT from "fft.js";

const ROOT = path.resolve(__dirname, "..");
// The built pool: its tasks load as .js, as in production.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, which is what a benchmark measures
const { ComputePool } = require(path.join(ROOT, "dist/compute/pool.js")) as typeof import("../compute/pool");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, which is what a benchmark measures
const fftLib = require(path.join(ROOT, "dist/compute/lib/fft.js")) as typeof import("../compute/lib/fft");
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the built program in dist/, which is what a benchmark measures
const chladni = require(path.join(ROOT, "dist/compute/lib/chladni.js")) as typeof import("../compute/lib/chladni");

const OUT = path.join(ROOT, "bench", "out");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5);
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

function compile(src: string, out: string, libs: string[]): string | undefined {
  fs.mkdirSync(OUT, { recursive: true });
  try {
    execFileSync("gcc", ["-O3", "-o", out, path.join(ROOT, "bench", "c", src), ...libs], { stdio: "pipe" });
    return out;
  } catch (err) {
    console.log(`  (${src} not built: ${String((err as { stderr?: Buffer }).stderr ?? err).split("\n")[0]})`);
    return undefined;
  }
}

function rate(fn: () => number, seconds = SECONDS): number {
  let count = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) count += fn();
  return count / ((performance.now() - t0) / 1000);
}

function fmt(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0);
}

/**
 * Batches of frames in shared memory, split into one contiguous range per thread (fft-batch
 * tasks): the pool's throughput including task dispatch.
 */
async function poolFftRate(threads: number, n: number): Promise<number> {
  const pool = new ComputePool({ threads, maxQueue: 64 });
  const frames = Math.max(16, Math.round((1 << 20) / n)) * threads; // ~1M samples per thread per batch
  const input = new SharedArrayBuffer(frames * n * 4);
  const output = new SharedArrayBuffer(frames * n * 4);
  const view = new Float32Array(input);
  for (let i = 0; i < view.length; i++) view[i] = Math.sin(i / 7) + ((i * 7919) % 1000) / 1000;
  const ranges = chladni.rowBands(frames, threads);
  const batch = () =>
    Promise.all(ranges.map(([frame0, frame1]) => pool.run("fft-batch", { input, output, n, frame0, frame1 })));
  await batch(); // warm-up: threads up, plans built
  let done = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    await batch();
    done += frames;
  }
  const r = done / ((performance.now() - t0) / 1000);
  await pool.destroy();
  return r;
}

async function fftSection(): Promise<void> {
  console.log("\nFFT, real forward transforms per second (higher is better)");
  const fftw = compile("fftw-bench.c", path.join(OUT, "fftw-bench"), ["-lfftw3f", "-lfftw3", "-lm"]);
  const pffft = new fftLib.PlanCache(await fftLib.loadPffft());
  for (const n of [4096, 65536]) {
    const input = Float64Array.from({ length: n }, (_, i) => Math.sin(i / 5));
    const fftjs = new FFT(n);
    const out = fftjs.createComplexArray();
    const fftjsRate = rate(() => {
      fftjs.realTransform(out, input);
      return 1;
    });
    const f32 = Float32Array.from(input);
    const packed = new Float32Array(n);
    const plan = pffft.get(n);
    const pffftRate = rate(() => {
      plan.forwardPacked(f32, packed);
      return 1;
    });
    const pool1 = await poolFftRate(1, n);
    const pool2 = await poolFftRate(2, n);
    const w = fftw ? JSON.parse(execFileSync(fftw, [String(n), String(SECONDS)]).toString()) : undefined;
    console.log(`  n=${n}`);
    console.log(`    baseline fft.js, 1 thread           ${fmt(fftjsRate).padStart(8)}/s`);
    console.log(
      `    PFFFT (wasm SIMD), 1 thread, direct ${fmt(pffftRate).padStart(8)}/s   ${(pffftRate / fftjsRate).toFixed(1)}x fft.js`,
    );
    console.log(
      `    pool, 1 thread (fft-batch tasks)    ${fmt(pool1).padStart(8)}/s   ${(pool1 / fftjsRate).toFixed(1)}x fft.js`,
    );
    console.log(
      `    pool, 2 threads (fft-batch tasks)   ${fmt(pool2).padStart(8)}/s   ${(pool2 / pool1).toFixed(2)}x 1 thread`,
    );
    if (w)
      console.log(
        `    FFTW float / double, 1 thread       ${fmt(w.float_per_s).padStart(8)}/s / ${fmt(w.double_per_s)}/s   pool 1 thread at ${(w.float_per_s / pool1).toFixed(1)}x below FFTW float`,
      );
  }
  console.log(`  peak RSS so far: ${rssMb()} MB`);
}

async function cymaticSection(): Promise<void> {
  const size = 2048;
  console.log(`\nCymatic field ${size}², square plate, 1000 Hz (best of 10 after 10 warm-up runs; C: best of 5)`);
  const c = compile("chladni-bench.c", path.join(OUT, "chladni-bench"), ["-lm"]);
  const cMs = c ? JSON.parse(execFileSync(c, [String(size), "5"]).toString()).ms : undefined;
  const modes = chladni.chooseModes("square", [1000]);
  const field = new Float32Array(size * size);
  let jsMs = Infinity;
  for (let r = 0; r < 10; r++) chladni.renderRows(modes, size, 0, size, field); // warm-up
  for (let r = 0; r < 10; r++) {
    const t0 = performance.now();
    chladni.renderRows(modes, size, 0, size, field);
    jsMs = Math.min(jsMs, performance.now() - t0);
  }
  const poolMs = async (threads: number) => {
    const pool = new ComputePool({ threads, maxQueue: 64 });
    const shared = new SharedArrayBuffer(size * size * 4);
    const run = () =>
      Promise.all(
        chladni
          .rowBands(size, threads)
          .map(([row0, row1]) =>
            pool.run("cymatic-field", { plate: "square", frequencies: [1000], size, row0, row1, field: shared }),
          ),
      );
    // Warm-up: each thread's JIT reaches its optimized code for the kernel.
    for (let r = 0; r < 10; r++) await run();
    let best = Infinity;
    for (let r = 0; r < 10; r++) {
      const t0 = performance.now();
      await run();
      best = Math.min(best, performance.now() - t0);
    }
    await pool.destroy();
    return best;
  };
  const p1 = await poolMs(1);
  const p2 = await poolMs(2);
  if (cMs !== undefined) console.log(`    baseline C -O3, 1 thread            ${cMs.toFixed(1).padStart(8)} ms`);
  console.log(
    `    JS, main thread                     ${jsMs.toFixed(1).padStart(8)} ms${cMs ? `   ${(jsMs / cMs).toFixed(1)}x C` : ""}`,
  );
  console.log(
    `    pool, 1 thread                      ${p1.toFixed(1).padStart(8)} ms${cMs ? `   ${(p1 / cMs).toFixed(1)}x C` : ""}`,
  );
  console.log(
    `    pool, 2 threads (2 row bands)       ${p2.toFixed(1).padStart(8)} ms   ${(p1 / p2).toFixed(2)}x faster than 1 thread`,
  );
  console.log(`  peak RSS so far: ${rssMb()} MB`);
}

async function wallSection(): Promise<void> {
  console.log("\nWall time through the pool (2 threads)");
  const pool = new ComputePool({ threads: 2, maxQueue: 64 });
  for (const style of ["waves", "mandala", "cymatic", "flow-field"]) {
    const t0 = performance.now();
    await pool.run("art", { prompt: "bench", style, width: 1024, height: 1024 });
    console.log(
      `    art ${style.padEnd(11)} 1024²          ${(performance.now() - t0).toFixed(0).padStart(8)} ms   (peak RSS ${rssMb()} MB)`,
    );
  }
  const t0 = performance.now();
  await pool.run("music", { prompt: "a calm evening", duration: 30 });
  console.log(
    `    music 30 s                          ${(performance.now() - t0).toFixed(0).padStart(8)} ms   (peak RSS ${rssMb()} MB)`,
  );
  await pool.destroy();
}

/** Peak memory a 1000² cymatic pattern with PNG adds, measured first, before other sections raise the high-water mark. */
async function cymaticMemory(): Promise<void> {
  const pool = new ComputePool({ threads: 2, maxQueue: 64 });
  const run = async (size: number) => {
    const field = new SharedArrayBuffer(size * size * 4);
    await Promise.all(
      chladni
        .rowBands(size, 2)
        .map(([row0, row1]) =>
          pool.run("cymatic-field", { plate: "circle", frequencies: [900, 2500], size, row0, row1, field }),
        ),
    );
    await pool.run("cymatic-finish", { field, size, preview: 100, png: true });
  };
  await run(64); // threads, modules and plans loaded
  await new Promise((r) => setTimeout(r, 200));
  const before = rssMb();
  const t0 = performance.now();
  await run(1000);
  console.log(
    `\nCymatic 1000² with analysis and PNG: ${(performance.now() - t0).toFixed(0)} ms, peak RSS ${before} MB -> ${rssMb()} MB (+${rssMb() - before} MB)`,
  );
  await pool.destroy();
}

async function main(): Promise<void> {
  console.log(`bench/compute on ${os.cpus()[0].model}, ${os.cpus().length} cores, Node ${process.version}`);
  await cymaticMemory();
  await fftSection();
  await cymaticSection();
  await wallSection();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
