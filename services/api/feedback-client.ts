/**
 * The client key stored with a feedback vote: the API key's id for a request with a key, else a keyed
 * hash of the address (`ip:<16 hex>`). The raw address never reaches the knowledge service.
 */
import crypto from "node:crypto";

/** The client key of a gate identity (`key:<id>` or `ip:<address>`, see gate.ts). */
export function feedbackClientKey(client: string, salt: string): string {
  if (client.startsWith("key:")) return client;
  const address = client.startsWith("ip:") ? client.slice(3) : client;
  return `ip:${crypto.createHmac("sha256", salt).update(address).digest("hex").slice(0, 16)}`;
}
