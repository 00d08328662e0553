/**
 * The work of `mcai import` and `mcai rotate` (and of the REPL's import and rotate), and where it
 * goes. It works whether or not a node already runs on the data: in a cluster it joins over the
 * transporter; on Postgres it runs a local node; on an embedded folder owned by a running node it
 * hands the work to that node's API with the token it left in the folder.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import cliProgress from "cli-progress";
import type { Config } from "../../services/lib/config";
import { DataDirBusyError } from "../../services/lib/db";
import { startNode, type McaiNode } from "../node";
import { httpJson, httpStream, runningNode } from "../embedded/running-node";
import { domainOf, formatOf, type FileFormat } from "../../services/datasets/records";
import type { ImportSummary } from "../../services/datasets/importer";
import type { RotationResult } from "../../services/datasets/rotate";
import type { DatasetRow } from "../../services/datasets/store";
import { printTable } from "./table";

/** Where the work goes. */
export interface Target {
  describe: string;
  /** Imports one file; a node's import job reports its progress (0-1) to `onProgress`. */
  importStream(
    stream: Readable,
    meta: { domain: string; format: FileFormat; filename: string },
    onProgress?: (progress: number) => void,
  ): Promise<ImportSummary>;
  rotate(params: { max?: number; dryRun?: boolean }): Promise<RotationResult>;
  /** Every dataset with its counts. */
  datasets(): Promise<DatasetRow[]>;
  /** A domain's live (or archived) examples as JSONL, streamed. */
  exportStream(domain: string, archived: boolean): Promise<Readable>;
  close(): Promise<void>;
}

/** Work through a node's broker; `owned` nodes are stopped by close(). */
export function brokerTarget(node: McaiNode, describe: string, owned = true): Target {
  return {
    describe,
    importStream: (stream, meta) =>
      node.broker.call<ImportSummary, Readable>("datasets.import", stream, { meta, timeout: 0 }),
    rotate: (params) => node.broker.call<RotationResult, typeof params>("datasets.rotate", params, { timeout: 0 }),
    datasets: async () => (await node.broker.call<{ datasets: DatasetRow[] }>("datasets.list")).datasets,
    exportStream: (domain, archived) =>
      node.broker.call<Readable, { domain: string; archived: boolean }>(
        "datasets.export",
        { domain, archived },
        { timeout: 0 },
      ),
    close: async () => {
      if (owned) await node.stop();
    },
  };
}

/** How often `mcai import` asks a running node about its import job. */
const JOB_POLL_MS = 250;

interface ImportJobState {
  status: string;
  progress: number;
  result?: ImportSummary;
  error?: string;
}

/** Follows an import job on the node until it ends; `onProgress` gets its progress (0-1). */
async function followImportJob(
  port: number,
  token: string,
  pollUrl: string,
  onProgress?: (p: number) => void,
): Promise<ImportSummary> {
  for (;;) {
    const j = await httpJson<ImportJobState>(port, token, "GET", pollUrl);
    onProgress?.(j.progress);
    if (j.status === "completed" && j.result) return j.result;
    if (j.status === "failed" || j.status === "cancelled") throw new Error(j.error ?? `the import job was ${j.status}`);
    await new Promise((r) => setTimeout(r, JOB_POLL_MS));
  }
}

function httpTarget(port: number, token: string): Target {
  return {
    describe: `the running node's API on port ${port}`,
    // The node stores the file and answers 202 with an import job at once; the import runs there
    // as a job (no request timeout), and this follows it to its summary.
    importStream: async (stream, meta, onProgress) => {
      const submitted = await httpJson<{ poll_url: string }>(
        port,
        token,
        "POST",
        `/api/datasets/${meta.domain}/import?format=${meta.format}&filename=${encodeURIComponent(meta.filename)}`,
        stream,
      );
      return followImportJob(port, token, submitted.poll_url, onProgress);
    },
    rotate: (params) => httpJson(port, token, "POST", "/api/admin/datasets/rotate", JSON.stringify(params)),
    datasets: async () => (await httpJson<{ datasets: DatasetRow[] }>(port, token, "GET", "/api/datasets")).datasets,
    exportStream: (domain, archived) =>
      httpStream(port, token, `/api/datasets/${domain}/export${archived ? "?archived=true" : ""}`),
    close: () => Promise.resolve(),
  };
}

/** Finds where to send dataset work for this config. */
export async function datasetTarget(config: Config): Promise<Target> {
  if (config.transporter) {
    const node = await startNode({ ...config, nodeId: `cli-${os.hostname()}-${process.pid}` }, [], { role: "repl" });
    await node.broker.waitForServices(["datasets"], 15_000);
    return brokerTarget(node, "the cluster");
  }
  try {
    const node = await startNode(config, ["datasets", "compute"]);
    return brokerTarget(node, config.databaseUrl ? "Postgres" : `the embedded database in ${config.dataDir}`);
  } catch (err) {
    if (!(err instanceof DataDirBusyError)) throw err;
    const info = runningNode(config.dataDir, err);
    return httpTarget(info.port, info.token);
  }
}

