/**
 * Synthetic datasets: templated question/answer examples over MC AI's domains, written as a mix
 * of JSON, JSONL and TXT files (`mcai demo-data`) or produced in memory (benchmarks). Scale data,
 * not knowledge: the curated knowledge base is demo/knowledge-base/. Deterministic for a seed.
 */
import fs from "node:fs";
import path from "node:path";

interface DomainSpec {
  name: string;
  format: "json" | "jsonl" | "txt";
  subjects: string[];
  questions: ((s: string) => [string, string])[];
}

const NOTES = ["A4", "C4", "E4", "G3", "D5", "B3", "F4", "A3", "C5", "E3"];
const hz = (note: string) =>
  (
    440 *
    2 **
      ((["C", "D", "E", "F", "G", "A", "B"].indexOf(note[0]) * 2 -
        (note[0] > "E" ? 1 : 0) -
        9 +
        (Number(note[1]) - 4) * 12) /
        12)
  ).toFixed(2);

const DOMAINS: DomainSpec[] = [
  {
    name: "music-theory",
    format: "jsonl",
    subjects: [
      "major scale",
      "minor scale",
      "dorian mode",
      "lydian mode",
      "perfect fifth",
      "tritone",
      "circle of fifths",
      "syncopation",
      "cadence",
      "counterpoint",
      "arpeggio",
      "suspended chord",
    ],
    questions: [
      (s) => [
        `What is a ${s}?`,
        `A ${s} is a basic building block of Western harmony; musicians use it to shape tension and release.`,
      ],
      (s) => [
        `How does a ${s} sound?`,
        `The ${s} has a characteristic colour that listeners often describe by the feeling it evokes.`,
      ],
      (s) => [
        `Where is the ${s} used in film music?`,
        `Composers reach for the ${s} when a scene needs its particular mood.`,
      ],
    ],
  },
  {
    name: "frequencies",
    format: "json",
    subjects: NOTES,
    questions: [
      (s) => [
        `What is the frequency of ${s}?`,
        `${s} is about ${hz(s)} Hz in twelve-tone equal temperament tuned to A4 = 440 Hz.`,
      ],
      (s) => [`Which octave is ${s} in?`, `${s} sits in octave ${s[1]}, at roughly ${hz(s)} Hz.`],
    ],
  },
  {
    name: "cymatics",
    format: "txt",
    subjects: [
      "Chladni plate",
      "standing wave",
      "nodal line",
      "resonance",
      "square plate",
      "circular membrane",
      "sand pattern",
      "water surface",
      "speaker cone",
      "violin bow",
    ],
    questions: [
      (s) => [`A ${s} shows how vibration organizes matter into geometry.`, ""],
      (s) => [`When a ${s} is driven at a resonant frequency, sand gathers where the surface does not move.`, ""],
      (s) => [`Higher frequencies give a ${s} more nodal lines and finer patterns.`, ""],
    ],
  },
  {
    name: "emotions",
    format: "jsonl",
    subjects: [
      "joy",
      "sadness",
      "anger",
      "fear",
      "love",
      "calm",
      "surprise",
      "gratitude",
      "awe",
      "trust",
      "anticipation",
      "disgust",
    ],
    questions: [
      (s) => [
        `How can music express ${s}?`,
        `Tempo, mode and dynamics together carry ${s}: composers match them to the feeling.`,
      ],
      (s) => [
        `Which brainwaves go with ${s}?`,
        `Studies of ${s} report changes in EEG band power; MC AI maps each emotion to one band.`,
      ],
      (s) => [`What colour fits ${s}?`, `Artists often paint ${s} with a palette that echoes how the feeling moves.`],
    ],
  },
  {
    name: "neuroscience",
    format: "json",
    subjects: [
      "alpha waves",
      "beta waves",
      "theta waves",
      "gamma waves",
      "delta waves",
      "binaural beats",
      "the auditory cortex",
      "dopamine",
      "the amygdala",
      "neuroplasticity",
    ],
    questions: [
      (s) => [
        `What are ${s}?`,
        `${s[0].toUpperCase()}${s.slice(1)} are studied in cognitive neuroscience for their link to attention and mood.`,
      ],
      (s) => [`How do ${s} relate to sound?`, `Listening experiments suggest ${s} respond to rhythm and pitch.`],
    ],
  },
  {
    name: "generative-art",
    format: "jsonl",
    subjects: [
      "flow fields",
      "mandalas",
      "interference waves",
      "Perlin noise",
      "L-systems",
      "Voronoi diagrams",
      "fractals",
      "particle systems",
    ],
    questions: [
      (s) => [
        `How are ${s} made?`,
        `${s[0].toUpperCase()}${s.slice(1)} come from simple rules applied many times, seeded so the same input gives the same image.`,
      ],
      (s) => [`What makes ${s} look organic?`, `Small random variation inside ${s} reads to the eye as natural.`],
    ],
  },
];

