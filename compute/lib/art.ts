/**
 * Procedural images from a prompt and a style. The prompt (and an optional seed) seeds every
 * choice, so the same input gives the same bytes. Styles:
 * - waves: interference of seeded plane waves, through the palette;
 * - mandala: a k-fold polar pattern (k from the seed, 6..16);
 * - cymatic: a Chladni figure of two frequencies taken from the seed;
 * - flow-field: particles traced through a smooth noise field, drawn additively.
 */
import { chooseModes, renderRows } from "./chladni";
import { hashString, mulberry32 } from "./prng";
import { scratch } from "./scratch";

export const ART_STYLES = ["waves", "mandala", "cymatic", "flow-field"] as const;
export type ArtStyle = (typeof ART_STYLES)[number];

export interface ArtInput {
  prompt: string;
  style: ArtStyle;
  width: number;
  height: number;
  seed?: number;
}

type Rgb = [number, number, number];

function hslToRgb(h: number, s: number, l: number): Rgb {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
}

/** Five colours around a seeded hue: dark to light. */
export function palette(rand: () => number): Rgb[] {
  const hue = rand() * 360;
  const spread = 20 + rand() * 60;
  return [0, 1, 2, 3, 4].map((i) => hslToRgb((hue + i * spread) % 360, 0.55 + 0.1 * (i % 2), 0.12 + i * 0.17));
}

/** The palette colour at t ∈ [0, 1], linearly between stops. */
function shade(p: Rgb[], t: number): Rgb {
  const x = Math.max(0, Math.min(0.9999, t)) * (p.length - 1);
  const i = Math.floor(x);
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(p[i][c] + (p[i + 1][c] - p[i][c]) * f)) as Rgb;
}

function setPx(px: Uint8Array, o: number, c: Rgb): void {
  px[o] = c[0];
  px[o + 1] = c[1];
  px[o + 2] = c[2];
  px[o + 3] = 255;
}

type Progress = (p: number) => void;

function waves(a: ArtInput, rand: () => number, pal: Rgb[], px: Uint8Array, progress: Progress): void {
  const comps = Array.from({ length: 5 + Math.floor(rand() * 4) }, () => ({
    angle: rand() * Math.PI * 2,
    freq: 2 + rand() * 14,
    phase: rand() * Math.PI * 2,
  }));
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const u = x / a.width;
      const v = y / a.height;
      let s = 0;
      for (const c of comps)
        s += Math.sin(2 * Math.PI * c.freq * (u * Math.cos(c.angle) + v * Math.sin(c.angle)) + c.phase);
      setPx(px, (y * a.width + x) * 4, shade(pal, 0.5 + s / (2 * comps.length)));
    }
    if (y % 64 === 63) progress(y / a.height);
  }
}

function mandala(a: ArtInput, rand: () => number, pal: Rgb[], px: Uint8Array, progress: Progress): void {
  const k = 6 + Math.floor(rand() * 11);
  const rings = 4 + rand() * 10;
  const twist = rand() * 4;
  const side = Math.min(a.width, a.height);
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const dx = (x + 0.5 - a.width / 2) / (side / 2);
      const dy = (y + 0.5 - a.height / 2) / (side / 2);
      const r = Math.sqrt(dx * dx + dy * dy);
      const th = Math.atan2(dy, dx);
      const petal = Math.abs(Math.cos((k * th) / 2 + twist * r));
      const ring = 0.5 + 0.5 * Math.cos(2 * Math.PI * rings * r * (0.6 + 0.4 * petal));
      const t = r > 1 ? 0.05 : 0.15 + 0.85 * ring * (1 - 0.5 * r) * (0.4 + 0.6 * petal);
      setPx(px, (y * a.width + x) * 4, shade(pal, t));
    }
    if (y % 64 === 63) progress(y / a.height);
  }
}

