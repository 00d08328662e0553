import crypto from "node:crypto";

/**
 * The normal form of a query: Unicode-compatible (NFKC), lower-cased, punctuation removed, runs
 * of white space folded. "What is  ALPHA?" and "what is alpha" are one query.
 */
export function normalizeQuery(q: string): string {
  return q
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** Conversational openings around a question ("tell me about", "what do you know about", "i want to know"). */
const FRAME = new RegExp(
  "^(?:(?:hey|hi|hello|ok|okay|so|please)\\s+)*(?:" +
    [
      "(?:can|could|would|will) you (?:please )?(?:tell me|explain(?: to me)?|describe)(?: about)?",
      "(?:please )?tell me(?: more)?(?: about)?",
      "(?:please )?explain(?: to me)?(?: about)?",
      "(?:please )?describe",
      "what (?:do|can) you (?:know|tell me) about",
      "do you know(?: anything)?(?: about)?",
      "i (?:want|would like|d like|wanna) to (?:know|learn|understand)(?: more)?(?: about)?",
      "id like to (?:know|learn|understand)(?: more)?(?: about)?",
      "(?:give me |i need |i want )?(?:some )?(?:info|information|details) (?:on|about)",
      "help me understand",
      "i wonder(?: if| whether)?",
    ].join("|") +
    ")\\s+",
);

/**
 * The question inside a normalized query, without a conversational opening or a closing "please":
 * "what do you know about the circle of fifths" → "the circle of fifths". Its words are not what the
 * asker wants found: "know" and "want" are terms no example holds, so they sank the search's `match`
 * and the question was declined. The query itself when nothing else would be left.
 */
export function withoutFrame(normalized: string): string {
  const q = normalized.replace(FRAME, "").replace(/\s+please$/, "");
  return q.trim() ? q : normalized;
}

/**
 * The revision of the answers this build composes. Raise it with any change that alters the answer
 * a query gets (the extractive composer, the search's ranking): the cached answers of the earlier
 * revision (up to KNOWLEDGE_L2_TTL_S old, a day by default) are then missed, not served after an
 * upgrade. 2: sentences no longer end at initials or "et al.", a terse opening answers only its kind
 * of question, the example asked exactly the query's question leads. 3: that example's question
 * is of the query's kind too, and a terse opening the next sentence points back to stays.
 */
export const ANSWERS_REVISION = 3;

/** The key of a query within a dataset version: normalized query, domain and k (and the answers' revision). */
export function queryHash(normalized: string, domain: string | undefined, k: number): string {
  return crypto
    .createHash("sha1")
    .update(`${ANSWERS_REVISION}\u0000${normalized}\u0000${domain ?? ""}\u0000${k}`)
    .digest("hex");
}
