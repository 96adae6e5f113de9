/**
 * FdSink: whatever happens to a write — completed, aborted half-way, or the process about to go —
 * the reader receives whole lines only. The reader is fixtures/fault-consumer.js, which keeps every
 * complete line it reads in a file, and the bytes of an unfinished last line in `OUT.partial`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FdSink, writableFd } from '../../lib/sinks/fd-sink';
import { SinkErrorCodes } from '../../lib/sinks/sink-errors';
import type { SinkStream } from '../../lib/sinks/stream-sink';
import { tempDir } from '../helpers/cli';
import { FAULT_CONSUMER } from '../helpers/faults';

/** ~1.3 KiB of 2-, 3- and 4-byte characters: a cut at a random byte usually lands inside one. */
function line(id: number): Buffer {
  return Buffer.from(JSON.stringify({ id, text: 'ü€😀'.repeat(150) }));
}

interface Reader {
  child: ChildProcess;
  sink: FdSink;
  out: string;
  /** Lets the reader read (at full speed) from now on. */
  release: () => void;
  /** Ends the sink's side of the pipe and waits for the reader to have read everything. */
  finish: () => Promise<void>;
}

/** A reader that does not read until released. */
function stalledReader(dir: string): Reader {
  const out = join(dir, 'read.ndjson');
  writeFileSync(`${out}.stall`, '');
  const child = spawn(process.execPath, [FAULT_CONSUMER, out, '0', '65536'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const stdin = child.stdin as unknown as SinkStream;
  const fd = writableFd(stdin, { handle: true });
  if (fd === undefined) throw new Error('no descriptor behind the child stdin');
  const sink = new FdSink(fd, stdin, { description: 'reader', endOnClose: true });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    child,
    sink,
    out,
    release: () => rmSync(`${out}.stall`, { force: true }),
    finish: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}

/** The ids of the lines the reader got; throws if any of them is not a whole line it was sent. */
function linesRead(out: string): number[] {
  if (existsSync(`${out}.partial`))
    throw new Error(`the reader was left with part of a line: ${readFileSync(`${out}.partial`).length} bytes`);
  const text = readFileSync(out, 'utf8');
  if (text === '') return [];
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => {
      const id = (JSON.parse(l) as { id: number }).id;
      if (!Buffer.from(l).equals(line(id))) throw new Error(`line ${id} arrived changed`);
      return id;
    });
}

const ctx = (signal = new AbortController().signal) => ({ signal, attempt: 1 });

describe('FdSink: the reader only ever gets whole lines', () => {
  test('an aborted write finishes the line in progress and writes no other line of its batch; the next batch follows it', async () => {
    const { dir, cleanup } = tempDir('bp-fd-sink-');
    const reader = stalledReader(dir);
    try {
      // Far more than the pipe holds: the write stops part-way, inside some line.
      const first = Array.from({ length: 1000 }, (_, i) => line(i));
      const controller = new AbortController();
      // write() fills the pipe at once (one writeSync), then waits for the reader inside some line.
      const firstWrite = reader.sink.write(first, ctx(controller.signal));
      controller.abort(new Error('flush timeout'));
      await expect(firstWrite).rejects.toMatchObject({ code: SinkErrorCodes.ABORTED });
      const second = [line(5000), line(5001)];
      const secondWrite = reader.sink.write(second, ctx());
      reader.release();
      await secondWrite; // queued behind the aborted one, written once its line is finished
      await reader.sink.close();
      await reader.finish();

      const ids = linesRead(reader.out);
      const k = ids.length - 2;
      expect(k).toBeGreaterThan(0);
      expect(k).toBeLessThan(1000); // the abort really cut the batch short
      expect(ids).toEqual([...Array.from({ length: k }, (_, i) => i), 5000, 5001]);
    } finally {
      reader.child.kill('SIGKILL');
      cleanup();
    }
  });

  test('stopAtRecordBoundary does not wait past its timeout for a reader that reads nothing, and the reader still never gets a partial line', async () => {
    const { dir, cleanup } = tempDir('bp-fd-sink-');
    const reader = stalledReader(dir);
    try {
      const pending = reader.sink.write(
        Array.from({ length: 1000 }, (_, i) => line(i)),
        ctx(),
      );
      let settled = false;
      void pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      // write() filled the pipe at once. The kernel took part of some line — unless, once in a
      // thousand runs, it stopped exactly between two lines: then the sink waits with a whole line.
      const partial = reader.sink.partialRecord;
      if (partial !== undefined) {
        expect(partial.written).toBeGreaterThan(0);
        expect(partial.written).toBeLessThan(partial.length);
      }

      await expect(reader.sink.stopAtRecordBoundary(50)).resolves.toBe(false);
      await expect(reader.sink.write([line(9999)], ctx())).rejects.toMatchObject({ code: SinkErrorCodes.CLOSED });
      // The reader comes back: it gets the rest of that line, and nothing after it.
      reader.release();
      await expect(reader.sink.stopAtRecordBoundary(10_000)).resolves.toBe(true);
      expect(reader.sink.partialRecord).toBeUndefined();
      expect(settled).toBe(false); // the batch was not completed; the caller accounts for it as not delivered
      await reader.finish();
      const ids = linesRead(reader.out);
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i));
      expect(ids.length).toBeLessThan(1000);
    } finally {
      reader.child.kill('SIGKILL');
      cleanup();
    }
  });

  test('a reader that keeps up gets every batch, in order, each resolving once the kernel has all of it', async () => {
    const { dir, cleanup } = tempDir('bp-fd-sink-');
    const reader = stalledReader(dir);
    try {
      reader.release();
      for (let b = 0; b < 20; b++)
        await reader.sink.write(
          Array.from({ length: 50 }, (_, i) => line(b * 50 + i)),
          ctx(),
        );
      await reader.sink.close();
      await reader.finish();
      expect(linesRead(reader.out)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    } finally {
      reader.child.kill('SIGKILL');
      cleanup();
    }
  });
});
