/**
 * The README keeps short copies of a few things the docs/ pages hold in full (the CLI quick start, the strategy
 * table, the composition example, the CLI flags). Copies drift; these tests keep each README copy equal to its
 * page, so a change made in one place must be made in both.
 */
import { codeBlocks, readDoc, section } from '../helpers/markdown';

const README = readDoc('README.md');

function blocksOf(file: string, text: string, lang: string): string[] {
  return codeBlocks(file, text)
    .filter((b) => b.lang === lang)
    .map((b) => b.code.trim());
}

/** The flags named in the first column of the flags table in `text` (`--max-buffer N` → `--max-buffer`). */
function flagsOfTable(text: string): string[] {
  const flags = new Set<string>();
  for (const row of text.split('\n').filter((l) => l.startsWith('| `-'))) {
    const firstCell = row.split(/(?<!\\)\|/)[1] ?? '';
    for (const m of firstCell.matchAll(/(?<![\w-])--?[a-z][\w-]*/g)) flags.add(m[0]);
  }
  return [...flags].sort();
}

describe('README copies agree with the docs/ pages', () => {
  test('the CLI quick start command and the output it shows are the same in README.md and docs/cli.md', () => {
    const cli = readDoc('docs/cli.md');
    const quick = section(README, 'Quick start (CLI)');
    const [command] = blocksOf('README.md', quick, 'sh');
    expect(command).toMatch(/^npx backpressure /);
    expect(blocksOf('docs/cli.md', cli, 'sh')[0]).toBe(command);
    const [shown] = blocksOf('README.md', quick, 'text');
    expect(shown).toContain('{"read":300');
    expect(blocksOf('docs/cli.md', cli, 'text')[0]).toBe(shown);
  });

  test('"Choosing a strategy" (table and rules of thumb) is the same in README.md and docs/strategies.md', () => {
    const inReadme = section(README, 'Choosing a strategy');
    const copy = inReadme.slice(0, inReadme.indexOf('\n![')).trim();
    expect(copy).toMatch(/^\| strategy \|/);
    expect(copy).toContain('Rules of thumb:');
    expect(section(readDoc('docs/strategies.md'), 'Choosing a strategy').trim()).toBe(copy);
  });

  test('the composition example is the same in README.md and docs/strategies.md', () => {
    const example = codeBlocks('README.md', README).find(
      (b) => b.lang === 'ts' && b.code.includes("strategy: 'drop-oldest'"),
    );
    expect(example).toBeDefined();
    const inPage = codeBlocks('docs/strategies.md', readDoc('docs/strategies.md')).find(
      (b) => b.code === example?.code,
    );
    expect(inPage?.comments).toEqual(example?.comments); // the same prelude, so both are checked the same way
  });

  test("the README's flags in brief name exactly the flags of docs/cli.md", () => {
    const brief = flagsOfTable(section(README, 'Flags in brief'));
    expect(brief).toContain('--strategy');
    expect(brief).toContain('-h');
    expect(brief).toEqual(flagsOfTable(section(readDoc('docs/cli.md'), 'Flags')));
  });
});
