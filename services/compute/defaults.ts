/**
 * Sizes a compute call uses when the caller names none. The size checks (params.ts, before any
 * work is queued) and the operations (operations.ts) must agree on them, so both read these.
 */
export const DEFAULT_SIZES = {
  art: { width: 512, height: 512 },
  cymatic: { size: 512 },
  video: { frames: 60, size: 256 },
} as const;
