/**
 * The crash-torture campaign THROUGH THE WRITABLE (durable mode of BackpressureWritable), shared by the
 * CI test (durable/durable-writable-crash-torture.test.ts) and `npm run torture` (bench/durable-torture.ts,
 * which runs this one and the engine's). Plain Node: no jest.
 *
 * Each life, a child (fixtures/durable-writable-torture-child.js) opens a durable writable on the same
 * directory and writes numbered items as fast as write() lets it, delivers what the log replays, or both;
 * it is SIGKILLed at a random moment — during open and recovery, appends, group commits, acks,
 * checkpoints, segment rollover and deletion. Between lives, faults a power loss or a bad disk would leave
 * are injected: a torn tail (a frame cut short), a zero-filled tail, a bit flipped in a record anywhere.
 * A last life drains the log with end().
 *
 * What must hold, from the children's reports (see the fixture) and the directory between lives:
 * - every life starts without help (no child exits by itself, with an error or a lost write);
 * - every id whose write completed (its callback ran) is delivered at least once by the end — unless a
 *   flipped bit destroyed its record, and then that record is reported corrupt;
 * - each life delivers in order (ids strictly increasing: the backlog first, then the life's own ids);
 * - duplicates are at most what was in flight at a crash: an id is delivered again only if its record
 *   was not yet under the checkpoint on disk when its earlier life was killed;
 * - every corrupt record reported is one the campaign damaged, and every damaged record not yet
 *   acknowledged in the checkpoint is reported (counted);
 * - the drained writable reports nothing on disk, and its directory holds only the checkpoint.
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
import { TortureFailure } from './durable-torture';
import { mulberry32 } from './seeded-random';

export { TortureFailure };

export interface WritableTortureOptions {
  /** Empty directory for the log. */
  dir: string;
  /** Path of fixtures/durable-writable-torture-child.js. */
  child: string;
  seed: number;
  /** Lives ended by SIGKILL. */
  kills: number;
  /** Inject torn tails, zero fill and bit flips between lives. @default true */
  faults?: boolean;
  progress?: (line: string) => void;
  trace?: (line: string) => void;
}

export interface WritableTortureResult {
  seed: number;
  kills: number;
  /** Kills that landed before the writable had opened its log (start-up, recovery). */
  killsBeforeOpen: number;
  /** Ids whose write completed. */
  confirmed: number;
  delivered: number;
  duplicates: number;
  tornTails: number;
  zeroTails: number;
  bitFlips: number;
  /** Distinct seqs reported corrupt. */
  corruptReported: number;
}

interface Life {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  opened: boolean;
  lines: string[];
}

