/**
 * British and American spellings of one word ("colour" / "color", "recognise" / "recognize",
 * "centre" / "center", "haemoglobin" / "hemoglobin"). The demo knowledge base is written in British
 * English, SciFact in American, and users type either: Postgres' english stemmer keeps the two
 * apart ("colour" and "color" are different lexemes).
 *
 * The rules are suffix and prefix patterns, not a dictionary, so they also produce non-words
 * ("hour" would be "hor" if it were long enough): the search uses a variant only where the
 * datasets lack the word and hold the variant (datasets/search.ts), and `american` is applied to
 * both sides of a comparison, where a non-word on both sides is harmless.
 */

/** Endings the -our / -or, -ise / -ize and -yse / -yze words take. */
const OUR_ENDINGS = "s|ed|ing|ful|fully|ite|ites|able|less|ist|ists|ism";
const ISE_ENDINGS = "e|es|ed|ing|er|ers|ation|ations";
/** Medical and scientific stems that British English writes with ae or oe. */
const DIGRAPHS: [string, string][] = [
  ["haem", "hem"],
  ["anaem", "anem"],
  ["anaes", "anes"],
  ["aetiol", "etiol"],
  ["caec", "cec"],
  ["coeliac", "celiac"],
  ["diarrhoea", "diarrhea"],
  ["dyspnoea", "dyspnea"],
  ["apnoea", "apnea"],
  ["foet", "fet"],
  ["gynaec", "gynec"],
  ["ischaem", "ischem"],
  ["leukaem", "leukem"],
  ["oedem", "edem"],
  ["oesophag", "esophag"],
  ["oestr", "estr"],
  ["orthopaed", "orthoped"],
  ["paed", "ped"],
  ["glycaem", "glycem"],
  ["septicaem", "septicem"],
];
/** Whole words (of any length). */
const WORDS: [string, string][] = [
  ["grey", "gray"],
  ["greys", "grays"],
  ["programme", "program"],
  ["programmes", "programs"],
  ["sceptic", "skeptic"],
  ["sceptical", "skeptical"],
  ["scepticism", "skepticism"],
  ["aluminium", "aluminum"],
  ["sulphur", "sulfur"],
  ["mould", "mold"],
  ["defence", "defense"],
  ["offence", "offense"],
  ["licence", "license"],
  ["pretence", "pretense"],
  ["practise", "practice"],
];

/** [British pattern, American replacement] and [American pattern, British replacement] pairs. */
const TO_AMERICAN: [RegExp, string][] = [
  [new RegExp(`^(.{2,})our(${OUR_ENDINGS})?$`), "$1or$2"],
  [new RegExp(`^(.{3,})is(${ISE_ENDINGS})$`), "$1iz$2"],
  [/^(.{2,})ys(e|es|ed|ing|er|ers)$/, "$1yz$2"],
  [/^(.{2,}[^aeiou])tre(s)?$/, "$1ter$2"],
  [/^(.{3,})ogue(s)?$/, "$1og$2"],
  [/^(.{2,}[ae])ll(ed|ing|er|ers)$/, "$1l$2"],
];
const TO_BRITISH: [RegExp, string][] = [
  [new RegExp(`^(.{2,})or(${OUR_ENDINGS})?$`), "$1our$2"],
  [new RegExp(`^(.{3,})iz(${ISE_ENDINGS})$`), "$1is$2"],
  [/^(.{2,})yz(e|es|ed|ing|er|ers)$/, "$1ys$2"],
  [/^(.{2,}[^aeiou])ter(s)?$/, "$1tre$2"],
  [/^(.{3,})og(s)?$/, "$1ogue$2"],
  [/^(.{2,}[ae])l(ed|ing|er|ers)$/, "$1ll$2"],
];

const MIN_LENGTH = 5;

function byRules(word: string, rules: [RegExp, string][]): string | undefined {
  for (const [pattern, replacement] of rules) if (pattern.test(word)) return word.replace(pattern, replacement);
  return undefined;
}

function byDigraph(word: string, from: 0 | 1): string | undefined {
  for (const pair of DIGRAPHS) {
    const at = word.indexOf(pair[from]);
    if (at >= 0) return word.slice(0, at) + pair[1 - from] + word.slice(at + pair[from].length);
  }
  return undefined;
}

/** A lower-case word's spelling in the other variety of English, if a rule gives one: at most one each way. */
export function spellingVariants(word: string): string[] {
  const out = new Set<string>();
  for (const [british, american] of WORDS) {
    if (word === british) out.add(american);
    if (word === american) out.add(british);
  }
  if (!out.size && word.length >= MIN_LENGTH && /^\p{Ll}+$/u.test(word)) {
    for (const v of [byDigraph(word, 0) ?? byRules(word, TO_AMERICAN), byDigraph(word, 1) ?? byRules(word, TO_BRITISH)])
      if (v && v !== word) out.add(v);
  }
  return [...out];
}

/** A lower-case word in American spelling (itself when no rule applies): one form for both varieties. */
export function american(word: string): string {
  for (const [british, us] of WORDS) if (word === british) return us;
  if (word.length < MIN_LENGTH) return word;
  return byDigraph(word, 0) ?? byRules(word, TO_AMERICAN) ?? word;
}

/**
 * Contractions typed without their apostrophe (on a phone, mostly): with it, Postgres's parser splits
 * "what's" into stop words; without it the stemmer makes "whats" the lexeme `what`, which no
 * example holds (stop words are never indexed), so it carried the largest idf and sank the query's
 * match fraction ("whats the best frequency for sleep" was declined). They are stop words once
 * expanded, so the ranked words leave them out. Words that are also words of their own ("ill",
 * "shed", "lets", "id", "were") are not here.
 */
export const BARE_CONTRACTIONS = new Set(
  (
    "whats hows wheres whens whys whos thats theres heres dont doesnt didnt cant cannot wont isnt arent " +
    "wasnt werent hasnt havent hadnt shouldnt couldnt wouldnt mustnt im ive youre youve theyre theyve weve"
  ).split(" "),
);
