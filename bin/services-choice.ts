/**
 * Which services a node runs and whether it needs the database: read before anything heavy loads,
 * so `mcai start` can begin opening the embedded database while Moleculer and the services load.
 */
import fs from "node:fs";
import path from "node:path";
import { DB_SERVICES, SERVICE_NAMES, type Config, type ServiceName } from "../services/lib/config";

/** A requested service that this build does not ship. */
export class UnknownServiceError extends Error {
  constructor(readonly service: string) {
    super(`service ${service} is not part of this build (services/${service}.service.ts is missing)`);
  }
}

const SERVICES_DIR = path.resolve(__dirname, "..", "services");

/** The built file of service `name`, or undefined when this build does not ship it. */
export function serviceFile(name: ServiceName): string | undefined {
  const ext = path.extname(__filename);
  const file = path.join(SERVICES_DIR, `${name}.service${ext}`);
  return fs.existsSync(file) ? file : undefined;
}

/**
 * Which services a node runs. An explicit list must name built services only; the default
 * (every service) is whatever this build ships. `metrics` runs on every node: the gateway's
 * /metrics and health read each node's registry and memory through it.
 */
export function resolveServices(config: Config, explicit: boolean): ServiceName[] {
  const chosen = explicit ? [...config.services] : config.services.filter((n) => serviceFile(n) !== undefined);
  const missing = chosen.find((n) => serviceFile(n) === undefined);
  if (missing) throw new UnknownServiceError(missing);
  return SERVICE_NAMES.filter((n) => chosen.includes(n) || (n === "metrics" && serviceFile(n) !== undefined));
}

/**
 * A node opens the database when it runs a service that needs one, and in embedded mode (no
 * transporter) when it runs the gateway: then it is the whole system and owns the data folder.
 */
export function nodeNeedsDb(config: Config, services: readonly ServiceName[]): boolean {
  if (services.some((s) => DB_SERVICES.includes(s))) return true;
  return !config.transporter && services.includes("api");
}
