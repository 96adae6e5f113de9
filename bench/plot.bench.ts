/**
 * npm run bench:plot — issue 6's picture: what the buffer does under a burst, per strategy.
 *
 * Every strategy gets the same clock-driven producer and the same slow sink:
 *   - sink: a flush that sleeps 0.2 ms per item (≈ SINK_RATE items/s, one batch in flight);
 *   - producer: PHASES below — a quiet second, a 10× burst, then quiet again; then end().
 * Every SAMPLE_MS we read getMetrics() and the producer's counters; state changes are recorded
 * from the 'state' events (exact times, so short states are not missed between samples).
 *
 * The producer is paced by the clock, not by a queue of its own: under 'block', when write()
 * returns false it waits for 'drain' and does not make up the time lost, so what it did not write
 * is work that stayed upstream (a slowed client, an unread socket). The figure shows both the rate
 * offered by the clock and the rate actually written.
 *
 * Writes docs/burst.svg (bench/svg-chart.ts) and docs/burst.json (the raw series). Checks the
 * accounting of every run (written = flushed + dropped, nothing dead-lettered) and fails otherwise.
 * One run takes about 7.5 s per strategy, sequentially (running them side by side would make them
 * compete for the event loop and blur the timings).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { backpressure, Strategy, type StrategyWritable } from '../lib/compose/backpressure';
import type { BackpressureWritable } from '../lib/core/backpressure-writable';
import type { DropEvent, SampleMetrics } from '../lib/stages';
import { BackpressureState, type StateChange } from '../lib/pressure/state';
import { machine } from './harness';
import {
  AxisSide,
  formatCompact,
  niceTicks,
  renderChart,
  SeriesKind,
  type Panel,
  type Series,
  type Span,
  type XY,
} from './svg-chart';

/** Items/s the sink takes: flush sleeps 1000 / SINK_RATE ms per item. */
const SINK_RATE = 5_000;
/** The producer's offered rate over time (seconds from start); after the last phase it calls end(). */
const PHASES = [
  { until: 1, rate: 2_000 },
  { until: 4, rate: 50_000 },
  { until: 7, rate: 2_000 },
] as const;
const BURST = { from: 1, to: 4 } as const;
const SAMPLE_MS = 50;
/** Plotted rates are averaged over this many samples, centred (see windowedRate). Odd. */
const RATE_WINDOW = 5;
/** Producer tick: it writes the items its rate owes since the last tick (≈ 250 per tick in the burst). */
const TICK_MS = 5;
/** Give up on a run whose end() has not finished after this (it would mean a bug). */
const FINISH_TIMEOUT_MS = 30_000;

/**
 * Smaller than the defaults (10000 / 100 / 1000) so that the burst reaches every state within a
 * second: at 45,000 items/s of excess the writable fills in ~0.1 s and the stage hold in ~0.05 s.
 */
const OPTIONS = {
  maxBufferSize: 5_000,
  batchSize: 250,
  capacity: 2_000,
  sampleRate: 10,
  // The defaults, spelled out for the caption.
  lowWatermark: 0.5,
  highWatermark: 0.8,
  hysteresis: 0.05,
} as const;

/** Log levels and their share of traffic, for 'priority' (priority = level, higher is more important). */
const LEVELS = [
  { level: 0, name: 'debug', share: 0.5 },
  { level: 1, name: 'info', share: 0.35 },
  { level: 2, name: 'warn', share: 0.12 },
  { level: 3, name: 'error', share: 0.03 },
] as const;

interface Item {
  seq: number;
  level: number;
}

/** One sample: cumulative counters at time t, plus the rates over the interval that ended at t. */
interface Sample {
  t: number;
  state: BackpressureState;
  /** The writable's bufferUtilization (0…1). */
  utilization: number;
  bufferSize: number;
  inFlight: number;
  /** Items held by the strategy stage, and its capacity (0 / null for block). */
  stageHeld: number;
  stageCapacity: number | null;
  offered: number;
  written: number;
  flushed: number;
  dropped: number;
  /** 'sample' only: items that arrived while sampling applied. */
  arrivedUnderPressure: number | null;
  producerPaused: boolean;
  offeredRate: number;
  writtenRate: number;
  deliveredRate: number;
  droppedRate: number;
}

interface Transition {
  t: number;
  from: BackpressureState;
  to: BackpressureState;
  utilization: number;
}

