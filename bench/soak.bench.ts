/**
 * Memory soak: millions of items at full speed into every `backpressure()` strategy with a sink that
 * delivers SOAK_SINK_RATE items/s, against the baseline a naive program would write — an unbounded
 * queue fed by the same producer and drained by the same sink. Each case runs in its own child process
 * (child_process.fork), so its RSS is its own; RSS and heapUsed are sampled every 100 ms and reported
 * as the peak over what the child used just before the run (after a gc()).
 *
 *   npm run bench:soak
 *   (= npm run build && tsc -p tsconfig.bench.json && node --expose-gc build/bench/soak.bench.js)
 *
 * Environment (all optional):
 *   SOAK_ITEMS        items per case for the strategies that are not sink-bound (drop-oldest,
 *                     drop-newest, sample, priority) and for the naive queue     default 10,000,000
 *   SOAK_BLOCK_ITEMS  items for 'block', which runs at the sink's rate: 10M at 100k/s would take
 *                     100 s alone, so it gets fewer by default (ITEMS / SINK_RATE seconds)  default 5,000,000
 *   SOAK_SINK_RATE    items/s the sink delivers                                  default 100,000
 *   SOAK_RSS_CAP_MB   the naive queue is stopped once its RSS passes this        default 2048
 *   SOAK_CASES        comma-separated subset, e.g. "block,naive"                 default all
 *
 * Producers: 'block' writes in a loop and awaits 'drain' whenever write() returns false (what
 * pipeline() does). The drop strategies never refuse a write, so their producer yields to the event
 * loop (setImmediate) every 1000 items — otherwise the sink's timers would never run (see docs/strategies.md,
 * "a source that never yields"). The naive queue gets that same producer.
 * The naive queue is stopped when its producer is done (or at the RSS cap); it is not drained
 * (at SOAK_SINK_RATE that would take ITEMS / rate seconds more): the row says how many it still held.
 */
import { fork } from 'node:child_process';
import os from 'node:os';
import { backpressure } from '../lib';

const MB = 1024 * 1024;
const ITEMS = positiveInt('SOAK_ITEMS', 10_000_000);
const BLOCK_ITEMS = positiveInt('SOAK_BLOCK_ITEMS', 5_000_000);
const SINK_RATE = positiveInt('SOAK_SINK_RATE', 100_000);
const RSS_CAP_MB = positiveInt('SOAK_RSS_CAP_MB', 2048);
const YIELD_EVERY = 1000;
const SAMPLE_MS = 100;
/** The library's defaults (lib/core/options.ts DEFAULTS, lib/stages/shedding-stage.ts): the stated bound is built from them. */
const DEFAULT_MAX_BUFFER_SIZE = 10_000;
const DEFAULT_BATCH_SIZE = 100;
const DEFAULT_CAPACITY = 1000;

const CASES = ['block', 'drop-oldest', 'drop-newest', 'sample', 'priority', 'naive'] as const;
type Case = (typeof CASES)[number];