function cymatic(a: ArtInput, rand: () => number, pal: Rgb[], px: Uint8Array, progress: Progress): void {
  const side = Math.max(a.width, a.height);
  const modes = chooseModes("square", [200 + rand() * 1800, 200 + rand() * 1800]);
  const field = scratch("art-field", Float32Array, side * side);
  renderRows(modes, side, 0, side, field);
  progress(0.5);
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const v = Math.abs(field[y * side + x]);
      setPx(px, (y * a.width + x) * 4, shade(pal, 1 - Math.min(1, v * 2.5)));
    }
  }
}

/** Smooth value noise on a seeded lattice. */
function valueNoise(rand: () => number): (x: number, y: number) => number {
  const n = 256;
  const lattice = scratch("art-lattice", Float64Array, n * n);
  for (let i = 0; i < lattice.length; i++) lattice[i] = rand();
  const at = (i: number, j: number) => lattice[(((j % n) + n) % n) * n + (((i % n) + n) % n)];
  const fade = (t: number) => t * t * (3 - 2 * t);
  return (x, y) => {
    const i = Math.floor(x);
    const j = Math.floor(y);
    const u = fade(x - i);
    const v = fade(y - j);
    const a = at(i, j) + (at(i + 1, j) - at(i, j)) * u;
    const b = at(i, j + 1) + (at(i + 1, j + 1) - at(i, j + 1)) * u;
    return a + (b - a) * v;
  };
}

function flowField(a: ArtInput, rand: () => number, pal: Rgb[], px: Uint8Array, progress: Progress): void {
  const noise = valueNoise(rand);
  const scale = 3 + rand() * 5;
  const turns = 1 + rand() * 3;
  const density = scratch("art-density", Float32Array, a.width * a.height);
  const particles = Math.round((a.width * a.height) / 40);
  const steps = 60;
  for (let p = 0; p < particles; p++) {
    let x = rand() * a.width;
    let y = rand() * a.height;
    for (let s = 0; s < steps; s++) {
      const ang = noise((x / a.width) * scale, (y / a.height) * scale) * Math.PI * 2 * turns;
      x += Math.cos(ang);
      y += Math.sin(ang);
      if (x < 0 || y < 0 || x >= a.width || y >= a.height) break;
      density[Math.floor(y) * a.width + Math.floor(x)] += 1;
    }
    if (p % 4096 === 4095) progress((0.9 * p) / particles);
  }
  let max = 0;
  for (const d of density) max = Math.max(max, d);
  const norm = Math.log1p(max || 1);
  for (let i = 0; i < density.length; i++) setPx(px, i * 4, shade(pal, 0.08 + 0.92 * (Math.log1p(density[i]) / norm)));
}

const RENDERERS: Record<
  ArtStyle,
  (a: ArtInput, rand: () => number, pal: Rgb[], px: Uint8Array, progress: Progress) => void
> = {
  waves,
  mandala,
  cymatic,
  "flow-field": flowField,
};

export interface ArtResult {
  /** This thread's scratch buffer: valid until the next render on the thread. */
  rgba: Uint8Array;
  seed: number;
  palette: string[];
}

/** Renders RGBA pixels for `input`; `onProgress` gets 0..1. */
export function renderArt(input: ArtInput, onProgress: Progress = () => undefined): ArtResult {
  // The prompt always counts; a caller's seed varies the image for the same prompt.
  const seed = hashString(`${input.style}\u0000${input.prompt}\u0000${input.seed ?? ""}`);
  const rand = mulberry32(seed);
  const pal = palette(rand);
  // Reused on this thread: callers encode it before the next render (see ArtResult).
  const rgba = scratch("art-rgba", Uint8Array, input.width * input.height * 4);
  RENDERERS[input.style](input, rand, pal, rgba, onProgress);
  onProgress(1);
  return { rgba, seed, palette: pal.map((c) => `#${c.map((v) => v.toString(16).padStart(2, "0")).join("")}`) };
}
