import { KNOWLEDGE_MIN_MATCH_DEFAULT, loadConfig } from "../../services/lib/config";
import { DECLINE_TEXT, extractive, shouldDecline, suggestions } from "../../services/knowledge/answer";
import type { SearchHit } from "../../services/knowledge/contract";
import {
  asksYesOrNo,
  questionKind,
  quotable,
  scoreSentences,
  sentences,
  stem,
  terms,
  withoutParticle,
} from "../../services/knowledge/sentences";
import { american, spellingVariants } from "../../services/lib/spelling";
import { normalizeQuery, withoutFrame } from "../../services/knowledge/normalize";

const hit = (content: string, response: string | null, match?: number): SearchHit => ({
  id: content,
  domain: "test",
  content,
  response,
  score: 1,
  match,
});

describe("knowledge extractive answer", () => {
  it("cites the sentence that answers, not the first hit's whole response", () => {
    const matches = [
      hit(
        "What is a Chladni plate?",
        "A Chladni plate is a metal plate bowed at its edge. Sand gathers on the nodal lines where the plate does not move. Ernst Chladni published the figures in 1787.",
      ),
      hit("What is cymatics?", "Cymatics is the study of visible sound."),
    ];
    const answer = extractive("where does the sand gather on the plate?", matches);
    expect(answer).toContain("Sand gathers on the nodal lines where the plate does not move. [1]");
    expect(answer).not.toContain("1787");
    expect(answer).not.toContain("Cymatics is the study");
  });

  it("cites each sentence by its match's position", () => {
    const matches = [
      hit("Tempo", "Tempo is measured in beats per minute."),
      hit("Allegro", "Allegro is a fast tempo marking. Adagio is slow."),
    ];
    expect(extractive("is allegro fast", matches)).toMatch(/^Allegro is a fast tempo marking\. \[2\]/);
  });

  it("leads with the match whose question fits the query, not another match's sentence that repeats its terms", () => {
    const matches = [
      hit(
        "What is the frequency of middle C?",
        "Middle C is C4, 261.63 Hz with A4 = 440 Hz. It sits nine semitones below A4, so its frequency is 440·2^(−9/12).",
      ),
      hit(
        "Why is A4 = 440 Hz the reference pitch?",
        "An international conference in London in 1939 agreed on 440 Hz for the A above middle C. Before that, pitch varied widely.",
      ),
    ];
    // The old composer answered "It sits nine semitones below A4, …": that sentence holds both query terms.
    const answer = extractive("why is A4 the reference pitch", matches);
    expect(answer).toMatch(/^An international conference in London in 1939 agreed on 440 Hz .* \[2\]/);
    expect(answer).not.toContain("nine semitones");
  });

  it("adds another match's sentence only when it holds a query term the picked ones lack", () => {
    const matches = [
      hit("What is alpha?", "Alpha waves run at 8 to 13 Hz. Alpha is strongest with the eyes closed."),
      hit("What is beta?", "Beta waves run faster than alpha waves."),
      hit("What is theta?", "Theta waves run at 4 to 8 Hz in drowsiness."),
    ];
    const answer = extractive("alpha waves and drowsiness", matches);
    expect(answer.startsWith("Alpha waves run at 8 to 13 Hz. [1]")).toBe(true);
    expect(answer).toContain("Theta waves run at 4 to 8 Hz in drowsiness. [3]");
    expect(answer).not.toContain("Beta waves");
  });

  it("uses the content when a match has no response, and the first sentence when no term is shared", () => {
    expect(extractive("allegro", [hit("Allegro is a fast tempo marking", null)])).toBe(
      "Allegro is a fast tempo marking [1]",
    );
    expect(extractive("zzz", [hit("Q", "The first sentence answers. The second adds to it.")])).toBe(
      "The first sentence answers. [1]",
    );
    // A terse opening travels with the sentence after it.
    expect(extractive("zzz", [hit("Q", "Seven. Twelve-tone fifths span 700 cents. More.")])).toBe(
      "Seven. Twelve-tone fifths span 700 cents. [1]",
    );
    expect(extractive("anything", [])).toBe(DECLINE_TEXT);
  });

  it("splits sentences but not decimals, and stems the query and the sentence alike", () => {
    expect(sentences("C4 is 261.63 Hz. It is middle C! Why? Because.")).toEqual([
      "C4 is 261.63 Hz.",
      "It is middle C!",
      "Why?",
      "Because.",
    ]);
    expect(stem("calms")).toBe(stem("calm"));
    expect(stem("frequencies")).toBe(stem("frequency"));
    expect([...terms("What is the tuning?")]).toEqual([stem("tuned")]);
    expect(scoreSentences("calm waves", ["Alpha waves are calm. Beta is alert."])[0]).toMatchObject({
      text: "Alpha waves are calm.",
      score: 1,
    });
  });
});

