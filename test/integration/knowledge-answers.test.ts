import http from "node:http";
import type { AddressInfo } from "node:net";
import { startTestNode, type TestNode } from "../helpers/node";
import { memoryDb } from "../helpers/pglite";
import { getJson } from "../helpers/processes";
import { loadKnowledgeBase } from "../../bin/demo/knowledge-base";
import { DECLINE_TEXT } from "../../services/knowledge/answer";
import { expectStatus } from "../helpers/expect";

let t: TestNode;
let llmCalls = 0;
let server: http.Server;
const ask = (q: string, extra = "") => getJson(`${t.url}/api/knowledge?q=${encodeURIComponent(q)}${extra}`);

// The demo knowledge base a fresh embedded start imports, and an LLM stand-in that counts its calls.
beforeAll(async () => {
  server = http.createServer((req, res) => {
    llmCalls++;
    req.resume();
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ choices: [{ message: { content: "a model's answer [1]" } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  t = await startTestNode(
    { RATE_LIMIT: "0", COMPUTE_THREADS: "1", LLM_URL: url },
    ["api", "datasets", "compute", "knowledge"],
    await memoryDb(),
  );
  for (const { domain, examples } of loadKnowledgeBase())
    await t.node.broker.call("datasets.add", { domain, examples });
}, 120_000);
afterAll(async () => {
  await t.node.stop();
  await new Promise((r) => server.close(r));
});

describe("knowledge.query declines", () => {
  it("declines an off-topic question with the nearest questions as suggestions, and never asks the model", async () => {
    const before = llmCalls;
    const r = await ask("who won the 1998 world cup?");
    expectStatus(r, 200);
    expect(r.body).toMatchObject({ source: "none", cached: false, answer: DECLINE_TEXT });
    expect(r.body.suggestions.length).toBeGreaterThan(0);
    for (const s of r.body.suggestions) expect(typeof s).toBe("string");
    expect(llmCalls).toBe(before);
    // A decline is cached like any answer, and stays a decline.
    const again = await ask("who won the 1998 world cup?");
    expect(again.body).toMatchObject({ source: "none", cached: true, suggestions: r.body.suggestions });
    // In L2 too (the durable tier a gateway cut from Redis answers from).
    await t.node.broker.cacher!.clean("knowledge:q:**");
    const fromL2 = await ask("who won the 1998 world cup?");
    expect(fromL2.body).toMatchObject({ source: "none", cached: true, cache_tier: "l2", answer: DECLINE_TEXT });
  });

  it("still answers, through the model, what the datasets know", async () => {
    const before = llmCalls;
    const r = await ask("what is the frequency of middle C?");
    expect(r.body).toMatchObject({ source: "llm", answer: "a model's answer [1]" });
    expect(llmCalls).toBe(before + 1);
  });
});

describe("knowledge.query extractive answers", () => {
  let plain: TestNode;
  beforeAll(async () => {
    plain = await startTestNode(
      { RATE_LIMIT: "0", COMPUTE_THREADS: "1" },
      ["api", "datasets", "compute", "knowledge"],
      await memoryDb(),
    );
    const b = plain.node.broker;
    for (const { domain, examples } of loadKnowledgeBase()) await b.call("datasets.add", { domain, examples });
    await b.call("datasets.add", {
      domain: "lutherie",
      examples: [
        {
          content: "How is a violin made?",
          response:
            "A violin's top is carved from spruce and its back from maple. The sound post, a small dowel of spruce wedged inside the body, carries the vibration from the top to the back. Varnish is applied last.",
        },
      ],
    });
  }, 120_000);
  afterAll(() => plain.node.stop());
  const askPlain = (q: string) => getJson(`${plain.url}/api/knowledge?q=${encodeURIComponent(q)}`);

  it("cites the sentence that answers, not the whole response", async () => {
    const r = await askPlain("what does the sound post of a violin carry?");
    expect(r.body.source).toBe("dataset");
    expect(r.body.matches[0].content).toBe("How is a violin made?");
    expect(r.body.answer).toContain(
      "The sound post, a small dowel of spruce wedged inside the body, carries the vibration from the top to the back. [1]",
    );
    expect(r.body.answer).not.toContain("Varnish");
  });

  it("answers in American spelling from the British demo base, and quotes no bare Yes to a statement", async () => {
    // The base writes "recognise" and "colour": before, this question was declined.
    const r = await askPlain("which emotions can mc ai recognize?");
    expect(r.body.source).toBe("dataset");
    expect(r.body.answer).toMatch(/^Twelve: joy, sadness/);
    const hooke = await askPlain("sand patterns before chladni");
    expect(hooke.body.answer).toMatch(/^Robert Hooke recorded/);
    // Typed on a phone: "whats" was the lexeme `what`, held by no example, and the question was declined.
    const bare = await askPlain("whats the best frequency for sleep");
    expect(bare.body.source).toBe("dataset");
    // "know" and "want" are terms no example holds: with them the search's match fell under the threshold.
    for (const q of ["what do you know about the circle of fifths", "i want to know about delta waves"])
      expect((await askPlain(q)).body.source).toBe("dataset");
    // A question the base did not answer before (it led with why minor keys borrow a major V).
    expect((await askPlain("how do i make a minor chord")).body.answer).toMatch(
      /^Take the root, the note a minor third/,
    );
    const asked = await askPlain("did anyone see sand patterns before chladni?");
    expect(asked.body.answer).toMatch(/^Yes\. Robert Hooke recorded/);
  });

  it("answers a question the base holds with that example, wherever the search ranked it, and whole", async () => {
    // The search ranked "What is cymatics?" 5th (the examples about healing claims repeat the word
    // more); the answer led with "Cymatic patterns show how… they say nothing about effects on cells".
    const cymatics = await askPlain("what is cymatics?");
    expect(cymatics.body.answer).toMatch(/^Cymatics is the study of the visible patterns/);
    expect((await askPlain("What are binaural beats")).body.answer).toMatch(/^Binaural beats are a beat you hear/);
    // Sentences end neither at an initial nor at "et al.".
    expect((await askPlain("who introduced the cent as a unit")).body.answer).toContain("Alexander J. Ellis");
    expect((await askPlain("is surprise the only gamma emotion")).body.answer).toContain("(Keil et al. 2001)");
    // The README's own example: "Seven. [1]" answered it (the opening of "How many semitones…");
    // the base now holds the question itself.
    expect((await askPlain("what is a perfect fifth")).body.answer).toMatch(
      /^A perfect fifth is the interval of seven/,
    );
  });

  it("does not answer what frequency calms anxiety with a note's frequency", async () => {
    const r = await askPlain("what frequency calms anxiety?");
    expectStatus(r, 200);
    expect(r.body.answer).not.toMatch(/twelve-tone|equal temperament|\b[A-G][#♯b♭]?\d\b/);
    if (r.body.source === "dataset") expect(r.body.answer).toMatch(/anxi|calm/i);
    else expect(r.body.source).toBe("none");
  });
});
