import { PNG } from "pngjs";
import { GifReader } from "omggif";
import type { Context, ServiceBroker } from "moleculer";
import { readWavHeader } from "../../compute/lib/wav";
import { analyzeSpectrum } from "../../compute/lib/spectrum";
import { loadPffft, PlanCache } from "../../compute/lib/fft";
import { ART_STYLES } from "../../compute/lib/art";
import { chooseModes, renderRows } from "../../compute/lib/chladni";
import { patternRgba } from "../../compute/lib/cymatic-analysis";
import { encodePng } from "../../compute/lib/png";
import { metricsOf } from "../../services/lib/metrics";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { eventually, getJson } from "../helpers/processes";
import { expectResponseStatus } from "../helpers/expect";

/** The fields of the compute actions' answers this suite reads. */
interface FftAnswer {
  spectrum: number[];
  stft: object;
}
interface MusicAnswer {
  wav_base64: string;
  plan: { emotion: string; fundamental_hz: number };
}
interface ImageAnswer {
  png_base64: string;
  bands: number;
}
interface VideoAnswer {
  gif_base64: string;
}

let t: TestNode;
let broker: ServiceBroker;
const poolCompleted = async () => (await broker.call<{ completed: number }>("compute.stats")).completed;

beforeAll(async () => {
  t = await startTestNode(
    {
      COMPUTE_THREADS: "2",
      CYMATIC_MAX_SIZE: "1024",
      MUSIC_MAX_SECONDS: "300",
      // 300 s of music is this suite's long-running task (its WAV is over the default RESULT_MAX_BYTES).
      RESULT_MAX_BYTES: String(256 << 20),
      RATE_LIMIT: "0",
      BODY_LIMIT_BYTES: "4000000",
    },
    ["api", "compute"],
    await memoryDb(),
  );
  broker = t.node.broker;
});
afterAll(() => t.node.stop());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${t.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

describe("compute.fft through the pool", () => {
  it("POST /api/fft finds the sinusoids of a signal and says when it padded", async () => {
    const sr = 8000;
    const signal = Array.from(
      { length: 6000 },
      (_, i) => Math.sin((2 * Math.PI * 440.2 * i) / sr) + 0.4 * Math.sin((2 * Math.PI * 97.7 * i) / sr),
    );
    const r = await post("/api/fft", { signal, sampleRate: sr, window: "hann", peaks: 2 });
    await expectResponseStatus(r, 200);
    const body = await r.json();
    expect(body).toMatchObject({ size: 8192, padded: true, engine: "pffft" });
    expect(Math.abs(body.peaks[0].frequency - 440.2)).toBeLessThan(0.1);
    expect(Math.abs(body.peaks[1].frequency - 97.7)).toBeLessThan(0.1);
  });

  it("returns the spectrum and an STFT when asked", async () => {
    const signal = Array.from({ length: 1024 }, (_, i) => Math.cos((2 * Math.PI * 64 * i) / 1024));
    const r = await broker.call<FftAnswer, object>("compute.fft", {
      signal,
      sampleRate: 1024,
      window: "none",
      spectrum: true,
      stft: { frameSize: 256, hop: 128 },
    });
    expect(r.spectrum).toHaveLength(513);
    expect(r.spectrum[64]).toBeCloseTo(1, 5);
    expect(r.stft).toMatchObject({ frame_size: 256, hop: 128, frames: 7, bins: 129 });
  });

  it("reuses FFT plans across calls (hits counted in mcai_fft_plans_total)", async () => {
    const signal = Array.from({ length: 4096 }, (_, i) => Math.sin(i / 3));
    for (let i = 0; i < 6; i++) await broker.call("compute.fft", { signal, sampleRate: 4096 });
    const m = await metricsOf(broker).registry.getSingleMetric("mcai_fft_plans_total")!.get();
    const hits = m.values.find((v: { labels: Record<string, unknown> }) => v.labels.result === "hit")?.value ?? 0;
    const misses = m.values.find((v: { labels: Record<string, unknown> }) => v.labels.result === "miss")?.value ?? 0;
    expect(misses).toBeLessThanOrEqual(4); // at most one per size per thread
    expect(hits).toBeGreaterThanOrEqual(2);
  });

  it("refuses bad input with 4xx before any work reaches the pool", async () => {
    const before = await poolCompleted();
    const tooLong = await post("/api/fft", { signal: new Array(1_100_000).fill(0), sampleRate: 8000 });
    await expectResponseStatus(tooLong, 413);
    expect((await tooLong.json()).error).toMatchObject({
      type: "ERR_PAYLOAD_TOO_LARGE",
      data: { field: "signal", limit: 1048576 },
    });
    const noRate = await post("/api/fft", { signal: [1, 2, 3] });
    await expectResponseStatus(noRate, 422);
    expect((await noRate.json()).error.message).toMatch(/'sampleRate' field is required/);
    const badFrame = await post("/api/fft", {
      signal: new Array(512).fill(0),
      sampleRate: 8000,
      stft: { frameSize: 100, hop: 10 },
    });
    await expectResponseStatus(badFrame, 422);
    expect(await poolCompleted()).toBe(before);
  });
});

describe("compute.cymatic", () => {
  it("answers JSON with the modes, the analysis and a 100×100 preview", async () => {
    const r = await post("/api/cymatic/pattern", { frequencies: [1000], size: 256 });
    await expectResponseStatus(r, 200);
    const body = await r.json();
    expect(body).toMatchObject({
      plate: "square",
      size: 256,
      modes: [{ n: 8, m: 6, sign: -1 }],
      symmetry_order: 4,
      bands: 2,
    });
    expect(body.preview).toHaveLength(100);
    expect(body.preview[0]).toHaveLength(100);
    expect(body.nodal_fraction).toBeGreaterThan(0);
  });

  it("answers a PNG of the requested size when the client accepts image/png", async () => {
    const r = await post(
      "/api/cymatic/pattern",
      { frequencies: [900, 2500], size: 300, plate: "circle" },
      { accept: "image/png" },
    );
    await expectResponseStatus(r, 200);
    expect(r.headers.get("content-type")).toBe("image/png");
    const png = PNG.sync.read(Buffer.from(await r.arrayBuffer()));
    expect([png.width, png.height]).toEqual([300, 300]);
    // Outside the circular plate is black; the centre is not.
    expect([png.data[0], png.data[1], png.data[2]]).toEqual([0, 0, 0]);
  });

  it("renders in row bands on two threads that equal a single-thread render bit for bit", async () => {
    const params = { frequencies: [700, 1900], size: 301, plate: "square" as const };
    const r = await broker.call<ImageAnswer, object>("compute.cymatic", { ...params, png: true });
    expect(r.bands).toBe(2);
    const whole = new Float32Array(301 * 301);
    renderRows(chooseModes("square", params.frequencies), 301, 0, 301, whole);
    expect(r.png_base64).toBe(Buffer.from(encodePng(patternRgba(whole), 301, 301)).toString("base64"));
  });

  it("refuses a size over CYMATIC_MAX_SIZE with 413 naming the limit", async () => {
    const r = await post("/api/cymatic/pattern", { frequencies: [100], size: 2048 });
    await expectResponseStatus(r, 413);
    expect((await r.json()).error.message).toBe("size is 2048, over the limit of 1024");
    const bad = await post("/api/cymatic/pattern", { frequencies: [] });
    await expectResponseStatus(bad, 422);
  });
});

describe("compute.music", () => {
  it("renders a valid WAV of the exact duration whose fundamental the project's FFT finds", async () => {
    const r = await broker.call<MusicAnswer, object>("compute.music", {
      prompt: "a joyful, happy morning",
      duration: 8,
    });
    expect(r.plan).toMatchObject({ emotion: "joy", key: "C major", binaural: { carrier_hz: 200, beat_hz: 14 } });
    const wav = Buffer.from(r.wav_base64, "base64");
    const info = readWavHeader(wav);
    expect(info).toMatchObject({ channels: 2, sampleRate: 44100, bitsPerSample: 16, frames: 8 * 44100 });
    const n = 1 << 18;
    const mono = new Float64Array(n);
    for (let i = 0; i < n; i++) mono[i] = (wav.readInt16LE(44 + i * 4) + wav.readInt16LE(46 + i * 4)) / 65536;
    const plans = new PlanCache(await loadPffft());
    const s = analyzeSpectrum(plans, mono, 44100, "hann", 1);
    expect(Math.abs(s.peaks[0].frequency - r.plan.fundamental_hz)).toBeLessThan(0.1);
    expect(r.plan.fundamental_hz).toBeCloseTo(130.81, 2);
  });

  it("gives the same bytes for the same prompt, other bytes for another", async () => {
    const a = await broker.call<MusicAnswer, object>("compute.music", { prompt: "calm ocean", duration: 1 });
    const b = await broker.call<MusicAnswer, object>("compute.music", { prompt: "calm ocean", duration: 1 });
    const c = await broker.call<MusicAnswer, object>("compute.music", { prompt: "furious storm", duration: 1 });
    expect(a.wav_base64).toBe(b.wav_base64);
    expect(c.wav_base64).not.toBe(a.wav_base64);
    expect(c.plan.emotion).toBe("anger");
  });

  it("stops a running task when its operation is aborted", async () => {
    // 300 s of audio takes minutes: only the abort ends it within the test's timeout.
    const running = broker.call("compute.music", { prompt: "long", duration: 300, operation_id: "op-abort-1" });
    const outcome = expect(running).rejects.toMatchObject({ type: "ERR_ABORTED", code: 409 });
    await eventually(
      async () => (await broker.call<{ running: number }>("compute.stats")).running > 0,
      15_000,
      "the task to run",
    );
    await broker.broadcast("compute.abort", { id: "op-abort-1" });
    await outcome;
    // The pool replaced the stopped thread and works on.
    expect((await broker.call<{ dominant: string }, object>("compute.emotion", { text: "happy" })).dominant).toBe(
      "joy",
    );
  });
});

describe("compute.art", () => {
  it.each(ART_STYLES)("renders %s as a PNG of the requested size, the same bytes for the same input", async (style) => {
    const params = { prompt: "a quiet forest at dawn", style, width: 160, height: 96 };
    const a = await broker.call<ImageAnswer, object>("compute.art", params);
    const b = await broker.call<ImageAnswer, object>("compute.art", params);
    const png = PNG.sync.read(Buffer.from(a.png_base64, "base64"));
    expect([png.width, png.height]).toEqual([160, 96]);
    expect(a.png_base64).toBe(b.png_base64);
    const other = await broker.call<ImageAnswer, object>("compute.art", { ...params, prompt: "a loud city at night" });
    expect(other.png_base64).not.toBe(a.png_base64);
  });

  it("reports progress events under its operation id", async () => {
    const seen: number[] = [];
    broker.createService({
      name: "progress-listener",
      events: {
        "compute.progress": (ctx: Context<{ id: string; progress: number }>) => {
          if (ctx.params.id === "op-art-1") seen.push(ctx.params.progress);
        },
      },
    });
    await broker.call("compute.art", {
      prompt: "progress",
      style: "flow-field",
      width: 1024,
      height: 1024,
      operation_id: "op-art-1",
    });
    // Events are delivered after the call answers: wait for them, bounded.
    await eventually(() => Promise.resolve(seen.length > 0), 10_000, "a progress event");
    expect(seen.every((p) => p >= 0 && p <= 1)).toBe(true);
  });
});

describe("compute.video", () => {
  it("renders a GIF with the requested frames and size, the same bytes for the same input", async () => {
    const params = { from_hz: 200, to_hz: 2000, frames: 12, size: 64, fps: 10 };
    const a = await broker.call<VideoAnswer, object>("compute.video", params);
    const b = await broker.call<VideoAnswer, object>("compute.video", params);
    const gif = new GifReader(Buffer.from(a.gif_base64, "base64"));
    expect([gif.width, gif.height, gif.numFrames()]).toEqual([64, 64, 12]);
    expect(gif.frameInfo(0).delay).toBe(10); // centiseconds
    expect(a.gif_base64).toBe(b.gif_base64);
  });
});

describe("compute.emotion", () => {
  it("POST /api/emotion/analyze answers dominant, scores and frequencies", async () => {
    const r = await post("/api/emotion/analyze", { text: "I feel so grateful and thankful today" });
    await expectResponseStatus(r, 200);
    expect(await r.json()).toMatchObject({
      dominant: "gratitude",
      frequencies: { neuroscience_hz: 10, metaphysical_hz: 639 },
    });
    expect(
      (
        await getJson(`${t.url}/api/emotion/analyze`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        })
      ).status,
    ).toBe(422);
  });
});

describe("a full compute queue", () => {
  it("answers 503 with Retry-After instead of piling work up", async () => {
    const small = await startTestNode(
      { COMPUTE_THREADS: "1", COMPUTE_QUEUE_MAX: "0", RATE_LIMIT: "0" },
      ["api", "compute"],
      await memoryDb(),
    );
    try {
      const busy = small.node.broker.call("compute.music", { prompt: "x", duration: 120, operation_id: "op-busy" });
      await new Promise((r) => setTimeout(r, 200));
      const r = await fetch(`${small.url}/api/emotion/analyze`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: "hello" }),
      });
      await expectResponseStatus(r, 503);
      expect(r.headers.get("retry-after")).toBe("1");
      expect((await r.json()).error.message).toMatch(/compute queue is full/);
      await small.node.broker.broadcast("compute.abort", { id: "op-busy" });
      await expect(busy).rejects.toMatchObject({ type: "ERR_ABORTED" });
    } finally {
      await small.node.stop();
    }
  });
});
