/**
 * An import's work on the main thread comes in small pieces with turns of the event loop between
 * them (docs/operations.md: event-loop delay during an import). Counted in turns, not milliseconds:
 * a self-rescheduling setImmediate runs once per turn, so work that never hands the loop back (a
 * parse whose records flow through promises only) lets it run zero or one time.
 */
import { Readable } from "node:stream";
import embedTask from "../../compute/tasks/embed.task";
import { embedInto } from "../../compute/lib/embedding";
import { vectorText } from "../../compute/lib/vector-text";
import { decodeVectors, vectorTexts, VECTORS_PER_TURN } from "../../services/datasets/embeddings";
import { parseStream, RECORDS_PER_TURN, type FileFormat } from "../../services/datasets/records";
import { loadPgvector, vectorToSql } from "../../services/lib/db/vector";

/** Runs `work` and counts the turns of the event loop it let pass. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let on = true;
  const tick = () => {
    if (!on) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    const result = await work();
    return { result, turns };
  } finally {
    on = false;
  }
}

const N = 4000;
const lines = Array.from({ length: N }, (_, i) => JSON.stringify({ content: `turn ${i}`, response: `r ${i}` }));
const FILES: [FileFormat, string][] = [
  ["jsonl", lines.join("\n") + "\n"],
  ["txt", Array.from({ length: N }, (_, i) => `paragraph ${i}`).join("\n\n") + "\n"],
  ["json", `[${lines.join(",")}]`],
];

describe("an import's main-thread work hands the event loop back", () => {
  it.each(FILES)("parseStream (%s) yields a turn at least every RECORDS_PER_TURN records", async (format, text) => {
    const { result, turns } = await turnsDuring(async () => {
      let n = 0;
      // One chunk: readline splits all of it at once, the records then flow through promises only.
      for await (const _r of parseStream(`f.${format}`, format, Readable.from([Buffer.from(text)]), 1000, 1 << 24)) n++;
      return n;
    });
    expect(result).toBe(N);
    expect(turns).toBeGreaterThanOrEqual(Math.floor(N / RECORDS_PER_TURN) - 1);
  });

  it("formats vectors on the main thread a few at a turn, as pgvector's toSql does", async () => {
    await loadPgvector();
    const vectors = Array.from({ length: 1000 }, (_, i) => {
      const v = new Float32Array(384);
      embedInto(`vector ${i} of tempo and pitch`, v);
      return v;
    });
    const { result, turns } = await turnsDuring(() => vectorTexts(vectors));
    expect(result).toEqual(vectors.map(vectorToSql));
    expect(turns).toBeGreaterThanOrEqual(Math.floor(vectors.length / VECTORS_PER_TURN) - 1);
    // Rounding and edge values: the same text as pgvector's.
    for (const v of [
      [0, -0, 1e-9, -1e-9, 0.5, -0.1234565, 1],
      [Number.NaN, 0.333333333],
    ])
      expect(vectorText(v)).toBe(vectorToSql(v));
  });

  it("has the compute pool's embed task answer the text form of the vectors it answers in binary", async () => {
    await loadPgvector();
    const texts = ["tempo and pitch", "a chord in C major", "the of and", "rhythm"];
    const dim = 64;
    const out = new SharedArrayBuffer(texts.length * dim * 4);
    embedTask({ texts, dim, out });
    const binary = decodeVectors(Buffer.from(out).toString("base64"), texts.length, dim);
    expect(embedTask({ texts, dim, text: true }).vectors_sql).toEqual(binary.map(vectorToSql));
  });
});
