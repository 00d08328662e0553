/** An in-process mcai node for suites that talk to the gateway over real HTTP. */
import { loadConfig, type ServiceName } from "../../services/lib/config";
import type { Db } from "../../services/lib/db";
import { startNode, type McaiNode } from "../../bin/node";

export interface TestNode {
  node: McaiNode;
  /** http://127.0.0.1:<port> of the gateway. */
  url: string;
}

/** Starts a node on a free port with `env` as its whole environment (plus test defaults). */
export async function startTestNode(env: Record<string, string>, services: ServiceName[], db?: Db): Promise<TestNode> {
  // An in-process node measures the jest worker's RSS, which every suite in that worker shares (a dozen
  // PGlite instances pass 1 GB): the memory guardrail is set above it unless a test sets its own.
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "warn", MEMORY_WARN_MB: "8192", ...env });
  const node = await startNode(config, services, { db });
  const api = node.broker.getLocalService("api") as unknown as { server?: { address(): { port: number } } } | undefined;
  const port = api?.server?.address().port ?? 0;
  return { node, url: `http://127.0.0.1:${port}` };
}
