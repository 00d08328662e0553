import { PNG } from "pngjs";

/** Encodes RGBA pixels (width×height×4 bytes) as a PNG file. */
export function encodePng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  // The Buffer pngjs returns is a Uint8Array already: no copy.
  return PNG.sync.write(png, { colorType: 6 });
}
