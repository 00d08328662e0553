import type { Service } from "moleculer";
import type { McaiNode } from "../node";
import { runtimeOf } from "../../services/lib/runtime";
import type { AddParams } from "../../services/datasets.service";
import { loadKnowledgeBase } from "../demo/knowledge-base";

/**
 * On the first start of an embedded data folder (this node just created the datasets tables),
 * with DEMO_DATA on and the datasets service here, imports the curated demo knowledge base
 * (demo/knowledge-base/*.jsonl), so a newcomer can ask questions at once.
 */
export async function importDemoOnFirstStart(node: McaiNode): Promise<void> {
  const { config } = node;
  const { ownsDataDir } = runtimeOf(node.broker);
  if (
    !ownsDataDir ||
    !config.datasets.demoOnFirstStart ||
    !node.applied.includes("0002_datasets") ||
    // getLocalService is typed as always returning a Service, but returns undefined when absent.
    !(node.broker.getLocalService("datasets") as Service | undefined)
  )
    return;
  const domains = loadKnowledgeBase();
  let count = 0;
  for (const { domain, examples } of domains) {
    await node.broker.call<unknown, AddParams>("datasets.add", { domain, examples });
    count += examples.length;
  }
  node.broker.logger.info(
    `fresh data folder: imported the demo knowledge base, ${count} examples in ${domains.length} domains (DEMO_DATA=false to skip)`,
  );
}
