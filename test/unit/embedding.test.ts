import { EMBEDDING_OPTIONS, embedInto } from "../../compute/lib/embedding";
import { vectorLiteral } from "../../services/datasets/embeddings";
import { loadPgvector, vectorFromSql } from "../../services/lib/db/vector";

const embed = (text: string, dim = 384, options = EMBEDDING_OPTIONS) => {
  const v = new Float32Array(dim);
  embedInto(text, v, options);
  return v;
};
const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

describe("compute.embedding (local feature hashing)", () => {
  it("gives unit vectors, the same for the same text", () => {
    const v = embed("Chladni figures appear on a vibrating plate");
    expect(cosine(v, v)).toBeCloseTo(1, 5);
    expect(Array.from(embed("Chladni figures appear on a vibrating plate"))).toEqual(Array.from(v));
  });

  it("leaves English stop words out, so they neither match nor dilute", () => {
    expect(Array.from(embed("what is the tempo?"))).toEqual(Array.from(embed("tempo")));
    expect(Array.from(embed("the of and"))).toEqual(Array.from(new Float32Array(384)));
  });

  it("keeps stop words when told to (the previous default)", () => {
    const previous = { ...EMBEDDING_OPTIONS, stopWords: false };
    expect(cosine(embed("what is the tempo", 384, previous), embed("tempo", 384, previous))).toBeLessThan(0.9);
  });

  it("puts a text nearer to one that shares its words and word pieces than to one that does not", () => {
    const q = embed("vibrating plates");
    const near = embed("A plate vibrates and sand gathers on its nodal lines");
    const far = embed("Allegro is a fast tempo marking");
    expect(cosine(q, near)).toBeGreaterThan(cosine(q, far) + 0.1);
  });
});

describe("datasets.embeddings.vectorLiteral", () => {
  beforeAll(() => loadPgvector());

  it("writes pgvector's text form through the pgvector package, each component to 6 decimals", () => {
    expect(vectorLiteral(Float32Array.from([0.5, -0.123456789, 1e-7, 0]))).toBe("[0.5,-0.123457,0,0]");
  });

  it("reads a vector's text form back as numbers", () => {
    expect(vectorFromSql("[0.5,-0.123457,0]")).toEqual([0.5, -0.123457, 0]);
  });
});
