import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExecSink } from '../../lib/sinks/exec-sink';
import { isSinkError, sinkFailureAction, SinkErrorCodes } from '../../lib/sinks/sink-errors';
import { waitUntil } from '../helpers/faults';

const ctx = () => ({ signal: new AbortController().signal, attempt: 1 });
const node = JSON.stringify(process.execPath);
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bp-exec-sink-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Writes small batches until the sink rejects (the child is gone); returns that rejection. */
async function writeUntilRejected(sink: ReturnType<typeof createExecSink>): Promise<unknown> {
  for (let i = 0; i < 2000; i++) {
    try {
      await sink.write([Buffer.from(`{"i":${i}}`)], ctx());
    } catch (err) {
      return err;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('the sink never noticed that its child exited');
}

describe('exec sink: a long-lived child reading batches on stdin', () => {
  it('delivers every batch to the child and close() waits for it to exit', async () => {
    const out = join(dir, 'out.ndjson');
    const sink = createExecSink(`cat > "${out}"`);
    expect(sink.description).toBe(`exec:cat > "${out}"`);
    await sink.write([Buffer.from('{"a":1}'), Buffer.from('{"b":2}')], ctx());
    await sink.write([Buffer.from('{"c":3}')], ctx());
    await sink.close();
    expect(readFileSync(out, 'utf8')).toBe('{"a":1}\n{"b":2}\n{"c":3}\n');
  });

  it("respects the child's stdin backpressure: a batch resolves only once the child reads it", async () => {
    const out = join(dir, 'out.bin');
    const go = join(dir, 'go');
    // The child does not read stdin until the file `go` exists; the pipe holds far less than 4 MB.
    const script = `const fs=require('fs');process.stdin.pause();const t=setInterval(()=>{if(fs.existsSync(${JSON.stringify(go)})){clearInterval(t);process.stdin.pipe(fs.createWriteStream(${JSON.stringify(out)}));}},10);`;
    const sink = createExecSink(`${node} -e ${JSON.stringify(script)}`);
    const big = Buffer.alloc(4 * 1024 * 1024, 0x78);
    let done = false;
    const write = sink.write([big], ctx()).then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(done).toBe(false);
    writeFileSync(go, '');
    await write;
    await sink.close();
    expect(statSync(out).size).toBe(big.length + 1);
  });

  it('a child that exits early (even with status 0) fails pending and later writes with ERR_SINK_CHILD_EXITED', async () => {
    const sink = createExecSink(`${node} -e "process.stdin.once('data', () => process.exit(5))"`);
    const err = await writeUntilRejected(sink);
    expect(isSinkError(err, SinkErrorCodes.CHILD_EXITED)).toBe(true);
    expect(err).toMatchObject({ exitCode: 5, exitSignal: null, retryable: false });
    expect(sinkFailureAction(err)).toBe('stop');
    await expect(sink.write([Buffer.from('{}')], ctx())).rejects.toMatchObject({
      code: SinkErrorCodes.CHILD_EXITED,
      exitCode: 5,
    });
    await expect(sink.close()).rejects.toMatchObject({ code: SinkErrorCodes.CHILD_EXITED });

    const zero = createExecSink('exit 0');
    await expect(writeUntilRejected(zero)).resolves.toMatchObject({ code: SinkErrorCodes.CHILD_EXITED, exitCode: 0 });
    await zero.close().catch(() => undefined);
  });

  it('a child killed by a signal reports the signal', async () => {
    // `exec` replaces the shell, so the signal reaches node itself.
    const sink = createExecSink(`exec ${node} -e "process.stdin.resume(); setTimeout(() => {}, 60000)"`);
    await sink.write([Buffer.from('{}')], ctx());
    sink.kill('SIGKILL');
    const err = await writeUntilRejected(sink);
    expect(err).toMatchObject({ code: SinkErrorCodes.CHILD_EXITED, exitCode: null, exitSignal: 'SIGKILL' });
    expect((err as Error).message).toContain('SIGKILL');
    await sink.close().catch(() => undefined);
  });

  it('close() rejects when the child exits non-zero after reading everything', async () => {
    const out = join(dir, 'out.ndjson');
    const sink = createExecSink(`cat > "${out}"; exit 4`);
    await sink.write([Buffer.from('{"a":1}')], ctx());
    await expect(sink.close()).rejects.toMatchObject({ code: SinkErrorCodes.CHILD_EXITED, exitCode: 4 });
    expect(readFileSync(out, 'utf8')).toBe('{"a":1}\n');
  });

  it('a child that cannot be started is ERR_SINK_SPAWN_FAILED', async () => {
    const sink = createExecSink('cat', { cwd: join(dir, 'does-not-exist') });
    await expect(sink.write([Buffer.from('{}')], ctx())).rejects.toMatchObject({ code: SinkErrorCodes.SPAWN_FAILED });
    await expect(sink.close()).rejects.toMatchObject({ code: SinkErrorCodes.SPAWN_FAILED });
    expect(existsSync(join(dir, 'does-not-exist'))).toBe(false);
  });

  it('terminate() ends a child that stopped reading, and everything it started: close() rejects saying so', async () => {
    const pids = join(dir, 'pids');
    // A shell with a child of its own: the grandchild must not survive either (the sink signals the process group).
    const sink = createExecSink(`sleep 600 & echo $$ $! > "${pids}"; wait`);
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(pids) && readFileSync(pids, 'utf8').includes(' ')) {
          clearInterval(poll);
          resolve();
        }
      }, 10);
    });
    const [shell, sleeper] = readFileSync(pids, 'utf8').trim().split(' ').map(Number);
    await sink.terminate(2000);
    expect(sink.exited).toBe(true);
    await expect(sink.close()).rejects.toMatchObject({ code: SinkErrorCodes.CHILD_EXITED, exitSignal: 'SIGTERM' });
    await expect(sink.close()).rejects.toThrow(/stopped reading and was terminated \(signal SIGTERM\)/);
    expect(() => process.kill(shell as number, 0)).toThrow(/ESRCH/);
    // The grandchild got the SIGTERM too; once orphaned, it is reaped by init a moment later.
    await waitUntil('the grandchild to be gone', () => {
      try {
        process.kill(sleeper as number, 0);
        return false;
      } catch {
        return true;
      }
    });
  });

  it('redacts URL credentials inside the command from its description', () => {
    const sink = createExecSink('true https://bob:hunter2x@example.invalid/x');
    expect(sink.description).toBe('exec:true https://***@example.invalid/x');
    return sink.close().catch(() => undefined);
  });
});
