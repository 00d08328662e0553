import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import {
  contentHash,
  domainOf,
  formatOf,
  MalformedFileError,
  parseStream,
  toExample,
  type RecordResult,
} from "../../services/datasets/records";
import { listFiles } from "../../bin/datasets/target";
import { encodeCursor, parseCursor } from "../../services/datasets/cursor";

async function all(file: string, format: "json" | "jsonl" | "txt", text: string): Promise<RecordResult[]> {
  const out: RecordResult[] = [];
  for await (const r of parseStream(file, format, Readable.from([Buffer.from(text)]), 1000, 1 << 20)) out.push(r);
  return out;
}

describe("dataset records", () => {
  it("map content, completion or prompt and response; other fields go to metadata", () => {
    expect(toExample({ content: " Hi ", response: "Hello", lang: "en" }, 100)).toEqual({
      content: "Hi",
      response: "Hello",
      metadata: { lang: "en" },
    });
    expect(toExample({ prompt: "Q", completion: "A" }, 100)).toEqual({
      content: "A",
      response: null,
      metadata: { prompt: "Q" },
    });
    expect(toExample({ prompt: "Q", response: "R" }, 100)).toEqual({ content: "Q", response: "R", metadata: {} });
    expect(toExample({ other: 1 }, 100)).toEqual({ rejected: "no content, completion or prompt" });
    expect(toExample({ content: "x".repeat(101) }, 100)).toEqual({ rejected: "longer than 100 characters" });
    expect(toExample(42, 100)).toEqual({ rejected: "not an object" });
  });

  it("take a metadata object as the metadata itself (what mcai's own files and exports write)", () => {
    expect(toExample({ content: "Q", response: "A", metadata: { topic: "t" }, lang: "en" }, 100)).toEqual({
      content: "Q",
      response: "A",
      metadata: { topic: "t", lang: "en" },
    });
    expect(toExample({ content: "Q", metadata: "plain" }, 100)).toEqual({
      content: "Q",
      response: null,
      metadata: { metadata: "plain" },
    });
  });

  it("read JSON as {examples: [...]} or a bare array", async () => {
    expect(await all("a.json", "json", '{"examples":[{"content":"a"},{"content":"b"}]}')).toHaveLength(2);
    expect(await all("a.json", "json", '[{"content":"a"}]')).toEqual([{ content: "a", response: null, metadata: {} }]);
  });

  it("report malformed JSON with its line and column", async () => {
    await expect(all("bad.json", "json", '[\n{"content": "a"},\n{"content" "b"}]')).rejects.toThrow(
      /^bad\.json: line 3, column 12/,
    );
    await expect(all("bad.json", "json", '{"items": []}')).rejects.toThrow(MalformedFileError);
  });

  it("stream JSONL, skipping blank lines, and report a bad line by number", async () => {
    expect(await all("a.jsonl", "jsonl", '{"content":"a"}\n\n{"content":"b"}\n')).toHaveLength(2);
    await expect(all("b.jsonl", "jsonl", '{"content":"a"}\n{"content":\n')).rejects.toThrow(/^b\.jsonl: line 2: /);
  });

  it("stream TXT as blank-line-separated paragraphs", async () => {
    const r = await all("t.txt", "txt", "first line\nsame paragraph\n\n\nsecond\n\nthird");
    expect(r.map((x) => (x as { content: string }).content)).toEqual(["first line\nsame paragraph", "second", "third"]);
    await expect(all("t.txt", "txt", "ok\nbin\u0000ary\n")).rejects.toThrow(/line 2: binary data/);
  });

  it("name domains by file stem and formats by extension", () => {
    expect(domainOf("/x/Music Theory.jsonl")).toBe("music-theory");
    expect(formatOf("a.ndjson")).toBe("jsonl");
    expect(formatOf("a.csv")).toBeUndefined();
    expect(contentHash("a  b\n")).toBe(contentHash("a b"));
    expect(contentHash("a b")).not.toBe(contentHash("A b"));
  });

  it("walk folders, skipping folders and files named archive", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-files-"));
    fs.mkdirSync(path.join(dir, "archive"));
    fs.mkdirSync(path.join(dir, "more"));
    for (const f of ["a.json", "archive/old.json", "archive.jsonl", "more/b.txt", "notes.md"])
      fs.writeFileSync(path.join(dir, f), "[]");
    const plans = listFiles([dir]).map((p) => [path.relative(dir, p.file), p.format ?? p.skipped]);
    expect(plans).toEqual([
      ["a.json", "json"],
      ["more/b.txt", "txt"],
      ["notes.md", "not .json, .jsonl or .txt"],
    ]);
  });

  it("make opaque cursors that carry their dataset, and refuse forged ones", () => {
    expect(parseCursor(encodeCursor("7", "123"))).toEqual({ datasetId: "7", lastId: "123" });
    expect(() => parseCursor("abc")).toThrow(/cursor is not valid/);
    expect(() => parseCursor(Buffer.from("e2:7:-5").toString("base64url"))).toThrow(/cursor is not valid/);
    expect(() => parseCursor(Buffer.from("e2:7:9999999999999999999").toString("base64url"))).toThrow(
      /cursor is not valid/,
    );
    expect(() => parseCursor(Buffer.from("e2:9999999999999999999:1").toString("base64url"))).toThrow(
      /cursor is not valid/,
    );
  });
});
