/**
 * bench/svg-chart.ts draws docs/burst.svg by hand (no dependency), so nothing else checks that its
 * output is a well-formed document: balanced tags, escaped text, and points that land inside the
 * plot frame they belong to. Pure functions, tiny inputs, no timing.
 */
import fc from 'fast-check';
import {
  AxisSide,
  escapeXml,
  formatCompact,
  niceTicks,
  renderChart,
  scale,
  SeriesKind,
  wrapText,
  type ChartSpec,
  type Series,
} from '../../bench/svg-chart';

/** Checks that every opened tag is closed in order; returns the tag names seen. Throws otherwise. */
function checkBalanced(svg: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  const body = svg.replace(/^<\?xml[^?]*\?>\s*/, '');
  const text = body.replace(/<[^>]*>/g, '');
  // Outside tags, '<' cannot appear at all (it would have started a tag) and '&' only as an entity.
  expect(text).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
  for (const match of body.matchAll(/<(\/?)([a-zA-Z][\w-]*)([^>]*?)(\/?)>/g)) {
    const [, closing, name = '', attributes = '', selfClosing] = match;
    // Attribute values are double-quoted, so an odd number of quotes means one leaked through.
    expect((attributes.match(/"/g) ?? []).length % 2).toBe(0);
    if (closing === '/') {
      expect(stack.pop()).toBe(name);
    } else if (selfClosing !== '/') {
      stack.push(name);
      names.push(name);
    } else {
      names.push(name);
    }
  }
  expect(stack).toEqual([]);
  // Every '<' in the document started one of the tags matched above.
  expect((body.match(/</g) ?? []).length).toBe([...body.matchAll(/<(\/?)([a-zA-Z][\w-]*)([^>]*?)(\/?)>/g)].length);
  return names;
}

function numbers(attribute: string, svg: string): number[][] {
  return [...svg.matchAll(new RegExp(`${attribute}="([^"]*)"`, 'g'))].map((m) =>
    (m[1] ?? '')
      .trim()
      .split(/[\s,]+/)
      .map(Number),
  );
}

function tinySpec(overrides: Partial<ChartSpec> = {}, series: Series[] = []): ChartSpec {
  return {
    title: 'tiny',
    caption: ['one line'],
    width: 400,
    plotHeight: 100,
    x: { label: 'time (s)', min: 0, max: 10, ticks: [0, 5, 10], format: String },
    left: { label: 'buffer (%)', min: 0, max: 100, ticks: [0, 50, 100], format: (v) => `${v} %` },
    right: { label: 'items/s', min: 0, max: 1000, ticks: [0, 500, 1000], format: formatCompact },
    bandLabel: 'state',
    bandKeys: [
      { key: 'normal', label: 'normal', color: '#00ff00' },
      { key: 'blocked', label: 'blocked', color: '#ff0000' },
    ],
    panels: [
      {
        title: 'panel',
        note: 'note',
        series,
        band: [
          { from: 0, to: 4, key: 'normal' },
          { from: 4, to: 10, key: 'blocked' },
        ],
      },
    ],
    ...overrides,
  };
}

/** The plot frame of the first panel: the first white rect with a grey border. */
function frame(svg: string): { x: number; y: number; w: number; h: number } {
  const m = /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="#fff" stroke="#999"\/>/.exec(svg);
  if (m === null) throw new Error('no plot frame');
  return { x: Number(m[1]), y: Number(m[2]), w: Number(m[3]), h: Number(m[4]) };
}

describe('renderChart', () => {
  const line: Series = {
    label: 'delivered',
    color: '#2ca02c',
    axis: AxisSide.RIGHT,
    points: [
      [0, 0],
      [5, 500],
      [10, 1000],
    ],
  };
  const area: Series = {
    label: 'buffer',
    color: '#3182bd',
    axis: AxisSide.LEFT,
    kind: SeriesKind.AREA,
    points: [
      [0, 0],
      [10, 100],
    ],
  };

  test('is one svg element with balanced tags and a viewBox matching its size', () => {
    const svg = renderChart(tinySpec({}, [area, line]));
    const names = checkBalanced(svg);
    expect(names[0]).toBe('svg');
    expect(names.filter((n) => n === 'svg')).toHaveLength(1);
    expect(names).toEqual(expect.arrayContaining(['polyline', 'path', 'text', 'rect', 'title']));
    const [width, height] = [Number(/ width="(\d+)"/.exec(svg)?.[1]), Number(/ height="(\d+)"/.exec(svg)?.[1])];
    expect(svg).toContain(`viewBox="0 0 ${width} ${height}"`);
    expect(width).toBe(400);
  });

  test('escapes text in titles, captions, notes, labels and tick labels', () => {
    const nasty = `<script>alert("x") & 'y'</script>`;
    const svg = renderChart({
      ...tinySpec({ title: nasty, caption: [nasty] }, [{ ...line, label: nasty }]),
      x: { label: nasty, min: 0, max: 10, ticks: [0, 10], format: () => '<&>' },
    });
    checkBalanced(svg);
    expect(svg).not.toContain('<script');
    expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;) &amp; &apos;y&apos;&lt;/script&gt;');
    expect(svg).toContain('>&lt;&amp;&gt;</text>');
  });

  test('scales points onto the plot frame: domain corners land on its corners', () => {
    const svg = renderChart(tinySpec({}, [line]));
    const f = frame(svg);
    const [points] = numbers('points', svg);
    expect(points).toEqual([f.x, f.y + f.h, f.x + f.w / 2, f.y + f.h / 2, f.x + f.w, f.y]);
  });

  test('clamps values outside an axis into the frame instead of leaving the viewBox', () => {
    const wild: Series = {
      ...line,
      points: [
        [-5, -10],
        [20, 1e9],
        [5, Number.NaN],
      ],
    };
    const svg = renderChart(tinySpec({}, [wild]));
    const f = frame(svg);
    const [points = []] = numbers('points', svg);
    for (let i = 0; i < points.length; i += 2) {
      expect(points[i]).toBeGreaterThanOrEqual(f.x);
      expect(points[i]).toBeLessThanOrEqual(f.x + f.w);
      expect(points[i + 1]).toBeGreaterThanOrEqual(f.y);
      expect(points[i + 1]).toBeLessThanOrEqual(f.y + f.h);
    }
    expect(points.every(Number.isFinite)).toBe(true);
  });

  test('fills an area down to the zero line and closes it', () => {
    const svg = renderChart(tinySpec({}, [area]));
    const f = frame(svg);
    const d = /<path d="([^"]*)"/.exec(svg)?.[1] ?? '';
    expect(d).toBe(`M${f.x},${f.y + f.h} L${f.x},${f.y + f.h} L${f.x + f.w},${f.y} L${f.x + f.w},${f.y + f.h} Z`);
  });

  test('draws the band span by span, in the key colours, unknown keys grey', () => {
    const spec = tinySpec();
    const panel = spec.panels[0];
    if (panel === undefined) throw new Error('no panel');
    const svg = renderChart({
      ...spec,
      panels: [{ ...panel, band: [...panel.band, { from: 9, to: 10, key: 'mystery' }] }],
    });
    const f = frame(svg);
    const spans = [
      ...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="12" fill="([^"]+)"><title>/g),
    ];
    expect(spans.map((m) => m[3])).toEqual(['#00ff00', '#ff0000', '#bdbdbd']);
    expect(Number(spans[0]?.[1])).toBe(f.x);
    expect(Number(spans[0]?.[2])).toBeCloseTo(f.w * 0.4, 1);
  });

  test('lists each series once in the legend, however many panels use it', () => {
    const spec = tinySpec({}, [line]);
    const panel = spec.panels[0];
    if (panel === undefined) throw new Error('no panel');
    const svg = renderChart({ ...spec, panels: [panel, panel, panel] });
    checkBalanced(svg);
    expect(svg.match(/>delivered<\/text>/g)).toHaveLength(1);
    expect(svg.match(/<polyline /g)).toHaveLength(3);
  });

  test('is deterministic', () => {
    expect(renderChart(tinySpec({}, [area, line]))).toBe(renderChart(tinySpec({}, [area, line])));
  });
});

