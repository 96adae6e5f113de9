import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers/cli';

/**
 * The bin as users get it: `npm pack` the repo (dist must be built: `npm test` builds first),
 * install the tarball into a scratch project from the registry, and run the installed bin.
 * Slow (an npm install), so it is the only test that does it.
 */
describe('backpressure CLI: installed from the npm pack tarball', () => {
  jest.setTimeout(120_000);

  test('the installed `backpressure` bin runs --help, --version and the quick start', () => {
    const { dir, cleanup } = tempDir('bp-pack-');
    try {
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      // dist/ is already built; `prepare` would rebuild it under the other test files that run the CLI from it.
      execFileSync(npm, ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
      expect(tarball).toBeDefined();
      const project = join(dir, 'project');
      execFileSync('mkdir', ['-p', project]);
      writeFileSync(
        join(project, 'package.json'),
        JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }),
      );
      execFileSync(npm, ['install', '--no-audit', '--no-fund', '--silent', join(dir, tarball as string)], {
        cwd: project,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const bin = join(project, 'node_modules', '.bin', 'backpressure');

      const help = spawnSync(bin, ['--help'], { encoding: 'utf8' });
      expect(help.status).toBe(0);
      expect(help.stdout).toContain('usage: backpressure');

      const version = spawnSync(bin, ['--version'], { encoding: 'utf8' });
      expect(version.stdout.trim()).toBe(
        (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
      );

      const run = spawnSync(bin, ['--stats'], {
        input: readFileSync(join(ROOT, 'examples', 'events.ndjson')),
        encoding: 'utf8',
      });
      expect(run.status).toBe(0);
      expect(run.stdout.trim().split('\n')).toHaveLength(298);
      expect(run.stderr).toMatch(/"read":300,"valid":298,"invalid":2/);

      const usage = spawnSync(bin, ['--nope'], { encoding: 'utf8' });
      expect(usage.status).toBe(2);
    } finally {
      cleanup();
    }
  });
});
