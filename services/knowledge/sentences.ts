/**
 * The extractive answer's pieces: sentences of the top matches scored against the query's terms.
 * A light English normalizer (lower case, no punctuation, no stop words, a crude suffix strip) is
 * enough here: it compares a query with a handful of sentences, not a corpus.
 */
import { american, BARE_CONTRACTIONS } from "../lib/spelling";
import { normalizeQuery } from "./normalize";

const STOP_WORDS = new Set(
  (
    "a about above after again all am an and any are as at be because been before being below between both but by " +
    "can could did do does doing down during each few for from further had has have having he her here hers him his " +
    "how i if in into is it its itself just me more most my no nor not now of off on once only or other our ours out " +
    "over own same she should so some such than that the their theirs them then there these they this those through " +
    "to too under until up very was we were what when where which while who whom why will with would you your yours " +
    "tell please know much many mc ai go goes going"
  )
    .split(" ")
    .concat([...BARE_CONTRACTIONS]),
);

/** A word's crude stem: enough for "calms"/"calm", "frequencies"/"frequency", "tuning"/"tuned"/"tune". */
export function stem(word: string): string {
  if (word.length <= 3) return word;
  if (word.endsWith("ies") && word.length > 4) return `${word.slice(0, -3)}y`;
  for (const suffix of ["ing", "ed", "es", "s"]) {
    if (word.endsWith(suffix) && !word.endsWith("ss") && word.length - suffix.length >= 3) {
      return word.slice(0, -suffix.length).replace(/e$/, "");
    }
  }
  return word.replace(/e$/, "");
}

/** The distinct content terms of a text, in American spelling ("colour" meets "color"), stemmed. */
export function terms(text: string): Set<string> {
  const out = new Set<string>();
  for (const w of normalizeQuery(text).split(" ")) if (w && !STOP_WORDS.has(w)) out.add(stem(american(w)));
  return out;
}

/** A piece that ends on a common abbreviation ("Keil et al. 2001", "e.g. C major"): its sentence goes on. */
const ABBREVIATION_END = /\b(?:et al|e\.g|i\.e|cf|vs|approx|ca|Dr|Mr|Mrs|Ms|Prof|St|Jr|Sr|Fig)\.$/;
/**
 * A piece that may end on a person's initial: one capital and a period after a capitalised word
 * ("Alexander J.", "in February, A."), or initials alone ("J. S."). Whether it does depends on the
 * next piece (see INITIAL_NOT_BEFORE).
 */
