/**
 * Embedding providers. `local` (default): feature hashing computed by the compute service's pool.
 * `openai`: an OpenAI-compatible /embeddings endpoint (EMBEDDINGS_URL), called through the action
 * `datasets.embedRemote` so that Moleculer's circuit breaker guards it. Both go through a cache in
 * the shared cacher, keyed by model and text hash.
 */
import crypto from "node:crypto";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { Context, ServiceBroker } from "moleculer";
import type { EmbeddingSettings } from "../../lib/config";
import { UnavailableError } from "../../lib/errors";
import { postOpenAi } from "../../lib/openai-http";
import { LOCAL_EMBEDDING_VERSION } from "../../../compute/lib/embedding";
import { vectorText } from "../../../compute/lib/vector-text";

export interface Embedder {
  readonly name: string;
  readonly dim: number;
  /** One unit vector per text, in order. */
  embed(ctx: Context, texts: string[]): Promise<Float32Array[]>;
  /**
   * The same vectors in pgvector's text form, what an import inserts: built in the compute pool
   * (local), or on the main thread a few vectors a turn of the event loop (remote).
   */
  embedSql(ctx: Context, texts: string[]): Promise<string[]>;
}

/** Vectors formatted on the main thread per turn of its event loop: ~2–8 ms of work a turn at 384 dimensions. */
export const VECTORS_PER_TURN = 32;

/**
 * pgvector's text form of each vector, yielding to the event loop after every `perTurn`: 256
 * vectors of 384 dimensions in one go held the loop 40–60 ms (docs/operations.md).
 */
export async function vectorTexts(vectors: ArrayLike<number>[], perTurn = VECTORS_PER_TURN): Promise<string[]> {
  const out = new Array<string>(vectors.length);
  for (let i = 0; i < vectors.length; i++) {
    if (i > 0 && i % perTurn === 0) await nextTurn();
    out[i] = vectorText(vectors[i]);
  }
  return out;
}

/** base64 float32, row-major, as compute.embed answers it. */
export function decodeVectors(b64: string, count: number, dim: number): Float32Array[] {
  const buf = Buffer.from(b64, "base64");
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return Array.from({ length: count }, (_, i) => all.subarray(i * dim, (i + 1) * dim));
}

/** pgvector's text form of a vector, through the pgvector package (the database layer loads it). */
export { vectorToSql as vectorLiteral } from "../../lib/db/vector";

/** Texts per compute.embed call at least: below this one call is cheaper than the hand-offs. */
const LOCAL_CHUNK_MIN = 64;
/** compute.embed calls one batch is split into at most (threads of a pool, or nodes of a cluster). */
const LOCAL_CHUNKS_MAX = 4;

/**
 * One compute task runs on one pool thread: an import's batch is split so that every thread (and,
 * in a cluster, every compute node) works on it at once.
 */
async function inChunks<T>(texts: string[], call: (part: string[]) => Promise<T[]>): Promise<T[]> {
  const chunks = Math.max(1, Math.min(LOCAL_CHUNKS_MAX, Math.floor(texts.length / LOCAL_CHUNK_MIN)));
  const size = Math.ceil(texts.length / chunks);
  const parts = await Promise.all(
    Array.from({ length: chunks }, (_, i) => call(texts.slice(i * size, (i + 1) * size))),
  );
  return parts.flat();
}

function localEmbedder(dim: number): Embedder {
  type Answer = { vectors_base64?: string; vectors_sql?: string[] };
  const call = (ctx: Context, texts: string[], format: "base64" | "sql") =>
    ctx.call<Answer, { texts: string[]; dim: number; format: "base64" | "sql" }>("compute.embed", {
      texts,
      dim,
      format,
    });
  return {
    name: `local:${LOCAL_EMBEDDING_VERSION}`,
    dim,
    embed: (ctx, texts) =>
      inChunks(texts, async (part) =>
        decodeVectors((await call(ctx, part, "base64")).vectors_base64 ?? "", part.length, dim),
      ),
    embedSql: (ctx, texts) =>
      inChunks(texts, async (part) => {
        const r = await call(ctx, part, "sql");
        // A compute node of an older build answers base64 whatever the format asked.
        if (r.vectors_sql) return r.vectors_sql;
        return vectorTexts(decodeVectors(r.vectors_base64 ?? "", part.length, dim));
      }),
  };
}

