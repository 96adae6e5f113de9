import type { FlushContext, FlushFunction, FlushResult } from '../core/options';
import { RingBuffer } from '../util/ring-buffer';
import { SharedLineRecord } from '../ndjson/chunk-records';
import type { NdjsonRecord } from '../ndjson/ndjson-splitter';
import type { LineSink } from './line-sink';
import { sinkFailureAction } from './sink-errors';
import { functionOption, integerOption, invalidOption } from '../util/validate';

/** Options of `sinkFlush`. */
export interface SinkFlushOptions {
  /**
   * Called (once per failed attempt) when the sink is gone for good — EPIPE on
   * stdout, the exec child exited — so that the caller can stop reading input
   * instead of retrying into a dead sink. The attempt still rejects, so the
   * batch is accounted by the stream as usual.
   * @default undefined
   */
  onSinkGone?: (error: Error, unconfirmed: NdjsonRecord[]) => void;
  /**
   * For sinks whose reader can vanish after taking the bytes (a pipe to stdout or to a child
   * process): a write "succeeds" once the OS pipe has the bytes, so when the reader dies the last
   * records written may never have been read. Keep the most recent records, at least this many
   * bytes of them, and hand them to `onSinkGone` as `unconfirmed` (at-least-once: some of them
   * may well have been read). An integer ≥ 0; 0 keeps nothing.
   * @default 0
   */
  unconfirmedTailBytes?: number;
}

/** The flush function `sinkFlush` returns. */
export interface SinkFlushFunction extends FlushFunction<NdjsonRecord> {
  /**
   * Hands over (and forgets) the records kept by `unconfirmedTailBytes`: for a caller that ends the
   * reader itself (terminates an exec child that stopped reading), which may not have read them.
   */
  takeUnconfirmed(): NdjsonRecord[];
}

/**
 * Adapts a `LineSink` (which takes raw line Buffers) into the `flush` function of
 * a `BackpressureWritable<NdjsonRecord>`: the batch is mapped to its lines, and
 * a partial failure's `failedItems` (Buffers) are mapped back to the records they
 * came from, so that exactly those are retried or dead-lettered.
 */
export function sinkFlush(sink: LineSink, options: SinkFlushOptions = {}): SinkFlushFunction {
  if (options === null || typeof options !== 'object')
    throw invalidOption('type', 'sinkFlush()', 'options', 'an object', options);
  const onSinkGone = functionOption<SinkFlushOptions['onSinkGone']>(
    'sinkFlush()',
    'onSinkGone',
    options.onSinkGone,
    false,
  );
  const tailBytes = integerOption('sinkFlush()', 'unconfirmedTailBytes', options.unconfirmedTailBytes, 0, 0);
  // The most recent batches written (whole: one entry per batch, not per record), at least
  // tailBytes of them; trimmed to the records needed only when handed over.
  const tail = new RingBuffer<{ records: NdjsonRecord[]; bytes: number }>();
  let tailSize = 0;
  const takeUnconfirmed = (): NdjsonRecord[] => {
    const records: NdjsonRecord[] = [];
    for (const batch of tail.drain()) for (const record of batch.records) records.push(record);
    let size = tailSize;
    tailSize = 0;
    let first = 0;
    while (first < records.length && size - ((records[first] as NdjsonRecord).bytes.length + 1) >= tailBytes) {
      size -= (records[first] as NdjsonRecord).bytes.length + 1;
      first++;
    }
    return first === 0 ? records : records.slice(first);
  };
  return Object.assign(
    async function flushToSink(batch: NdjsonRecord[], ctx: FlushContext): Promise<void | FlushResult<NdjsonRecord>> {
      const lines = new Array<Buffer>(batch.length);
      for (let i = 0; i < batch.length; i++) lines[i] = (batch[i] as NdjsonRecord).bytes;
      let result;
      try {
        result = await sink.write(lines, ctx, SharedLineRecord.joined(batch));
      } catch (err) {
        if (onSinkGone !== undefined && sinkFailureAction(err) === 'stop') onSinkGone(err as Error, takeUnconfirmed());
        throw err;
      }
      if (tailBytes > 0 && (result === undefined || result.failedItems === undefined)) {
        // flush's batch array is its own: kept as it is.
        let bytes = batch.length;
        for (let i = 0; i < batch.length; i++) bytes += (batch[i] as NdjsonRecord).bytes.length;
        tail.push({ records: batch, bytes });
        tailSize += bytes;
        // Keep at least tailBytes: drop the oldest batch only while the rest still covers it.
        while (tail.size > 1 && tailSize - (tail.peek() as { bytes: number }).bytes >= tailBytes) {
          tailSize -= (tail.shift() as { bytes: number }).bytes;
        }
      }
      if (result === undefined || result.failedItems === undefined)
        return result as FlushResult<NdjsonRecord> | undefined;
      return { ...result, failedItems: recordsOf(result.failedItems, batch, lines) };
    },
    { takeUnconfirmed },
  );
}

/** Failure path only: maps the sink's failed lines back to their records by identity, keeping batch order. */
function recordsOf(
  failed: readonly Buffer[],
  batch: readonly NdjsonRecord[],
  lines: readonly Buffer[],
): NdjsonRecord[] {
  const wanted = new Set(failed);
  const records: NdjsonRecord[] = [];
  for (let i = 0; i < lines.length; i++) if (wanted.has(lines[i] as Buffer)) records.push(batch[i] as NdjsonRecord);
  return records;
}
