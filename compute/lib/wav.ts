/** RIFF/WAVE, PCM 16-bit little-endian. */

export const WAV_HEADER_BYTES = 44;

/** Writes a 44-byte PCM16 header for `frames` sample frames into `out` at offset 0. */
export function writeWavHeader(out: DataView, frames: number, channels: number, sampleRate: number): void {
  const dataBytes = frames * channels * 2;
  const ascii = (off: number, s: string) => {
    for (let i = 0; i < s.length; i++) out.setUint8(off + i, s.charCodeAt(i));
  };
  ascii(0, "RIFF");
  out.setUint32(4, 36 + dataBytes, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  out.setUint32(16, 16, true); // fmt chunk size
  out.setUint16(20, 1, true); // PCM
  out.setUint16(22, channels, true);
  out.setUint32(24, sampleRate, true);
  out.setUint32(28, sampleRate * channels * 2, true); // byte rate
  out.setUint16(32, channels * 2, true); // block align
  out.setUint16(34, 16, true); // bits per sample
  ascii(36, "data");
  out.setUint32(40, dataBytes, true);
}

export interface WavInfo {
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  frames: number;
  dataOffset: number;
}

/** Reads a canonical PCM WAV header. @throws on anything else. */
export function readWavHeader(bytes: Uint8Array): WavInfo {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (off: number) => String.fromCharCode(...bytes.subarray(off, off + 4));
  if (tag(0) !== "RIFF" || tag(8) !== "WAVE" || tag(12) !== "fmt " || tag(36) !== "data")
    throw new Error("not a canonical PCM WAV file");
  if (v.getUint16(20, true) !== 1) throw new Error("not PCM");
  const channels = v.getUint16(22, true);
  const bitsPerSample = v.getUint16(34, true);
  const dataBytes = v.getUint32(40, true);
  if (v.getUint32(4, true) !== 36 + dataBytes || bytes.length !== 44 + dataBytes)
    throw new Error("WAV sizes do not match the file");
  return {
    channels,
    sampleRate: v.getUint32(24, true),
    bitsPerSample,
    frames: dataBytes / (channels * (bitsPerSample / 8)),
    dataOffset: 44,
  };
}
