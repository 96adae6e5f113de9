import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const dist = path.join(__dirname, '..', '..', 'dist');

// Timers are ref'd exactly while they guard data: buffered items keep the
// process alive until they are flushed; an idle stream never does.
describe('process lifetime', () => {
  test('buffered items keep the process alive until they are flushed, even if end() is never called', async () => {
    const script = `
      const { BackpressureWritable } = require(${JSON.stringify(dist)});
      const w = new BackpressureWritable({ batchSize: 100, minFlushIntervalMs: 300, flush: async (b) => console.log('flushed', b.join(',')) });
      w.write(1); w.write(2);
    `;
    const { stdout } = await run(process.execPath, ['-e', script]);
    expect(stdout.trim()).toBe('flushed 1,2');
  });

  test('an idle stream (everything flushed, not ended) lets the process exit without waiting for timers', async () => {
    const script = `
      const { BackpressureWritable } = require(${JSON.stringify(dist)});
      const w = new BackpressureWritable({ batchSize: 2, flushTimeoutMs: 600000, minFlushIntervalMs: 600000, maxFlushIntervalMs: 600000,
        flush: async (b) => console.log('flushed', b.join(',')) });
      w.write(1); w.write(2); w.write(3);
      setTimeout(() => w.write(4), 10);
    `;
    // timeout: if a 10-minute timer held the process, execFile kills it and rejects
    const { stdout } = await run(process.execPath, ['-e', script], { timeout: 20000 });
    expect(stdout.trim().split('\n')).toEqual(['flushed 1,2', 'flushed 3,4']);
  });
});
