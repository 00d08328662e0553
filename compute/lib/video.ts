/**
 * A cymatic frequency sweep as an animated GIF: frame i shows the Chladni figure at the
 * frequency f0·(f1/f0)^(i/(frames−1)) (a logarithmic sweep, as the ear hears pitch). Frames are
 * 8-bit indices into one 256-colour "sand on a plate" palette, so no per-frame quantization.
 */
import { GIFEncoder } from "gifenc";
import { chooseModes, renderRows, type Plate } from "./chladni";

export interface SweepSpec {
  from: number;
  to: number;
  frames: number;
  size: number;
  plate: Plate;
}

export function sweepFrequency(spec: SweepSpec, i: number): number {
  return spec.frames === 1 ? spec.from : spec.from * (spec.to / spec.from) ** (i / (spec.frames - 1));
}

/** The palette: index 0 the plate's dark, 255 the bright sand; outside a circle is index 0. */
export function sandPalette(): number[][] {
  return Array.from({ length: 256 }, (_, i) => {
    const t = i / 255;
    return [Math.round(18 + t * 232), Math.round(22 + t * 214), Math.round(46 + t * 170)];
  });
}

/** Renders frames [f0, f1) as palette indices into `out` (frames × size × size bytes). */
export function renderSweepFrames(spec: SweepSpec, f0: number, f1: number, out: Uint8Array): void {
  const n = spec.size;
  const field = new Float32Array(n * n);
  for (let f = f0; f < f1; f++) {
    renderRows(chooseModes(spec.plate, [sweepFrequency(spec, f)]), n, 0, n, field);
    let peak = 0;
    for (const v of field) if (!Number.isNaN(v)) peak = Math.max(peak, Math.abs(v));
    const band = Math.max(peak * 0.08, 1e-12);
    const base = f * n * n;
    for (let p = 0; p < n * n; p++) {
      const v = field[p];
      out[base + p] = Number.isNaN(v) ? 0 : Math.round(255 * Math.exp(-((v / band) ** 2)));
    }
  }
}

/** Encodes the frames as a looping GIF. */
export function encodeSweepGif(frames: Uint8Array, count: number, size: number, delayMs: number): Uint8Array {
  const gif = GIFEncoder();
  const pal = sandPalette();
  for (let f = 0; f < count; f++) {
    gif.writeFrame(
      frames.subarray(f * size * size, (f + 1) * size * size),
      size,
      size,
      f === 0 ? { palette: pal, delay: delayMs, repeat: 0 } : { delay: delayMs },
    );
  }
  gif.finish();
  return gif.bytes();
}
