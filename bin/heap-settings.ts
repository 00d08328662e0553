/**
 * The V8 heap settings a node applies to itself when it starts (HEAP_GROWING_PERCENT,
 * HEAP_SEMI_SPACE_GROWTH): V8 reads these flags at each collection, in every isolate of the
 * process, so setting them from code works for the main thread and for the worker threads started
 * after. (`--max-old-space-size` is read once, when the isolate is made: only the command line or
 * NODE_OPTIONS can set it.)
 */
import v8 from "node:v8";
import type { HeapSettings } from "../services/lib/config";

/** The V8 flags for `heap`; empty when every setting is 0 (V8's defaults). */
export function heapFlags(heap: HeapSettings): string[] {
  return [
    ...(heap.growingPercent ? [`--heap-growing-percent=${heap.growingPercent}`] : []),
    ...(heap.semiSpaceGrowth ? [`--semi-space-growth-factor=${heap.semiSpaceGrowth}`] : []),
  ];
}

/** Applies `heap` to this process; before the services start, so their threads start with it. */
export function applyHeapSettings(heap: HeapSettings): void {
  for (const flag of heapFlags(heap)) v8.setFlagsFromString(flag);
}