const TORN_ID = 999_999_999_999;
const ID_STRIDE = 10_000_000; // life n writes ids from n * ID_STRIDE: ids never repeat across lives

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
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line === 'R' && !life.opened) {
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

/** The intact frames of a segment file whose payload is a torture item (`{"id":N,…}`). */
function intactFrames(bytes: Buffer): FrameAt[] {
  const frames: FrameAt[] = [];
  const header = newFrameHeader();
  let at = 0;
  while (at + FRAME_HEADER_BYTES <= bytes.length) {
    if (readFrameHeader(bytes, at, header) && at + FRAME_HEADER_BYTES + header.length <= bytes.length) {
      const end = at + FRAME_HEADER_BYTES + header.length;
      const payload = bytes.subarray(at + FRAME_HEADER_BYTES, end);
      const match = /^\{"id":(\d+)[,}]/.exec(payload.toString('latin1'));
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

export async function runWritableTorture(options: WritableTortureOptions): Promise<WritableTortureResult> {
  const { dir, child, seed, kills } = options;
  const faults = options.faults ?? true;
  const random = mulberry32(seed);
  const between = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  /** Lives and faults so far, one line each: the failure message carries the lines about the records it names. */
  const history: string[] = [];
  const note = (line: string): void => {
    history.push(line);
    options.trace?.(line);
  };
  const fail: (message: string, about?: ReadonlyArray<number | string>) => never = (message, about = []) => {
    const related = history.filter((line) => about.some((n) => line.includes(String(n))));
    const context = related.length > 0 ? `\nwhat happened to it:\n  ${related.slice(-20).join('\n  ')}` : '';
    throw new TortureFailure(seed, `${message}${context}\nlast lives:\n  ${history.slice(-8).join('\n  ')}`);
  };

  const confirmed = new Set<number>();
  const deliveredEver = new Set<number>();
  const corruptSeqs = new Set<number>();
  /** Every record the parent saw on disk between lives: id → seq. */
  const seqOf = new Map<number, number>();
  /** Damaged records: seq → id and whether it had to be reported (not under the checkpoint when damaged). */
  const damaged = new Map<number, { id: number; mustReport: boolean }>();
  let checkpoint = 0;
  const result: WritableTortureResult = {
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
  };

  /** Between lives: learn the seq of every record on disk, and where the checkpoint stands. */
  const survey = async (): Promise<void> => {
    for (const path of segmentFiles(dir))
      for (const frame of intactFrames(readFileSync(path))) seqOf.set(frame.id, frame.seq);
    checkpoint = await checkpointOnDisk(dir);
  };

  const absorb = (life: Life, index: number, expectKilled: boolean): string | undefined => {
    if (expectKilled ? life.signal !== 'SIGKILL' || life.code !== null : life.code !== 0) {
      fail(
        `life ${index} ended with code ${life.code} / signal ${life.signal} (a restart must always succeed):\n${life.stderr}`,
      );
    }
    let last = -1;
    let end: string | undefined;
    for (const line of life.lines) {
      const [kind, ...rest] = line.split(' ');
      const numbers = rest.map(Number);
      if (kind === 'R') continue;
      if (kind === 'A') for (let id = numbers[0] as number; id <= (numbers[1] as number); id++) confirmed.add(id);
      else if (kind === 'X')
        for (let i = 0; i < (numbers[1] as number); i++) corruptSeqs.add((numbers[0] as number) + i);
      else if (kind === 'E') end = line;
      else if (kind === 'D') {
        for (const id of numbers) {
          if (id <= last) fail(`life ${index} delivered ${id} after ${last}: out of order`);
          last = id;
          if (deliveredEver.has(id)) {
            result.duplicates++;
            const seq = seqOf.get(id);
            if (seq === undefined)
              fail(
                `life ${index} delivered ${id} again, but its record was deleted (acknowledged and checkpointed) before`,
              );
            if (seq < checkpoint)
              fail(
                `life ${index} delivered ${id} (seq ${seq}) again, below the checkpoint on disk (${checkpoint}) at its restart`,
              );
          }
          deliveredEver.add(id);
          result.delivered++;
        }
      } else fail(`life ${index}: unexpected report ${JSON.stringify(line)}`);
    }
    return end;
  };

  const args = (mode: string, index: number): string[] => [
    dir,
    mode,
    String(index * ID_STRIDE),
    String(between(0, 2 ** 31)),
    String([0, 0, 5, 50][between(0, 3)]),
    String(between(1, 20)),
  ];

  for (let index = 0; index < kills; index++) {
    const roll = random();
    const mode = roll < 0.15 ? 'write' : roll < 0.35 ? 'deliver' : 'both';
    const fromStart = random() < 0.3;
    const life = await runLife(child, args(mode, index + 1), {
      fromStart,
      ms: fromStart ? between(0, 150) : between(0, 50),
    });
    if (!life.opened) result.killsBeforeOpen++;
    result.kills++;
    note(
      `life ${index + 1} ${mode} killed ${fromStart ? 'from start' : 'after open'}${life.opened ? '' : ' before open'}: ` +
        `${life.lines.filter((l) => l.startsWith('X')).join(' | ')} (checkpoint before it ${checkpoint})`,
    );
    absorb(life, index + 1, true);
    await survey();
    if (faults) await injectFault();
    if (index % 50 === 49)
      options.progress?.(
        `${index + 1}/${kills} kills · confirmed ${confirmed.size} · delivered ${result.delivered} · duplicates ${result.duplicates} · flips ${result.bitFlips}`,
      );
  }

  const drain = await runLife(child, args('drain', kills + 1), undefined);
  const end = absorb(drain, kills + 1, false);
  const figures = end?.split(' ').slice(1).map(Number) ?? [];
  if (figures[0] !== 0 || figures[1] !== 0)
    fail(`the drained writable still reports records on disk: ${end ?? 'no E report'}`);
  const left = readdirSync(dir).filter((name) => name !== 'checkpoint');
  if (left.length > 0) fail(`files left in the drained log directory: ${left.join(', ')}`);

  const destroyed = new Set([...damaged.values()].map((d) => d.id));
  for (const id of confirmed) {
    if (deliveredEver.has(id) || destroyed.has(id)) continue;
    fail(`item ${id}: its write completed (on disk) but it was never delivered (and no bit flip hit it)`);
  }
  for (const seq of corruptSeqs)
    if (!damaged.has(seq)) fail(`seq ${seq} was reported corrupt, but the campaign never damaged it`);
  for (const [seq, d] of damaged)
    if (d.mustReport && !corruptSeqs.has(seq))
      fail(`item ${d.id} (seq ${seq}) was damaged before it was acknowledged, but never reported corrupt`, [seq, d.id]);

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
      // A torn write: the first bytes of the next frame, as a crash in the middle of write(2) leaves them.
      const absurd = random() >= 0.7;
      const payload = Buffer.from(`{"id":${TORN_ID},"p":"${'t'.repeat(between(0, 80))}"}`);
      const cut = between(1, FRAME_HEADER_BYTES + payload.length - 1);
      if (tail === undefined) return;
      const intact = intactFrames(readFileSync(tail));
      const firstSeq = Number(/(\d{20})\.seg$/.exec(tail)?.[1]);
      const next = intact.length > 0 ? (intact[intact.length - 1] as FrameAt).seq + 1 : firstSeq;
      const seq = absurd ? 2 ** 40 : next;
      appendFileSync(tail, encodeFrame(seq, payload).subarray(0, cut));
      // Not a real record: if a later fault completes it into a frame that fails its checksum, recovery
      // rightly reports one corrupt record at `next` — never a completed write.
      if (!damaged.has(next)) damaged.set(next, { id: TORN_ID, mustReport: false });
      note(`fault: torn frame seq ${seq} (next ${next}) into ${tail}`);
      result.tornTails++;
    } else if (roll < 0.3) {
      const zeros = between(1, 3000);
      if (tail === undefined) return;
      appendFileSync(tail, Buffer.alloc(zeros));
      note(`fault: zero fill into ${tail}`);
      result.zeroTails++;
    } else {
      // Fractions, scaled to what the directory holds only once it is known.
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
      damaged.set(frame.seq, { id: frame.id, mustReport: frame.seq >= checkpoint });
      note(
        `fault: bit ${bit - frame.start * 8} of the frame (header: < 192) flipped in seq ${frame.seq} (id ${frame.id}) ` +
          `at byte ${frame.start} of ${path} (${bytes.length} bytes), checkpoint ${checkpoint}`,
      );
      result.bitFlips++;
    }
  }
}