describe('helpers', () => {
  test('escapeXml escapes the five XML specials and nothing else', () => {
    expect(escapeXml(`a<b>c&d"e'f ≈ 5 %`)).toBe('a&lt;b&gt;c&amp;d&quot;e&apos;f ≈ 5 %');
  });

  test('scale maps linearly and clamps; a zero-width domain maps to the range start', () => {
    const s = scale(0, 10, 100, 200);
    expect([s(0), s(5), s(10), s(-1), s(11)]).toEqual([100, 150, 200, 100, 200]);
    expect(scale(0, 1, 50, 10)(0.25)).toBe(40); // inverted ranges, as for y
    expect(scale(3, 3, 7, 9)(3)).toBe(7);
  });

  test('niceTicks starts at 0, rises in round steps and covers max', () => {
    expect(niceTicks(52_000 * 1.3, 7)).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 70_000]);
    expect(niceTicks(100, 4)).toEqual([0, 25, 50, 75, 100]);
    fc.assert(
      fc.property(fc.double({ min: 1e-3, max: 1e9, noNaN: true }), fc.integer({ min: 2, max: 10 }), (max, count) => {
        const ticks = niceTicks(max, count);
        expect(ticks[0]).toBe(0);
        for (let i = 1; i < ticks.length; i++) expect(ticks[i]).toBeGreaterThan(ticks[i - 1] as number);
        expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(max);
        expect(ticks.length).toBeLessThanOrEqual(count + 2);
      }),
      { numRuns: 200 },
    );
  });

  test('formatCompact', () => {
    expect([0, 250, 2500, 50_000, 1_200_000].map(formatCompact)).toEqual(['0', '250', '2.5k', '50k', '1.2M']);
  });

  test('wrapText keeps every word, in order, and breaks only between words', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z]{1,12}$/), { maxLength: 30 }),
        fc.integer({ min: 20, max: 400 }),
        (words, width) => {
          const text = words.join(' ');
          const lines = wrapText(text, width);
          expect(lines.join(' ')).toBe(text);
          const widest = Math.max(...words.map((w) => w.length), Math.floor(width / 6.8));
          for (const l of lines) expect(l.length).toBeLessThanOrEqual(widest);
        },
      ),
      { numRuns: 200 },
    );
  });
});
