import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BackpressureState, type BackpressureMetrics, type FlushEvent } from '../../lib';

/**
 * What can be bound: a `BackpressureWritable` or a `backpressure()` composition
 * (its `droppedByReason` then carries the strategy stage's drops).
 */
export interface MetricsSource {
  getMetrics(): BackpressureMetrics;
  on(event: 'flush', listener: (event: FlushEvent) => void): unknown;
  off(event: 'flush', listener: (event: FlushEvent) => void): unknown;
}

export interface PrometheusBindingOptions {
  /**
   * Prefix of every metric name. Bind two streams to one registry with two prefixes
   * (prom-client refuses two metrics of the same name in one registry).
   * @default 'backpressure_'
   */
  prefix?: string;
  /**
   * Buckets of the flush-duration histogram, in seconds.
   * @default [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
   */
  buckets?: number[];
}

export interface PrometheusBinding {
  /** Reads `getMetrics()` once and updates every gauge and counter. Scrapes call it for you. */
  refresh(): void;
  /** Stops listening to the stream and removes the metrics from the registry. */
  unbind(): void;
  /** The metric names registered, for documentation and tests. */
  readonly names: readonly string[];
}

/** Every state, so that the state gauge always exposes all six series (one of them 1). */
const STATES = Object.values(BackpressureState);

/** Prometheus' own convention for latency: seconds, from about 1 ms to the default flush timeout. */
const DEFAULT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Exposes a stream's metrics in `registry`:
 *
 * | metric | type | from |
 * |---|---|---|
 * | `<prefix>buffer_size` | gauge | `bufferSize` (items held, not in flight) |
 * | `<prefix>buffer_utilization` | gauge | `bufferUtilization` (0..1) |
 * | `<prefix>in_flight` | gauge | `inFlight` (items being flushed or awaiting retry) |
 * | `<prefix>state{state}` | gauge | 1 for the current state, 0 for the five others |
 * | `<prefix>events_accepted_total` | counter | `eventsAccepted` |
 * | `<prefix>events_flushed_total` | counter | `eventsFlushed` |
 * | `<prefix>events_dropped_total{reason}` | counter | `droppedByReason` |
 * | `<prefix>events_dead_lettered_total` | counter | `eventsDeadLettered` |
 * | `<prefix>events_retried_total` | counter | `eventsRetried` (item-attempts) |
 * | `<prefix>flush_duration_seconds` | histogram | each successful flush's `latencyMs` (`'flush'` event) |
 *
 * Values are read at scrape time (prom-client's `collect` hooks), one
 * `getMetrics()` snapshot per scrape, so the counters of one scrape balance
 * each other. Counters advance only by the positive difference from the last
 * snapshot: a Prometheus counter must never go backwards, and nothing here
 * ever decrements one. Nothing runs per item: one listener per batch for the
 * histogram, the rest at scrape time.
 */
export function bindPrometheusMetrics(
  source: MetricsSource,
  registry: Registry,
  options: PrometheusBindingOptions = {},
): PrometheusBinding {
  const prefix = options.prefix ?? 'backpressure_';
  const registers = [registry];
  let refreshedThisTurn = false;
  const collect = (): void => refresh();

  const bufferSize = new Gauge({
    name: `${prefix}buffer_size`,
    help: 'Items held by the stream and not in flight.',
    registers,
    collect,
  });
  const utilization = new Gauge({
    name: `${prefix}buffer_utilization`,
    help: 'max(bufferSize / maxBufferSize, bufferBytes / maxBufferBytes), 0..1.',
    registers,
    collect,
  });
  const inFlight = new Gauge({
    name: `${prefix}in_flight`,
    help: 'Items in batches being flushed or waiting to be retried.',
    registers,
    collect,
  });
  const state = new Gauge({
    name: `${prefix}state`,
    help: `1 for the current watermark state, 0 for the others (${STATES.join(', ')}).`,
    labelNames: ['state'],
    registers,
    collect,
  });
  const accepted = new Counter({
    name: `${prefix}events_accepted_total`,
    help: 'Items taken in by write().',
    registers,
    collect,
  });
  const flushed = new Counter({
    name: `${prefix}events_flushed_total`,
    help: 'Items the sink acknowledged.',
    registers,
    collect,
  });
  const dropped = new Counter({
    name: `${prefix}events_dropped_total`,
    help: 'Items dropped by the strategy, by reason.',
    labelNames: ['reason'],
    registers,
    collect,
  });
  const deadLettered = new Counter({
    name: `${prefix}events_dead_lettered_total`,
    help: 'Items handed to onDeadLetter (or back in an error).',
    registers,
    collect,
  });
  const retried = new Counter({
    name: `${prefix}events_retried_total`,
    help: 'Item-attempts retried (a batch of 10 retried twice adds 20).',
    registers,
    collect,
  });
  const flushDuration = new Histogram({
    name: `${prefix}flush_duration_seconds`,
    help: 'Duration of successful flushes.',
    buckets: options.buckets ?? DEFAULT_BUCKETS,
    registers,
  });

  // The last totals the counters were advanced to.
  const seen = { accepted: 0, flushed: 0, deadLettered: 0, retried: 0 };
  const seenDropped = new Map<string, number>();

  /** Advances `counter` by how much `total` grew since the last snapshot; never backwards. */
  function advance(counter: Counter, key: keyof typeof seen, total: number): void {
    const delta = total - seen[key];
    if (delta > 0) {
      counter.inc(delta);
      seen[key] = total;
    }
  }

  function refresh(): void {
    // A scrape calls every metric's collect in one synchronous pass: take one snapshot for all of them.
    if (refreshedThisTurn) return;
    refreshedThisTurn = true;
    queueMicrotask(() => {
      refreshedThisTurn = false;
    });
    const m = source.getMetrics();
    bufferSize.set(m.bufferSize);
    utilization.set(m.bufferUtilization);
    inFlight.set(m.inFlight);
    for (const s of STATES) state.set({ state: s }, s === m.state ? 1 : 0);
    advance(accepted, 'accepted', m.eventsAccepted);
    advance(flushed, 'flushed', m.eventsFlushed);
    advance(deadLettered, 'deadLettered', m.eventsDeadLettered);
    advance(retried, 'retried', m.eventsRetried);
    for (const [reason, total] of Object.entries(m.droppedByReason)) {
      const previous = seenDropped.get(reason);
      // First sight of a reason: expose it (at 0 if nothing was dropped yet), so alerts can rely on the series.
      if (previous === undefined) dropped.inc({ reason }, 0);
      const delta = total - (previous ?? 0);
      if (delta > 0) dropped.inc({ reason }, delta);
      if (previous === undefined || delta > 0) seenDropped.set(reason, total);
    }
  }

  const onFlush = (event: FlushEvent): void => flushDuration.observe(event.latencyMs / 1000);
  source.on('flush', onFlush);

  const metrics = [
    bufferSize,
    utilization,
    inFlight,
    state,
    accepted,
    flushed,
    dropped,
    deadLettered,
    retried,
    flushDuration,
  ];
  const names = metrics.map((metric) => (metric as unknown as { name: string }).name);
  refresh();
  return {
    refresh,
    names,
    unbind() {
      source.off('flush', onFlush);
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
