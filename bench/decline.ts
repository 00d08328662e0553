/**
 * bench/decline: calibrates KNOWLEDGE_MIN_MATCH, the `match` under which `knowledge.query` declines.
 * Starts `mcai` on a fresh embedded data folder (which imports the curated demo knowledge base),
 * asks `GET /api/search` (hybrid, k 5, as knowledge.query does) 30 paraphrases of questions the base
 * answers and 30 off-topic questions, takes each question's best `match`, and prints the threshold
 * that separates the two sets best (balanced accuracy; the middle of the gap).
 * With SCIFACT=1 it also imports SciFact's corpus (from ../shared/fixtures, never copied here) into a
 * second fresh folder and does the same with its train queries against the off-topic set.
 *
 * OFFLINE=1 computes, without a server, an upper bound of the same figures: `match` by the search's
 * formula (idf = ln(1 + (N − df + 0.5)/(df + 0.5)), idf-weighted share of the query's terms) with
 * knowledge's JS normalizer instead of Postgres's english stemmer, best over every document instead
 * of the top 5 hits.
 *
 *   npm run bench:decline            (SCIFACT=1 SCIFACT_QUERIES=200 for the SciFact check; OFFLINE=1)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { KNOWLEDGE_MIN_MATCH_DEFAULT } from "../services/lib/config";
import { terms } from "../services/knowledge/sentences";
import { freePort, machine, runMain, startMcai } from "./lib";

const SCIFACT_DIR = path.resolve(__dirname, "..", "..", "shared", "fixtures", "ir", "scifact");
const SCIFACT_QUERIES = Number(process.env.SCIFACT_QUERIES ?? 200);
const ADMIN_KEY = "bench-admin-key-0123456789";

/** Paraphrases, in a person's words, of questions the demo knowledge base answers. */
export const ON_TOPIC = [
  "who was the first to find the chladni figures",
  "what was an eidophone",
  "how did chladni make his plates vibrate",
  "what equation governs a thin vibrating plate",
  "how do engineers work out the vibration modes of a guitar top",
  "which emotions can mc ai recognize",
  "what is the 285 hz tone for in the app",
  "which musical mode is used for love songs",
  "how is the confidence of the emotion reading worked out",
  "what does the amygdala do in fear",
  "what does research say awe does to people",
  "what frequency is middle c",
  "how many hz is the open high e string",
  "what is the frequency of c7",
  "what is scientific pitch with c at 256",
  "why do two slightly mistuned notes wobble",
  "what is the missing fundamental effect",
  "which colours are primary",
  "how common is colour blindness",
  "when did the first computer art exhibitions take place",
  "did kandinsky link colours and sounds",
  "why does reaction diffusion look like animal skin",
  "how many semitones make a perfect fifth",
  "how does meantone tuning temper the fifths",
  "how do you build a blues scale",
  "which cadence sounds most final",
  "why do notes an octave apart sound the same",
  "how to play three against two polyrhythm",
  "what are the brainwave bands",
  "what is the p300 wave in the brain",
  "how does the cochlea tell pitches apart",
  "does listening to mozart make you smarter",
];

/** Questions the demo knowledge base knows nothing about. */
export const OFF_TOPIC = [
  "who won the 1998 world cup?",
  "how long should I boil an egg",
  "what is the best recipe for lasagna",
  "who is the president of france",
  "how do I change a flat tire",
  "what is the capital of australia",
  "when did the roman empire fall",
  "how many players are on a rugby team",
  "what is the price of bitcoin today",
  "how do I file my taxes",
  "who wrote pride and prejudice",
  "what is the tallest mountain in africa",
  "how do I bake sourdough bread",
  "which team won the super bowl last year",
  "how do vaccines get approved",
  "what is the exchange rate of the euro",
  "how do I fix a leaking tap",
  "who won the last general election in britain",
  "what time does the sun set in summer in oslo",
  "how do I train my dog to sit",
  "what is a good marinade for chicken",
  "who holds the marathon world record",
  "how does a mortgage work",
  "what is the population of brazil",
  "how do I learn to ski",
  "what causes inflation in an economy",
  "who invented the telephone",
  "how do I grow tomatoes on a balcony",
  "what are the rules of cricket",
  "how many calories are in a banana",
];

