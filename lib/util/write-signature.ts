/**
 * The argument types of Node's `Writable#write()` and `#end()` overloads, and the fields of its
 * state, for the classes that override them with a fast path. `@types/node` types the chunk as
 * `any`; our overrides take `unknown`, which accepts exactly the same calls, and read the rest as
 * Node does.
 */

/** The callback of `write()`: called once the item was accepted (or with the stream's error). */
export type WriteDoneCallback = (error: Error | null | undefined) => void;

/** The callback of `end()`: called on `'finish'` (or with the stream's error). */
export type EndCallback = () => void;

/**
 * Node's test for "this argument is the callback" in `end(callback)` / `end(chunk, callback)`:
 * any function is taken as one.
 */
export function isEndCallback(value: unknown): value is EndCallback {
  return typeof value === 'function';
}

/**
 * The fields of Node's (and readable-stream's) WritableState that a fast path reads directly: the
 * public getters (writableLength, writableCorked, writableEnded, destroyed) read the same fields
 * through an extra call each, which shows on the hot path.
 */
export interface NodeWritableState {
  length: number;
  corked: number;
  ending: boolean;
  destroyed: boolean;
}
