/**
 * Every relative link and #anchor in README.md and docs/*.md resolves, the way GitHub renders them, and every
 * repository path the docs name in code (`__tests__/…`, `lib/…`, …) exists: when a section, a file or a test is
 * moved or renamed, the docs that point at it fail here instead of rotting quietly.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { ROOT } from '../helpers/cli';
import { anchors, docFiles, githubSlug, links, readDoc, renderedText, withoutCodeBlocks } from '../helpers/markdown';

const FILES = docFiles();

/** Repository-relative path → the anchors it defines (Markdown files only). */
const anchorCache = new Map<string, Set<string>>();
function anchorsOfFile(file: string): Set<string> {
  let found = anchorCache.get(file);
  if (found === undefined) {
    found = anchors(readDoc(file));
    anchorCache.set(file, found);
  }
  return found;
}

/** What is wrong with `target` as written in `file`, or null when it resolves. */
function brokenLink(file: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // https:, mailto:, … : not ours to check offline
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
  if (pathPart.startsWith('/')) return 'absolute paths break outside the repository page';
  const resolved = pathPart === '' ? file : normalize(join(dirname(file), pathPart));
  if (resolved.startsWith('..')) return `points outside the repository (${resolved})`;
  if (!existsSync(join(ROOT, resolved))) return `no such file: ${resolved}`;
  if (anchor === null) return null;
  if (!resolved.endsWith('.md') || statSync(join(ROOT, resolved)).isDirectory())
    return `#${anchor} on a file that is not Markdown`;
  return anchorsOfFile(resolved).has(anchor) ? null : `no heading with anchor #${anchor} in ${resolved}`;
}

describe('GitHub heading anchors (the rules the link check relies on)', () => {
  test.each([
    ['Quick start (library)', 'quick-start-library'],
    ['Command line: `backpressure`', 'command-line-backpressure'],
    ['Memory soak — `npm run bench:soak`', 'memory-soak--npm-run-benchsoak'],
    ['`BackpressureWritable<T>`', 'backpressurewritablet'],
    ['`--stats` keys', '--stats-keys'],
    ['Ending, errors and destroy', 'ending-errors-and-destroy'],
    [
      '`file-to-http` — file → splitter → sample → HTTP, with cancellation',
      'file-to-http--file--splitter--sample--http-with-cancellation',
    ],
    ['On-disk format (version 1)', 'on-disk-format-version-1'],
    ['Sizing `maxBytes`', 'sizing-maxbytes'],
    ['**Bold** and [a link](x.md) and `snake_case`', 'bold-and-a-link-and-snake_case'],
  ])('%j → #%s', (heading, slug) => {
    expect(githubSlug(renderedText(heading))).toBe(slug);
  });

  test('repeated headings get -1, -2, … as on GitHub', () => {
    expect([...anchors('# A\n## Options\ntext\n## Options\n### Options\n```\n## Options\n```\n')]).toEqual([
      'a',
      'options',
      'options-1',
      'options-2',
    ]);
  });
});

describe('documentation links', () => {
  test('the documentation set is README.md plus the docs/ pages', () => {
    expect(FILES).toEqual(
      expect.arrayContaining([
        'README.md',
        'docs/writable.md',
        'docs/strategies.md',
        'docs/cli.md',
        'docs/guarantees.md',
      ]),
    );
  });

  test.each(FILES)('every relative link and #anchor in %s resolves', (file) => {
    const found = links(readDoc(file));
    const broken = found
      .map((link) => ({ link, problem: brokenLink(file, link.target) }))
      .filter((b) => b.problem !== null)
      .map((b) => `${file}:${b.link.line}: (${b.link.target}) ${b.problem}`);
    expect(broken).toEqual([]);
  });

  test('the checker itself catches a missing file, a missing anchor and a link out of the repository', () => {
    expect(brokenLink('README.md', 'docs/nope.md')).toMatch(/no such file/);
    expect(brokenLink('README.md', 'docs/cli.md#no-such-heading')).toMatch(/no heading/);
    expect(brokenLink('README.md', '#no-such-heading')).toMatch(/no heading/);
    expect(brokenLink('docs/cli.md', '../../x.md')).toMatch(/outside/);
    expect(brokenLink('docs/cli.md', '../README.md#quick-start-cli')).toBeNull();
  });

  test('README.md links to every docs/ page', () => {
    const targets = new Set(links(readDoc('README.md')).map((l) => l.target.split('#')[0]));
    expect(FILES.filter((f) => f.startsWith('docs/') && !targets.has(f))).toEqual([]);
  });

  // docs/durable-log.md belongs to the durable-log engine (not wired in yet) and keeps its own layout for now.
  const OWN_LAYOUT = new Set(['docs/durable-log.md']);

  test('every long page has a table of contents that lists each of its sections', () => {
    const missing: string[] = [];
    for (const file of FILES.filter((f) => f.startsWith('docs/') && !OWN_LAYOUT.has(f))) {
      const text = readDoc(file);
      const sections = [...withoutCodeBlocks(text).matchAll(/^## (.+)$/gm)]
        .map((m) => m[1] as string)
        .filter((h) => h !== 'Contents');
      if (text.length < 8000 || sections.length < 3) continue;
      if (!/^## Contents$/m.test(text)) {
        missing.push(`${file}: no "## Contents"`);
        continue;
      }
      const tocTargets = new Set(links(text.slice(text.indexOf('## Contents'))).map((l) => l.target));
      for (const h of sections) {
        if (!tocTargets.has(`#${githubSlug(renderedText(h))}`)) missing.push(`${file}: "${h}" is not in its contents`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('repository paths named in the docs', () => {
  // Paths written as code (`lib/core/options.ts`, `__tests__/core/block-pipeline.test.ts`) are repository-relative by
  // convention. Globs and placeholders (`__tests__/integration/example-*.test.ts`, `<dir>`) and build output are not checked.
  const PATH = /^(?:__tests__|lib|bench|examples|scripts|docs)\/[\w.\-/]*$/;

  test.each(FILES)('every repository path in %s exists', (file) => {
    const text = withoutCodeBlocks(readDoc(file));
    const named = new Set<string>();
    for (const m of text.matchAll(/`([^`\n]+)`/g)) {
      const candidate = (m[1] as string).trim();
      if (PATH.test(candidate)) named.add(candidate);
    }
    const missing = [...named].filter((p) => !existsSync(join(ROOT, p))).map((p) => `${file}: ${p}`);
    expect(missing).toEqual([]);
  });

  test('the guarantees page names a test for its promises, and each is a real test file', () => {
    const tests = [...readDoc('docs/guarantees.md').matchAll(/`(__tests__\/[\w.\-/]+\.test\.ts)`/g)].map(
      (m) => m[1] as string,
    );
    expect(new Set(tests).size).toBeGreaterThan(30);
    expect(tests.filter((t) => !existsSync(join(ROOT, t)))).toEqual([]);
  });

  test('no stale pointers: the docs never send readers to a gitignored draft or "the reference"', () => {
    for (const file of FILES) {
      const text = readDoc(file);
      expect({ file, draft: /\.drafts\//.test(text) }).toEqual({ file, draft: false });
      expect({ file, reference: /\bthe (design )?reference\b/i.test(text) }).toEqual({ file, reference: false });
    }
  });
});
