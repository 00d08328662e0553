/**
 * RGBA pixels to a PNG file: 8-bit RGBA, each row filtered by the filter whose bytes sum smallest
 * (the heuristic pngjs uses, so the files are the same bytes as pngjs's `PNG.sync.write`), deflated
 * at level 9 with zlib's RLE strategy.
 *
 * Written here rather than through pngjs, for memory: pngjs allocated two pixel-sized buffers per
 * image (its PNG object's own pixels, then the filtered rows) and copied the compressed data twice
 * more. Each such block of 128 KB or more is a fresh mapping under the relaunched node's malloc
 * threshold (bin/malloc-relaunch.ts), or fragments a thread's malloc arena without it; here the
 * filtered rows go into a per-thread scratch buffer and the compressed data is copied once, into
 * the file.
 */
import zlib from "node:zlib";
import { scratch } from "./scratch";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const BPP = 4;

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

function crc32(buf: Uint8Array, start: number, end: number): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function paeth(left: number, up: number, upLeft: number): number {
  const p = left + up - upLeft;
  const pl = Math.abs(p - left);
  const pu = Math.abs(p - up);
  const pul = Math.abs(p - upLeft);
  if (pl <= pu && pl <= pul) return left;
  return pu <= pul ? up : upLeft;
}

/**
 * Filters each row into `out` (a type byte, then the row) by the filter whose differences (before
 * they wrap to bytes) sum smallest, first on ties: pngjs's choice. Each filter writes its row into
 * `rows` while it sums, and the chosen one is copied; one plain loop per filter (closures or a switch
 * per byte made it 10–50% slower than pngjs).
 */
function filterRows(px: Uint8Array, w: number, height: number, out: Uint8Array, rows: Uint8Array[]): void {
  const [none, sub, up, avg, pae] = rows;
  for (let y = 0, p = 0, o = 0; y < height; y++, p += w, o += w + 1) {
    const sums = [0, 0, 0, 0, 0];
    for (let x = 0; x < w; x++) {
      const v = px[p + x];
      const l = x >= BPP ? px[p + x - BPP] : 0;
      const u = y > 0 ? px[p + x - w] : 0;
      const ul = y > 0 && x >= BPP ? px[p + x - w - BPP] : 0;
      const d1 = v - l;
      const d2 = v - u;
      const d3 = v - ((l + u) >> 1);
      const d4 = v - paeth(l, u, ul);
      none[x] = v;
      sub[x] = d1;
      up[x] = d2;
      avg[x] = d3;
      pae[x] = d4;
      sums[0] += v;
      sums[1] += d1 < 0 ? -d1 : d1;
      sums[2] += d2 < 0 ? -d2 : d2;
      sums[3] += d3 < 0 ? -d3 : d3;
      sums[4] += d4 < 0 ? -d4 : d4;
    }
    let best = 0;
    for (let t = 1; t < 5; t++) if (sums[t] < sums[best]) best = t;
    out[o] = best;
    out.set(rows[best], o + 1);
  }
}

/** Writes one chunk (length, type, data, CRC) at `at`; returns the offset after it. */
function writeChunk(file: Buffer, at: number, type: string, data: Uint8Array | undefined): number {
  const len = data?.length ?? 0;
  file.writeUInt32BE(len, at);
  file.write(type, at + 4, "latin1");
  if (data) file.set(data, at + 8);
  file.writeUInt32BE(crc32(file, at + 4, at + 8 + len), at + 8 + len);
  return at + 12 + len;
}

/** Encodes RGBA pixels (width×height×4 bytes) as a PNG file. */
export function encodePng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const byteWidth = width * BPP;
  const filtered = scratch("png-filtered", Uint8Array, (byteWidth + 1) * height);
  const candidates = scratch("png-rows", Uint8Array, 5 * byteWidth);
  const rows = [0, 1, 2, 3, 4].map((t) => candidates.subarray(t * byteWidth, (t + 1) * byteWidth));
  filterRows(rgba, byteWidth, height, filtered, rows);
  const idat = zlib.deflateSync(filtered, { chunkSize: 32 * 1024, level: 9, strategy: zlib.constants.Z_RLE });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  // bit depth 8, colour type 6 (RGBA), deflate, adaptive filtering, no interlace
  ihdr.set([8, 6, 0, 0, 0], 8);
  const file = Buffer.allocUnsafe(SIGNATURE.length + 3 * 12 + ihdr.length + idat.length);
  file.set(SIGNATURE, 0);
  let at = writeChunk(file, SIGNATURE.length, "IHDR", ihdr);
  at = writeChunk(file, at, "IDAT", idat);
  writeChunk(file, at, "IEND", undefined);
  return file;
}
