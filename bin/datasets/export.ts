/**
 * The work of `mcai export` (and the REPL's export): each domain's examples to DIR/<domain>.jsonl
 * in the shape `mcai import` reads, and with --archived its archived examples to
 * DIR/archive/<domain>.jsonl (a folder import skips, so importing DIR restores the live set).
 * Each file streams from the data's owner through a `Target` and is written under a temporary
 * name, renamed when complete: a failed export never leaves a truncated file under the real name.
 */
import fs from "node:fs";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import cliProgress from "cli-progress";
import type { Config } from "../../services/lib/config";
import type { DatasetRow } from "../../services/datasets/store";
import { datasetTarget, type Target } from "./target";
import { printTable } from "./table";

export interface ExportOptions {
  out: string;
  /** One domain; all when undefined. */
  domain?: string;
  archived: boolean;
}

interface Written {
  examples: number;
  bytes: number;
}

/** Counts lines and bytes as they pass, moving the bar by lines. */
function lineCounter(written: Written, bar?: cliProgress.SingleBar): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      written.bytes += chunk.length;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) written.examples++;
      bar?.update(written.examples);
      done(null, chunk);
    },
  });
}

async function writeFile(source: Readable, file: string, expected: number): Promise<Written> {
  const written: Written = { examples: 0, bytes: 0 };
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: `${path.basename(file)} [{bar}] {percentage}% | {value}/{total} examples`, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(Math.max(expected, 1), 0);
  const partial = `${file}.partial`;
  try {
    await pipeline(source, lineCounter(written, bar), fs.createWriteStream(partial));
    fs.renameSync(partial, file);
    return written;
  } catch (err) {
    fs.rmSync(partial, { force: true });
    throw err;
  } finally {
    bar?.stop();
  }
}

/** Exports through the target this config names; returns the exit code. */
export async function runExport(config: Config, o: ExportOptions): Promise<number> {
  return exportTo(await datasetTarget(config), o);
}

async function chosen(target: Target, domain?: string): Promise<DatasetRow[]> {
  const all = await target.datasets();
  if (domain === undefined) return all;
  const one = all.filter((d) => d.domain === domain);
  if (!one.length) throw new Error(`no dataset "${domain}"`);
  return one;
}

/** Exports through `target` (closed at the end); prints a summary table; 1 when any file failed. */
export async function exportTo(target: Target, o: ExportOptions): Promise<number> {
  const rows: string[][] = [];
  const failures: string[] = [];
  let total = 0;
  try {
    const datasets = await chosen(target, o.domain);
    console.log(`exporting ${datasets.length} domains from ${target.describe} to ${o.out}`);
    fs.mkdirSync(o.out, { recursive: true });
    if (o.archived) fs.mkdirSync(path.join(o.out, "archive"), { recursive: true });
    for (const d of datasets) {
      const row = [d.domain, "0", o.archived ? "0" : "-", "0"];
      const parts: [boolean, string, number, number][] = [
        [false, path.join(o.out, `${d.domain}.jsonl`), d.example_count, 1],
      ];
      if (o.archived) parts.push([true, path.join(o.out, "archive", `${d.domain}.jsonl`), d.archived_count, 2]);
      for (const [archived, file, expected, col] of parts) {
        try {
          const w = await writeFile(await target.exportStream(d.domain, archived), file, expected);
          row[col] = String(w.examples);
          row[3] = String(Number(row[3]) + w.bytes);
          total += w.examples;
        } catch (err) {
          failures.push(`${file}: ${(err as Error).message}`);
        }
      }
      rows.push(row);
    }
  } finally {
    await target.close();
  }
  printTable(["domain", "examples", "archived", "bytes"], rows);
  console.log(`exported ${total} examples to ${o.out}`);
  for (const f of failures) console.error(`failed (no file written): ${f}`);
  return failures.length ? 1 : 0;
}
