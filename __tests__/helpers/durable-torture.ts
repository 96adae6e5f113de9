/**
 * The crash-torture campaign of the durable log, shared by the CI test
 * (durable-log-crash-torture.test.ts) and the long-campaign script
 * (`npm run torture -- --kills N`, bench/durable-torture.ts). Plain Node: no jest.
 *
 * Each life, a child (fixtures/durable-torture-child.js) opens the same log
 * directory and appends and/or consumes numbered records as fast as it can; it
 * is SIGKILLed at a random moment (during open and recovery, appends, syncs,
 * acks, checkpoints, rollovers, deletions). Between lives, faults a power loss
 * or a bad disk would leave are injected: a torn tail (a frame cut short), a
 * zero-filled tail, a bit flipped in a record. A final life drains the log.
 *
 * What must hold, checked from the children's reports (see the fixture):
 * - every life starts without help (no child exits with an error);
 * - every record whose append was confirmed durable is delivered, and completed by
 *   "the sink" (acknowledged), at least once — unless a flipped bit destroyed it,
 *   and then it is reported corrupt. (Read but not acknowledged when the child was
 *   killed does not count: that is exactly what must come back after a restart.)
 * - each life delivers in order (ids strictly increasing);
 * - nothing at or below a checkpoint the child saw on disk is delivered again
 *   (duplicates are at most what was delivered but not yet checkpointed);
 * - every corrupt seq reported is one the campaign damaged, and every damaged
 *   record not yet acknowledged in the checkpoint is reported;
 * - the drained log is empty: no record held, nothing left in its directory but
 *   the checkpoint (no segment, no lock, no temporary file of a killed opener).
 * Everything random comes from one seed, printed with any failure.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointFile } from '../../lib/durable/checkpoint-file';
import {
  FRAME_HEADER_BYTES,
  encodeFrame,
  findMagic,
  newFrameHeader,
  payloadMatches,
  readFrameHeader,
} from '../../lib/durable/record-frame';
import { mulberry32 } from './seeded-random';

export interface TortureOptions {
  /** Empty directory for the log. */
  dir: string;
  /** Path of fixtures/durable-torture-child.js. */
  child: string;
  seed: number;
  /** Lives ended by SIGKILL. */
  kills: number;
  /** Inject torn tails, zero fill and bit flips between lives. @default true */
  faults?: boolean;
  segmentBytes?: number;
  maxBytes?: number;
  /** Called with a line of progress now and then. */
  progress?: (line: string) => void;
  /** Called with every life's reports and every injected fault (for debugging a failure). */
  trace?: (line: string) => void;
}

export interface TortureResult {
  seed: number;
  kills: number;
  /** Kills that landed before the child had opened the log (during start-up or recovery). */
  killsBeforeOpen: number;
  confirmed: number;
  delivered: number;
  duplicates: number;
  tornTails: number;
  zeroTails: number;
  bitFlips: number;
  /** Distinct seqs reported corrupt. */
  corruptReported: number;
  truncatedBytes: number;
}

export class TortureFailure extends Error {
  constructor(
    readonly seed: number,
    message: string,
  ) {
    super(`${message}\n(replay with seed ${seed})`);
    this.name = 'TortureFailure';
  }
}

interface Life {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  opened: boolean;
  lines: string[];
}

/** The id torn frames carry: never appended, so never confirmed. */
const TORN_ID = 999_999_999_999;
const ID_STRIDE = 1_000_000; // life n appends ids from n * ID_STRIDE: ids never repeat across lives

function runLife(
  child: string,
  args: string[],
  killAfter: { fromStart: boolean; ms: number } | undefined,
): Promise<Life> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const life: Life = { code: null, signal: null, stderr: '', opened: false, lines: [] };
    let partial = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = (): void => {
      proc.kill('SIGKILL');
    };
    if (killAfter?.fromStart) timer = setTimeout(kill, killAfter.ms);
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const text = partial + chunk;
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line.startsWith('R ') && !life.opened) {
          life.opened = true;
          if (killAfter !== undefined && !killAfter.fromStart) timer = setTimeout(kill, killAfter.ms);
        }
        life.lines.push(line);
      }
    });
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (life.stderr += chunk));
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      life.code = code;
      life.signal = signal;
      resolve(life);
    });
  });
}

interface FrameAt {
  start: number;
  end: number;
  seq: number;
  id: number;
}

/** The intact frames of a segment file (resynchronising over damage, as the reader does). */
function intactFrames(bytes: Buffer): FrameAt[] {
  const frames: FrameAt[] = [];
  const header = newFrameHeader();
  let at = 0;
  while (at + FRAME_HEADER_BYTES <= bytes.length) {
    if (readFrameHeader(bytes, at, header) && at + FRAME_HEADER_BYTES + header.length <= bytes.length) {
      const end = at + FRAME_HEADER_BYTES + header.length;
      const payload = bytes.subarray(at + FRAME_HEADER_BYTES, end);
      const match = /^id=(\d+);/.exec(payload.toString('latin1'));
      if (payloadMatches(payload, header) && match !== null)
        frames.push({ start: at, end, seq: header.seq, id: Number(match[1]) });
      at = end;
    } else {
      at = findMagic(bytes, at + 1, bytes.length);
      if (at === -1) break;
    }
  }
  return frames;
}

