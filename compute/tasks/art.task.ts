import { renderArt, type ArtInput } from "../lib/art";
import { encodePng } from "../lib/png";

export interface ArtTaskInput extends ArtInput {
  /** Int32[1]: progress in thousandths. */
  progress?: SharedArrayBuffer;
}

/** A procedural image as PNG. */
export default function artTask(input: ArtTaskInput): { png: Uint8Array; seed: number; palette: string[] } {
  const progress = input.progress ? new Int32Array(input.progress) : undefined;
  const art = renderArt(input, (p) => progress && Atomics.store(progress, 0, Math.round(p * 950)));
  const png = encodePng(art.rgba, input.width, input.height);
  if (progress) Atomics.store(progress, 0, 1000);
  return { png, seed: art.seed, palette: art.palette };
}
