/**
 * Just enough Markdown reading for the documentation tests: fenced code blocks (with the HTML comments
 * just above them, where snippet directives live), headings and the anchors GitHub derives from them,
 * links, and sections by heading. Not a Markdown parser: it relies on the docs using ``` fences and ATX
 * (`#`) headings only, which the tests themselves enforce by failing on anything they cannot resolve.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli';

/** README.md and every docs/*.md, as paths relative to the repository root. */
export function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

export function readDoc(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8');
}

export interface CodeBlock {
  /** Repository-relative path of the Markdown file. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string up to the first space, lower-cased ('' when absent). */
  lang: string;
  /** The lines between the fences. */
  code: string;
  /** Bodies of the HTML comments directly above the fence (blank lines between them allowed). */
  comments: string[];
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/;

/** Every fenced code block of `text`, in order. */
export function codeBlocks(file: string, text: string): CodeBlock[] {
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] as string);
    if (open === null) continue;
    const marker = open[1] as string;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] as string).trimStart().startsWith(marker); i++)
      body.push(lines[i] as string);
    blocks.push({
      file,
      line: start + 1,
      lang: (open[2] as string).toLowerCase(),
      code: body.join('\n'),
      comments: commentsAbove(lines, start),
    });
  }
  return blocks;
}

function commentsAbove(lines: readonly string[], fenceIndex: number): string[] {
  const comments: string[] = [];
  let j = fenceIndex - 1;
  for (;;) {
    while (j >= 0 && (lines[j] as string).trim() === '') j--;
    if (j < 0 || !(lines[j] as string).trimEnd().endsWith('-->')) break;
    const end = j;
    while (j >= 0 && !(lines[j] as string).includes('<!--')) j--;
    if (j < 0) break;
    const raw = lines.slice(j, end + 1).join('\n');
    comments.unshift(raw.slice(raw.indexOf('<!--') + 4, raw.lastIndexOf('-->')).trim());
    j--;
  }
  return comments;
}

/** `text` with fenced code blocks blanked out (line numbers kept), so headings and links are not read from code. */
export function withoutCodeBlocks(text: string): string {
  const lines = text.split('\n');
  let marker: string | null = null;
  return lines
    .map((line) => {
      const open = FENCE.exec(line);
      if (marker === null) {
        if (open === null) return line;
        marker = open[1] as string;
        return '';
      }
      if (line.trimStart().startsWith(marker)) marker = null;
      return '';
    })
    .join('\n');
}

export interface Heading {
  level: number;
  /** The heading's Markdown source, e.g. "Command line: `backpressure`". */
  source: string;
  /** 1-based line. */
  line: number;
}

export function headings(text: string): Heading[] {
  const out: Heading[] = [];
  withoutCodeBlocks(text)
    .split('\n')
    .forEach((line, i) => {
      const m = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
      if (m !== null) out.push({ level: (m[1] as string).length, source: m[2] as string, line: i + 1 });
    });
  return out;
}

/** The text GitHub renders for a heading's Markdown: code spans verbatim, links by their text, no tags or emphasis marks. */
export function renderedText(source: string): string {
  return source
    .split(/(`[^`]*`)/)
    .map((part) =>
      part.startsWith('`') && part.endsWith('`') && part.length >= 2
        ? part.slice(1, -1)
        : part
            .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
            .replace(/<[^>]*>/g, '')
            .replace(/\*/g, ''),
    )
    .join('');
}

/**
 * GitHub's anchor for a heading (github-slugger): lower-case, drop everything but letters, marks, numbers,
 * connector punctuation (`_`), `-` and spaces, then spaces become `-`. Repeats get `-1`, `-2`, … (see `anchors`).
 */
export function githubSlug(rendered: string): string {
  return rendered
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a Markdown file defines: its headings' slugs (with GitHub's de-duplication) and explicit `id`/`name` attributes. */
export function anchors(text: string): Set<string> {
  const occurrences = new Map<string, number>();
  const out = new Set<string>();
  for (const h of headings(text)) {
    const base = githubSlug(renderedText(h.source));
    let slug = base;
    while (occurrences.has(slug)) {
      const n = (occurrences.get(base) ?? 0) + 1;
      occurrences.set(base, n);
      slug = `${base}-${n}`;
    }
    occurrences.set(slug, 0);
    out.add(slug);
  }
  for (const m of withoutCodeBlocks(text).matchAll(/<[a-z][^>]*\s(?:id|name)="([^"]+)"/gi)) out.add(m[1] as string);
  return out;
}

export interface Link {
  target: string;
  /** 1-based line. */
  line: number;
}

/** Inline links and images, reference definitions and HTML href/src, outside code. */
export function links(text: string): Link[] {
  const out: Link[] = [];
  withoutCodeBlocks(text)
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.replace(/`[^`]*`/g, '');
      for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
        out.push({ target: m[1] as string, line: i + 1 });
      const ref = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
      if (ref !== null) out.push({ target: ref[1] as string, line: i + 1 });
      for (const m of line.matchAll(/\s(?:href|src)="([^"]+)"/g)) out.push({ target: m[1] as string, line: i + 1 });
    });
  return out;
}

/** The Markdown under the first heading whose rendered text is `title`, up to the next heading of the same or a higher level. */
export function section(text: string, title: string): string {
  const all = headings(text);
  const index = all.findIndex((h) => renderedText(h.source) === title);
  const start = all[index];
  if (start === undefined) throw new Error(`no heading "${title}"`);
  const next = all.slice(index + 1).find((h) => h.level <= start.level);
  const lines = text.split('\n');
  return lines.slice(start.line, next === undefined ? lines.length : next.line - 1).join('\n');
}
