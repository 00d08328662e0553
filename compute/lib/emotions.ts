/**
 * The emotion catalog and a lexicon-based analyzer.
 *
 * Frequencies: `neuroscience_hz` is the EEG band most associated with the state in the affective
 * neuroscience literature (delta < 4, theta 4–8, alpha 8–13, beta 13–30, gamma > 30 Hz; e.g. alpha
 * with relaxed wakefulness, high beta with anxiety and arousal, gamma with sudden attention), taken
 * at a representative point of the band. `metaphysical_hz` is MC AI's mapping onto the Solfeggio
 * scale (174, 285, 396, 417, 528, 639, 741, 852, 963 Hz): a product convention, not a physical
 * claim. The knowledge service seeds its emotions table from this same catalog.
 *
 * Analysis: each word is looked up by stem in a lexicon of weighted cue words; a negation within
 * the three words before a cue ("not", "never", "no", "n't", "without") turns its weight to a third
 * and moves it to the emotion's counterpart; an intensifier before it ("very", "so", "really",
 * "extremely", …) multiplies it by 1.5. Scores are the shares of the summed weights.
 */

export interface Emotion {
  name: string;
  neuroscience_hz: number;
  band: "delta" | "theta" | "alpha" | "beta" | "gamma";
  metaphysical_hz: number;
  /** Musical character used by the music generator. */
  music: { mode: ScaleMode; tempo: number; root: number; progression: number[] };
  counterpart: string;
  personality: string;
}

export type ScaleMode = "major" | "minor" | "dorian" | "lydian" | "phrygian" | "mixolydian";

export const EMOTIONS: readonly Emotion[] = [
  {
    name: "joy",
    neuroscience_hz: 14,
    band: "beta",
    metaphysical_hz: 528,
    music: { mode: "major", tempo: 124, root: 60, progression: [0, 4, 5, 3] },
    counterpart: "sadness",
    personality: "bright, warm and encouraging; celebrates with the user",
  },
  {
    name: "sadness",
    neuroscience_hz: 5,
    band: "theta",
    metaphysical_hz: 285,
    music: { mode: "minor", tempo: 68, root: 57, progression: [0, 5, 3, 4] },
    counterpart: "joy",
    personality: "gentle and patient; acknowledges the loss before offering help",
  },
  {
    name: "anger",
    neuroscience_hz: 22,
    band: "beta",
    metaphysical_hz: 741,
    music: { mode: "phrygian", tempo: 138, root: 52, progression: [0, 1, 0, 6] },
    counterpart: "calm",
    personality: "steady and direct; lowers the temperature without dismissing",
  },
  {
    name: "fear",
    neuroscience_hz: 25,
    band: "beta",
    metaphysical_hz: 396,
    music: { mode: "minor", tempo: 96, root: 55, progression: [0, 1, 5, 4] },
    counterpart: "trust",
    personality: "reassuring and concrete; names what is safe and what to do next",
  },
  {
    name: "love",
    neuroscience_hz: 8,
    band: "alpha",
    metaphysical_hz: 639,
    music: { mode: "lydian", tempo: 84, root: 62, progression: [0, 1, 4, 0] },
    counterpart: "disgust",
    personality: "tender and generous; speaks of connection",
  },
  {
    name: "calm",
    neuroscience_hz: 10,
    band: "alpha",
    metaphysical_hz: 174,
    music: { mode: "major", tempo: 60, root: 53, progression: [0, 3, 0, 4] },
    counterpart: "anger",
    personality: "slow, spacious and quiet; few words",
  },
  {
    name: "surprise",
    neuroscience_hz: 40,
    band: "gamma",
    metaphysical_hz: 852,
    music: { mode: "lydian", tempo: 132, root: 64, progression: [0, 2, 1, 4] },
    counterpart: "anticipation",
    personality: "curious and lively; explores the unexpected",
  },
  {
    name: "disgust",
    neuroscience_hz: 20,
    band: "beta",
    metaphysical_hz: 741,
    music: { mode: "phrygian", tempo: 90, root: 50, progression: [0, 1, 3, 1] },
    counterpart: "love",
    personality: "clear about boundaries; turns to what is clean and good",
  },
  {
    name: "trust",
    neuroscience_hz: 12,
    band: "alpha",
    metaphysical_hz: 639,
    music: { mode: "mixolydian", tempo: 100, root: 58, progression: [0, 6, 3, 0] },
    counterpart: "fear",
    personality: "reliable and plain-spoken; keeps promises small and exact",
  },
  {
    name: "anticipation",
    neuroscience_hz: 18,
    band: "beta",
    metaphysical_hz: 417,
    music: { mode: "dorian", tempo: 112, root: 59, progression: [0, 3, 6, 4] },
    counterpart: "surprise",
    personality: "forward-looking and energetic; plans the next step",
  },
  {
    name: "gratitude",
    neuroscience_hz: 10,
    band: "alpha",
    metaphysical_hz: 639,
    music: { mode: "major", tempo: 76, root: 55, progression: [0, 3, 4, 0] },
    counterpart: "anger",
    personality: "appreciative and humble; gives credit",
  },
  {
    name: "awe",
    neuroscience_hz: 6,
    band: "theta",
    metaphysical_hz: 963,
    music: { mode: "lydian", tempo: 56, root: 48, progression: [0, 4, 1, 0] },
    counterpart: "disgust",
    personality: "expansive and wondering; makes room for the vast",
  },
];

