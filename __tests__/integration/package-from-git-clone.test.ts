/**
 * What a git install (`npm install git+https://…/backpressure.git`) gets: npm clones the repo, installs its
 * dependencies in the clone, runs `prepare`, and packs what `files` names. dist/ is not in git, so without
 * `prepare` that tarball held only README and package.json. This test does the same from a fresh clone of
 * this repo's HEAD (committed files only, so it passes or fails as CI's clone would), installs the tarball into
 * a scratch project, and uses it.
 *
 * Two shortcuts keep it fast and off the network: the clone's node_modules is a symlink to this checkout's
 * (npm would install the same devDependencies there to run `prepare`), and the scratch project installs with
 * --prefer-offline, so readable-stream comes from npm's cache when `npm ci` put it there.
 * `npm install git+file://<clone>` itself, with the devDependencies from the registry, is checked by hand
 * (it compiles better-sqlite3: minutes, not a test).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { NPM, npmChildEnv } from '../helpers/npm';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '..', '..');
const version = (JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;

async function sh(file: string, args: readonly string[], cwd: string, input?: string): Promise<string> {
  const child = run(file, [...args], { cwd, env: npmChildEnv(), maxBuffer: 16 * 1024 * 1024, timeout: 150_000 });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

let tmp: string;
let clone: string;
let builtBeforePack: boolean;
let tarballFiles: string[];
let installed: string;
let project: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-git-clone-'));
  clone = path.join(tmp, 'clone');
  // A file:// URL (not a plain path) so that --depth works, also when the source is itself a shallow CI clone.
  await sh('git', ['clone', '--quiet', '--depth', '1', `file://${repo}`, clone], tmp);
  builtBeforePack = fs.existsSync(path.join(clone, 'dist'));
  fs.symlinkSync(fs.realpathSync(path.join(repo, 'node_modules')), path.join(clone, 'node_modules'), 'dir');

  // `npm pack` runs `prepare` and packs `files`, as npm does with the clone of a git dependency.
  const packed = JSON.parse(await sh(NPM, ['pack', '--json', '--pack-destination', tmp], clone)) as {
    filename: string;
  }[];
  const tarball = path.join(tmp, packed[0]?.filename ?? 'missing.tgz');
  tarballFiles = (await sh('tar', ['-tzf', tarball], tmp)).split('\n').filter(Boolean);

  project = path.join(tmp, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'scratch-git-user', version: '0.0.0', private: true }),
  );
  await sh(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--prefix', project, tarball], project);
  installed = path.join(project, 'node_modules', 'backpressure');
}, 180_000);

afterAll(() => {
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
});

test('a fresh clone has no dist/, and its packed tarball carries the build that `prepare` made, the docs the README links to, the LICENSE and no sources', () => {
  expect(builtBeforePack).toBe(false);
  expect(fs.existsSync(path.join(clone, 'dist', 'cli', 'main.js'))).toBe(true);
  expect(tarballFiles).toEqual(
    expect.arrayContaining([
      'package/package.json',
      'package/README.md',
      'package/LICENSE',
      'package/docs/writable.md',
      'package/docs/cli.md',
      'package/dist/index.js',
      'package/dist/index.mjs',
      'package/dist/index.d.ts',
      'package/dist/cli/main.js',
    ]),
  );
  expect(
    tarballFiles.filter(
      (f) => !/^package\/(dist\/|docs\/[\w-]+\.(md|svg)$|package\.json$|README\.md$|LICENSE$)/.test(f),
    ),
  ).toEqual([]);
});

test('every shipped source map carries the sources it maps (lib/ is not in the package)', () => {
  const maps = tarballFiles
    .filter((f) => f.endsWith('.js.map'))
    .map((f) => path.join(installed, f.slice('package/'.length)));
  expect(maps.length).toBeGreaterThan(10);
  const incomplete = maps.filter((file) => {
    const map = JSON.parse(fs.readFileSync(file, 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
    return (
      map.sourcesContent?.length !== map.sources.length ||
      map.sourcesContent.some((s) => typeof s !== 'string' || s === '')
    );
  });
  expect(incomplete).toEqual([]);
});

test("require('backpressure') in the installing project delivers items through the installed build", async () => {
  const script = `
    const { BackpressureWritable } = require('backpressure');
    const { Readable, pipeline } = require('node:stream');
    const delivered = [];
    const w = new BackpressureWritable({ batchSize: 2, flush: async (batch) => { delivered.push(...batch); } });
    pipeline(Readable.from(['a', 'b', 'c']), w, (err) => {
      if (err) throw err;
      console.log(JSON.stringify({ resolved: require.resolve('backpressure'), delivered, flushed: w.getMetrics().eventsFlushed }));
    });`;
  const out = JSON.parse(await sh(process.execPath, ['-e', script], project)) as Record<string, unknown>;
  expect(out).toEqual({
    resolved: path.join(fs.realpathSync(installed), 'dist', 'index.js'),
    delivered: ['a', 'b', 'c'],
    flushed: 3,
  });
});

test('the installed `backpressure` bin prints the package version and runs the quick start', async () => {
  const bin = path.join(project, 'node_modules', '.bin', 'backpressure');
  expect((await sh(bin, ['--version'], project)).trim()).toBe(version);
  const input = fs.readFileSync(path.join(repo, 'examples', 'events.ndjson'), 'utf8');
  const out = await sh(bin, [], project, input);
  expect(out.split('\n').filter(Boolean)).toHaveLength(298);
});
