/**
 * A dependency-free SVG chart of stacked panels sharing one time axis (issue 6's burst picture).
 *
 * Pure functions only: data series in, an SVG string out. No I/O, no clock, no randomness, so the
 * same input always gives the same bytes (docs/burst.svg diffs stay readable) and the generator can
 * be unit-tested on tiny inputs (__tests__/bench/svg-chart.test.ts).
 *
 * Each panel has a plot area with a left axis (e.g. buffer utilization, %) and a right axis (e.g.
 * items/s), lines or filled areas bound to either axis, and a thin coloured band under the plot
 * showing a categorical value over time (the writable's state). Values outside an axis's range are
 * clamped to the plot's edge rather than drawn outside the viewBox.
 */

/** A point [x, y] in data units. */
export type XY = readonly [number, number];

export const SeriesKind = {
  /** A polyline. */
  LINE: 'line',
  /** A polyline filled down to the axis's zero. */
  AREA: 'area',
} as const;
export type SeriesKind = (typeof SeriesKind)[keyof typeof SeriesKind];

export const AxisSide = { LEFT: 'left', RIGHT: 'right' } as const;
export type AxisSide = (typeof AxisSide)[keyof typeof AxisSide];

export interface Series {
  /** Legend text; series with the same label and colour share one legend entry. */
  label: string;
  /** Any SVG colour. */
  color: string;
  axis: AxisSide;
  points: readonly XY[];
  /** @default 'line' */
  kind?: SeriesKind;
  /** SVG stroke-dasharray, e.g. '4 3'. @default solid */
  dash?: string;
  /** Stroke width in px. @default 1.5 */
  width?: number;
}

/** One interval of the categorical band: `key` holds over [from, to) on the x axis. */
export interface Span {
  from: number;
  to: number;
  key: string;
}

export interface Panel {
  /** Bold, left-aligned above the plot. */
  title: string;
  /** Regular text under the title (key figures), wrapped to the plot's width. */
  note?: string;
  series: readonly Series[];
  band: readonly Span[];
}

export interface Axis {
  label: string;
  min: number;
  max: number;
  ticks: readonly number[];
  format: (value: number) => string;
}

export interface BandKey {
  key: string;
  label: string;
  color: string;
}

export interface ChartSpec {
  title: string;
  /** Lines of smaller text under the title (what was measured, with which options). */
  caption: readonly string[];
  /** Total width in px. @default 900 */
  width?: number;
  /** Height of each panel's plot area in px. @default 150 */
  plotHeight?: number;
  x: Axis;
  left: Axis;
  right: Axis;
  /** Band title in the legend, e.g. 'writable state'. */
  bandLabel: string;
  /** Colours of the band's keys, in legend order; unknown keys are drawn grey. */
  bandKeys: readonly BandKey[];
  /** An x interval shaded in every panel (e.g. the burst), explained in the legend. */
  highlight?: { from: number; to: number; label: string };
  panels: readonly Panel[];
}

const FONT = 'font-family="sans-serif" font-size="12"';
const MARGIN_LEFT = 64;
const MARGIN_RIGHT = 72;
const CAPTION_LINE = 17;
const LEGEND_ROW = 20;
const PANEL_TITLE = 20;
const PANEL_NOTE = 16;
const BAND_GAP = 3;
const BAND_HEIGHT = 12;
const TICK_LABELS = 18;
const PANEL_GAP = 16;
/** Rough advance of a 12px sans-serif character, for laying out the legend without measuring text. */
const CHAR_WIDTH = 6.8;
const UNKNOWN_KEY_COLOR = '#bdbdbd';
const HIGHLIGHT_COLOR = '#eeeeee';

/** Escapes text for use in SVG text content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Maps [d0, d1] onto [r0, r1] linearly, clamping values outside the domain to its ends. */
export function scale(d0: number, d1: number, r0: number, r1: number): (value: number) => number {
  const span = d1 - d0;
  return (value: number): number => {
    const t = span === 0 || !Number.isFinite(value) ? 0 : (value - d0) / span;
    const clamped = t < 0 ? 0 : t > 1 ? 1 : t;
    return r0 + clamped * (r1 - r0);
  };
}

/** Up to about `count` round tick values from 0 to at least `max` (steps of 1, 2, 2.5 or 5 × 10ⁿ). */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if ((ticks[ticks.length - 1] ?? 0) < max) ticks.push(Number((ticks.length * step).toPrecision(12)));
  return ticks;
}

/** 0 → '0', 2500 → '2.5k', 50000 → '50k', 1200000 → '1.2M'. */
export function formatCompact(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e3) return `${trim(value / 1e3)}k`;
  return trim(value);
}

/** Splits text at spaces into lines of at most `width` px (estimated; a single long word stays whole). */
export function wrapText(text: string, width: number): string[] {
  const maxChars = Math.max(1, Math.floor(width / CHAR_WIDTH));
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > maxChars) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line);
  return lines;
}

function trim(value: number): string {
  return String(Number(value.toFixed(2)));
}

function num(value: number): string {
  return String(Math.round(value * 10) / 10);
}

