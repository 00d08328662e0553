import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  KNOWLEDGE_BASE_DIR,
  loadKnowledgeBase,
  type KnowledgeDomain,
  type KnowledgeExample,
} from "../../bin/demo/knowledge-base";
import { EMOTIONS } from "../../compute/lib/emotions";
import { contentHash, isRejected, parseJsonl, type RecordResult } from "../../services/datasets/records";
import { loadConfig } from "../../services/lib/config";
import { PROJECT_ROOT } from "../../services/lib/paths";
import { jaccard, similarPairs, wordSet } from "../helpers/word-similarity";

const DOMAINS = ["cymatics", "emotions", "frequencies", "generative-art", "music-theory", "neuroscience"];
const NEAR_DUPLICATE = 0.8;

const kb: KnowledgeDomain[] = loadKnowledgeBase();
const all: (KnowledgeExample & { domain: string })[] = kb.flatMap((d) =>
  d.examples.map((e) => ({ ...e, domain: d.domain })),
);
const textOf = (e: KnowledgeExample) => `${e.content} ${e.response}`;

const PITCH_CLASS: Record<string, number> = { C: 0, D: 2, E: 4, F: 5, G: 7, A: 9, B: 11 };
const ACCIDENTAL: Record<string, number> = { "": 0, "#": 1, b: -1 };
/** MIDI number of a note name in scientific pitch notation: "A4" → 69, "Bb3" → 58, "C-1" → 0. */
function midi(letter: string, accidental: string, octave: string): number {
  return 12 * (Number(octave) + 1) + PITCH_CLASS[letter] + ACCIDENTAL[accidental];
}

/**
 * Note frequencies are written "E2 is 82.41 Hz", "A4 = 440 Hz", "C4 ≈ 261.63 Hz" or "G2 (98.00 Hz)",
 * always in 12-TET from A4 = 440 Hz. Statements about other reference pitches are phrased
 * otherwise on purpose ("tune A4 to 432 Hz", "A4 near 430.54 Hz").
 */
