import { BackpressureError, ErrorCodes } from './errors';

/**
 * The default measure of an item's size in bytes, used for `maxBufferBytes`:
 * - `string`: its UTF-8 byte length;
 * - `Buffer`, typed arrays, `DataView`, `ArrayBuffer`: `byteLength`;
 * - numbers, booleans, bigints: 8;
 * - `null`/`undefined`: 0;
 * - anything else: the UTF-8 length of `JSON.stringify(item)` — roughly what
 *   the item costs on the wire. This is O(item size); pass your own `sizeOf`
 *   when your items are large objects and you know a cheaper estimate.
 */
export function defaultSizeOf(item: unknown): number {
  if (typeof item === 'string') return Buffer.byteLength(item, 'utf8');
  if (item === null || item === undefined) return 0;
  if (typeof item === 'number' || typeof item === 'boolean' || typeof item === 'bigint') return 8;
  if (ArrayBuffer.isView(item)) return item.byteLength;
  if (item instanceof ArrayBuffer) return item.byteLength;
  const json = JSON.stringify(item);
  return json === undefined ? 0 : Buffer.byteLength(json, 'utf8');
}

/** Runs `sizeOf` and turns a throw or a nonsense answer into a coded error. */
export function measureItem<T>(sizeOf: (item: T) => number, item: T): number {
  let size: unknown;
  try {
    size = sizeOf(item);
  } catch (cause) {
    throw new BackpressureError(ErrorCodes.INVALID_ITEM_SIZE, `sizeOf threw: ${String(cause)}`, {
      items: [item],
      cause,
    });
  }
  if (typeof size !== 'number' || !Number.isFinite(size) || size < 0) {
    throw new BackpressureError(
      ErrorCodes.INVALID_ITEM_SIZE,
      `sizeOf must return a finite number >= 0, got ${String(size)}`,
      {
        items: [item],
      },
    );
  }
  return size;
}
