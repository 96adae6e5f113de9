/**
 * One run of bench/modes.bench.ts, in a process of its own (a slow mode that sets in per process
 * — JIT decisions, heap layout — shows only across fresh processes):
 *
 *   pipeline(Readable.from(generator), BackpressureWritable({ batchSize, concurrency, instant flush }))
 *
 * Prints one JSON line: items/s (wall and CPU time), garbage collections by kind (PerformanceObserver 'gc' entries),
 * their total pause, the peak heapUsed (sampled every 64 flushes: the pipeline runs in nextTicks
 * and microtasks, so a timer would not fire until it is over) and the batch sizes seen.
 * Environment: MODES_ITEMS, MODES_BATCH, MODES_CONCURRENCY; READABLE_STREAM as the parent sets it.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { BackpressureWritable } from '../lib';

const N = Number(process.env['MODES_ITEMS'] ?? 5_000_000);
const BATCH = Number(process.env['MODES_BATCH'] ?? 500);
const CONCURRENCY = Number(process.env['MODES_CONCURRENCY'] ?? 4);

const gc = { scavenges: 0, markCompacts: 0, incremental: 0, pauseMs: 0 };
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.scavenges++;
    else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.markCompacts++;
    else if (kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) gc.incremental++;
    gc.pauseMs += entry.duration;
  }
});

function* items(n: number): Generator<{ id: number }> {
  for (let i = 0; i < n; i++) yield { id: i };
}

async function main(): Promise<void> {
  let delivered = 0;
  let flushes = 0;
  let partial = 0;
  let peakHeap = 0;
  const sink = new BackpressureWritable<{ id: number }>({
    batchSize: BATCH,
    concurrency: CONCURRENCY,
    flush: async (batch) => {
      delivered += batch.length;
      if (batch.length < BATCH) partial++;
      if ((++flushes & 63) === 0) {
        const used = process.memoryUsage().heapUsed;
        if (used > peakHeap) peakHeap = used;
      }
    },
  });
  observer.observe({ entryTypes: ['gc'] });
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  await pipeline(Readable.from(items(N)), sink);
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (delivered !== N) throw new Error(`lost items: ${delivered} of ${N}`);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  // 'gc' entries are delivered asynchronously: let the last ones arrive.
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  console.log(
    JSON.stringify({
      rate: Math.round(N / seconds),
      // Items per second of CPU (every thread of the process, GC helpers included): on a shared
      // machine, wall time also counts waiting for a core; CPU time does not.
      cpuRate: Math.round(N / ((cpu.user + cpu.system) / 1e6)),
      scavenges: gc.scavenges,
      markCompacts: gc.markCompacts,
      incremental: gc.incremental,
      gcPauseMs: Math.round(gc.pauseMs),
      peakHeapMB: Math.round(peakHeap / 1e5) / 10,
      flushes,
      partialBatches: partial,
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
