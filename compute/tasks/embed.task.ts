import { embedInto } from "../lib/embedding";
import { vectorText } from "../lib/vector-text";

export interface EmbedTaskInput {
  texts: string[];
  dim: number;
  /** texts.length × dim float32, written in place; absent when `text` asks for the text forms. */
  out?: SharedArrayBuffer;
  /** Answer each vector's pgvector text form instead (what an import inserts). */
  text?: boolean;
}

/** Local embeddings of a batch of texts, into shared memory or as pgvector text. */
export default function embedTask(input: EmbedTaskInput): { count: number; vectors_sql?: string[] } {
  if (input.text) {
    const v = new Float32Array(input.dim);
    const vectors_sql = input.texts.map((t) => {
      embedInto(t, v);
      return vectorText(v);
    });
    return { count: input.texts.length, vectors_sql };
  }
  if (!input.out) throw new Error("embed: no output buffer");
  const all = new Float32Array(input.out);
  input.texts.forEach((t, i) => embedInto(t, all.subarray(i * input.dim, (i + 1) * input.dim)));
  return { count: input.texts.length };
}