describe("knowledge answers quote whole thoughts", () => {
  const hooke = hit(
    "Did anyone see these sand patterns before Chladni?",
    "Yes. Robert Hooke saw nodal patterns in flour on a bowed glass plate in 1680. Galileo described streaks on a brass plate.",
  );

  it("joins a bare Yes or No to the sentence after it, and a sentence pointing back to the one before it", () => {
    expect(quotable("Yes. Hooke saw them in 1680. Galileo did too.")).toEqual([
      "Yes. Hooke saw them in 1680.",
      "Galileo did too.",
    ]);
    expect(
      quotable("A 2019 meta-analysis found small effects. They may help some people relax. Beats are faint."),
    ).toEqual(["A 2019 meta-analysis found small effects. They may help some people relax.", "Beats are faint."]);
    expect(quotable("It opens a text. This one points back.")).toEqual(["It opens a text. This one points back."]);
    expect(quotable("No.")).toEqual(["No."]);
    expect(withoutParticle("Yes. Hooke saw them.")).toBe("Hooke saw them.");
    expect(withoutParticle("No.")).toBe("No.");
  });

  it("keeps the Yes only for the yes-or-no question it answers", () => {
    expect(asksYesOrNo("did anyone see sand patterns before chladni?")).toBe(true);
    expect(asksYesOrNo("sand patterns before chladni")).toBe(false);
    expect(extractive("did anyone see sand patterns before chladni?", [hooke])).toMatch(/^Yes\. Robert Hooke/);
    // Without the join the answer opened "Yes. [1]"; without the strip, "Yes. Robert Hooke…" to a statement.
    expect(extractive("sand patterns before chladni", [hooke])).toMatch(/^Robert Hooke saw nodal patterns/);
  });

  it("never quotes a sentence that opens on a pronoun without the sentence it points back to", () => {
    const beats = hit(
      "Can binaural beats reduce anxiety?",
      "A 2019 meta-analysis found small effects on anxiety. They may help some people relax, much as other calm audio can.",
    );
    const answer = extractive("can binaural beats help me relax", [beats]);
    expect(answer).toContain("A 2019 meta-analysis found small effects on anxiety. They may help some people relax");
  });

  it("does not end a sentence at an initial or an abbreviation, and still ends one at a note name", () => {
    expect(sentences("A cent is a hundredth of a semitone. Alexander J. Ellis introduced it.")).toEqual([
      "A cent is a hundredth of a semitone.",
      "Alexander J. Ellis introduced it.",
    ]);
    expect(sentences("Gamma follows salient events (Keil et al. 2001). Others differ.")).toEqual([
      "Gamma follows salient events (Keil et al. 2001).",
      "Others differ.",
    ]);
    expect(sentences("Nees showed his in February, A. Michael Noll his in April. Then came Nake.")).toEqual([
      "Nees showed his in February, A. Michael Noll his in April.",
      "Then came Nake.",
    ]);
    expect(sentences("The flats run B, E, A, D, G, C, F. Each adds one.")).toHaveLength(2);
    expect(sentences("It resolves to C. Then it rests.")).toHaveLength(2);
    // A note after a capitalised word is not an initial when a common opener follows it.
    expect(sentences("Orchestras tune to Concert A. It sounds at 440 Hz.")).toHaveLength(2);
    expect(sentences("Start on Middle C. Then go up.")).toHaveLength(2);
    expect(sentences("J. S. Bach wrote it. Then he died.")).toEqual(["J. S. Bach wrote it.", "Then he died."]);
    expect(sentences("No. Nothing proves it.")).toEqual(["No.", "Nothing proves it."]);
  });

  it("quotes a terse opening only for the kind of question it answers", () => {
    const fifth = hit(
      "How many semitones are in a perfect fifth?",
      "Seven. In twelve-tone equal temperament a fifth spans 700 cents, just short of the pure 3:2 fifth.",
    );
    expect(quotable(fifth.response!)).toEqual([fifth.response]);
    expect(questionKind("how many semitones in a fifth")).toBe("quantity");
    expect(questionKind("Which emotions share 741 Hz?")).toBe("what");
    expect(questionKind("is a fifth seven semitones")).toBe("yes-no");
    expect(questionKind("perfect fifth semitones")).toBeUndefined();
    expect(extractive("how many semitones in a perfect fifth", [fifth])).toMatch(/^Seven\. In twelve-tone/);
    // The same kind of question, where the opening's sentence fits the query better than the
    // question does (before: "A perfect fifth spans seven semitones…", the "Seven." dropped).
    const spans = hit(
      "How many semitones are in a perfect fifth?",
      "Seven. A perfect fifth spans seven semitones in twelve-tone equal temperament.",
    );
    expect(extractive("how many semitones does a perfect fifth span", [spans])).toMatch(/^Seven\. A perfect fifth/);
    // Before: "Seven. [1] In twelve-tone…", a number answering a question nobody asked.
    expect(extractive("what is a perfect fifth", [fifth])).toMatch(/^In twelve-tone equal temperament/);
    expect(extractive("semitones in a perfect fifth", [fifth])).toMatch(/^Seven\. In twelve-tone/);
    const tone = hit(
      "Which emotions share the 741 Hz tone?",
      "Anger and disgust. The catalog pairs both hot, rejecting emotions with one tone.",
    );
    expect(extractive("what emotions share the 741 hz tone", [tone])).toMatch(/^Anger and disgust\. The catalog/);
    expect(withoutParticle("Seven. In twelve-tone temperament.", true)).toBe("In twelve-tone temperament.");
    expect(withoutParticle("Seven. In twelve-tone temperament.")).toBe("Seven. In twelve-tone temperament.");
  });

  it("keeps a terse opening that the next sentence points back to", () => {
    const hooke = hit("Who first observed cells?", "Robert Hooke. He saw them in cork under a microscope in 1665.");
    // Before: "He saw them in cork… [1]", a pronoun naming no one.
    expect(extractive("what did robert hooke discover", [hooke])).toBe(
      "Robert Hooke. He saw them in cork under a microscope in 1665. [1]",
    );
    expect(withoutParticle("Robert Hooke. He saw them.", true)).toBe("Robert Hooke. He saw them.");
    expect(withoutParticle("Yes. It does.", true)).toBe("It does.");
  });

  it("takes a question of another kind with the same terms for another question", () => {
    const matches = [
      hit("Who invented the theremin?", "Leon Theremin, a Russian physicist, built it."),
      hit("When was the theremin invented?", "In 1920, in Russia, while researching proximity sensors."),
    ];
    // Before: "who" and "when" are stop words, so the first match was taken as asked exactly and led.
    expect(extractive("when was the theremin invented", matches)).toBe(
      "In 1920, in Russia, while researching proximity sensors. [2]",
    );
    expect(extractive("who invented the theremin", matches)).toMatch(
      /^Leon Theremin, a Russian physicist, built it\. \[1\]/,
    );
  });

  it("leads with the match asked exactly the query's question, wherever the search ranked it", () => {
    const matches = [
      hit("Does cymatics show that sound can heal the body?", "No. Cymatic patterns show how a surface responds."),
      hit("Who coined the word cymatics?", "Hans Jenny, in 1967."),
      hit("Is cymatics a real science?", "Cymatics is a descriptive name for acoustics experiments."),
      hit("What is the cymatic art style?", "A cymatic image of two frequencies."),
      hit("What is cymatics?", "Cymatics is the study of the patterns vibration makes. Hans Jenny named it."),
    ];
    // Before: "Cymatic patterns show how a surface responds. [1]".
    expect(extractive("what is cymatics", matches)).toBe("Cymatics is the study of the patterns vibration makes. [5]");
    // Another question about cymatics is not that one: the ranking decides as before.
    expect(extractive("is cymatics real", matches)).toMatch(/\[3\]$/);
  });

  it("meets British and American spellings alike", () => {
    expect(american("colour")).toBe("color");
    expect(american("recognise")).toBe("recognize");
    expect(american("centre")).toBe("center");
    expect(american("haemoglobin")).toBe("hemoglobin");
    expect(american("grey")).toBe("gray");
    expect(american("hour")).toBe("hour");
    expect(spellingVariants("color")).toEqual(["colour"]);
    expect(spellingVariants("analyse")).toEqual(["analyze"]);
    expect(spellingVariants("water")).toEqual([]);
    expect([...terms("Which colours are complementary?")]).toEqual([...terms("which colors are complementary")]);
    const wheel = [
      hit("What is Itten's wheel?", "Itten's wheel has twelve parts."),
      hit("Which colours are complementary?", "Colours opposite each other on a colour wheel."),
    ];
    expect(extractive("which colors are complementary", wheel)).toMatch(/^Colours opposite each other/);
  });
});