export const EMOTION_NAMES = EMOTIONS.map((e) => e.name);

export function emotionByName(name: string): Emotion | undefined {
  return EMOTIONS.find((e) => e.name === name);
}

/** The catalog entry of a name the catalog itself produced (a cue, a counterpart, a dominant). */
export function knownEmotion(name: string): Emotion {
  const e = emotionByName(name);
  if (!e) throw new Error(`unknown emotion "${name}"`);
  return e;
}

/**
 * Cue stems per emotion, weight 1 unless given. A stem matches the words that start with it; one
 * written "=word" matches that word only (where a prefix would catch unrelated words: "mad" and
 * "made", "rest" and "restaurant").
 */
const LEXICON: Record<string, (string | [string, number])[]> = {
  joy: [
    "happ",
    "joy",
    "delight",
    "glad",
    "cheer",
    "celebrat",
    "=fun",
    "funny",
    "smil",
    "laugh",
    "excit",
    "wonderful",
    "=great",
    "bright",
    "sunny",
    "playful",
    ["ecsta", 1.5],
    ["elat", 1.5],
    "yay",
  ],
  sadness: [
    "sad",
    "unhapp",
    "sorrow",
    "grief",
    "griev",
    "=cry",
    "cried",
    "crying",
    "tears",
    "lonel",
    "=miss",
    "missing",
    "=lost",
    "loss",
    "depress",
    ["heartbr", 1.5],
    "gloom",
    "melanchol",
    "mourn",
    "=blue",
    "hopeless",
  ],
  anger: [
    "angr",
    "anger",
    "=mad",
    "madden",
    "furi",
    "=rage",
    "raging",
    "hate",
    "annoy",
    "irritat",
    "frustrat",
    "outrag",
    "hostil",
    "resent",
    "livid",
    "fight",
    "storm",
  ],
  fear: [
    "fear",
    "afraid",
    "scar",
    "terrif",
    "anxi",
    "worr",
    "panic",
    "nervous",
    "dread",
    "fright",
    "horror",
    "threat",
    "danger",
    "uneas",
  ],
  love: [
    "love",
    "lov",
    "ador",
    "affection",
    "romanc",
    "romantic",
    "tender",
    "caring",
    "cherish",
    "sweetheart",
    "darling",
    "=heart",
    "embrac",
    "kiss",
    "warmth",
  ],
  calm: [
    "calm",
    "peace",
    "relax",
    "seren",
    "tranquil",
    "quiet",
    "=still",
    "gentle",
    "soothing",
    "meditat",
    "=rest",
    "restful",
    "breath",
    "=slow",
    "=ease",
    "ocean",
    "=soft",
    "softly",
  ],
  surprise: ["surpris", "amaz", "astonish", "unexpected", "shock", "sudden", "whoa", "=wow", "startl", "stun"],
  disgust: ["disgust", "gross", "revolt", "nause", "repuls", "vile", "filth", "sicken", "yuck", "rotten", "foul"],
  trust: [
    "trust",
    "reliab",
    "faith",
    "loyal",
    "depend",
    "honest",
    "=safe",
    "safety",
    "secure",
    "confiden",
    "believ",
    "friend",
  ],
  anticipation: [
    "anticipat",
    "expect",
    "await",
    "eager",
    "=hope",
    "hoping",
    "hopeful",
    "=soon",
    "tomorrow",
    "future",
    "=plan",
    "=ready",
    "prepar",
    "countdown",
  ],
  gratitude: ["thank", "grateful", "gratitude", "appreciat", "bless", "indebted"],
  awe: [
    "awe",
    "majest",
    "vast",
    "sublime",
    "cosmic",
    "infinite",
    "universe",
    "=stars",
    "transcend",
    "magnific",
    "breathtak",
    "divine",
  ],
};

