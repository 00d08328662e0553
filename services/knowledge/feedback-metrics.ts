/** mcai_feedback_total{helpful}: votes stored on this node. */
import type { ServiceBroker } from "moleculer";
import { Counter } from "prom-client";
import { metricsOf, registered } from "../lib/metrics";

const NAME = "mcai_feedback_total";

/** The node's feedback counter, made on first use. */
export function feedbackCounter(broker: ServiceBroker): Counter<"helpful"> {
  const registry = metricsOf(broker).registry;
  return registered(
    registry,
    NAME,
    () =>
      new Counter({
        name: NAME,
        help: "Feedback votes on answers, by helpful (true or false)",
        labelNames: ["helpful"] as const,
        registers: [registry],
      }),
  );
}
