/**
 * Music from a prompt: the prompt's emotion chooses the key, mode, tempo and chord progression
 * (see EMOTIONS[].music); a binaural beat at the emotion's neuroscience frequency sits under it
 * (carrier 200 Hz on the left, 200 Hz + beat on the right). Voices: a drone on the tonic an
 * octave below the key (the loudest voice, so the fundamental is unambiguous), a pad on the
 * chords, and a seeded melody on the scale. 44.1 kHz stereo PCM16.
 */
import { analyzeEmotion, emotionByName, knownEmotion, type Emotion, type ScaleMode } from "./emotions";
import { hashString, mulberry32 } from "./prng";
import { WAV_HEADER_BYTES, writeWavHeader } from "./wav";

export const SAMPLE_RATE = 44_100;
export const BINAURAL_CARRIER_HZ = 200;

const SCALES: Record<ScaleMode, number[]> = {
  major: [0, 2, 4, 5, 7, 9, 11],
  minor: [0, 2, 3, 5, 7, 8, 10],
  dorian: [0, 2, 3, 5, 7, 9, 10],
  lydian: [0, 2, 4, 6, 7, 9, 11],
  phrygian: [0, 1, 3, 5, 7, 8, 10],
  mixolydian: [0, 2, 4, 5, 7, 9, 10],
};
const NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

export function midiToHz(midi: number): number {
  return 440 * 2 ** ((midi - 69) / 12);
}

export interface MusicPlan {
  emotion: string;
  key: string;
  mode: ScaleMode;
  tempo: number;
  /** The drone's frequency: the tonic an octave below the key's root. */
  fundamental_hz: number;
  binaural: { carrier_hz: number; beat_hz: number };
  progression: string[];
  seed: number;
}

export interface MusicInput {
  prompt: string;
  duration: number;
  seed?: number;
  emotion?: string;
}

/** What will be played, decided from the prompt alone. */
export function planMusic(input: MusicInput): MusicPlan {
  const emotion: Emotion =
    (input.emotion && emotionByName(input.emotion)) || knownEmotion(analyzeEmotion(input.prompt).dominant);
  const { mode, tempo, root, progression } = emotion.music;
  const scale = SCALES[mode];
  return {
    emotion: emotion.name,
    key: `${NOTE_NAMES[root % 12]} ${mode}`,
    mode,
    tempo,
    fundamental_hz: midiToHz(root - 12),
    binaural: { carrier_hz: BINAURAL_CARRIER_HZ, beat_hz: emotion.neuroscience_hz },
    progression: progression.map((d) => NOTE_NAMES[(root + scale[d % 7]) % 12]),
    seed: input.seed ?? hashString(input.prompt),
  };
}

function triad(root: number, scale: number[], degree: number): number[] {
  return [0, 2, 4].map((step) => {
    const d = degree + step;
    return root + scale[d % 7] + 12 * Math.floor(d / 7);
  });
}

/** A voice: phase accumulator with an amplitude that may change per note. */
class Osc {
  phase = 0;
  constructor(public hz: number) {}
  next(): number {
    const v = Math.sin(this.phase);
    this.phase += (2 * Math.PI * this.hz) / SAMPLE_RATE;
    if (this.phase > 2 * Math.PI) this.phase -= 2 * Math.PI;
    return v;
  }
}

/**
 * Renders the WAV file. `onProgress` gets 0..1 after each second of audio.
 */
export function renderMusic(input: MusicInput, onProgress?: (p: number) => void): { plan: MusicPlan; wav: Uint8Array } {
  const plan = planMusic(input);
  const emotion = knownEmotion(plan.emotion);
  const { root, progression } = emotion.music;
  const scale = SCALES[plan.mode];
  const frames = Math.round(input.duration * SAMPLE_RATE);
  const out = new Uint8Array(WAV_HEADER_BYTES + frames * 4);
  const view = new DataView(out.buffer);
  writeWavHeader(view, frames, 2, SAMPLE_RATE);
  const rand = mulberry32(plan.seed);
  const beatS = 60 / plan.tempo;
  const barS = beatS * 4;
  const drone = new Osc(plan.fundamental_hz);
  const left = new Osc(BINAURAL_CARRIER_HZ);
  const right = new Osc(BINAURAL_CARRIER_HZ + plan.binaural.beat_hz);
  const pad = [new Osc(0), new Osc(0), new Osc(0)];
  const melody = new Osc(0);
  const fade = Math.min(1, input.duration / 10) * SAMPLE_RATE;
  let bar = -1;
  let beat = -1;
  for (let i = 0; i < frames; i++) {
    const t = i / SAMPLE_RATE;
    const b = Math.floor(t / barS);
    if (b !== bar) {
      bar = b;
      triad(root, scale, progression[b % progression.length]).forEach((note, v) => (pad[v].hz = midiToHz(note)));
    }
    const bt = Math.floor(t / beatS);
    if (bt !== beat) {
      beat = bt;
      const degree = Math.floor(rand() * 8);
      melody.hz = midiToHz(root + 12 + scale[degree % 7] + (degree === 7 ? 12 : 0));
    }
    const inBar = t - bar * barS;
    const inBeat = t - beat * beatS;
    const padEnv = Math.min(1, inBar / 0.25) * Math.min(1, (barS - inBar) / 0.25);
    const melEnv = Math.exp(-inBeat * 4) * Math.min(1, inBeat / 0.01);
    const edge = Math.min(1, i / fade, (frames - 1 - i) / fade);
    const common =
      0.22 * drone.next() +
      0.05 * padEnv * (pad[0].next() + pad[1].next() + pad[2].next()) +
      0.08 * melEnv * melody.next();
    const l = edge * (common + 0.05 * left.next());
    const r = edge * (common + 0.05 * right.next());
    view.setInt16(WAV_HEADER_BYTES + i * 4, Math.round(Math.max(-1, Math.min(1, l)) * 32767), true);
    view.setInt16(WAV_HEADER_BYTES + i * 4 + 2, Math.round(Math.max(-1, Math.min(1, r)) * 32767), true);
    if (onProgress && i % SAMPLE_RATE === SAMPLE_RATE - 1) onProgress((i + 1) / frames);
  }
  onProgress?.(1);
  return { plan, wav: out };
}