function positiveInt(name: string, fallback: number): number {
  const text = process.env[name];
  const n = text === undefined || text === '' ? fallback : Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got ${text}`);
  return n;
}

// ------------------------------------------------------------------------------ the workload

interface LogItem {
  id: number;
  ts: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
}

/** 60 % debug, 30 % info, 8 % warn, 2 % error: a realistic log mix (priority uses it). */
function levelOf(i: number): LogItem['level'] {
  const r = i % 50;
  return r < 30 ? 'debug' : r < 45 ? 'info' : r < 49 ? 'warn' : 'error';
}

const RANK: Record<LogItem['level'], number> = { debug: 0, info: 1, warn: 2, error: 3 };

function makeItem(id: number): LogItem {
  // A fresh 60-character string per item, as a real log line would be.
  return { id, ts: Date.now(), level: levelOf(id), msg: `${'x'.repeat(59)}${id % 10}` };
}

/**
 * A sink that delivers `SINK_RATE` items/s on average: each batch is due batch.length / rate after the
 * previous one was due (a 1 ms sleep per batch of 100 would really take ~1.2 ms: timers are coarse).
 * Time lost to timer granularity is made up, up to CATCH_UP_MS of it; an idle sink earns no credit beyond that.
 */
const CATCH_UP_MS = 50;

class RateSink {
  delivered = 0;
  #dueAt = 0;

  readonly flush = (batch: readonly unknown[]): Promise<void> => {
    const now = performance.now();
    this.#dueAt = Math.max(now - CATCH_UP_MS, this.#dueAt) + (batch.length * 1000) / SINK_RATE;
    const wait = this.#dueAt - now;
    return new Promise((resolve) => {
      const done = (): void => {
        this.delivered += batch.length;
        resolve();
      };
      if (wait > 0) setTimeout(done, wait);
      else setImmediate(done);
    });
  };
}

// ------------------------------------------------------------------------------ the child

interface Result {
  name: Case;
  items: number;
  durationMs: number;
  delivered: number;
  dropped: number;
  /** Items still held when the run stopped (naive queue only). */
  leftInQueue: number;
  baselineRssMb: number;
  peakRssOverBaselineMb: number;
  baselineHeapMb: number;
  peakHeapOverBaselineMb: number;
  /** The naive queue reached SOAK_RSS_CAP_MB and was stopped. */
  capped: boolean;
  /** Items the configuration bounds memory to (0: unbounded). */
  boundItems: number;
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function runChild(name: Case): Promise<Result> {
  const items = name === 'block' ? BLOCK_ITEMS : ITEMS;
  global.gc?.();
  await yieldToLoop();
  global.gc?.();
  const baseline = process.memoryUsage();
  let peakRss = baseline.rss;
  let peakHeap = baseline.heapUsed;
  const sample = (): void => {
    const m = process.memoryUsage();
    if (m.rss > peakRss) peakRss = m.rss;
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
  };
  const sampler = setInterval(sample, SAMPLE_MS);
  const sink = new RateSink();
  const started = performance.now();
  let dropped = 0;
  let leftInQueue = 0;
  let capped = false;
  let produced = 0;

  if (name === 'naive') {
    ({ produced, leftInQueue, capped } = await runNaive(items, sink));
  } else {
    const w =
      name === 'priority'
        ? backpressure<LogItem>({ flush: sink.flush, strategy: name, priority: (item: LogItem) => RANK[item.level] })
        : backpressure<LogItem>({ flush: sink.flush, strategy: name });
    const finished = new Promise<void>((resolve, reject) => {
      w.on('finish', resolve);
      w.on('error', reject);
    });
    if (name === 'block') {
      for (; produced < items; produced++) {
        if (!w.write(makeItem(produced))) await new Promise((resolve) => w.once('drain', resolve));
      }
    } else {
      for (; produced < items; produced++) {
        w.write(makeItem(produced));
        if (produced % YIELD_EVERY === YIELD_EVERY - 1) await yieldToLoop();
      }
    }
    w.end();
    await finished;
    const m = w.getMetrics();
    dropped = m.eventsDropped;
    if (
      m.eventsFlushed !== sink.delivered ||
      m.eventsAccepted !== produced ||
      m.eventsAccepted !== m.eventsFlushed + m.eventsDropped + m.eventsDeadLettered
    ) {
      throw new Error(`${name}: items not accounted for: ${JSON.stringify(m)}`);
    }
  }
  const durationMs = performance.now() - started;
  sample();
  clearInterval(sampler);
  const bound =
    name === 'naive' ? 0 : DEFAULT_MAX_BUFFER_SIZE + DEFAULT_BATCH_SIZE + (name === 'block' ? 0 : DEFAULT_CAPACITY);
  return {
    name,
    items: produced,
    durationMs,
    delivered: sink.delivered,
    dropped,
    leftInQueue,
    baselineRssMb: baseline.rss / MB,
    peakRssOverBaselineMb: (peakRss - baseline.rss) / MB,
    baselineHeapMb: baseline.heapUsed / MB,
    peakHeapOverBaselineMb: (peakHeap - baseline.heapUsed) / MB,
    capped,
    boundItems: bound,
  };
}

/**
 * What a program without backpressure does: push everything into an array, and let a consumer loop
 * take batches of 100 to the same sink. Stopped once the producer is done or RSS passes the cap.
 */
async function runNaive(
  items: number,
  sink: RateSink,
): Promise<{ produced: number; leftInQueue: number; capped: boolean }> {
  let queue: LogItem[] = [];
  let head = 0; // index of the oldest item: shift() on a queue of millions would be O(n)
  let producing = true;
  const consumer = (async () => {
    while (producing) {
      if (head === queue.length) {
        await yieldToLoop();
        continue;
      }
      const batch = queue.slice(head, head + DEFAULT_BATCH_SIZE);
      head += batch.length;
      if (head > 1_000_000 && head * 2 > queue.length) {
        queue = queue.slice(head); // drop consumed slots now and then, as a real naive queue would at best
        head = 0;
      }
      await sink.flush(batch);
    }
  })();
  const capBytes = RSS_CAP_MB * MB;
  let produced = 0;
  let capped = false;
  for (; produced < items; produced++) {
    queue.push(makeItem(produced));
    if (produced % YIELD_EVERY === YIELD_EVERY - 1) {
      if (process.memoryUsage.rss() > capBytes) {
        capped = true;
        produced++;
        break;
      }
      await yieldToLoop();
    }
  }
  producing = false;
  await consumer;
  return { produced, leftInQueue: queue.length - head, capped };
}

// ------------------------------------------------------------------------------ the parent

function runInChild(name: Case): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--soak-child', name], {
      // gc() for a clean baseline; a heap limit above the cap so the naive queue meets the cap, not an OOM.
      execArgv: ['--expose-gc', `--max-old-space-size=${Math.max(4096, RSS_CAP_MB * 2)}`],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: Result | undefined;
    child.on('message', (message: Result) => (result = message));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (result !== undefined) resolve(result);
      else reject(new Error(`${name}: child exited with ${code ?? signal} and no result`));
    });
  });
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function fmtMb(n: number): string {
  return `${n.toFixed(1)} MB`;
}

function row(r: Result): string {
  const bound = r.boundItems === 0 ? 'none (unbounded)' : `${fmtInt(r.boundItems)} items`;
  const rss = r.capped
    ? `grew past ${fmtInt(RSS_CAP_MB)} MB RSS (${fmtMb(r.peakRssOverBaselineMb)})`
    : fmtMb(r.peakRssOverBaselineMb);
  const delivered =
    r.name === 'naive' ? `${fmtInt(r.delivered)} (${fmtInt(r.leftInQueue)} still queued)` : fmtInt(r.delivered);
  return `| ${r.name} | ${fmtInt(r.items)} | ${(r.durationMs / 1000).toFixed(1)} s | ${delivered} | ${fmtInt(r.dropped)} | ${rss} | ${fmtMb(r.peakHeapOverBaselineMb)} | ${bound} |`;
}

async function main(): Promise<void> {
  const selected = (process.env['SOAK_CASES'] ?? CASES.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter((name): name is Case => (CASES as readonly string[]).includes(name));
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `# Memory soak — ${os.cpus().length} × ${cpu}, Node ${process.version}, ${process.env['READABLE_STREAM'] === 'disable' ? 'node core' : 'readable-stream'} stream classes`,
  );
  console.log(
    `sink ${fmtInt(SINK_RATE)} items/s; ${fmtInt(ITEMS)} items per drop strategy and naive queue, ${fmtInt(BLOCK_ITEMS)} for block; backpressure() defaults; RSS sampled every ${SAMPLE_MS} ms\n`,
  );
  const results: Result[] = [];
  for (const name of selected) {
    const result = await runInChild(name);
    results.push(result);
    console.error(`  done: ${name} (${(result.durationMs / 1000).toFixed(1)} s)`);
  }
  console.log(
    '| strategy | items | duration | delivered | dropped | peak RSS over baseline | peak heapUsed over baseline | stated bound (maxBufferSize + capacity + batchSize) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const r of results) console.log(row(r));
  const naive = results.find((r) => r.name === 'naive');
  const bounded = results.filter((r) => r.name !== 'naive');
  if (naive !== undefined && bounded.length > 0) {
    const worst = Math.max(...bounded.map((r) => r.peakRssOverBaselineMb));
    console.log(
      `\nnaive queue / worst strategy, peak RSS over baseline: ${(naive.peakRssOverBaselineMb / worst).toFixed(1)}×`,
    );
  }
  console.log(`baseline RSS of the children: ${results.map((r) => `${r.name} ${fmtMb(r.baselineRssMb)}`).join(', ')}`);
}

if (process.argv[2] === '--soak-child') {
  const name = process.argv[3] as Case;
  runChild(name).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
