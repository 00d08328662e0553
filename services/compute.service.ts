/**
 * compute: the only door to the node's worker-thread pool. Every action validates its params
 * (shape by fastest-validator, sizes against the config's bounds) before any work is queued.
 * Callers import its params, schemas and bounds from compute/contract.ts.
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { ComputePool } from "../compute/pool";
import { WINDOWS } from "../compute/lib/spectrum";
import type { EmotionAnalysis } from "../compute/lib/emotions";
import { isPowerOfTwo } from "../compute/lib/fft";
import { configOf } from "./lib/runtime";
import { UnprocessableError } from "./lib/errors";
import { checkBreach, checkKindLimits, checkLimit } from "./compute/limits";
import {
  KIND_PARAMS,
  stftBreach,
  type ArtParams,
  type CymaticParams,
  type EmbedParams,
  type EmotionParams,
  type FftParams,
  type MusicParams,
  type OperationId,
  type VideoParams,
} from "./compute/contract";
import { TaskRunner } from "./compute/runner";
import { computeMetrics, type ComputeMetrics } from "./compute/metrics";
import { runArt, runCymatic, runFft, runMusic, runVideo } from "./compute/operations";

interface ComputeThis extends Service {
  runner: TaskRunner;
  pool?: ComputePool;
  metrics: ComputeMetrics;
}

interface AcceptMeta {
  accept?: string;
  $responseType?: string;
}

/** A caller on this node (the job worker) asks for its file as bytes, not base64. */
export interface FileMeta {
  fileAsBytes?: boolean;
}

/**
 * The file of an answer, as `field` (base64) or, for a caller on this node that asked for bytes,
 * as the Buffer itself: a local call passes it by reference, so a job's result skips a base64
 * string and its decoding (1.3 and 1 times the file, garbage on the main thread's heap).
 */
function fileField(ctx: Context<unknown, FileMeta>, field: string, bytes: Buffer) {
  const raw = ctx.meta.fileAsBytes === true && ctx.nodeID === ctx.broker.nodeID;
  return { [field]: raw ? bytes : bytes.toString("base64") };
}

