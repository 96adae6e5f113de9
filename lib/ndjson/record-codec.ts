import { encodesUnshared, handBack, type DurableCodec } from '../core/durable-options';
import { SharedLineRecord } from './chunk-records';
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
  /**
   * A record this process appended, taken back from memory: a record of a splitter with `sharedBytes`
   * whose bytes are still the splitter's view comes back as one too (`SharedLineRecord.readBack`:
   * line 0, as read back; the same bytes, shared — the splitter never writes to them), so that a batch
   * of them is written to the sink from its input chunk without a copy, as in memory mode. Any other
   * record (bytes of its own, or replaced by the caller) is decoded: a copy, as from disk.
   */
  [handBack](record: NdjsonRecord, bytes: Buffer): NdjsonRecord | undefined {
    return SharedLineRecord.readBack(record, bytes);
  },
  // A record's bytes are its line's: the splitter never writes to them once handed out (a record built by
  // hand must not have its bytes changed after its write either — see docs/durable.md, Codecs).
  [encodesUnshared]: true,
});
