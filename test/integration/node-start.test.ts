/**
 * A node's start while its embedded database opens: the services that take no database when they
 * are created (the gateway compiles its routes then) are created during the open, the others
 * once it is open and migrated; a failed open stops what was created and rejects.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { startNode } from "../../bin/node";
import { loadConfig, SERVICE_NAMES } from "../../services/lib/config";
import type { Db } from "../../services/lib/db";
import { getJson } from "../helpers/processes";
import { memoryDb } from "../helpers/pglite";

// A node given its database's open owns the data folder (it writes its node file there).
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcai-node-start-"));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));
const config = () =>
  loadConfig({ PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "warn", MEMORY_WARN_MB: "8192", MCAI_DATA_DIR: dataDir });

/**
 * Records each createService with whether the open had ended by then. The open ends one turn after
 * the gateway is created, or after 2 s (a start that waits for the open before creating anything).
 */
function watchCreation(result: () => Promise<Db>) {
  const created: [name: string, afterOpen: boolean][] = [];
  let ended = false;
  let end!: () => void;
  const opening = new Promise<Db>((resolve, reject) => {
    end = () => {
      if (ended) return;
      ended = true;
      result().then(resolve, reject);
    };
  });
  const timer = setTimeout(end, 2000);
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the broker as `this`
  const original = ServiceBroker.prototype.createService;
  const spy = jest.spyOn(ServiceBroker.prototype, "createService").mockImplementation(function (
    this: ServiceBroker,
    schema: ServiceSchema,
  ) {
    // Moleculer's own $node service is created with the broker.
    if (!schema.name.startsWith("$")) created.push([schema.name, ended]);
    if (schema.name === "api") setImmediate(end);
    return original.call(this, schema);
  });
  const restore = () => {
    clearTimeout(timer);
    spy.mockRestore();
  };
  return { created, opening, restore };
}

describe("a node's start while the database opens", () => {
  it("creates the gateway, compute and metrics during the open, the database's services after it", async () => {
    const w = watchCreation(() => memoryDb());
    try {
      const node = await startNode(config(), SERVICE_NAMES, { opening: w.opening });
      try {
        expect(Object.fromEntries(w.created)).toEqual({
          api: false,
          compute: false,
          metrics: false,
          datasets: true,
          knowledge: true,
          jobs: true,
        });
        const api = node.broker.getLocalService("api") as unknown as { server: { address(): { port: number } } };
        const health = await getJson(`http://127.0.0.1:${api.server.address().port}/api/health`);
        expect(health.status).toBe(200);
        expect(health.body).toMatchObject({ status: "ok", db: { driver: "pglite" } });
      } finally {
        await node.stop();
      }
    } finally {
      w.restore();
    }
  });

  it("stops the services it created and rejects with the open's error when the open fails", async () => {
    const w = watchCreation(() => Promise.reject(new Error("the folder is damaged")));
    const stopped = jest.spyOn(ServiceBroker.prototype, "stop");
    try {
      await expect(startNode(config(), SERVICE_NAMES, { opening: w.opening })).rejects.toThrow("the folder is damaged");
      expect(w.created.map(([name]) => name)).toEqual(["api", "compute", "metrics"]);
      expect(stopped).toHaveBeenCalledTimes(1);
    } finally {
      stopped.mockRestore();
      w.restore();
    }
  });
});
