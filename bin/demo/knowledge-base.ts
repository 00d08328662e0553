/**
 * The curated demo knowledge base: `demo/knowledge-base/<domain>.jsonl` at the project root, one
 * example per line, `{"content", "response", "metadata": {"topic", "source", "evidence"}}`,
 * written for MC AI (a fresh embedded start imports it; `mcai demo-data` still generates
 * synthetic data for benchmarks).
 *
 * The folder is found from the project root, as `migrations/` is, so the same code reads it under
 * tsx/jest (from `bin/demo/`) and from the build (`dist/bin/demo/`): the folder ships beside
 * package.json, nothing is copied into dist/.
 */
import fs from "node:fs";
import path from "node:path";
import { domainOf, formatOf, MalformedFileError } from "../../services/datasets/records";
import { PROJECT_ROOT } from "../../services/lib/paths";

/** Where the knowledge base lives in an installed or checked-out mcai. */
export const KNOWLEDGE_BASE_DIR = path.join(PROJECT_ROOT, "demo", "knowledge-base");

/** How well a statement is supported: "claim" marks popular claims whose evidence is weak. */
export const EVIDENCE_LEVELS = ["established", "claim"] as const;
export type Evidence = (typeof EVIDENCE_LEVELS)[number];

/** One example as written in the files (and as `datasets.add` takes it). */
export interface KnowledgeExample {
  content: string;
  response: string;
  metadata: { topic: string; source: string; evidence: Evidence };
}

export interface KnowledgeDomain {
  /** The file's stem, by the importer's own rule (`domainOf`). */
  domain: string;
  examples: KnowledgeExample[];
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === "string" && v.trim() !== "";
}

/** Checks one parsed line; the message names the field that is wrong. */
function toKnowledgeExample(obj: unknown, file: string, line: number): KnowledgeExample {
  const bad = (detail: string) => new MalformedFileError(file, `line ${line}`, detail);
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw bad("not an object");
  const o = obj as Record<string, unknown>;
  if (!nonEmptyString(o.content)) throw bad("content must be a non-empty string");
  if (!nonEmptyString(o.response)) throw bad("response must be a non-empty string");
  const meta = o.metadata;
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) throw bad("metadata must be an object");
  const m = meta as Record<string, unknown>;
  if (!nonEmptyString(m.topic)) throw bad("metadata.topic must be a non-empty string");
  if (!nonEmptyString(m.source)) throw bad("metadata.source must be a non-empty string");
  if (!(EVIDENCE_LEVELS as readonly unknown[]).includes(m.evidence))
    throw bad(`metadata.evidence must be one of ${EVIDENCE_LEVELS.join(", ")}`);
  return {
    content: o.content,
    response: o.response,
    metadata: { topic: m.topic, source: m.source, evidence: m.evidence as Evidence },
  };
}

/** The examples of one JSONL file; a malformed line throws with the file and line number. */
function readDomainFile(file: string): KnowledgeExample[] {
  const examples: KnowledgeExample[] = [];
  fs.readFileSync(file, "utf8")
    .split("\n")
    .forEach((text, i) => {
      if (text.trim() === "") return;
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch (err) {
        throw new MalformedFileError(file, `line ${i + 1}`, (err as Error).message);
      }
      examples.push(toKnowledgeExample(obj, file, i + 1));
    });
  return examples;
}

/**
 * Every domain of the knowledge base, in file-name order: one per `.jsonl` file in `dir`.
 * @throws MalformedFileError when a line is not JSON or misses a field; ENOENT when `dir` is missing.
 */
export function loadKnowledgeBase(dir: string = KNOWLEDGE_BASE_DIR): KnowledgeDomain[] {
  return fs
    .readdirSync(dir)
    .filter((name) => formatOf(name) === "jsonl")
    .sort()
    .map((name) => {
      const file = path.join(dir, name);
      return { domain: domainOf(file), examples: readDomainFile(file) };
    });
}