const computeService: ServiceSchema<ServiceSettingSchema, ComputeThis> = {
  name: "compute",

  actions: {
    /**
     * Amplitude spectrum, peaks (interpolated) and optionally an STFT of a real signal.
     * Non-power-of-two lengths are zero-padded (`padded: true`).
     * @throws 413 over FFT_MAX_POINTS, 422 bad params, 503 queue full.
     */
    fft: {
      params: {
        signal: { type: "array", items: "number", min: 2 },
        sampleRate: { type: "number", positive: true, max: 1_000_000 },
        window: { type: "enum", values: [...WINDOWS], optional: true },
        peaks: { type: "number", integer: true, min: 1, max: 50, optional: true },
        spectrum: { type: "boolean", optional: true },
        stft: {
          type: "object",
          optional: true,
          props: {
            frameSize: { type: "number", integer: true, min: 16, max: 65_536 },
            hop: { type: "number", integer: true, min: 1 },
          },
        },
      },
      async handler(this: ComputeThis, ctx: Context<FftParams>) {
        const p = ctx.params;
        checkLimit("signal", p.signal.length, configOf(this.broker).compute.fftMaxPoints, " points");
        if (p.stft && !isPowerOfTwo(p.stft.frameSize))
          throw new UnprocessableError(`stft.frameSize must be a power of two, got ${p.stft.frameSize}`, {
            field: "stft.frameSize",
          });
        if (p.stft && p.stft.frameSize > p.signal.length)
          throw new UnprocessableError("stft.frameSize must not exceed the signal's length", {
            field: "stft.frameSize",
          });
        if (p.stft) checkBreach(stftBreach(p.signal.length, p.stft, configOf(this.broker).compute));
        this.runner.admit();
        return runFft(this.runner, p, (s) => this.metrics.plans(s));
      },
    },

    /**
     * A Chladni pattern for one or more frequencies on a square or circular plate, with its
     * analysis and a preview grid; a PNG when the caller accepts image/png (HTTP) or asks `png`.
     */
    cymatic: {
      params: KIND_PARAMS.cymatic,
      async handler(this: ComputeThis, ctx: Context<CymaticParams & OperationId, AcceptMeta & FileMeta>) {
        const p = ctx.params;
        const wantsImage = /\bimage\/png\b/.test(ctx.meta.accept ?? "");
        checkKindLimits("cymatic", { ...p, png: wantsImage || p.png === true }, configOf(this.broker).compute);
        const r = await runCymatic(
          this.runner,
          p,
          wantsImage || p.png === true,
          (s) => this.metrics.plans(s),
          p.operation_id,
        );
        if (wantsImage) {
          ctx.meta.$responseType = "image/png";
          return r.png;
        }
        const { png, ...rest } = r;
        return png ? { ...rest, ...fileField(ctx, "png_base64", png) } : rest;
      },
    },

    /** A procedural image (PNG, base64) from a prompt and a style. */
    art: {
      params: KIND_PARAMS.art,
      async handler(this: ComputeThis, ctx: Context<ArtParams & OperationId, FileMeta>) {
        const p = ctx.params;
        checkKindLimits("art", p, configOf(this.broker).compute);
        const { png, ...rest } = await runArt(ctx, this.runner, p, p.operation_id);
        return { ...rest, content_type: "image/png", bytes: png.length, ...fileField(ctx, "png_base64", png) };
      },
    },

    /** Music (WAV, base64) from a prompt's emotion, with a binaural beat; `duration` in seconds. */
    music: {
      params: KIND_PARAMS.music,
      async handler(this: ComputeThis, ctx: Context<MusicParams & OperationId, FileMeta>) {
        checkKindLimits("music", ctx.params, configOf(this.broker).compute);
        const { wav, ...rest } = await runMusic(ctx, this.runner, ctx.params, ctx.params.operation_id);
        return { ...rest, content_type: "audio/wav", bytes: wav.length, ...fileField(ctx, "wav_base64", wav) };
      },
    },

    /** An animated GIF (base64) of a cymatic frequency sweep. */
    video: {
      params: KIND_PARAMS.video,
      async handler(this: ComputeThis, ctx: Context<VideoParams & OperationId, FileMeta>) {
        checkKindLimits("video", ctx.params, configOf(this.broker).compute);
        const { gif, ...rest } = await runVideo(ctx, this.runner, ctx.params, ctx.params.operation_id);
        return { ...rest, content_type: "image/gif", bytes: gif.length, ...fileField(ctx, "gif_base64", gif) };
      },
    },

    /** Emotion scores of a text over the catalog, the dominant one and its frequencies. */
    emotion: {
      params: KIND_PARAMS.emotion,
      async handler(this: ComputeThis, ctx: Context<EmotionParams>): Promise<EmotionAnalysis> {
        checkKindLimits("emotion", ctx.params, configOf(this.broker).compute);
        this.runner.admit();
        return this.runner.run<EmotionAnalysis>("emotion", { text: ctx.params.text });
      },
    },

    /**
     * Local embeddings (feature hashing) of a batch of texts, computed in the pool so that large
     * imports never block an event loop. Answers the vectors as base64 float32, row-major, or with
     * `format: "sql"` as pgvector text, one string a vector, built in the pool too (an import's
     * INSERT takes them as they are: the main thread formats nothing).
     */
    embed: {
      params: {
        texts: { type: "array", items: { type: "string" }, min: 1, max: 10_000 },
        dim: { type: "number", integer: true, min: 8, max: 4096 },
        format: { type: "enum", values: ["base64", "sql"], optional: true },
      },
      visibility: "public",
      async handler(
        this: ComputeThis,
        ctx: Context<EmbedParams>,
      ): Promise<{ dim: number; count: number; vectors_base64?: string; vectors_sql?: string[] }> {
        const { texts, dim, format } = ctx.params;
        const limits = configOf(this.broker).compute;
        checkLimit(
          "texts",
          texts.reduce((n, t) => n + t.length, 0),
          limits.textMaxChars * 1000,
          " characters",
        );
        // A component's text is at most 10 characters ("-0.123456,"), its float32 4 bytes.
        checkLimit("texts × dim", texts.length * dim * (format === "sql" ? 10 : 4), limits.resultMaxBytes, " bytes");
        this.runner.admit();
        if (format === "sql") {
          const r = await this.runner.run<{ vectors_sql: string[] }>("embed", { texts, dim, text: true });
          return { dim, count: texts.length, vectors_sql: r.vectors_sql };
        }
        const out = new SharedArrayBuffer(texts.length * dim * 4);
        await this.runner.run("embed", { texts, dim, out });
        return { dim, count: texts.length, vectors_base64: Buffer.from(out).toString("base64") };
      },
    },

    /** The pool's figures on this node. */
    stats: {
      params: {},
      visibility: "public",
      handler(this: ComputeThis) {
        return this.runner.pool.stats();
      },
    },
  },

  events: {
    /** Stops the tasks of an operation (a cancelled or timed-out job) on whichever node runs them. */
    "compute.abort": {
      params: { id: { type: "string", max: 128 } },
      handler(this: ComputeThis, ctx: Context<{ id: string }>) {
        // runner is set in started(); keep the guard in case an abort arrives around start or stop.
        if ((this.runner as TaskRunner | undefined)?.abort(ctx.params.id))
          this.logger.info(`aborted operation ${ctx.params.id}`);
      },
    },
  },

  created(this: ComputeThis) {
    this.metrics = computeMetrics(this.broker, () => this.pool);
  },

  started(this: ComputeThis) {
    const config = configOf(this.broker);
    this.pool = new ComputePool({
      threads: config.computeThreads,
      maxQueue: config.compute.queueMax,
      idleMs: config.compute.idleMs,
      nice: config.compute.nice,
      heapMb: config.compute.threadHeapMb,
      youngMb: config.compute.threadYoungMb,
      onTaskDone: (t, s, ok) => this.metrics.taskDone(t, s, ok),
    });
    this.runner = new TaskRunner(this.pool, this.logger);
  },

  async stopped(this: ComputeThis) {
    await this.pool?.destroy();
    this.pool = undefined;
  },
};

export default computeService;
