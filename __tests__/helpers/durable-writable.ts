/**
 * Helpers of the durable-mode tests of BackpressureWritable: a writable on a test directory with
 * small segments, waiting for its end, and a sink that records what it got by id.
 */
import { once } from 'node:events';
import { BackpressureWritable, type BackpressureWritableOptions, type DurableOptions } from '../../lib';

export interface Item {
  id: number;
}

/** Items `from` … `to - 1`. */
export function items(from: number, to: number): Item[] {
  return Array.from({ length: to - from }, (_, i) => ({ id: from + i }));
}

/** A durable writable on `dir`: 1 KiB segments, 64 KiB on disk, checkpoints at once, a short interval. */
export function durableWritable<T = Item>(
  dir: string,
  options: Omit<BackpressureWritableOptions<T>, 'durable'> & { durable?: Partial<DurableOptions<T>> },
): BackpressureWritable<T> {
  const { durable, ...rest } = options;
  return new BackpressureWritable<T>({
    minFlushIntervalMs: 0,
    ...rest,
    durable: { dir, segmentBytes: 1024, maxBytes: 64 * 1024, checkpointIntervalMs: 0, ...durable },
  });
}

/** Resolves on 'finish', rejects on 'error'. */
export async function finished(stream: NodeJS.EventEmitter): Promise<void> {
  await once(stream, 'finish');
}

/** Resolves on 'close' with the stream's error, if any (the 'error' event is listened to, never thrown). */
export function closed(stream: NodeJS.EventEmitter): Promise<Error | null> {
  let error: Error | null = null;
  stream.on('error', (err: Error) => (error = err));
  return new Promise((resolve) => stream.once('close', () => resolve(error)));
}

/** Ends the stream and waits for 'finish' (rejects with its error). */
export async function endAndFinish(stream: NodeJS.WritableStream & NodeJS.EventEmitter): Promise<void> {
  const done = finished(stream);
  stream.end();
  await done;
}

/**
 * Waits (on real timers) until `condition()` holds; throws naming `what` after `timeoutMs` — a guard
 * against a hang, not a measurement.
 */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Ids in `batch`, in order. */
export function ids(batch: readonly Item[]): number[] {
  return batch.map((item) => item.id);
}