interface Run {
  strategy: Strategy;
  samples: Sample[];
  transitions: Transition[];
  /** When end() was called and when 'finish' fired (s). */
  endedAt: number;
  finishedAt: number;
  final: {
    offered: number;
    written: number;
    flushed: number;
    dropped: number;
    deadLettered: number;
    droppedByReason: Record<string, number>;
    arrivedUnderPressure: number | null;
    /** Items written / dropped per priority level (index = level; every strategy gets the same mix). */
    writtenByLevel: number[];
    droppedByLevel: number[];
  };
  peakUtilization: number;
  peakStageHeld: number;
  secondsByState: Record<string, number>;
  /** Drops in sample intervals that began before the burst ended, and in the later ones. */
  dropsDuringBurst: number;
  dropsAfterBurst: number;
}

/** Items the clock has offered from 0 to `seconds` (the integral of the phases' rates). */
function offeredUntil(seconds: number): number {
  let total = 0;
  let from = 0;
  for (const phase of PHASES) {
    if (seconds <= from) break;
    total += phase.rate * (Math.min(seconds, phase.until) - from);
    from = phase.until;
  }
  return total;
}

/** Deterministic level mix (mulberry32), so every run and every strategy sees the same items. */
function levelSource(seed: number): () => number {
  let a = seed >>> 0;
  const cumulative = LEVELS.map((_, i) => LEVELS.slice(0, i + 1).reduce((s, l) => s + l.share, 0));
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    const i = cumulative.findIndex((c) => r < c);
    return LEVELS[i === -1 ? LEVELS.length - 1 : i]?.level ?? 0;
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function runStrategy(strategy: Strategy): Promise<Run> {
  const nextLevel = levelSource(6);
  let deadLettered = 0;
  const common = {
    maxBufferSize: OPTIONS.maxBufferSize,
    batchSize: OPTIONS.batchSize,
    lowWatermark: OPTIONS.lowWatermark,
    highWatermark: OPTIONS.highWatermark,
    hysteresis: OPTIONS.hysteresis,
    // The sink: its cost is proportional to the batch, so partial (time-triggered) batches are cheaper.
    flush: (batch: Item[]) => sleep((batch.length * 1000) / SINK_RATE),
    onDeadLetter: (items: Item[]) => {
      deadLettered += items.length;
    },
  };
  // Each strategy takes exactly its own options (BackpressureOptions is a union on `strategy`).
  const capacity = OPTIONS.capacity;
  const output: BackpressureWritable<Item> | StrategyWritable<Item> =
    strategy === Strategy.BLOCK
      ? backpressure<Item>({ ...common, strategy })
      : strategy === Strategy.SAMPLE
        ? backpressure<Item>({ ...common, strategy, capacity, sampleRate: OPTIONS.sampleRate })
        : strategy === Strategy.PRIORITY
          ? backpressure<Item>({ ...common, strategy, capacity, priority: (item: Item) => item.level })
          : backpressure<Item>({ ...common, strategy, capacity });
  const writable: BackpressureWritable<Item> = 'backpressureWritable' in output ? output.backpressureWritable : output;
  const stage = 'stage' in output ? output.stage : null;

  const t0 = performance.now();
  const now = (): number => (performance.now() - t0) / 1000;
  const transitions: Transition[] = [];
  const writtenByLevel = LEVELS.map(() => 0);
  const droppedByLevel = LEVELS.map(() => 0);
  if (output !== writable) {
    output.on('drop', (event: DropEvent<Item>) => {
      droppedByLevel[event.item.level] = (droppedByLevel[event.item.level] ?? 0) + 1;
    });
  }
  writable.on('state', (change: StateChange) => transitions.push({ t: now(), ...change }));

  // ------------------------------------------------------------- producer
  let written = 0;
  let seq = 0;
  let credit = 0;
  let lastTick = 0;
  let paused = false;
  const onDrain = (): void => {
    paused = false;
    lastTick = now(); // no catch-up: what the clock offered while paused is not owed
  };
  const tick = (): void => {
    const t = now();
    const owed = offeredUntil(t) - offeredUntil(lastTick);
    lastTick = t;
    if (paused) return;
    credit += owed;
    while (credit >= 1) {
      credit -= 1;
      written++;
      const level = nextLevel();
      writtenByLevel[level] = (writtenByLevel[level] ?? 0) + 1;
      if (!output.write({ seq: seq++, level })) {
        // 'block' only: this item was accepted, but stop here until 'drain'. The rest of this
        // tick's credit, and what the clock offers while paused, is never written.
        credit = 0;
        paused = true;
        writable.once('drain', onDrain);
        return;
      }
    }
  };

  // -------------------------------------------------------------- sampler
  const samples: Sample[] = [];
  let previous: Sample | null = null;
  const takeSample = (): void => {
    const t = now();
    const m = output.getMetrics();
    const w = writable.getMetrics();
    const s = stage?.getMetrics();
    const sample: Sample = {
      t,
      state: w.state,
      utilization: w.bufferUtilization,
      bufferSize: w.bufferSize,
      inFlight: w.inFlight,
      stageHeld: s?.held ?? 0,
      stageCapacity: s?.capacity ?? null,
      offered: Math.floor(offeredUntil(t)), // what the clock offered, paused or not
      written,
      flushed: m.eventsFlushed,
      dropped: m.eventsDropped,
      arrivedUnderPressure:
        s !== undefined && 'arrivedUnderPressure' in s ? (s as SampleMetrics).arrivedUnderPressure : null,
      producerPaused: paused,
      offeredRate: 0,
      writtenRate: 0,
      deliveredRate: 0,
      droppedRate: 0,
    };
    if (previous !== null) {
      const dt = t - previous.t;
      if (dt > 0) {
        sample.offeredRate = (sample.offered - previous.offered) / dt;
        sample.writtenRate = (sample.written - previous.written) / dt;
        sample.deliveredRate = (sample.flushed - previous.flushed) / dt;
        sample.droppedRate = (sample.dropped - previous.dropped) / dt;
      }
    }
    samples.push(sample);
    previous = sample;
  };

  takeSample();
  const sampler = setInterval(takeSample, SAMPLE_MS);
  const producer = setInterval(tick, TICK_MS);
  const lastPhase = PHASES[PHASES.length - 1] as (typeof PHASES)[number];
  await sleep(lastPhase.until * 1000 - (performance.now() - t0));
  clearInterval(producer);
  tick(); // the last few items owed up to now
  writable.off('drain', onDrain);

  const endedAt = now();
  const finished = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${strategy}: end() did not finish within ${FINISH_TIMEOUT_MS} ms`)),
      FINISH_TIMEOUT_MS,
    );
    output.once('finish', () => {
      clearTimeout(timer);
      resolve();
    });
    output.once('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  output.end();
  await finished;
  const finishedAt = now();
  // One more regular sample after 'finish' (an immediate one would divide by a tiny interval).
  await sleep(SAMPLE_MS + 5);
  clearInterval(sampler);

  const m = output.getMetrics();
  const sm = stage?.getMetrics();
  const final = {
    offered: samples[samples.length - 1]?.offered ?? 0,
    written,
    flushed: m.eventsFlushed,
    dropped: m.eventsDropped,
    deadLettered,
    droppedByReason: m.droppedByReason,
    arrivedUnderPressure:
      sm !== undefined && 'arrivedUnderPressure' in sm ? (sm as SampleMetrics).arrivedUnderPressure : null,
    writtenByLevel,
    droppedByLevel,
  };
  // The library's promise, checked on every run: every item written is flushed or dropped-with-reason.
  if (m.eventsAccepted !== written || written !== final.flushed + final.dropped + deadLettered || deadLettered !== 0) {
    throw new Error(`${strategy}: accounting failed: ${JSON.stringify({ accepted: m.eventsAccepted, ...final })}`);
  }

  const secondsByState: Record<string, number> = {};
  let from = 0;
  let state: string = BackpressureState.NORMAL;
  for (const tr of transitions) {
    secondsByState[state] = (secondsByState[state] ?? 0) + (tr.t - from);
    from = tr.t;
    state = tr.to;
  }
  if (state !== BackpressureState.CLOSED) secondsByState[state] = (secondsByState[state] ?? 0) + (finishedAt - from);

  let dropsDuringBurst = 0;
  let dropsAfterBurst = 0;
  let prev: Sample | undefined;
  for (const s of samples) {
    if (prev !== undefined) {
      const d = s.dropped - prev.dropped;
      if (prev.t < BURST.to) dropsDuringBurst += d;
      else dropsAfterBurst += d;
    }
    prev = s;
  }

  return {
    strategy,
    samples,
    transitions,
    endedAt,
    finishedAt,
    final,
    peakUtilization: Math.max(...samples.map((s) => s.utilization), ...transitions.map((tr) => tr.utilization)),
    peakStageHeld: Math.max(...samples.map((s) => s.stageHeld)),
    secondsByState,
    dropsDuringBurst,
    dropsAfterBurst,
  };
}

// --------------------------------------------------------------- the picture

const STATE_COLORS = [
  { key: BackpressureState.NORMAL, label: 'normal', color: '#a1d99b' },
  { key: BackpressureState.ELEVATED, label: 'elevated', color: '#fdd835' },
  { key: BackpressureState.CRITICAL, label: 'critical', color: '#fd8d3c' },
  { key: BackpressureState.BLOCKED, label: 'blocked', color: '#7f0000' },
  { key: BackpressureState.DRAINING, label: 'draining', color: '#9e9ac8' },
] as const;

const COLORS = {
  utilization: '#3182bd',
  stageHeld: '#6a51a3',
  delivered: '#2ca02c',
  dropped: '#d62728',
  offered: '#999999',
  written: '#222222',
} as const;

function bandOf(run: Run): Span[] {
  const spans: Span[] = [];
  let from = 0;
  let key: string = BackpressureState.NORMAL;
  for (const tr of run.transitions) {
    if (tr.t > from) spans.push({ from, to: tr.t, key });
    from = tr.t;
    key = tr.to;
  }
  if (key !== BackpressureState.CLOSED && run.finishedAt > from) spans.push({ from, to: run.finishedAt, key });
  return spans;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function pct(x: number): string {
  return `${Math.round(x * 100)}\u00a0%`; // no-break space: a wrapped note never splits "0" from "%"
}

/** Items/s of a counter over the burst, from its first quarter-second on (once the buffer is full). */
function burstRate(run: Run, counter: (s: Sample) => number): number {
  const inside = run.samples.filter((s) => s.t >= BURST.from + 0.25 && s.t <= BURST.to);
  const a = inside[0];
  const b = inside[inside.length - 1];
  return a === undefined || b === undefined || b.t <= a.t ? 0 : (counter(b) - counter(a)) / (b.t - a.t);
}

function noteOf(run: Run): string {
  const f = run.final;
  const blocked = run.secondsByState[BackpressureState.BLOCKED] ?? 0;
  const parts = [`peak ${pct(run.peakUtilization)}`];
  if (blocked > 0) parts.push(`blocked ${blocked.toFixed(1)} s`);
  if (run.strategy === Strategy.BLOCK) {
    parts.push(
      `producer wrote ${formatCompact(Math.round(burstRate(run, (s) => s.written) / 100) * 100)}/s in the burst`,
      `${fmt(f.written)} of ${fmt(f.offered)} offered`,
      'dropped 0',
    );
  } else {
    if (run.peakStageHeld > 0) parts.push(`hold peak ${fmt(run.peakStageHeld)}`);
    parts.push(`dropped ${fmt(f.dropped)} (${fmt(run.dropsAfterBurst)} after the burst)`);
    if (run.strategy === Strategy.PRIORITY) {
      const shares = LEVELS.map(
        (l) => `${l.name}\u00a0${pct((f.droppedByLevel[l.level] ?? 0) / Math.max(1, f.writtenByLevel[l.level] ?? 0))}`,
      );
      parts.push(`dropped by level: ${shares.join(', ')}`);
    }
    if (f.arrivedUnderPressure !== null && f.arrivedUnderPressure > 0) {
      const sampledOut = f.droppedByReason['sampled-out'] ?? 0;
      parts.push(
        `kept ${(100 * (1 - sampledOut / f.arrivedUnderPressure)).toFixed(1)} % of ${fmt(f.arrivedUnderPressure)} arrived under pressure`,
      );
    }
  }
  parts.push(
    `delivered ${fmt(f.flushed)} (${formatCompact(Math.round(burstRate(run, (s) => s.flushed) / 100) * 100)}/s in the burst)`,
  );
  return parts.join(' · ');
}

const TITLES: Record<Strategy, string> = {
  block: "block — the producer is paused (write() returns false until 'drain')",
  'drop-oldest': 'drop-oldest — the oldest held item makes room',
  'drop-newest': 'drop-newest — new arrivals are refused while full',
  sample: `sample (rate ${OPTIONS.sampleRate}) — 1 in ${OPTIONS.sampleRate} kept while elevated or above`,
  priority: 'priority — debug shed when elevated, only error kept when critical',
};

/**
 * A counter's rate around each sample, over RATE_WINDOW samples centred on it: per-50 ms rates
 * alias against the sink's 50 ms flushes (0, 5000, 10000, … items/s in turn), which hides the
 * level the reader wants. Centred, so steps stay where they happened. The raw per-interval rates
 * are in docs/burst.json.
 */
function windowedRate(samples: readonly Sample[], counter: (s: Sample) => number): XY[] {
  const half = (RATE_WINDOW - 1) / 2;
  const points: XY[] = [];
  for (let i = 0; i < samples.length; i++) {
    const a = samples[Math.max(0, i - half - 1)] as Sample; // the interval ending at sample i starts at i - 1
    const b = samples[Math.min(samples.length - 1, i + half)] as Sample;
    const dt = b.t - a.t;
    if (i > 0 && dt > 0) points.push([(a.t + b.t) / 2, (counter(b) - counter(a)) / dt]);
  }
  return points;
}

function panelOf(run: Run): Panel {
  const pts = (f: (s: Sample) => number): XY[] => run.samples.map((s) => [s.t, f(s)] as const);
  const rate = (counter: (s: Sample) => number): XY[] => windowedRate(run.samples, counter);
  const series: Series[] = [
    {
      label: 'writable buffer (% of maxBufferSize)',
      color: COLORS.utilization,
      axis: AxisSide.LEFT,
      kind: SeriesKind.AREA,
      points: pts((s) => s.utilization * 100),
    },
  ];
  if (run.strategy !== Strategy.BLOCK) {
    series.push({
      label: 'stage hold (% of capacity)',
      color: COLORS.stageHeld,
      axis: AxisSide.LEFT,
      dash: '5 3',
      points: pts((s) => (s.stageCapacity ? (100 * s.stageHeld) / s.stageCapacity : 0)),
    });
  }
  series.push({
    label: 'offered by the producer (items/s)',
    color: COLORS.offered,
    axis: AxisSide.RIGHT,
    dash: '2 3',
    width: 1.5,
    points: rate((s) => s.offered),
  });
  if (run.strategy === Strategy.BLOCK) {
    series.push({
      label: 'written by the producer (items/s)',
      color: COLORS.written,
      axis: AxisSide.RIGHT,
      width: 1.5,
      points: rate((s) => s.written),
    });
  }
  series.push({
    label: 'delivered (items/s)',
    color: COLORS.delivered,
    axis: AxisSide.RIGHT,
    width: 2,
    points: rate((s) => s.flushed),
  });
  if (run.strategy !== Strategy.BLOCK) {
    series.push({
      label: 'dropped (items/s)',
      color: COLORS.dropped,
      axis: AxisSide.RIGHT,
      width: 2,
      points: rate((s) => s.dropped),
    });
  }
  return { title: TITLES[run.strategy], note: noteOf(run), series, band: bandOf(run) };
}

function chartOf(runs: readonly Run[]): string {
  const tMax = Math.ceil(Math.max(...runs.map((r) => r.finishedAt)) * 10 + 1) / 10;
  const rateMax = Math.max(
    ...runs.flatMap((r) =>
      panelOf(r)
        .series.filter((s) => s.axis === AxisSide.RIGHT)
        .flatMap((s) => s.points.map((p) => p[1])),
    ),
  );
  // Headroom above the burst's 50k so that the rate lines (drops ≈ 45k) do not run along the
  // utilization curves (≈ 50 %, 80 %, 100 %) of the same panel.
  const rateTicks = niceTicks(rateMax * 1.3, 7);
  const burstRate = PHASES[1].rate;
  const quietRate = PHASES[0].rate;
  const mix = LEVELS.map((l) => `${l.name} ${Math.round(l.share * 100)} %`).join(', ');
  return renderChart({
    title: 'What the buffer does under a 10× burst, per strategy',
    caption: [
      `Producer ${fmt(quietRate)} items/s, then ${fmt(burstRate)} items/s for ${BURST.to - BURST.from} s (from ${BURST.from} s), then ${fmt(quietRate)} items/s until ${PHASES[2].until} s, then end().` +
        ` Sink ≈ ${fmt(SINK_RATE)} items/s (flush sleeps ${1000 / SINK_RATE} ms per item).`,
      `Options: maxBufferSize ${fmt(OPTIONS.maxBufferSize)}, batchSize ${OPTIONS.batchSize}, capacity ${fmt(OPTIONS.capacity)} (stage), sampleRate ${OPTIONS.sampleRate},` +
        ` lowWatermark ${OPTIONS.lowWatermark}, highWatermark ${OPTIONS.highWatermark}, hysteresis ${OPTIONS.hysteresis}; concurrency 1.`,
      "Under block the producer, paced by the clock, waits for 'drain' and does not catch up afterwards: what it did not write stayed upstream (nothing it wrote is lost).",
      `Priority items: level 0–3 (${mix}). Sampled every ${SAMPLE_MS} ms; rates are averaged over ${RATE_WINDOW * SAMPLE_MS} ms (centred); the state band is from the 'state' events.`,
    ],
    width: 900,
    plotHeight: 140,
    x: {
      label: 'time (s)',
      min: 0,
      max: tMax,
      ticks: niceTicks(tMax, 8).filter((t) => t <= tMax),
      format: (v) => String(v),
    },
    left: { label: 'buffer (%)', min: 0, max: 100, ticks: [0, 25, 50, 75, 100], format: (v) => `${v} %` },
    right: {
      label: 'items/s',
      min: 0,
      max: rateTicks[rateTicks.length - 1] ?? 1,
      ticks: rateTicks,
      format: formatCompact,
    },
    bandLabel: 'writable state',
    bandKeys: STATE_COLORS,
    highlight: { from: BURST.from, to: BURST.to, label: `the burst (${fmt(burstRate)} items/s offered)` },
    panels: runs.map(panelOf),
  });
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

async function main(): Promise<void> {
  const order: Strategy[] = [
    Strategy.BLOCK,
    Strategy.DROP_OLDEST,
    Strategy.DROP_NEWEST,
    Strategy.SAMPLE,
    Strategy.PRIORITY,
  ];
  const runs: Run[] = [];
  for (const strategy of order) {
    process.stdout.write(`${strategy}… `);
    const run = await runStrategy(strategy);
    runs.push(run);
    process.stdout.write(`${noteOf(run)}\n`);
  }

  const docs = path.resolve(__dirname, '..', '..', 'docs');
  mkdirSync(docs, { recursive: true });
  writeFileSync(path.join(docs, 'burst.svg'), chartOf(runs));
  const json = {
    description:
      "Issue 6: buffer behaviour under a burst, per strategy (npm run bench:plot). Cumulative counters per sample; rates in items/s over the interval ending at t; 'transitions' are the writable's 'state' events.",
    machine: machine(),
    sinkRate: SINK_RATE,
    phases: PHASES,
    burst: BURST,
    sampleMs: SAMPLE_MS,
    options: OPTIONS,
    priorityLevels: LEVELS,
    runs: runs.map((r) => ({
      strategy: r.strategy,
      endedAt: round(r.endedAt, 3),
      finishedAt: round(r.finishedAt, 3),
      final: r.final,
      peakUtilization: round(r.peakUtilization, 4),
      peakStageHeld: r.peakStageHeld,
      secondsByState: Object.fromEntries(Object.entries(r.secondsByState).map(([k, v]) => [k, round(v, 3)])),
      dropsDuringBurst: r.dropsDuringBurst,
      dropsAfterBurst: r.dropsAfterBurst,
      transitions: r.transitions.map((tr) => ({ ...tr, t: round(tr.t, 4), utilization: round(tr.utilization, 4) })),
      samples: r.samples.map((s) => ({
        ...s,
        t: round(s.t, 4),
        utilization: round(s.utilization, 4),
        offeredRate: Math.round(s.offeredRate),
        writtenRate: Math.round(s.writtenRate),
        deliveredRate: Math.round(s.deliveredRate),
        droppedRate: Math.round(s.droppedRate),
      })),
    })),
  };
  // One sample or transition per line: readable, diffable, and half the size of full indentation.
  const text = JSON.stringify(json, null, 1)
    .replace(/\{\n\s*([^{}[\]]*?)\n\s*\}/g, (_m, body: string) => `{ ${body.replace(/\n\s*/g, ' ')} }`)
    .replace(/\[\n\s*([-\d.,\s]*?)\n\s*\]/g, (_m, body: string) => `[${body.replace(/\n\s*/g, ' ')}]`);
  writeFileSync(path.join(docs, 'burst.json'), `${text}\n`);
  console.log(`wrote ${path.join(docs, 'burst.svg')} and burst.json (${machine()})`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