function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.seg'))
    .sort()
    .map((name) => join(dir, name));
}

async function checkpointOnDisk(dir: string): Promise<number> {
  const file = await CheckpointFile.open(dir);
  try {
    return file.recovered?.ackedSeq ?? 0;
  } finally {
    await file.close();
  }
}

export async function runTorture(options: TortureOptions): Promise<TortureResult> {
  const { dir, child, seed, kills } = options;
  const faults = options.faults ?? true;
  const segmentBytes = options.segmentBytes ?? 2048;
  const maxBytes = options.maxBytes ?? 64 * 1024;
  const random = mulberry32(seed);
  const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  /** Lives and faults so far, one line each: a failure names what happened to the record it is about. */
  const history: string[] = [];
  const note = (line: string): void => {
    history.push(line);
    options.trace?.(line);
  };
  const fail = (message: string, about: ReadonlyArray<number | string> = []): never => {
    const related = history.filter((line) => about.some((n) => line.includes(String(n))));
    const context = related.length > 0 ? `\nwhat happened to it:\n  ${related.slice(-20).join('\n  ')}` : '';
    throw new TortureFailure(seed, `${message}${context}`);
  };

  const confirmed = new Set<number>();
  const deliveredEver = new Set<number>();
  const completed = new Set<number>();
  const corruptSeqs = new Set<number>();
  /** Damaged records: seq → whether it had to be reported (not acknowledged on disk when damaged). */
  const damaged = new Map<number, { id: number; mustReport: boolean }>();
  let checkpointedId = -1;
  const result: TortureResult = {
    seed,
    kills: 0,
    killsBeforeOpen: 0,
    confirmed: 0,
    delivered: 0,
    duplicates: 0,
    tornTails: 0,
    zeroTails: 0,
    bitFlips: 0,
    corruptReported: 0,
    truncatedBytes: 0,
  };

  const absorb = (life: Life, index: number, expectKilled: boolean): void => {
    if (expectKilled ? life.signal !== 'SIGKILL' || life.code !== null : life.code !== 0) {
      fail(
        `life ${index} ended with code ${life.code} / signal ${life.signal} (a restart must always succeed):\n${life.stderr}`,
      );
    }
    let last = -1;
    let lifeCheckpoint = checkpointedId;
    for (const line of life.lines) {
      const [kind, ...rest] = line.split(' ');
      const numbers = rest.map(Number);
      if (kind === 'R') result.truncatedBytes += numbers[1] ?? 0;
      else if (kind === 'A') for (let id = numbers[0] as number; id <= (numbers[1] as number); id++) confirmed.add(id);
      else if (kind === 'C') for (const id of numbers) completed.add(id);
      else if (kind === 'K') lifeCheckpoint = Math.max(lifeCheckpoint, numbers[0] as number);
      else if (kind === 'X')
        for (let i = 0; i < (numbers[1] as number); i++) corruptSeqs.add((numbers[0] as number) + i);
      else if (kind === 'D') {
        for (const id of numbers) {
          if (id <= last) fail(`life ${index} delivered ${id} after ${last}: out of order`);
          last = id;
          if (id <= checkpointedId)
            fail(
              `life ${index} delivered ${id} again, but an earlier life saw the checkpoint cover up to ${checkpointedId}`,
            );
          if (deliveredEver.has(id)) result.duplicates++;
          deliveredEver.add(id);
          result.delivered++;
        }
      } else if (kind !== 'E') fail(`life ${index}: unexpected report ${JSON.stringify(line)}`);
    }
    checkpointedId = lifeCheckpoint;
  };

  const args = (mode: string, index: number): string[] => [
    dir,
    mode,
    String(index * ID_STRIDE),
    String(between(0, 2 ** 31)),
    String(segmentBytes),
    String(maxBytes),
    String([0, 0, 5, 50][between(0, 3)]),
  ];

  for (let index = 0; index < kills; index++) {
    const roll = random();
    const mode = roll < 0.3 ? 'append' : roll < 0.55 ? 'consume' : 'both';
    const fromStart = random() < 0.35;
    const life = await runLife(child, args(mode, index + 1), {
      fromStart,
      ms: fromStart ? between(0, 150) : between(0, 60),
    });
    if (!life.opened) result.killsBeforeOpen++;
    result.kills++;
    note(
      `life ${index + 1} ${mode} kill ${fromStart ? 'from start' : 'after open'}: ${life.lines.filter((l) => !l.startsWith('D ') && !l.startsWith('C ') && !l.startsWith('A ')).join(' | ')}`,
    );
    absorb(life, index + 1, true);
    if (faults) await injectFault();
    if (index % 50 === 49)
      options.progress?.(
        `${index + 1}/${kills} kills · confirmed ${confirmed.size} · delivered ${result.delivered} · duplicates ${result.duplicates} · flips ${result.bitFlips}`,
      );
  }

  const drain = await runLife(child, args('drain', kills + 1), undefined);
  absorb(drain, kills + 1, false);
  const end = drain.lines.find((l) => l.startsWith('E '));
  if (end !== 'E 0 0') fail(`the drained log is not empty: ${end ?? 'no E report'}`);
  const left = readdirSync(dir).filter((name) => name !== 'checkpoint');
  if (left.length > 0) fail(`files left in the drained log directory: ${left.join(', ')}`);

  const destroyed = new Set([...damaged.values()].map((d) => d.id));
  for (const id of confirmed) {
    if (completed.has(id) || destroyed.has(id)) continue;
    fail(
      `record ${id} was confirmed durable but never ${deliveredEver.has(id) ? 'completed (it was read, then lost before its ack)' : 'delivered'} (and no bit flip hit it)`,
    );
  }
  for (const id of completed) if (!deliveredEver.has(id)) fail(`record ${id} completed without being delivered`);
  for (const seq of corruptSeqs)
    if (!damaged.has(seq)) fail(`seq ${seq} was reported corrupt, but the campaign never damaged it`);
  for (const [seq, d] of damaged)
    if (d.mustReport && !corruptSeqs.has(seq))
      fail(`record ${d.id} (seq ${seq}) was damaged before it was acknowledged, but never reported corrupt`, [
        seq,
        d.id,
      ]);

  result.confirmed = confirmed.size;
  result.corruptReported = corruptSeqs.size;
  return result;

  async function injectFault(): Promise<void> {
    // Each kind of fault draws the same numbers whatever the directory holds (no segment yet, a segment
    // without an intact record), so that a seed replays the same faults after the same lives, however the
    // timing of its kills went: a failing seed kept in the fixed set then keeps its schedule of faults.
    const roll = random();
    if (roll >= 0.45) return;
    const segments = segmentFiles(dir);
    const tail = segments[segments.length - 1];
    if (roll < 0.15) {
      // A torn write: the first bytes of the next frame, as a crash in the middle of write(2) leaves
      // them. Usually with the seq that frame would really have; sometimes with an absurd one.
      const absurd = random() >= 0.7;
      const payload = Buffer.from(`id=${TORN_ID};${'t'.repeat(between(0, 80))}`);
      const cut = between(1, FRAME_HEADER_BYTES + payload.length - 1);
      if (tail === undefined) return;
      const intact = intactFrames(readFileSync(tail));
      const firstSeq = Number(/(\d{20})\.seg$/.exec(tail)?.[1]);
      const next = intact.length > 0 ? (intact[intact.length - 1] as FrameAt).seq + 1 : firstSeq;
      const seq = absurd ? 2 ** 40 : next;
      appendFileSync(tail, encodeFrame(seq, payload).subarray(0, cut));
      // When no open has truncated it before the next fault, zero fill or a second torn frame may
      // follow it. A real writer never appends to a recovered segment, so that cannot happen in
      // life; here it may make a whole frame (payload failing its checksum) or a header-shaped
      // stretch that recovery rightly reports as one corrupt record at \`next\`: never a confirmed one.
      if (!damaged.has(next)) damaged.set(next, { id: TORN_ID, mustReport: false });
      note(`fault: torn frame seq ${seq} into ${tail}`);
      result.tornTails++;
    } else if (roll < 0.3) {
      // A power loss after the file grew but before its data blocks were written.
      const zeros = between(1, 3000);
      if (tail === undefined) return;
      appendFileSync(tail, Buffer.alloc(zeros));
      note(`fault: zero fill into ${tail}`);
      result.zeroTails++;
    } else {
      // A bad disk: one bit of one intact record, anywhere in the log. Fractions, scaled to what the
      // directory holds only once it is known.
      const [whichSegment, whichFrame, whichBit] = [random(), random(), random()];
      const path = segments[Math.floor(whichSegment * segments.length)];
      if (path === undefined) return;
      const bytes = readFileSync(path);
      // Intact frames only: a record already damaged is never hit again, so every damaged record has one
      // fault, which recovery can always tell from a torn write.
      const frames = intactFrames(bytes);
      const frame = frames[Math.floor(whichFrame * frames.length)];
      if (frame === undefined) return;
      const bit = frame.start * 8 + Math.floor(whichBit * (frame.end - frame.start) * 8);
      bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
      writeFileSync(path, bytes);
      damaged.set(frame.seq, { id: frame.id, mustReport: frame.seq >= (await checkpointOnDisk(dir)) });
      note(
        `fault: bit ${bit - frame.start * 8} of the frame (header: < 192) flipped in seq ${frame.seq} (id ${frame.id}) ` +
          `at byte ${frame.start} of ${path} (${bytes.length} bytes, tail ${tail})`,
      );
      result.bitFlips++;
    }
  }
}