const NOTE_HZ = /\b([A-G])(#|b)?(-?\d)\b(?:\s+(?:is|≈|=)\s+(?:about\s+)?|\s*\()(\d+(?:\.\d+)?)\s*Hz/g;

describe("demo knowledge base", () => {
  it("has at least 400 examples in exactly the six domains", () => {
    expect(kb.map((d) => d.domain)).toEqual(DOMAINS);
    expect(all.length).toBeGreaterThanOrEqual(400);
  });

  it.each(DOMAINS)("%s has at least 50 examples", (domain) => {
    expect(kb.find((d) => d.domain === domain)?.examples.length).toBeGreaterThanOrEqual(50);
  });

  it.each(DOMAINS)(
    "%s.jsonl imports whole through the importer's parser: nothing rejected or deduplicated",
    async (domain) => {
      const file = path.join(KNOWLEDGE_BASE_DIR, `${domain}.jsonl`);
      const records: RecordResult[] = [];
      for await (const r of parseJsonl(file, fs.createReadStream(file), loadConfig({}).datasets.maxTextChars))
        records.push(r);
      expect(records.filter(isRejected)).toEqual([]);
      const examples = kb.find((d) => d.domain === domain)!.examples;
      expect(records.map((r) => (isRejected(r) ? r : { content: r.content, response: r.response }))).toEqual(
        examples.map((e) => ({ content: e.content, response: e.response })),
      );
      // The importer keeps one example per content hash in a domain: a repeated question would vanish.
      expect(new Set(examples.map((e) => contentHash(e.content))).size).toBe(examples.length);
    },
  );

  it.each(["frequencies", "neuroscience"])(
    "%s marks the weakly supported healing-frequency claims as claims",
    (domain) => {
      const claims = all.filter((e) => e.domain === domain && e.metadata.evidence === "claim").map((e) => e.content);
      expect(claims).toEqual(
        expect.arrayContaining([expect.stringMatching(domain === "frequencies" ? /528 Hz/ : /binaural/i)]),
      );
    },
  );

  it(`has no near-duplicates: no two examples reach ${NEAR_DUPLICATE} Jaccard similarity of their lower-cased content+response word sets`, () => {
    expect(similarPairs(all.map(textOf), NEAR_DUPLICATE)).toEqual([]);
  });

  // Pairs from the templated set this replaces (services/datasets/demo-data.ts): the measure
  // flags a context suffix and a swapped subject alike, so it would have failed that set.
  it.each([
    [
      "a context suffix",
      "What is the frequency of E3? E3 is about 164.81 Hz in twelve-tone equal temperament tuned to A4 = 440 Hz.",
      "What is the frequency of E3 in history? E3 is about 164.81 Hz in twelve-tone equal temperament tuned to A4 = 440 Hz.",
    ],
    [
      "a swapped subject",
      "What is a major scale? A major scale is a basic building block of Western harmony; musicians use it to shape tension and release.",
      "What is a minor scale? A minor scale is a basic building block of Western harmony; musicians use it to shape tension and release.",
    ],
  ])("the measure flags templated variants of the old set: %s", (_variant, a, b) => {
    expect(jaccard(wordSet(a), wordSet(b))).toBeGreaterThanOrEqual(NEAR_DUPLICATE);
  });

  it("states every note frequency as 440·2^((n−69)/12) to 0.01 Hz", () => {
    const checked = all.flatMap((e) =>
      [...textOf(e).matchAll(NOTE_HZ)].map((m) => ({
        domain: e.domain,
        statement: m[0],
        stated: Number(m[4]),
        exact: 440 * 2 ** ((midi(m[1], m.at(2) ?? "", m[3]) - 69) / 12),
      })),
    );
    expect(checked.filter((c) => Math.abs(c.stated - c.exact) >= 0.01)).toEqual([]);
    // The check is not vacuous: the frequencies domain states dozens of note frequencies this way.
    expect(checked.filter((c) => c.domain === "frequencies").length).toBeGreaterThanOrEqual(60);
  });

  it("agrees with the emotion catalog on bands, Solfeggio tones, keys and tempos", () => {
    const names = EMOTIONS.map((e) => e.name).join("|");
    const patterns = {
      band: new RegExp(`\\b(${names}) maps to (\\d+) Hz \\((\\w+)\\)`, "gi"),
      solfeggio: new RegExp(`\\b(${names})'s Solfeggio tone is (\\d+) Hz`, "gi"),
      music: new RegExp(`\\b(${names}) plays in ([A-G])(#|b)? (\\w+) at (\\d+) BPM`, "gi"),
    };
    const seen = { band: new Set<string>(), solfeggio: new Set<string>(), music: new Set<string>() };
    const wrong: string[] = [];
    for (const e of all.filter((x) => x.domain === "emotions")) {
      const text = textOf(e);
      for (const m of text.matchAll(patterns.band)) {
        const c = EMOTIONS.find((x) => x.name === m[1].toLowerCase())!;
        seen.band.add(c.name);
        if (Number(m[2]) !== c.neuroscience_hz || m[3] !== c.band) wrong.push(m[0]);
      }
      for (const m of text.matchAll(patterns.solfeggio)) {
        const c = EMOTIONS.find((x) => x.name === m[1].toLowerCase())!;
        seen.solfeggio.add(c.name);
        if (Number(m[2]) !== c.metaphysical_hz) wrong.push(m[0]);
      }
      for (const m of text.matchAll(patterns.music)) {
        const c = EMOTIONS.find((x) => x.name === m[1].toLowerCase())!;
        seen.music.add(c.name);
        const tonic = (PITCH_CLASS[m[2]] + ACCIDENTAL[m.at(3) ?? ""] + 12) % 12;
        if (tonic !== c.music.root % 12 || m[4] !== c.music.mode || Number(m[5]) !== c.music.tempo) wrong.push(m[0]);
      }
    }
    expect(wrong).toEqual([]);
    const everyEmotion = EMOTIONS.map((e) => e.name).sort();
    expect([...seen.band].sort()).toEqual(everyEmotion);
    expect([...seen.solfeggio].sort()).toEqual(everyEmotion);
    expect([...seen.music].sort()).toEqual(everyEmotion);
  });

  it("ships beside package.json: the built loader in dist/ reads the same folder", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the built file, by a path known at run time
    const built = require(
      path.join(PROJECT_ROOT, "dist", "bin", "demo", "knowledge-base.js"),
    ) as typeof import("../../bin/demo/knowledge-base");
    expect(built.KNOWLEDGE_BASE_DIR).toBe(path.join(PROJECT_ROOT, "demo", "knowledge-base"));
    expect(built.loadKnowledgeBase().map((d) => [d.domain, d.examples.length])).toEqual(
      kb.map((d) => [d.domain, d.examples.length]),
    );
  });

  it("names the file and line of a malformed example", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-kb-"));
    try {
      fs.writeFileSync(
        path.join(dir, "broken.jsonl"),
        '{"content":"Q?","response":"A.","metadata":{"topic":"t","source":"s","evidence":"established"}}\n' +
          '{"content":"Q2?","response":"A.","metadata":{"topic":"t","source":"s","evidence":"maybe"}}\n',
      );
      expect(() => loadKnowledgeBase(dir)).toThrow(/broken\.jsonl: line 2: metadata\.evidence must be one of/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