interface Hit {
  match?: number;
}

async function bestMatch(base: string, q: string): Promise<number> {
  const r = await fetch(`${base}/api/search?q=${encodeURIComponent(q)}&mode=hybrid&k=5`);
  if (!r.ok) throw new Error(`search "${q}": ${r.status} ${await r.text()}`);
  const hits = ((await r.json()) as { hits: Hit[] }).hits;
  if (hits.length && hits.every((h) => h.match === undefined)) throw new Error("datasets.search reports no match");
  return Math.max(0, ...hits.map((h) => h.match ?? 0));
}

/**
 * The threshold t (answer when match ≥ t) with the best balanced accuracy (the mean of the share of
 * on-topic answered and of off-topic declined, so 809 queries do not drown 30); t is mid-gap.
 */
export function separate(on: number[], off: number[]): { t: number; correct: number; onOk: number; offOk: number } {
  const cuts = [...new Set([...on, ...off, 1.0001])].sort((a, b) => a - b);
  let best = { t: 0, correct: -1, onOk: 0, offOk: 0 };
  let prev = 0;
  for (const c of cuts) {
    const t = (prev + c) / 2;
    prev = c;
    const onOk = on.filter((m) => m >= t).length;
    const offOk = off.filter((m) => m < t).length;
    const balanced = onOk / on.length + offOk / off.length;
    if (balanced > best.correct) best = { t, correct: balanced, onOk, offOk };
  }
  return { ...best, t: Math.round(best.t * 1000) / 1000 };
}

function describe(name: string, xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(2);
  return `${name}: n ${xs.length}, min ${s[0].toFixed(2)}, p10 ${q(0.1)}, median ${q(0.5)}, p90 ${q(0.9)}, max ${s[s.length - 1].toFixed(2)}`;
}

async function withNode<T>(env: Record<string, string>, fn: (base: string) => Promise<T>): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-decline-"));
  const port = await freePort();
  const n = startMcai([], { MCAI_DATA_DIR: dataDir, PORT: String(port), RATE_LIMIT: "0", ...env });
  try {
    await n.ready;
    return await fn(`http://127.0.0.1:${port}`);
  } finally {
    n.proc.kill("SIGTERM");
    await new Promise((r) => n.proc.once("exit", r));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function report(name: string, base: string, on: string[], off: string[]): Promise<void> {
  const seen = new Map<string, number>();
  for (const q of [...on, ...off]) seen.set(q, await bestMatch(base, q));
  printFigures(name, on, off, (q) => seen.get(q)!);
}

function printFigures(name: string, on: string[], off: string[], best: (q: string) => number): void {
  const onM = on.map(best);
  const offM = off.map(best);
  console.log(describe(`${name} on-topic`, onM));
  console.log(describe(`${name} off-topic`, offM));
  const s = separate(onM, offM);
  console.log(
    `${name}: best threshold ${s.t}: ${s.onOk}/${on.length} on-topic answered, ${s.offOk}/${off.length} off-topic declined`,
  );
  for (const t of [0.3, 0.4, 0.5, KNOWLEDGE_MIN_MATCH_DEFAULT, 0.6, 0.7]) {
    const a = onM.filter((m) => m >= t).length;
    const d = offM.filter((m) => m < t).length;
    const mark = t === KNOWLEDGE_MIN_MATCH_DEFAULT ? " (the default KNOWLEDGE_MIN_MATCH)" : "";
    console.log(`  at ${t}${mark}: ${a}/${on.length} answered, ${d}/${off.length} declined`);
    if (mark)
      for (const [what, list, bad] of [
        ["on-topic declined", on, (m: number) => m < t],
        ["off-topic answered", off, (m: number) => m >= t],
      ] as const) {
        const hits = list.filter((q) => bad(best(q)));
        if (hits.length) console.log(`    ${what}: ${hits.join(" | ")}`);
      }
  }
  const missed = on.filter((_, i) => onM[i] < s.t);
  const leaked = off.filter((_, i) => offM[i] >= s.t);
  if (missed.length) console.log(`  on-topic declined at ${s.t}: ${missed.slice(0, 8).join(" | ")}`);
  if (leaked.length) console.log(`  off-topic answered at ${s.t}: ${leaked.slice(0, 8).join(" | ")}`);
}

const jsonl = <T>(file: string): T[] =>
  fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);

