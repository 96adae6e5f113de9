/**
 * Every TypeScript/JavaScript code block in README.md and docs/*.md type-checks against the library as it is
 * now, with the repository's strict compiler options, so a renamed option, event or export breaks this test
 * instead of silently breaking the docs.
 *
 * How a block is checked: it becomes an in-memory module at the repository root (so a `./lib/…` import means
 * what it says), `'backpressure'` resolves to `lib/index.ts`, and top-level `await` is allowed, as in an ES
 * module. Names a block uses without defining (your database, your logger) come from an invisible HTML comment
 * right above it:
 *
 *     <!-- snippet: prelude
 *     declare const db: { insertMany(rows: Event[]): Promise<void> };
 *     -->
 *
 * A block that cannot be checked on purpose is marked `<!-- snippet: skip (why) -->`; the reason is required
 * and skips are capped, so they stay rare.
 */
import { join } from 'node:path';
import * as ts from 'typescript';
import { ROOT } from '../helpers/cli';
import { codeBlocks, docFiles, readDoc, type CodeBlock } from '../helpers/markdown';

const CHECKED_LANGS = new Set(['ts', 'typescript', 'mts', 'cts', 'js', 'javascript', 'mjs', 'cjs']);
const JS_LANGS = new Set(['js', 'javascript', 'mjs', 'cjs']);
/** Skips allowed across all the docs: each one is a snippet nobody checks. */
const MAX_SKIPS = 3;

interface Snippet {
  block: CodeBlock;
  /** `README.md:82`: where the fence opens. */
  where: string;
  skip: string | null;
  prelude: string;
  /** In-memory module path; lives at the repository root. */
  path: string;
  source: string;
  /** Lines the prelude adds before the block's first line. */
  offset: number;
}

function toSnippet(block: CodeBlock): Snippet {
  const where = `${block.file}:${block.line}`;
  let skip: string | null = null;
  const preludes: string[] = [];
  for (const comment of block.comments) {
    if (!comment.startsWith('snippet:')) continue;
    const directive = comment.slice('snippet:'.length).trim();
    const skipMatch = /^skip\s*\((.+)\)$/s.exec(directive);
    if (skipMatch !== null) skip = (skipMatch[1] as string).trim();
    else if (directive.startsWith('prelude')) preludes.push(directive.slice('prelude'.length).replace(/^\s*\n/, ''));
    else
      throw new Error(
        `${where}: unknown snippet directive "${directive.split('\n')[0] ?? ''}" (use "prelude" or "skip (reason)")`,
      );
  }
  const prelude = preludes.join('\n');
  const ext = JS_LANGS.has(block.lang) ? 'js' : 'ts';
  const path = join(ROOT, `__docs_snippet__${block.file.replace(/[^\w]/g, '_')}_L${block.line}.${ext}`);
  const head = prelude === '' ? '' : `${prelude}\n`;
  // `export {}` makes every block a module: its own scope, and top-level await allowed.
  const source = `${head}${block.code}\nexport {};\n`;
  return { block, where, skip, prelude, path, source, offset: head === '' ? 0 : head.split('\n').length - 1 };
}

const allBlocks = docFiles().flatMap((file) => codeBlocks(file, readDoc(file)));
const snippets = allBlocks.filter((b) => CHECKED_LANGS.has(b.lang)).map(toSnippet);
const checked = snippets.filter((s) => s.skip === null);
const skipped = snippets.filter((s) => s.skip !== null);

/** A known-bad block, to prove the checker reports what is wrong rather than nothing at all. */
const CANARY = toSnippet({
  file: '(canary)',
  line: 1,
  lang: 'ts',
  comments: [],
  code: [
    "import { BackpressureWritable } from 'backpressure';",
    'new BackpressureWritable<number>({ flush: async () => undefined, maxBufferSize: "10" });',
    'undeclaredThing();',
  ].join('\n'),
});

function compilerOptions(): ts.CompilerOptions {
  const file = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (p) => ts.sys.readFile(p));
  if (file.error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(file.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(file.config, ts.sys, ROOT);
  return {
    ...parsed.options, // strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes, … exactly as the repository
    noEmit: true,
    // What a user's ES module sees: top-level await, and the package by its name.
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    paths: { backpressure: [join(ROOT, 'lib', 'index.ts')] },
    types: ['node'],
    allowJs: true,
    checkJs: true,
  };
}

let program: ts.Program;

beforeAll(() => {
  const options = compilerOptions();
  const files = new Map([...snippets, CANARY].filter((s) => s.skip === null).map((s) => [s.path, s.source]));
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion, onError, shouldCreate) => {
    const text = files.get(name);
    return text === undefined
      ? getSourceFile(name, languageVersion, onError, shouldCreate)
      : ts.createSourceFile(name, text, languageVersion, true);
  };
  host.fileExists = (name) => files.has(name) || ts.sys.fileExists(name);
  host.readFile = (name) => files.get(name) ?? ts.sys.readFile(name);
  program = ts.createProgram({ rootNames: [...files.keys()], options, host });
}, 120_000);

/** The snippet's problems, each as `file:line: message` pointing into the Markdown. */
function problems(snippet: Snippet): string[] {
  const sf = program.getSourceFile(snippet.path);
  if (sf === undefined) return [`${snippet.where}: not compiled`];
  return [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)].map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.start === undefined) return `${snippet.where}: TS${d.code}: ${message}`;
    const line = sf.getLineAndCharacterOfPosition(d.start).line;
    const at =
      line < snippet.offset
        ? `${snippet.where} (prelude line ${line + 1})`
        : `${snippet.block.file}:${snippet.block.line + 1 + line - snippet.offset}`;
    return `${at}: TS${d.code}: ${message}`;
  });
}

describe('code snippets in README.md and docs/', () => {
  test('there are snippets to check, and the compiler options are valid', () => {
    expect(checked.length).toBeGreaterThanOrEqual(4);
    expect(program.getOptionsDiagnostics().map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual(
      [],
    );
    expect(program.getGlobalDiagnostics().map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  });

  test("'backpressure' resolves to this repository's lib/index.ts", () => {
    expect(program.getSourceFile(join(ROOT, 'lib', 'index.ts'))).toBeDefined();
  });

  test('the checker reports a bad option type and an undeclared name, at their Markdown lines', () => {
    const found = problems(CANARY);
    expect(found).toEqual([
      expect.stringMatching(/^\(canary\):3: TS2322: .*number/s),
      expect.stringMatching(/^\(canary\):4: TS2304: Cannot find name 'undeclaredThing'/),
    ]);
  });

  test.each(checked.map((s) => [s.where, s] as const))('%s type-checks', (_where, snippet) => {
    expect(problems(snippet)).toEqual([]);
  });

  test('skips are rare and each gives its reason', () => {
    expect(skipped.length).toBeLessThanOrEqual(MAX_SKIPS);
    for (const s of skipped) expect(s.skip).toMatch(/\w{3,}/);
  });

  test('no block in a TypeScript-like language escapes the check under another name', () => {
    const odd = allBlocks.filter(
      (b) => /^(tsx?|jsx?|typescript|javascript|node)$/i.test(b.lang) && !CHECKED_LANGS.has(b.lang),
    );
    expect(odd.map((b) => `${b.file}:${b.line} (${b.lang})`)).toEqual([]);
  });
});
