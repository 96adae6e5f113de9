import { spawn } from 'node:child_process';
import { join } from 'node:path';

function run(command: string): Promise<{ stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve({ stdout, stderr }));
  });
}

describe('stdout sink: the reader going away (EPIPE)', () => {
  it('rejects with ERR_SINK_CLOSED instead of crashing, so the writer can exit cleanly', async () => {
    const script = join(__dirname, '..', 'fixtures', 'io', 'stdout-sink-writer.js');
    // `{ …; echo status >&2; } | head -n 1`: head exits after one line, closing the pipe under the writer.
    const { stdout, stderr } = await run(`{ node "${script}"; echo "writer-exit=$?" >&2; } | head -n 1`);
    expect(stdout).toBe(`${JSON.stringify({ pad: 'x'.repeat(200) })}\n`);
    expect(stderr).toContain('sink failed: ERR_SINK_CLOSED retryable=false');
    expect(stderr).toContain('writer-exit=3');
    // No uncaught exception: no stack trace, no "Unhandled 'error' event".
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr).not.toContain('Unhandled');
  });
});