/** The OFFLINE=1 stand-in for the search's best `match`: over every document, with knowledge's normalizer. */
function offlineBestMatch(docs: string[]): (q: string) => number {
  const docTerms = docs.map((d) => terms(d));
  const df = new Map<string, number>();
  for (const t of docTerms) for (const w of t) df.set(w, (df.get(w) ?? 0) + 1);
  const idf = (t: string) => Math.log(1 + (docs.length - (df.get(t) ?? 0) + 0.5) / ((df.get(t) ?? 0) + 0.5));
  return (q) => {
    const qt = [...terms(q)];
    const total = qt.reduce((a, t) => a + idf(t), 0);
    if (!total) return 0;
    let best = 0;
    for (const d of docTerms) best = Math.max(best, qt.reduce((a, t) => a + (d.has(t) ? idf(t) : 0), 0) / total);
    return best;
  };
}

function offline(): void {
  const kbDir = path.resolve(__dirname, "..", "demo", "knowledge-base");
  const kb = fs
    .readdirSync(kbDir)
    .flatMap((f) => jsonl<{ content: string; response: string }>(path.join(kbDir, f)))
    .map((e) => `${e.content} ${e.response}`);
  printFigures("demo (offline)", ON_TOPIC, OFF_TOPIC, offlineBestMatch(kb));
  if (process.env.SCIFACT !== "1") return;
  const corpus = jsonl<{ content: string }>(path.join(SCIFACT_DIR, "corpus.jsonl")).map((d) => d.content);
  const queries = jsonl<{ text: string }>(path.join(SCIFACT_DIR, "train", "queries.jsonl")).map((q) => q.text);
  printFigures("scifact train (offline)", queries.slice(0, SCIFACT_QUERIES), OFF_TOPIC, offlineBestMatch(corpus));
}

async function scifact(base: string): Promise<void> {
  const docs = jsonl<{ content: string }>(path.join(SCIFACT_DIR, "corpus.jsonl"));
  for (let i = 0; i < docs.length; i += 500) {
    const examples = docs.slice(i, i + 500).map((d) => ({ content: d.content }));
    const r = await fetch(`${base}/api/datasets/scifact/examples`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": ADMIN_KEY },
      body: JSON.stringify({ examples }),
    });
    if (!r.ok) throw new Error(`import: ${r.status} ${await r.text()}`);
  }
  const queries = jsonl<{ text: string }>(path.join(SCIFACT_DIR, "train", "queries.jsonl"))
    .slice(0, SCIFACT_QUERIES)
    .map((q) => q.text);
  await report("scifact", base, queries, OFF_TOPIC);
}

if (require.main === module)
  runMain(async () => {
    console.log(`bench:decline on ${machine()}`);
    if (process.env.OFFLINE === "1") {
      offline();
      return;
    }
    await withNode({}, (base) => report("demo", base, ON_TOPIC, OFF_TOPIC));
    if (process.env.SCIFACT === "1")
      await withNode({ DEMO_DATA: "false", API_KEYS: ADMIN_KEY }, (base) => scifact(base));
  });
