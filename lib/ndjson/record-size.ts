import type { NdjsonRecord } from './ndjson-splitter';

/**
 * `sizeOf` for `BackpressureWritable<NdjsonRecord>` with `maxBufferBytes`: the
 * record's line length. The library's default `sizeOf` would JSON-encode the
 * record (Buffer included) — slower and not what the bound is meant to count.
 */
export function recordByteLength(record: NdjsonRecord): number {
  return record.bytes.length;
}