export interface FilePlan {
  file: string;
  format?: FileFormat;
  skipped?: string;
}

/** The files under `paths`, with folders and files named "archive" left out. */
export function listFiles(paths: string[]): FilePlan[] {
  const out: FilePlan[] = [];
  const visit = (p: string) => {
    const stat = fs.statSync(p);
    const stem = path.basename(p, stat.isDirectory() ? "" : path.extname(p)).toLowerCase();
    if (stem === "archive") return;
    if (stat.isDirectory()) {
      for (const e of fs.readdirSync(p).sort()) visit(path.join(p, e));
      return;
    }
    const format = formatOf(p);
    out.push(format ? { file: p, format } : { file: p, skipped: "not .json, .jsonl or .txt" });
  };
  paths.forEach((p) => visit(path.resolve(p)));
  return out;
}

function counting(total: number, bar?: cliProgress.SingleBar): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      bar?.update(Math.min(seen, total));
      done(null, chunk);
    },
  });
}

interface Row {
  domain: string;
  read: number;
  added: number;
  duplicates: number;
  rejected: number;
}

function printImportTable(rows: Row[]): void {
  printTable(
    ["domain", "read", "added", "duplicates", "rejected"],
    rows.map((r) => [r.domain, String(r.read), String(r.added), String(r.duplicates), String(r.rejected)]),
  );
}

/** Imports the files; returns the exit code (1 when any file failed). */
export async function runImport(config: Config, paths: string[], domain?: string): Promise<number> {
  return importTo(await datasetTarget(config), paths, domain);
}

/** Imports the files through `target` (closed at the end); prints a summary table per domain. */
export async function importTo(target: Target, paths: string[], domain?: string): Promise<number> {
  const plans = listFiles(paths);
  console.log(`importing ${plans.filter((p) => p.format).length} files into ${target.describe}`);
  const totals = new Map<string, Row>();
  const failures: string[] = [];
  try {
    for (const plan of plans) {
      if (!plan.format) {
        console.log(`skipped ${plan.file}: ${plan.skipped}`);
        continue;
      }
      const d = domain ?? domainOf(plan.file);
      const size = fs.statSync(plan.file).size;
      const bar = process.stderr.isTTY
        ? new cliProgress.SingleBar(
            {
              format: `${path.basename(plan.file)} [{bar}] {percentage}% (sent, then imported)`,
              stream: process.stderr,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      // Sending the file is the first half of the bar; a running node's import job, the second.
      bar?.start(2 * size, 0);
      const source = fs.createReadStream(plan.file);
      try {
        const counter = counting(size, bar);
        const done = target.importStream(
          counter,
          { domain: d, format: plan.format, filename: path.basename(plan.file) },
          (p) => bar?.update(size + Math.round(p * size)),
        );
        await Promise.all([pipeline(source, counter).catch(() => undefined), done]);
        const s = await done;
        const t = totals.get(d) ?? { domain: d, read: 0, added: 0, duplicates: 0, rejected: 0 };
        for (const k of ["read", "added", "duplicates", "rejected"] as const) t[k] += s[k];
        totals.set(d, t);
      } catch (err) {
        const msg = (err as Error).message;
        const base = `${path.basename(plan.file)}: `;
        failures.push(`${plan.file}: ${msg.startsWith(base) ? msg.slice(base.length) : msg}`);
      } finally {
        source.destroy();
        bar?.stop();
      }
    }
  } finally {
    await target.close();
  }
  printImportTable([...totals.values()].sort((a, b) => a.domain.localeCompare(b.domain)));
  for (const f of failures) console.error(`failed (nothing from it was written): ${f}`);
  return failures.length ? 1 : 0;
}

export async function runRotate(config: Config, max: number | undefined, dryRun: boolean): Promise<number> {
  return rotateWith(await datasetTarget(config), max, dryRun);
}

export async function rotateWith(target: Target, max: number | undefined, dryRun: boolean): Promise<number> {
  try {
    const r = await target.rotate({ max, dryRun });
    if (r.skipped) {
      console.log("another node is rotating now: nothing done");
      return 0;
    }
    if (!r.domains.length) console.log(`no domain has more than ${r.max} examples`);
    for (const d of r.domains)
      console.log(
        `${d.domain}: ${dryRun ? "would move" : "moved"} ${d.moved} examples to the archive${d.version ? ` (version ${d.version})` : ""}`,
      );
    return 0;
  } finally {
    await target.close();
  }
}