const INITIAL_END = /(?:(?:^|[\s(])\p{Lu}\p{Ll}+,?\s\p{Lu}|^(?:\p{Lu}\.\s)*\p{Lu})\.$/u;
/**
 * Words that open a sentence far more often than they are a surname: after "Concert A." or
 * "Middle C." (a note, not an initial) the next sentence opens on one of these.
 */
const INITIAL_NOT_BEFORE =
  /^(?:the|a|an|it|its|this|that|these|those|they|their|he|his|she|her|we|you|i|in|on|at|for|from|to|with|by|as|if|when|while|then|so|but|and|or|yet|there|here|each|every|some|many|most|all|no|not|one|both|such|what|which|who|why|how|where|after|before|since|because|although|however|also|only|even)\b/i;

/** Whether a period ends `piece`'s sentence, given the piece after it. */
function endsSentence(piece: string, next: string): boolean {
  if (ABBREVIATION_END.test(piece)) return false;
  return !(INITIAL_END.test(piece) && !INITIAL_NOT_BEFORE.test(next));
}

/**
 * A text's sentences: split after . ! or ? followed by white space and a capital, digit or quote,
 * but not after a common abbreviation or a person's initial ("Alexander J. Ellis", "J. S. Bach",
 * "in February, A. Michael Noll"). A note name after a lower-case word or another note ("resolves to
 * C.", "B, E, A, D, G, C, F.") or before a common opener ("Concert A. It sounds…") still ends one, as
 * does "No.".
 */
export function sentences(text: string): string[] {
  const out: string[] = [];
  for (const piece of text.split(/(?<=[.!?])\s+(?=["'(\p{Lu}\p{N}])/u)) {
    const s = piece.trim();
    if (!s) continue;
    const last = out.length - 1;
    if (last >= 0 && !endsSentence(out[last], s)) out[last] = `${out[last]} ${s}`;
    else out.push(s);
  }
  return out;
}

/** A bare answer particle: "Yes." says nothing without what follows it. */
const PARTICLE = /^(yes|no|true|false|sometimes|partly|not quite|not really)[.!]?$/i;
/** A sentence that opens on a word pointing back ("They may help…"): it needs the sentence before it. */
const POINTS_BACK = /^(they|them|their|theirs|it|its|this|these|those|that|he|she|his|her|such|both|neither|either)\b/i;

/** Words in an opening short enough to be a bare answer to its own question ("Seven.", "Anger and disgust."). */
const TERSE_WORDS = 3;

/** A response's opening that answers only its own question: a particle, or a sentence of a few words. */
function bareOpening(s: string): boolean {
  return PARTICLE.test(s) || s.replace(/[.!?]+$/, "").split(/\s+/).length <= TERSE_WORDS;
}

/**
 * A text's sentences as an answer can quote them: a bare particle ("Yes.", "No.") or a terse opening
 * ("Seven.", "Anger and disgust.") joined to the sentence after it, and a sentence that opens on a
 * pronoun pointing back ("They…", "It…", "This…") joined to the one before it, so that no quoted
 * piece depends on one left out.
 */
export function quotable(text: string): string[] {
  const out: string[] = [];
  let pending = "";
  for (const [i, s] of sentences(text).entries()) {
    if (PARTICLE.test(s) || (i === 0 && bareOpening(s))) {
      pending = pending ? `${pending} ${s}` : s;
      continue;
    }
    const piece = pending ? `${pending} ${s}` : s;
    pending = "";
    if (out.length && POINTS_BACK.test(piece)) out[out.length - 1] = `${out[out.length - 1]} ${piece}`;
    else out.push(piece);
  }
  if (pending) {
    if (out.length) out[out.length - 1] = `${out[out.length - 1]} ${pending}`;
    else out.push(pending);
  }
  return out;
}

/** A question answered yes or no ("does 528 Hz repair DNA?"): it opens on an auxiliary verb. */
export function asksYesOrNo(query: string): boolean {
  return /^(is|are|was|were|am|do|does|did|can|could|will|would|should|shall|has|have|had|may|might|must)\b/.test(
    normalizeQuery(query),
  );
}

/**
 * A quoted piece without the particles it opens on ("Yes. Robert Hooke…" → "Robert Hooke…"), and
 * when it is its text's opening (`opening`) without a terse first answer too ("Seven. In twelve-tone
 * equal temperament…" → "In twelve-tone…"), unless that is all it has.
 */
export function withoutParticle(piece: string, opening = false): string {
  const parts = sentences(piece);
  let i = 0;
  while (i < parts.length - 1 && (PARTICLE.test(parts[i]) || (opening && i === 0 && bareOpening(parts[i])))) i++;
  // A terse opening the next sentence points back to ("Robert Hooke. He saw…") stays: without it "He" names no one.
  if (i && !PARTICLE.test(parts[i - 1]) && POINTS_BACK.test(parts[i])) i--;
  return i ? parts.slice(i).join(" ") : piece;
}

/** A piece that opens on a particle ("Yes. Robert Hooke…"). */
export function opensOnParticle(piece: string): boolean {
  return PARTICLE.test(sentences(piece)[0] ?? "");
}

/** What a question asks for, by its opening words; undefined for a query of keywords. */
export type QuestionKind = "quantity" | "what" | "who" | "when" | "where" | "why" | "how" | "yes-no";

export function questionKind(question: string): QuestionKind | undefined {
  const q = normalizeQuery(question);
  if (/^how (many|much)\b/.test(q)) return "quantity";
  if (/^(what|which)\b/.test(q)) return "what";
  if (/^(who|whom|whose)\b/.test(q)) return "who";
  const word = /^(when|where|why|how)\b/.exec(q)?.[1] as QuestionKind | undefined;
  return word ?? (asksYesOrNo(question) ? "yes-no" : undefined);
}

export interface ScoredSentence {
  text: string;
  /** Position (0-based) of the match the sentence comes from. */
  match: number;
  score: number;
}

/**
 * Every sentence of the given texts, scored by the idf-weighted share of the query's terms it holds
 * (idf over these sentences, so a term every sentence has counts for little), best first; ties go to
 * the better-ranked match, then to the earlier sentence.
 */
export function scoreSentences(query: string, texts: string[]): ScoredSentence[] {
  const q = [...terms(query)];
  const all = texts.flatMap((t, match) => sentences(t).map((text) => ({ text, match, t: terms(text) })));
  if (!q.length || !all.length) return all.map((s) => ({ text: s.text, match: s.match, score: 0 }));
  const idf = new Map(
    q.map((term) => {
      const df = all.filter((s) => s.t.has(term)).length;
      return [term, Math.log(1 + all.length / (df + 0.5))];
    }),
  );
  const total = [...idf.values()].reduce((a, b) => a + b, 0);
  return all
    .map((s, i) => ({
      text: s.text,
      match: s.match,
      score: q.reduce((acc, term) => acc + (s.t.has(term) ? (idf.get(term) ?? 0) : 0), 0) / total,
      i,
    }))
    .sort((a, b) => b.score - a.score || a.match - b.match || a.i - b.i)
    .map(({ text, match, score }) => ({ text, match, score }));
}

export interface MatchSentence extends ScoredSentence {
  /** The query's terms the sentence holds. */
  holds: string[];
}

export interface ScoredMatches {
  /** Every sentence of every match's text, in match then sentence order, scored as in `scoreSentences`. */
  sentences: MatchSentence[];
  /** Per match, the idf-weighted share of the query's terms its question holds. */
  fit: number[];
  /** Per match, the query's terms its question holds. */
  questionHolds: string[][];
}

/**
 * The matches' questions and their texts' sentences (`quotable`: a particle or a sentence pointing
 * back travels with its neighbour) scored against the query: each by the idf-weighted share of the
 * query's terms it holds, idf over the questions and sentences together.
 */
export function scoreMatches(query: string, matches: { question: string; text: string }[]): ScoredMatches {
  const q = [...terms(query)];
  const all = matches.flatMap((m, match) => quotable(m.text).map((text) => ({ text, match, t: terms(text) })));
  const questions = matches.map((m) => terms(m.question));
  const units = [...all.map((s) => s.t), ...questions];
  const idf = new Map(
    q.map((term) => {
      const df = units.filter((t) => t.has(term)).length;
      return [term, Math.log(1 + units.length / (df + 0.5))];
    }),
  );
  const total = [...idf.values()].reduce((a, b) => a + b, 0);
  const share = (t: Set<string>) =>
    total ? q.reduce((acc, term) => acc + (t.has(term) ? (idf.get(term) ?? 0) : 0), 0) / total : 0;
  return {
    sentences: all.map((s) => ({
      text: s.text,
      match: s.match,
      score: share(s.t),
      holds: q.filter((x) => s.t.has(x)),
    })),
    fit: questions.map(share),
    questionHolds: questions.map((t) => q.filter((x) => t.has(x))),
  };
}