function remoteEmbedder(settings: EmbeddingSettings): Embedder {
  const embed = async (ctx: Context, texts: string[]) => {
    try {
      const r = await ctx.call<{ vectors: number[][] }, { texts: string[] }>("datasets.embedRemote", { texts });
      return r.vectors.map((v) => Float32Array.from(v));
    } catch (err) {
      // Failing calls and an open circuit breaker (no endpoint available) alike: a 503.
      throw new UnavailableError(`embeddings unavailable: ${(err as Error).message}`);
    }
  };
  return {
    name: `openai:${settings.model}`,
    dim: settings.dim,
    embed,
    embedSql: async (ctx, texts) => vectorTexts(await embed(ctx, texts)),
  };
}

const CACHE_TTL_S = 7 * 24 * 3600;

/** Wraps a provider with the shared cache: only texts not seen before are computed. */
function cached(broker: ServiceBroker, inner: Embedder): Embedder {
  const cacher = broker.cacher;
  if (!cacher) return inner;
  const key = (t: string) => `emb:${inner.name}:${inner.dim}:${crypto.createHash("sha1").update(t).digest("hex")}`;
  return {
    name: inner.name,
    dim: inner.dim,
    // Imports only, which skip the cache (see createEmbedders).
    embedSql: (ctx, texts) => inner.embedSql(ctx, texts),
    async embed(ctx, texts) {
      const keys = texts.map(key);
      const hits = (await Promise.all(keys.map((k) => cacher.get(k).catch(() => null)))) as (string | null)[];
      const missing = texts.map((_, i) => i).filter((i) => typeof hits[i] !== "string");
      const fresh = missing.length
        ? await inner.embed(
            ctx,
            missing.map((i) => texts[i]),
          )
        : [];
      const out = new Array<Float32Array>(texts.length);
      missing.forEach((i, j) => {
        out[i] = fresh[j];
        // Caching is best effort: a cacher that fails (Redis away) must not fail the query.
        const encoded = Buffer.from(fresh[j].buffer, fresh[j].byteOffset, fresh[j].byteLength).toString("base64");
        Promise.resolve(cacher.set(keys[i], encoded, CACHE_TTL_S)).catch(() => undefined);
      });
      texts.forEach((_, i) => {
        if (!out[i]) out[i] = decodeVectors(hits[i] as string, 1, inner.dim)[0];
      });
      return out;
    },
  };
}

/**
 * The provider the config names. Imports skip the cache (every text is new to it, and it would
 * only fill the cacher); queries use it.
 */
export function createEmbedders(
  broker: ServiceBroker,
  settings: EmbeddingSettings,
): { bulk: Embedder; query: Embedder } {
  const base = settings.url ? remoteEmbedder(settings) : localEmbedder(settings.dim);
  return { bulk: base, query: cached(broker, base) };
}

/** Calls the OpenAI-compatible endpoint once, within the timeout. @throws on HTTP errors and bad answers. */
export async function callEmbeddingsApi(settings: EmbeddingSettings, texts: string[]): Promise<number[][]> {
  if (!settings.url) throw new Error("no embeddings endpoint is configured (EMBEDDINGS_URL)");
  const endpoint = { url: settings.url, key: settings.key, timeoutMs: settings.timeoutMs };
  const body = (await postOpenAi("embeddings", endpoint, "embeddings", {
    model: settings.model,
    input: texts,
    dimensions: settings.dim,
  })) as { data?: { embedding?: unknown; index?: unknown }[] };
  if (!Array.isArray(body.data) || body.data.length !== texts.length)
    throw new Error("embeddings endpoint answered a malformed body");
  const out = new Array<number[]>(texts.length);
  for (const d of body.data) {
    const dims = Array.isArray(d.embedding) ? d.embedding.length : 0;
    if (!Array.isArray(d.embedding) || dims !== settings.dim)
      throw new Error(`embeddings endpoint answered vectors of ${dims} dimensions, expected ${settings.dim}`);
    if (typeof d.index !== "number" || !Number.isInteger(d.index) || d.index < 0 || d.index >= texts.length)
      throw new Error("embeddings endpoint answered a malformed body");
    out[d.index] = d.embedding as number[];
  }
  return out;
}
