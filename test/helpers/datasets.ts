/** Small helpers for the datasets suites. */
import type { ServiceBroker } from "moleculer";

export const ADMIN_KEY = "test-admin-key-0123456789";

/** The hand-made corpus the search tests rank. */
export const CORPUS: Record<string, { content: string; response?: string }[]> = {
  music: [
    { content: "The C major scale has no sharps or flats", response: "C D E F G A B" },
    { content: "A minor scale sounds sad and dark" },
    { content: "Tempo is measured in beats per minute" },
    { content: "Allegro is a fast tempo marking" },
  ],
  art: [
    { content: "Mandala patterns repeat around a center" },
    { content: "Flow fields trace particles through noise" },
  ],
};

export async function loadCorpus(broker: ServiceBroker): Promise<void> {
  for (const [domain, examples] of Object.entries(CORPUS)) await broker.call("datasets.add", { domain, examples });
}

/** Collects datasets.changed events on a broker. */
export function watchChanges(broker: ServiceBroker, name: string): { domain: string; version: number }[] {
  const seen: { domain: string; version: number }[] = [];
  broker.createService({
    name,
    events: {
      "datasets.changed": (ctx: { params: { domain: string; version: number } }) => void seen.push(ctx.params),
    },
  });
  return seen;
}

/** A query embedder through the node's compute service (what the datasets service itself calls), 384 dimensions. */
export function computeEmbedder(broker: ServiceBroker): (text: string) => Promise<Float32Array> {
  return async (text) => {
    const r = await broker.call<{ vectors_base64: string }, { texts: string[]; dim: number }>("compute.embed", {
      texts: [text],
      dim: 384,
    });
    const b = Buffer.from(r.vectors_base64, "base64");
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
}
