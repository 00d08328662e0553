/**
 * Embedded mode's hand-off file. A node that owns a data folder writes `node.json` there: its
 * pid, its HTTP port and a fresh admin token (mode 0600). `mcai import` and `mcai rotate`, finding
 * the folder busy, send their work to that node with the token: whoever can read the data folder
 * could read the database anyway.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { isProcessAlive } from "../lib/process-alive";

export interface NodeFile {
  pid: number;
  port: number;
  token: string;
}

export function nodeFilePath(dataDir: string): string {
  return path.join(dataDir, "node.json");
}

export function newAdminToken(): string {
  return crypto.randomBytes(24).toString("hex");
}

export function writeNodeFile(dataDir: string, info: NodeFile): void {
  const file = nodeFilePath(dataDir);
  fs.writeFileSync(file, JSON.stringify(info), { mode: 0o600 });
}

/** The running node's file, when its process is alive. */
export function readNodeFile(dataDir: string): NodeFile | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(nodeFilePath(dataDir), "utf8")) as NodeFile;
    return isProcessAlive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

export function removeNodeFile(dataDir: string, pid = process.pid): void {
  try {
    const info = JSON.parse(fs.readFileSync(nodeFilePath(dataDir), "utf8")) as NodeFile;
    if (info.pid === pid) fs.rmSync(nodeFilePath(dataDir), { force: true });
  } catch {
    // none
  }
}
