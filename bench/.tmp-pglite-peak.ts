import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
const hwm = () => Math.round(Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))![1]) / 1024);
const rss = () => Math.round(Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))![1]) / 1024);
async function main() {
  const mode = process.argv[2];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgpeak-"));
  const t0 = performance.now();
  let pg: PGlite;
  if (mode === "initdb") pg = await PGlite.create(dir, { extensions: { vector } });
  else if (mode === "load") {
    const buf = fs.readFileSync(process.argv[3]);
    pg = await PGlite.create(dir, { extensions: { vector }, loadDataDir: new Blob([buf]) });
  } else if (mode === "dump") {
    pg = await PGlite.create("memory://", { extensions: { vector } });
    const blob = await pg.dumpDataDir("none");
    fs.writeFileSync(process.argv[3], Buffer.from(await blob.arrayBuffer()));
  } else if (mode === "reopen") {
    pg = await PGlite.create(process.argv[3], { extensions: { vector } });
  } else throw new Error(mode);
  const ms = performance.now() - t0;
  await pg.query("select 1");
  console.log(`${mode}: ${Math.round(ms)} ms, rss ${rss()} MB, peak ${hwm()} MB, dir ${dir}`);
  await pg.close();
}
void main();
