/**
 * Runs once before the suites: builds dist/ (the tests spawn the real program), and finds the
 * Postgres and Redis the integration suites use.
 *
 * DATABASE_URL / REDIS_URL set (CI): the server must answer, or the run fails here, loudly.
 * Unset (a newcomer's `npm test`): 127.0.0.1 is tried; when it does not answer, the suites that
 * need it are skipped with a printed line saying so.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import net from "node:net";

const ROOT = path.resolve(__dirname, "..", "..");

function reachable(url: string, defPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect({ host: u.hostname, port: Number(u.port || defPort) });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(2000, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

async function resolveServer(
  name: string,
  envVar: string,
  fallback: string,
  port: number,
  testVar: string,
): Promise<void> {
  const given = process.env[envVar];
  const url = given || fallback;
  const ok = await reachable(url, port);
  if (!ok && given)
    throw new Error(`${envVar}=${given} is set but ${name} does not answer: the suites that need it cannot run`);
  if (!ok) {
    process.stdout.write(
      `\n[mcai tests] ${name} does not answer at ${fallback}: the suites that need ${name} are SKIPPED (set ${envVar} to run them)\n`,
    );
    process.env[testVar] = "";
    return;
  }
  process.env[testVar] = url;
}

export default async function globalSetup(): Promise<void> {
  execFileSync(process.execPath, [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
    cwd: ROOT,
    stdio: "inherit",
  });
  await resolveServer(
    "Postgres",
    "DATABASE_URL",
    "postgres://postgres@127.0.0.1:5432/test",
    5432,
    "MCAI_TEST_DATABASE_URL",
  );
  await resolveServer("Redis", "REDIS_URL", "redis://127.0.0.1:6379", 6379, "MCAI_TEST_REDIS_URL");
}
