import { PayloadTooLargeError } from "../lib/errors";

/**
 * @throws PayloadTooLargeError (413) naming the field and its bound when `value` exceeds `limit`.
 */
export function checkLimit(field: string, value: number, limit: number, unit = ""): void {
  if (value > limit) {
    throw new PayloadTooLargeError(`${field} is ${value}${unit}, over the limit of ${limit}${unit}`, {
      field,
      limit,
      actual: value,
    });
  }
}