describe("knowledge questions without their conversational frame", () => {
  it.each([
    ["What do you know about the circle of fifths?", "the circle of fifths"],
    ["I want to know about delta waves", "delta waves"],
    ["Can you explain binaural beats, please", "binaural beats"],
    ["hey, can you tell me what a fifth is", "what a fifth is"],
    ["id like to learn more about Chladni", "chladni"],
    ["what is a tritone", "what is a tritone"],
    ["tell me", "tell me"],
  ])("reads %j as %j", (q, expected) => {
    expect(withoutFrame(normalizeQuery(q))).toBe(expected);
  });
});

describe("knowledge decline", () => {
  it("declines with no hits, or when the best match is below the threshold", () => {
    expect(shouldDecline([], 0.5)).toBe(true);
    expect(shouldDecline([hit("a", null, 0.2), hit("b", null, 0.4)], 0.5)).toBe(true);
    // The best over all hits, not the first: fusion may put a vector-only hit first.
    expect(shouldDecline([hit("a", null, 0), hit("b", null, 0.7)], 0.5)).toBe(false);
  });

  it("does not decline on hits from a search that reports no match", () => {
    expect(shouldDecline([hit("a", null)], 0.5)).toBe(false);
  });

  it("suggests the nearest matches' questions, distinct, at most three", () => {
    const s = suggestions([hit("q1", "r"), hit("q1", "r2"), hit("q2", null), hit("q3", null), hit("q4", null)]);
    expect(s).toEqual(["q1", "q2", "q3"]);
  });
});

describe("KNOWLEDGE_MIN_MATCH", () => {
  it("takes a share from 0 to 1 and names itself when it is not one", () => {
    expect(loadConfig({ KNOWLEDGE_MIN_MATCH: "0.25" }).knowledge.minMatch).toBe(0.25);
    expect(loadConfig({}).knowledge.minMatch).toBe(KNOWLEDGE_MIN_MATCH_DEFAULT);
    for (const bad of ["1.5", "-0.1", "half", "0.5x"])
      expect(() => loadConfig({ KNOWLEDGE_MIN_MATCH: bad })).toThrow(
        /KNOWLEDGE_MIN_MATCH must be a number from 0 to 1/,
      );
  });
});
