/**
 * The compute operations: each validates nothing (the service did), splits the work across the
 * pool where it parallelizes, and shapes the result for callers.
 */
import type { Context } from "moleculer";
import { rowBands, type Mode, type Plate } from "../../compute/lib/chladni";
import type { PlanStats } from "../../compute/lib/fft";
import type { MusicPlan } from "../../compute/lib/music";
import type { SpatialFrequency } from "../../compute/lib/cymatic-analysis";
import type { FftTaskResult } from "../../compute/tasks/fft.task";
import type { CymaticFinishResult } from "../../compute/tasks/cymatic-finish.task";
import type { TaskRunner } from "./runner";
import { watchProgress } from "./progress";
import {
  DEFAULTS,
  type ArtParams,
  type CymaticParams,
  type FftParams,
  type MusicParams,
  type VideoParams,
} from "./contract";

/** Bytes from a worker: typed arrays crossing threads are not instanceof here (jest realms). */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export interface FftResult {
  size: number;
  padded: boolean;
  resolution_hz: number;
  engine: string;
  peaks: { frequency: number; magnitude: number }[];
  spectrum?: number[];
  stft?: { frame_size: number; hop: number; frames: number; bins: number; data: number[][] };
}

export async function runFft(runner: TaskRunner, p: FftParams, onPlans: (s: PlanStats) => void): Promise<FftResult> {
  const shared = new SharedArrayBuffer(p.signal.length * 4);
  new Float32Array(shared).set(p.signal);
  const r = await runner.run<FftTaskResult>("fft", {
    signal: shared,
    length: p.signal.length,
    sampleRate: p.sampleRate,
    window: p.window ?? "hann",
    peaks: p.peaks ?? 5,
    spectrum: p.spectrum ?? false,
    stft: p.stft,
  });
  onPlans(r.plans);
  const out: FftResult = {
    size: r.size,
    padded: r.padded,
    resolution_hz: r.resolution,
    engine: r.engine,
    peaks: r.peaks.map((pk) => ({ frequency: pk.frequency, magnitude: pk.magnitude })),
  };
  if (r.spectrum) out.spectrum = r.spectrum;
  if (r.stft) {
    const { frames, bins, data } = r.stft;
    out.stft = {
      frame_size: r.stft.frameSize,
      hop: r.stft.hop,
      frames,
      bins,
      data: Array.from({ length: frames }, (_, f) => Array.from(data.subarray(f * bins, (f + 1) * bins))),
    };
  }
  return out;
}

export interface CymaticResult {
  plate: Plate;
  size: number;
  modes: Mode[];
  nodal_fraction: number;
  symmetry_order: number;
  spatial_frequencies: SpatialFrequency[];
  preview: number[][];
  png?: Buffer;
  bands: number;
}

/** Renders the field in one row band per thread, into one SharedArrayBuffer, then analyzes it. */
export async function runCymatic(
  runner: TaskRunner,
  p: CymaticParams,
  png: boolean,
  onPlans: (s: PlanStats) => void,
  id?: string,
): Promise<CymaticResult> {
  const size = p.size ?? DEFAULTS.cymaticSize;
  const plate = p.plate ?? "square";
  const bands = rowBands(size, runner.pool.threads);
  runner.admit(bands.length + 1);
  const field = new SharedArrayBuffer(size * size * 4);
  const parts = await Promise.all(
    bands.map(([row0, row1]) =>
      runner.run<{ modes: Mode[] }>(
        "cymatic-field",
        { plate, frequencies: p.frequencies, size, row0, row1, field },
        id,
      ),
    ),
  );
  const fin = await runner.run<CymaticFinishResult>(
    "cymatic-finish",
    { field, size, preview: p.preview ?? DEFAULTS.cymaticPreview, png },
    id,
  );
  onPlans(fin.plans);
  return {
    plate,
    size,
    modes: parts[0].modes,
    nodal_fraction: fin.nodal_fraction,
    symmetry_order: fin.symmetry_order,
    spatial_frequencies: fin.spatial_frequencies,
    preview: fin.preview,
    png: fin.png ? toBuffer(fin.png) : undefined,
    bands: bands.length,
  };
}

export async function runArt(ctx: Context, runner: TaskRunner, p: ArtParams, id?: string) {
  runner.admit();
  const width = p.width ?? DEFAULTS.artWidth;
  const height = p.height ?? DEFAULTS.artHeight;
  const watch = watchProgress(ctx, "art", id);
  try {
    const r = await runner.run<{ png: Uint8Array; seed: number; palette: string[] }>(
      "art",
      { ...p, width, height, progress: watch.buffer },
      id,
    );
    return { style: p.style, width, height, seed: r.seed, palette: r.palette, png: toBuffer(r.png) };
  } finally {
    watch.stop();
  }
}

export async function runMusic(
  ctx: Context,
  runner: TaskRunner,
  p: MusicParams,
  id?: string,
): Promise<{ plan: MusicPlan; wav: Buffer; duration: number }> {
  runner.admit();
  const watch = watchProgress(ctx, "music", id);
  try {
    const r = await runner.run<{ plan: MusicPlan; wav: Uint8Array }>("music", { ...p, progress: watch.buffer }, id);
    return { plan: r.plan, wav: toBuffer(r.wav), duration: p.duration };
  } finally {
    watch.stop();
  }
}

/** Frames rendered in parallel (one range per thread) into shared memory, then encoded. */
export async function runVideo(
  ctx: Context,
  runner: TaskRunner,
  p: VideoParams,
  id?: string,
): Promise<{ gif: Buffer; frames: number; size: number; fps: number }> {
  const spec = {
    from: p.from_hz,
    to: p.to_hz,
    frames: p.frames ?? DEFAULTS.videoFrames,
    size: p.size ?? DEFAULTS.videoSize,
    plate: p.plate ?? "square",
  };
  const fps = p.fps ?? DEFAULTS.videoFps;
  const ranges = rowBands(spec.frames, runner.pool.threads);
  runner.admit(ranges.length + 1);
  const out = new SharedArrayBuffer(spec.frames * spec.size * spec.size);
  const progress = watchProgress(ctx, "video", id);
  const cell = new Int32Array(progress.buffer);
  try {
    let done = 0;
    await Promise.all(
      ranges.map(async ([frame0, frame1]) => {
        await runner.run("video-frames", { spec, frame0, frame1, out }, id);
        done += frame1 - frame0;
        Atomics.store(cell, 0, Math.round((900 * done) / spec.frames));
      }),
    );
    const r = await runner.run<{ gif: Uint8Array }>(
      "video-encode",
      { out, frames: spec.frames, size: spec.size, delayMs: Math.round(1000 / fps) },
      id,
    );
    Atomics.store(cell, 0, 1000);
    return { gif: toBuffer(r.gif), frames: spec.frames, size: spec.size, fps };
  } finally {
    progress.stop();
  }
}
