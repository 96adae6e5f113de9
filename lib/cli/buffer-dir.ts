/**
 * `--buffer-dir`: the CLI's durable mode. Records go through the library's on-disk log (raw line
 * bytes, no re-encoding: `ndjsonRecordCodec`) before they are delivered; a restart on the same
 * directory delivers what an earlier run left there first.
 */
import type { DurableOptions } from '../core/durable-options';
import { LOG_DEFAULTS } from '../durable/log-options';
import { FRAME_HEADER_BYTES } from '../durable/record-frame';
import type { SyncMode } from '../durable/segment-writer';
import type { NdjsonRecord } from '../ndjson/ndjson-splitter';
import { ndjsonRecordCodec } from '../ndjson/record-codec';

/** `--sync` takes exactly the library's sync modes. */
export const SYNC_MODES: readonly SyncMode[] = ['always', 'batch', 'none'];

/** The library's default disk bound, named because the CLI checks the longest line against it. */
export const DEFAULT_MAX_DISK_BYTES: number = LOG_DEFAULTS.maxBytes;

/**
 * The smallest `--max-disk-bytes` for `--max-line-bytes`: two segments (the log's least), each large
 * enough for the longest valid line and its frame — a smaller bound would turn valid lines into
 * dead letters (a record must fit in one segment).
 */
export function minMaxDiskBytes(maxLineBytes: number): { bytes: number; why: string } {
  const bytes = Math.max(2 * LOG_DEFAULTS.minSegmentBytes, 2 * segmentFloor(maxLineBytes));
  return { bytes, why: `two segments of --max-line-bytes + ${FRAME_HEADER_BYTES}` };
}

/** The smallest segment that holds a line of `maxLineBytes` in one record. */
function segmentFloor(maxLineBytes: number): number {
  return maxLineBytes + FRAME_HEADER_BYTES;
}

/**
 * The library's `durable` option for the flags, or undefined without `--buffer-dir`. Segments are the
 * library's default size (maxBytes / 8, at most 64 MiB) unless the longest line needs more; the flags
 * were checked so that two such segments fit.
 */
export function durableOptionsOf(options: {
  bufferDir?: string | undefined;
  maxDiskBytes?: number | undefined;
  sync?: SyncMode | undefined;
  maxLineBytes: number;
}): DurableOptions<NdjsonRecord> | undefined {
  if (options.bufferDir === undefined) return undefined;
  const maxBytes = options.maxDiskBytes ?? DEFAULT_MAX_DISK_BYTES;
  const derived = Math.max(
    LOG_DEFAULTS.minSegmentBytes,
    Math.min(LOG_DEFAULTS.maxSegmentBytes, Math.floor(maxBytes / 8)),
  );
  return {
    dir: options.bufferDir,
    maxBytes,
    segmentBytes: Math.max(derived, segmentFloor(options.maxLineBytes)),
    ...(options.sync !== undefined && { sync: options.sync }),
    codec: ndjsonRecordCodec,
  };
}
