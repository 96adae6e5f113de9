/** The `durable` option of `BackpressureWritable`: its type, the codecs, defaults and validation. */
import { LOG_DEFAULTS } from '../durable/log-options';
import type { SyncMode } from '../durable/segment-writer';
import { enumOption, integerOption, invalidOption } from '../util/validate';

/**
 * Turns items into record bytes and back. `encode` must return a `Uint8Array` (the log copies it, so
 * returning bytes the item already holds costs no copy); `decode` gets a view of the log's read buffer
 * that is valid only during the call — copy what you keep (`Buffer.from(bytes)`).
 */
export interface DurableCodec<T> {
  encode(item: T): Uint8Array;
  decode(bytes: Buffer): T;
}

/**
 * Internal hook of a codec (a symbol, not part of the public type): the item a record this process
 * appended comes back as when the replay takes it from memory (`log.handOver`) rather than from disk.
 * `item` is what was written, `bytes` what `encode` returned for it (kept by the intake, never
 * written to). It returns what `decode(bytes)` would — an equal item — or throws as `decode` would,
 * or returns `undefined` to have `decode(bytes)` called after all. It exists so that a codec whose
 * `decode` must copy (its `bytes` are a read buffer's) need not copy bytes that never left memory.
 */
export const handBack: unique symbol = Symbol('backpressure.durableCodec.handBack');

export type HandBack<T> = (item: T, bytes: Buffer) => T | undefined;

/** The codec's hand-back hook, when it has one (see `handBack`). */
export function handBackOf<T>(codec: DurableCodec<T>): HandBack<T> | undefined {
  const hook = (codec as { [handBack]?: unknown })[handBack];
  return typeof hook === 'function' ? (hook as HandBack<T>) : undefined;
}

/**
 * Internal mark of a codec (a symbol, not part of the public type) whose `encode` returns bytes nobody
 * changes afterwards: new bytes (JSON), or bytes the splitter hands out and never writes to (NDJSON
 * records). Without it, the intake keeps its own copy of what `encode` returned for the replay to take
 * back from memory: `bytesCodec` and custom codecs may return the caller's own buffer, which the caller
 * may reuse once the write's callback said the record is on disk — the delivered item must be what was
 * written, not what the buffer holds by then.
 */
export const encodesUnshared: unique symbol = Symbol('backpressure.durableCodec.encodesUnshared');

/** Whether the intake may keep `encode`'s result as it is (see `encodesUnshared`). */
export function keepsEncodedAsIs<T>(codec: DurableCodec<T>): boolean {
  return (codec as { [encodesUnshared]?: unknown })[encodesUnshared] === true;
}

/** Options of durable mode (`new BackpressureWritable({ flush, durable: { dir } })`). */
export interface DurableOptions<T> {
  /**
   * Directory of the log: created when missing; one process (one stream) at a time — a second opener
   * fails with ERR_DURABLE_LOCKED naming the holder, a lock left by a killed process is taken over.
   * Required.
   */
  dir: string;
  /**
   * Most bytes of segment files. When a record does not fit, the stream blocks (`write()` false) until
   * acknowledged segments are deleted. Integer ≥ 2 × `segmentBytes` (and ≥ 2048).
   * @default 1 GiB (1073741824)
   */
  maxBytes?: number;
  /**
   * Size at which a segment file is closed and the next begun; disk space is freed a whole segment at
   * a time, and a record is at most `segmentBytes − 24` bytes. Integer in [1024, maxBytes / 2].
   * @default maxBytes / 8, at most 64 MiB, at least 1 KiB
   */
  segmentBytes?: number;
  /**
   * When a `write()` completes (its callback is called): 'batch' — once its record is fdatasync'ed, one
   * sync for a burst of writes (group commit); 'always' — once fdatasync'ed, one sync per record;
   * 'none' — once written to the OS, never synced (survives a crash of the process, not of the machine).
   * @default 'batch'
   */
  sync?: SyncMode;
  /**
   * Encodes items into records and decodes them back: what `flush` receives are decoded copies.
   * @default jsonCodec (JSON text; an item JSON cannot represent is refused with ERR_BACKPRESSURE_ENCODE_FAILED)
   */
  codec?: DurableCodec<T>;
  /**
   * How often, at most, the acknowledged position is written to disk. Items delivered within this
   * window before a crash are delivered again after the restart. 0: after every burst of acknowledgements.
   * Integer ms in [0, 2^31 − 1].
   * @default 100
   */
  checkpointIntervalMs?: number;
}