const CONTEXTS = [
  "for beginners",
  "in practice",
  "in history",
  "in therapy",
  "for children",
  "in meditation",
  "on stage",
  "in the studio",
  "in nature",
  "in science",
];

/** `n` examples spread over the domains, deterministically. */
export function* demoExamples(
  n: number,
): Generator<{ domain: string; format: DomainSpec["format"]; content: string; response: string }> {
  for (let i = 0; i < n; i++) {
    const d = DOMAINS[i % DOMAINS.length];
    const j = Math.floor(i / DOMAINS.length);
    const s = d.subjects[j % d.subjects.length];
    const q = d.questions[Math.floor(j / d.subjects.length) % d.questions.length];
    const round = Math.floor(j / (d.subjects.length * d.questions.length));
    const ctx = CONTEXTS[round % CONTEXTS.length];
    const variant = round >= CONTEXTS.length ? ` (${Math.floor(round / CONTEXTS.length)})` : "";
    const [content, response] = q(s);
    yield {
      domain: d.name,
      format: d.format,
      content:
        round === 0 ? content : `${content.replace(/[?.]$/, "")} ${ctx}${variant}${content.endsWith("?") ? "?" : "."}`,
      response,
    };
  }
}

/** Writes `n` examples as one file per domain in its format; returns the files written. */
export function writeDemoFiles(n: number, outDir: string): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const byDomain = new Map<string, { format: DomainSpec["format"]; rows: { content: string; response: string }[] }>();
  const files: string[] = [];
  const flush = (
    domain: string,
    entry: { format: DomainSpec["format"]; rows: { content: string; response: string }[] },
    part: number,
  ) => {
    // The domain is the file's stem, so a second JSON chunk goes to a folder of its own.
    const dir = part ? path.join(outDir, `part${part + 1}`) : outDir;
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${domain}.${entry.format}`);
    const body =
      entry.format === "json"
        ? JSON.stringify({
            examples: entry.rows.map((r) => ({ prompt: r.content, response: r.response, source: "demo" })),
          })
        : entry.format === "jsonl"
          ? entry.rows
              .map((r) => JSON.stringify({ content: r.content, response: r.response, source: "demo" }))
              .join("\n") + "\n"
          : entry.rows.map((r) => r.content).join("\n\n") + "\n";
    fs.appendFileSync(file, body);
    if (!files.includes(file)) files.push(file);
  };
  const parts = new Map<string, number>();
  for (const ex of demoExamples(n)) {
    const e = byDomain.get(ex.domain) ?? { format: ex.format, rows: [] };
    e.rows.push(ex);
    byDomain.set(ex.domain, e);
    // Large sets go out in chunks: JSON files of at most 50k examples, streaming formats appended.
    if (e.rows.length >= 50_000) {
      const part = parts.get(ex.domain) ?? 0;
      flush(ex.domain, e, e.format === "json" ? part : 0);
      parts.set(ex.domain, part + 1);
      e.rows = [];
    }
  }
  for (const [domain, e] of byDomain)
    if (e.rows.length) flush(domain, e, e.format === "json" ? (parts.get(domain) ?? 0) : 0);
  return files;
}