interface LegendEntry {
  label: string;
  swatch: string; // SVG for a 22×12 swatch at the origin; '' for a plain label
  /** Start a new legend row with this entry. */
  newRow?: boolean;
}

function legendEntries(spec: ChartSpec): LegendEntry[] {
  const entries: LegendEntry[] = [];
  const seen = new Set<string>();
  for (const panel of spec.panels) {
    for (const s of panel.series) {
      const id = `${s.label}\u0000${s.color}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const dash = s.dash === undefined ? '' : ` stroke-dasharray="${escapeXml(s.dash)}"`;
      const line = `<line x1="0" y1="6" x2="22" y2="6" stroke="${escapeXml(s.color)}" stroke-width="${s.width ?? 1.5}"${dash}/>`;
      const swatch =
        s.kind === SeriesKind.AREA
          ? `<rect x="0" y="1" width="22" height="10" fill="${escapeXml(s.color)}" fill-opacity="0.3"/>${line}`
          : line;
      entries.push({ label: s.label, swatch });
    }
  }
  if (spec.highlight !== undefined) {
    entries.push({
      label: spec.highlight.label,
      swatch: `<rect x="0" y="0" width="22" height="12" fill="${HIGHLIGHT_COLOR}" stroke="#999" stroke-width="0.5"/>`,
    });
  }
  entries.push({ label: `${spec.bandLabel}:`, swatch: '', newRow: true });
  for (const k of spec.bandKeys) {
    entries.push({
      label: k.label,
      swatch: `<rect x="0" y="0" width="22" height="12" fill="${escapeXml(k.color)}" stroke="#555" stroke-width="0.5"/>`,
    });
  }
  return entries;
}

/** Lays legend entries out left to right, wrapping at the plot's width. Returns SVG and height. */
function renderLegend(
  entries: readonly LegendEntry[],
  left: number,
  top: number,
  width: number,
): { svg: string; height: number } {
  const parts: string[] = [];
  let x = 0;
  let row = 0;
  for (const entry of entries) {
    const w = (entry.swatch === '' ? 0 : 28) + entry.label.length * CHAR_WIDTH + 18;
    if (x > 0 && (entry.newRow === true || x + w > width)) {
      x = 0;
      row++;
    }
    const y = top + row * LEGEND_ROW;
    parts.push(
      `<g transform="translate(${num(left + x)},${num(y)})">${entry.swatch}` +
        `<text x="${entry.swatch === '' ? 0 : 28}" y="10.5">${escapeXml(entry.label)}</text></g>`,
    );
    x += w;
  }
  return { svg: parts.join(''), height: (row + 1) * LEGEND_ROW };
}

function renderSeries(s: Series, sx: (v: number) => number, sy: (v: number) => number, baseY: number): string {
  if (s.points.length === 0) return '';
  const coords = s.points.map(([x, y]) => `${num(sx(x))},${num(sy(y))}`);
  const color = escapeXml(s.color);
  const dash = s.dash === undefined ? '' : ` stroke-dasharray="${escapeXml(s.dash)}"`;
  const line = `<polyline points="${coords.join(' ')}" fill="none" stroke="${color}" stroke-width="${s.width ?? 1.5}" stroke-linejoin="round"${dash}/>`;
  if (s.kind !== SeriesKind.AREA) return line;
  const first = s.points[0] as XY;
  const last = s.points[s.points.length - 1] as XY;
  const area =
    `<path d="M${num(sx(first[0]))},${num(baseY)} L${coords.join(' L')} L${num(sx(last[0]))},${num(baseY)} Z" ` +
    `fill="${color}" fill-opacity="0.3" stroke="none"/>`;
  return area + line;
}

/** Renders the whole chart as a standalone SVG document. */
export function renderChart(spec: ChartSpec): string {
  const width = spec.width ?? 900;
  const plotHeight = spec.plotHeight ?? 150;
  const plotLeft = MARGIN_LEFT;
  const plotWidth = width - MARGIN_LEFT - MARGIN_RIGHT;
  const plotRight = plotLeft + plotWidth;
  const sx = scale(spec.x.min, spec.x.max, plotLeft, plotRight);
  const bandKeyColor = new Map(spec.bandKeys.map((k) => [k.key, k.color] as const));

  const body: string[] = [];
  let y = 26;
  body.push(`<text x="${plotLeft}" y="${y}" font-size="16" font-weight="bold">${escapeXml(spec.title)}</text>`);
  y += 8;
  for (const line of spec.caption.flatMap((text) => wrapText(text, width - plotLeft - 8))) {
    y += CAPTION_LINE;
    body.push(`<text x="${plotLeft}" y="${y}" fill="#444">${escapeXml(line)}</text>`);
  }
  y += 12;
  const legend = renderLegend(legendEntries(spec), plotLeft, y, plotWidth + MARGIN_RIGHT - 8);
  body.push(legend.svg);
  y += legend.height + 8;

  spec.panels.forEach((panel, index) => {
    const isLast = index === spec.panels.length - 1;
    y += PANEL_TITLE;
    body.push(`<text x="${plotLeft}" y="${y - 6}" font-size="13" font-weight="bold">${escapeXml(panel.title)}</text>`);
    for (const line of panel.note === undefined ? [] : wrapText(panel.note, plotWidth)) {
      y += PANEL_NOTE;
      body.push(`<text x="${plotLeft}" y="${y - 6}" fill="#333">${escapeXml(line)}</text>`);
    }
    const top = y;
    const bottom = top + plotHeight;
    const syLeft = scale(spec.left.min, spec.left.max, bottom, top);
    const syRight = scale(spec.right.min, spec.right.max, bottom, top);

    // Background, highlight, grid.
    body.push(
      `<rect x="${plotLeft}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="#fff" stroke="#999"/>`,
    );
    if (spec.highlight !== undefined) {
      const h = spec.highlight;
      const x0 = sx(h.from);
      body.push(
        `<rect x="${num(x0)}" y="${top}" width="${num(sx(h.to) - x0)}" height="${plotHeight}" fill="${HIGHLIGHT_COLOR}"/>`,
      );
    }
    for (const t of spec.left.ticks) {
      const ty = syLeft(t);
      body.push(`<line x1="${plotLeft}" y1="${num(ty)}" x2="${plotRight}" y2="${num(ty)}" stroke="#e3e3e3"/>`);
      body.push(
        `<text x="${plotLeft - 6}" y="${num(ty + 4)}" text-anchor="end" fill="#333">${escapeXml(spec.left.format(t))}</text>`,
      );
    }
    for (const t of spec.right.ticks) {
      body.push(
        `<text x="${plotRight + 6}" y="${num(syRight(t) + 4)}" fill="#333">${escapeXml(spec.right.format(t))}</text>`,
      );
    }
    for (const t of spec.x.ticks) {
      const tx = sx(t);
      body.push(`<line x1="${num(tx)}" y1="${top}" x2="${num(tx)}" y2="${bottom}" stroke="#ececec"/>`);
    }

    // Data: areas first so that lines stay on top.
    const ordered = [...panel.series].sort(
      (a, b) => (a.kind === SeriesKind.AREA ? 0 : 1) - (b.kind === SeriesKind.AREA ? 0 : 1),
    );
    for (const s of ordered) {
      const sy = s.axis === AxisSide.LEFT ? syLeft : syRight;
      const zero = sy(Math.max(s.axis === AxisSide.LEFT ? spec.left.min : spec.right.min, 0));
      body.push(renderSeries(s, sx, sy, zero));
    }
    body.push(
      `<rect x="${plotLeft}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999"/>`,
    );

    // Axis titles, rotated along each side.
    const mid = (top + bottom) / 2;
    body.push(
      `<text transform="translate(${plotLeft - 46},${num(mid)}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(spec.left.label)}</text>`,
    );
    body.push(
      `<text transform="translate(${plotRight + 58},${num(mid)}) rotate(90)" text-anchor="middle" fill="#333">${escapeXml(spec.right.label)}</text>`,
    );

    // The categorical band.
    const bandTop = bottom + BAND_GAP;
    for (const span of panel.band) {
      const x0 = sx(span.from);
      const w = sx(span.to) - x0;
      if (!(w > 0)) continue;
      const color = bandKeyColor.get(span.key) ?? UNKNOWN_KEY_COLOR;
      body.push(
        `<rect x="${num(x0)}" y="${bandTop}" width="${num(w)}" height="${BAND_HEIGHT}" fill="${escapeXml(color)}">` +
          `<title>${escapeXml(`${span.key} ${trim(span.from)}–${trim(span.to)}`)}</title></rect>`,
      );
    }
    body.push(
      `<rect x="${plotLeft}" y="${bandTop}" width="${plotWidth}" height="${BAND_HEIGHT}" fill="none" stroke="#999" stroke-width="0.5"/>`,
    );
    body.push(
      `<text x="${plotLeft - 6}" y="${bandTop + 10}" text-anchor="end" fill="#333" font-size="10">state</text>`,
    );

    // Time ticks under every panel, so no panel needs the reader to look down the page.
    const tickTop = bandTop + BAND_HEIGHT;
    for (const t of spec.x.ticks) {
      const tx = sx(t);
      body.push(`<line x1="${num(tx)}" y1="${tickTop}" x2="${num(tx)}" y2="${tickTop + 4}" stroke="#999"/>`);
      body.push(
        `<text x="${num(tx)}" y="${tickTop + 15}" text-anchor="middle" fill="#333">${escapeXml(spec.x.format(t))}</text>`,
      );
    }
    y = tickTop + TICK_LABELS;
    if (isLast) {
      y += 14;
      body.push(
        `<text x="${num(plotLeft + plotWidth / 2)}" y="${y}" text-anchor="middle" fill="#333">${escapeXml(spec.x.label)}</text>`,
      );
    }
    y += PANEL_GAP;
  });

  const height = Math.ceil(y);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>\n` +
    `<rect width="${width}" height="${height}" fill="#fff"/>\n` +
    body.join('\n') +
    `\n</svg>\n`
  );
}