export interface ResolvedDurableOptions<T> {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  sync: SyncMode;
  codec: DurableCodec<T>;
  checkpointIntervalMs: number;
}

/**
 * The default codec: JSON text in UTF-8. `flush` receives `JSON.parse` of what was written, so an item
 * comes back as its JSON form (a `Date` as a string, no `undefined` fields, no class). An item JSON
 * cannot represent (`undefined`, a function, a `BigInt`, a cycle) is refused.
 */
export const jsonCodec: DurableCodec<unknown> = Object.freeze({
  encode(item: unknown): Uint8Array {
    const text = JSON.stringify(item);
    if (typeof text !== 'string')
      throw new TypeError(`JSON cannot represent ${typeof item === 'function' ? 'a function' : String(item)}`);
    return Buffer.from(text, 'utf8');
  },
  decode(bytes: Buffer): unknown {
    return JSON.parse(bytes.toString('utf8'));
  },
  [encodesUnshared]: true, // a new Buffer per item
});

/**
 * Items that are bytes already (`Buffer`/`Uint8Array`: raw lines, protobuf, …): stored as they are, no
 * re-encoding; `flush` receives each as a `Buffer` (a copy, owned).
 */
export const bytesCodec: DurableCodec<Uint8Array> = Object.freeze({
  encode(item: Uint8Array): Uint8Array {
    if (!(item instanceof Uint8Array)) throw new TypeError('bytesCodec encodes Buffers and Uint8Arrays only');
    return item;
  },
  decode(bytes: Buffer): Buffer {
    return Buffer.from(bytes);
  },
});

const OWNER = 'BackpressureWritable';
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Validates `durable` (names as the caller spells them: `durable.maxBytes`) and fills in defaults. */
export function resolveDurableOptions<T>(value: unknown): ResolvedDurableOptions<T> | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalidOption('type', OWNER, 'durable', 'an object with a dir', value);
  const o = value as DurableOptions<T>;
  if (typeof o.dir !== 'string' || o.dir === '')
    throw invalidOption('type', OWNER, 'durable.dir', 'a non-empty string (a directory path)', o.dir);
  const maxBytes = integerOption(
    OWNER,
    'durable.maxBytes',
    o.maxBytes,
    LOG_DEFAULTS.maxBytes,
    2 * LOG_DEFAULTS.minSegmentBytes,
  );
  const derived = Math.max(
    LOG_DEFAULTS.minSegmentBytes,
    Math.min(LOG_DEFAULTS.maxSegmentBytes, Math.floor(maxBytes / 8)),
  );
  const segmentBytes = integerOption(
    OWNER,
    'durable.segmentBytes',
    o.segmentBytes,
    derived,
    LOG_DEFAULTS.minSegmentBytes,
  );
  if (segmentBytes > Math.floor(maxBytes / 2)) {
    throw invalidOption(
      'range',
      OWNER,
      'durable.segmentBytes',
      `an integer in [1024, durable.maxBytes / 2 = ${Math.floor(maxBytes / 2)}]`,
      segmentBytes,
    );
  }
  const sync = enumOption<SyncMode>(OWNER, 'durable.sync', o.sync, ['always', 'batch', 'none'], LOG_DEFAULTS.sync);
  const checkpointIntervalMs = integerOption(
    OWNER,
    'durable.checkpointIntervalMs',
    o.checkpointIntervalMs,
    LOG_DEFAULTS.checkpointIntervalMs,
    0,
  );
  if (checkpointIntervalMs > MAX_TIMER_MS) {
    throw invalidOption(
      'range',
      OWNER,
      'durable.checkpointIntervalMs',
      `an integer in [0, ${MAX_TIMER_MS}]`,
      checkpointIntervalMs,
    );
  }
  let codec = jsonCodec as DurableCodec<T>;
  if (o.codec !== undefined) {
    const c = o.codec as Partial<DurableCodec<T>> | null;
    if (c === null || typeof c !== 'object' || typeof c.encode !== 'function' || typeof c.decode !== 'function')
      throw invalidOption('type', OWNER, 'durable.codec', 'an object with encode and decode functions', c);
    codec = c as DurableCodec<T>;
  }
  return { dir: o.dir, maxBytes, segmentBytes, sync, codec, checkpointIntervalMs };
}
