/** Options of `SegmentLog.open`, their defaults and their validation. */
import { invalidOption } from './durable-errors';
import { FRAME_HEADER_BYTES } from './record-frame';
import type { SyncMode } from './segment-writer';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface SegmentLogOptions {
  /** Directory of the log; created when missing. One process at a time (see `LOCK`). Required. */
  dir: string;
  /**
   * Most bytes of segment files on disk. An append that would go beyond it is
   * refused with ERR_DURABLE_FULL (`canAppend()` says so beforehand, `waitForSpace()`
   * waits) until acknowledged segments are deleted. Space is freed a whole segment at
   * a time. The 1 KiB checkpoint and the lock file come on top.
   * Integer ≥ 2 × `segmentBytes`.
   * @default 1 GiB (1073741824)
   */
  maxBytes?: number;
  /**
   * Size at which a segment file is closed and the next one started. Smaller
   * segments free space sooner after acknowledgements; larger ones mean fewer files.
   * The largest payload is `segmentBytes − 24`. Integer in [1024, maxBytes / 2].
   * @default maxBytes / 8, at most 64 MiB, at least 1 KiB
   */
  segmentBytes?: number;
  /**
   * When an append counts as done (`flush()` resolves):
   * - 'batch': once fdatasync'ed, one sync per burst of appends (group commit).
   * - 'always': once fdatasync'ed, one sync per record, in order (slowest).
   * - 'none': once written to the OS; never synced (survives a crash of the
   *   process, not of the machine).
   * @default 'batch'
   */
  sync?: SyncMode;
  /**
   * How often, at most, the acknowledged position is written to the checkpoint
   * (one small write + sync). Acknowledgements between two checkpoints are
   * redelivered after a crash. 0 checkpoints after every burst of acks.
   * Integer ms in [0, 2^31 − 1].
   * @default 100
   */
  checkpointIntervalMs?: number;
  /** Most raw bytes handed out with one corrupt entry. Integer in [0, 2^30]. @default 65536 */
  maxCorruptBytes?: number;
  /** Bytes read from a segment at a time when replaying. Integer in [4096, 2^30]. @default 1 MiB */
  readChunkBytes?: number;
}

export interface ResolvedLogOptions {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  sync: SyncMode;
  checkpointIntervalMs: number;
  maxCorruptBytes: number;
  readChunkBytes: number;
  /** Largest payload one append accepts. */
  maxPayloadBytes: number;
}

export const LOG_DEFAULTS = {
  maxBytes: GiB,
  maxSegmentBytes: 64 * MiB,
  minSegmentBytes: KiB,
  sync: 'batch',
  checkpointIntervalMs: 100,
  maxCorruptBytes: 64 * KiB,
  readChunkBytes: MiB,
} as const;

const MAX_TIMER_MS = 2 ** 31 - 1;

function integer(name: string, value: unknown, fallback: number, min: number, max: number, range: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidOption('type', name, 'a number', value);
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw invalidOption('range', name, `an integer in ${range}`, value);
  return value;
}

export function resolveLogOptions(options: SegmentLogOptions): ResolvedLogOptions {
  if (typeof options !== 'object' || options === null) throw invalidOption('type', 'options', 'an object', options);
  const { dir } = options;
  if (typeof dir !== 'string' || dir === '')
    throw invalidOption('type', 'dir', 'a non-empty string (a directory path)', dir);
  const maxBytes = integer(
    'maxBytes',
    options.maxBytes,
    LOG_DEFAULTS.maxBytes,
    2 * LOG_DEFAULTS.minSegmentBytes,
    Number.MAX_SAFE_INTEGER,
    `[2048, 2^53)`,
  );
  const derived = Math.max(
    LOG_DEFAULTS.minSegmentBytes,
    Math.min(LOG_DEFAULTS.maxSegmentBytes, Math.floor(maxBytes / 8)),
  );
  const segmentBytes = integer(
    'segmentBytes',
    options.segmentBytes,
    derived,
    LOG_DEFAULTS.minSegmentBytes,
    Math.floor(maxBytes / 2),
    `[1024, maxBytes / 2 = ${Math.floor(maxBytes / 2)}]`,
  );
  const sync = options.sync ?? LOG_DEFAULTS.sync;
  if (sync !== 'always' && sync !== 'batch' && sync !== 'none')
    throw invalidOption('range', 'sync', `one of 'always', 'batch', 'none'`, sync);
  return {
    dir,
    maxBytes,
    segmentBytes,
    sync,
    checkpointIntervalMs: integer(
      'checkpointIntervalMs',
      options.checkpointIntervalMs,
      LOG_DEFAULTS.checkpointIntervalMs,
      0,
      MAX_TIMER_MS,
      '[0, 2^31 − 1]',
    ),
    maxCorruptBytes: integer(
      'maxCorruptBytes',
      options.maxCorruptBytes,
      LOG_DEFAULTS.maxCorruptBytes,
      0,
      2 ** 30,
      '[0, 2^30]',
    ),
    readChunkBytes: integer(
      'readChunkBytes',
      options.readChunkBytes,
      LOG_DEFAULTS.readChunkBytes,
      4 * KiB,
      2 ** 30,
      '[4096, 2^30]',
    ),
    maxPayloadBytes: segmentBytes - FRAME_HEADER_BYTES,
  };
}
