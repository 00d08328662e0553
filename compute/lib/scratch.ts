/**
 * Reusable scratch arrays, per thread. A render allocates megabytes of typed arrays that V8 frees
 * only at its next full collection: with a small JS heap that comes late, and a busy thread held
 * 100+ MB of dead buffers. A thread runs one task at a time, so the buffers of the last task can
 * be handed to the next. The few most recent sizes are kept (a bounded cache, like the FFT plans).
 */
type Ctor<T> = { new (length: number): T };

const KEEP = 6;
const cache = new Map<string, ArrayBufferView>();

/** A zero-filled array of `length`, reused across calls on this thread. */
export function scratch<T extends Float32Array | Float64Array | Uint8Array>(
  name: string,
  ctor: Ctor<T>,
  length: number,
): T {
  const key = `${name}:${ctor.name}:${length}`;
  let a = cache.get(key) as T | undefined;
  if (a) {
    cache.delete(key);
    a.fill(0);
  } else {
    a = new ctor(length);
  }
  cache.set(key, a);
  while (cache.size > KEEP) cache.delete(cache.keys().next().value as string);
  return a;
}
