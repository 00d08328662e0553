/**
 * compute/lib/png: the encoder writes the same bytes as pngjs's `PNG.sync.write` (the files the
 * API served before it), and pngjs reads them back to the same pixels.
 */
import { PNG } from "pngjs";
import { ART_STYLES, renderArt } from "../../compute/lib/art";
import { encodePng } from "../../compute/lib/png";

function pngjsEncode(rgba: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba);
  return PNG.sync.write(png, { colorType: 6 });
}

/** Bytes that make every filter win somewhere: a ramp, noise, flat runs. */
function mixed(width: number, height: number): Uint8Array {
  const px = new Uint8Array(width * height * 4);
  let s = 12345;
  for (let i = 0; i < px.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const y = Math.floor(i / (width * 4));
    px[i] = y % 3 === 0 ? i & 0xff : y % 3 === 1 ? s >>> 24 : 200;
  }
  return px;
}

describe("encodePng", () => {
  it.each([
    ...ART_STYLES.map(
      // A copy: the art's pixels are a per-thread scratch array, reused by the next render.
      (style) =>
        [
          style,
          Uint8Array.from(renderArt({ prompt: `png ${style}`, style, width: 96, height: 64 }).rgba),
          96,
          64,
        ] as const,
    ),
    ["mixed rows, odd size", mixed(37, 9), 37, 9] as const,
    ["one pixel", new Uint8Array([1, 2, 3, 4]), 1, 1] as const,
  ])("%s: the same bytes as pngjs, read back to the same pixels", (_what, pixels, width, height) => {
    const ours = Buffer.from(encodePng(pixels, width, height));
    expect(ours.equals(pngjsEncode(pixels, width, height))).toBe(true);
    const back = PNG.sync.read(ours);
    expect([back.width, back.height]).toEqual([width, height]);
    expect(Buffer.from(back.data).equals(Buffer.from(pixels))).toBe(true);
  });

  it("encodes one size after another on the same thread (its scratch buffers reused)", () => {
    for (const [w, h] of [
      [64, 64],
      [32, 48],
      [64, 64],
    ]) {
      const px = mixed(w, h);
      expect(Buffer.from(encodePng(px, w, h)).equals(pngjsEncode(px, w, h))).toBe(true);
    }
  });
});