const NEGATIONS = new Set(["not", "no", "never", "without", "hardly", "nothing", "nobody", "neither", "nor"]);
const INTENSIFIERS = new Set([
  "very",
  "so",
  "really",
  "extremely",
  "truly",
  "deeply",
  "incredibly",
  "totally",
  "super",
  "absolutely",
]);

interface Cue {
  stem: string;
  emotion: string;
  weight: number;
}

// Longest stems first, so "unhapp" wins over "happ".
const CUES: Cue[] = Object.entries(LEXICON)
  .flatMap(([emotion, stems]) =>
    stems.map((s) => (typeof s === "string" ? { stem: s, emotion, weight: 1 } : { stem: s[0], emotion, weight: s[1] })),
  )
  .sort((a, b) => b.stem.length - a.stem.length);

export interface EmotionAnalysis {
  dominant: string;
  /** Share of the evidence per emotion, summing to 1 (all 0 when nothing matched). */
  scores: Record<string, number>;
  /** How much evidence there was: 0 (none) to 1 (strong). */
  confidence: number;
  matched: { word: string; emotion: string; weight: number }[];
  frequencies: { neuroscience_hz: number; band: string; metaphysical_hz: number };
}

/** The words of a text, lower-cased, with "n't" split off as a negation. */
export function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/n't\b/g, " not")
    .split(/[^\p{L}\p{N}']+/u)
    .filter(Boolean);
}

function cueFor(word: string): Cue | undefined {
  return CUES.find((c) => (c.stem.startsWith("=") ? word === c.stem.slice(1) : word.startsWith(c.stem)));
}

/** Scores `text` over the catalog. With no cue at all, the dominant emotion is "calm" with confidence 0. */
export function analyzeEmotion(text: string): EmotionAnalysis {
  const words = tokenize(text);
  const totals: Record<string, number> = Object.fromEntries(EMOTION_NAMES.map((n) => [n, 0]));
  const matched: EmotionAnalysis["matched"] = [];
  words.forEach((word, i) => {
    const cue = cueFor(word);
    if (!cue) return;
    const before = words.slice(Math.max(0, i - 3), i);
    let emotion = cue.emotion;
    let weight = cue.weight;
    if (before.some((w) => NEGATIONS.has(w))) {
      emotion = knownEmotion(cue.emotion).counterpart;
      weight /= 3;
    }
    if (i > 0 && INTENSIFIERS.has(words[i - 1])) weight *= 1.5;
    totals[emotion] += weight;
    matched.push({ word, emotion, weight });
  });
  const sum = Object.values(totals).reduce((a, b) => a + b, 0);
  const scores = Object.fromEntries(EMOTION_NAMES.map((n) => [n, sum ? Math.round((totals[n] / sum) * 1e4) / 1e4 : 0]));
  // Ties go to the catalog's order, so the answer is the same on every run.
  const dominant = sum
    ? EMOTION_NAMES.reduce((best, n) => (totals[n] > totals[best] ? n : best), EMOTION_NAMES[0])
    : "calm";
  const e = knownEmotion(dominant);
  return {
    dominant,
    scores,
    confidence: Math.round((1 - Math.exp(-sum / 2)) * 1e3) / 1e3,
    matched,
    frequencies: { neuroscience_hz: e.neuroscience_hz, band: e.band, metaphysical_hz: e.metaphysical_hz },
  };
}
