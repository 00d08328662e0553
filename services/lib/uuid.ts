/** The UUID rule: job ids are UUIDs, checked by the jobs service's params and by the gateway's SSE route. */

/** A UUID in its 8-4-4-4-12 hex form, any case. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID_PATTERN.test(s);
}
