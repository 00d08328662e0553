/** jobs/kinds: a compute result split into the job's summary and its file, from base64 or from bytes. */
import { splitResult } from "../../services/jobs/kinds";

describe("jobs.splitResult", () => {
  const file = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]);
  // A view on part of a larger buffer, as a Buffer from a worker's answer can be.
  const backing = Buffer.concat([Buffer.from([9, 9, 9]), file, Buffer.from([7])]);
  const view = new Uint8Array(backing.buffer, backing.byteOffset + 3, file.length);

  it.each([
    ["base64 (a caller on another node, HTTP)", file.toString("base64")],
    ["the Buffer itself (fileAsBytes on this node)", file],
    ["a view on part of a larger buffer", view],
  ])("takes the file as %s", (_how, value) => {
    const { summary, file: out } = splitResult("art", { seed: 7, bytes: file.length, png_base64: value });
    expect(summary).toEqual({ seed: 7, bytes: file.length });
    expect(out?.contentType).toBe("image/png");
    expect([...(out?.bytes ?? [])]).toEqual([...file]);
  });

  it("keeps a result without its file field whole", () => {
    expect(splitResult("emotion", { dominant: "joy" })).toEqual({ summary: { dominant: "joy" } });
    expect(splitResult("art", { seed: 1 })).toEqual({ summary: { seed: 1 } });
  });
});
