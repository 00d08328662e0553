import { PayloadTooLargeError } from "../lib/errors";
import { kindSizeBreach, sizeBreach, type HeavyKind, type SizeBreach } from "./contract";
import type { ComputeLimits } from "../lib/config";

/**
 * @throws PayloadTooLargeError (413) naming the field and its bound when `value` exceeds `limit`.
 */
export function checkLimit(field: string, value: number, limit: number, unit = ""): void {
  const breach = sizeBreach(field, value, limit, unit);
  if (breach) throw new PayloadTooLargeError(breach.message, breach.data);
}

/** @throws PayloadTooLargeError (413) naming the first size of a kind's params over its bound. */
export function checkKindLimits(kind: HeavyKind, params: object, limits: ComputeLimits): void {
  const breach = kindSizeBreach(kind, params, limits);
  if (breach) throw new PayloadTooLargeError(breach.message, breach.data);
}

/** @throws PayloadTooLargeError (413) with the breach's message and data, when there is one. */
export function checkBreach(breach: SizeBreach | undefined): void {
  if (breach) throw new PayloadTooLargeError(breach.message, breach.data);
}
