import { embedInto } from "../lib/embedding";

export interface EmbedTaskInput {
  texts: string[];
  dim: number;
  /** texts.length × dim float32, written in place. */
  out: SharedArrayBuffer;
}

/** Local embeddings of a batch of texts, into shared memory. */
export default function embedTask(input: EmbedTaskInput): { count: number } {
  const all = new Float32Array(input.out);
  input.texts.forEach((t, i) => embedInto(t, all.subarray(i * input.dim, (i + 1) * input.dim)));
  return { count: input.texts.length };
}
