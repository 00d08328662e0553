import type { McaiNode } from "../node";
import { runtimeOf } from "../../services/lib/runtime";
import type { AddParams } from "../../services/datasets.service";
import { demoExamples } from "./demo-data";

/** Examples a fresh embedded start imports, so a newcomer sees something at once. */
export const FIRST_START_EXAMPLES = 600;

/**
 * On the first start of an embedded data folder (this node just created the datasets tables),
 * with DEMO_DATA on and the datasets service here, imports a small demo set.
 */
export async function importDemoOnFirstStart(node: McaiNode): Promise<void> {
  const { config } = node;
  const { ownsDataDir } = runtimeOf(node.broker);
  if (
    !ownsDataDir ||
    !config.datasets.demoOnFirstStart ||
    !node.applied.includes("0002_datasets") ||
    !node.broker.getLocalService("datasets")
  )
    return;
  const byDomain = new Map<string, unknown[]>();
  for (const ex of demoExamples(FIRST_START_EXAMPLES)) {
    const list = byDomain.get(ex.domain) ?? [];
    list.push(
      ex.response
        ? { content: ex.content, response: ex.response, source: "demo" }
        : { content: ex.content, source: "demo" },
    );
    byDomain.set(ex.domain, list);
  }
  for (const [domain, examples] of byDomain)
    await node.broker.call<unknown, AddParams>("datasets.add", { domain, examples });
  node.broker.logger.info(
    `fresh data folder: imported ${FIRST_START_EXAMPLES} demo examples in ${byDomain.size} domains (DEMO_DATA=false to skip)`,
  );
}
