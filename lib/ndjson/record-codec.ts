import type { DurableCodec } from '../core/durable-options';
import type { NdjsonRecord } from './ndjson-splitter';

/**
 * The durable codec of NDJSON records (`durable: { codec: ndjsonRecordCodec }`): a record is stored as
 * its line's bytes, exactly as the splitter produced them — nothing is parsed or re-encoded — and comes
 * back as a record with the same bytes (a copy, owned).
 *
 * What the line's bytes do not hold is not kept: a record read back has `line` 0 (unknown — it may
 * come from an earlier process's input) and no `value`. Sinks write `bytes` only; a priority stage
 * reads `value` before the record reaches the durable writable.
 */
export const ndjsonRecordCodec: DurableCodec<NdjsonRecord> = Object.freeze({
  encode(record: NdjsonRecord): Uint8Array {
    return record.bytes;
  },
  decode(bytes: Buffer): NdjsonRecord {
    return { line: 0, bytes: Buffer.from(bytes) };
  },
});
