import type { NdjsonRecord } from './ndjson-splitter';

const NEWLINE = 0x0a;

/**
 * The valid lines found whole inside one input chunk, released as records once the chunk is
 * scanned — with their bytes shared rather than copied one by one (the splitter's `sharedBytes`):
 *
 * - When the valid lines fill at least half of the chunk, each record's bytes are a view into the
 *   chunk itself: no copy at all, and consecutive records stay adjacent in memory (with the input's
 *   newline between them), so a sink can write a run of them as one slice of the chunk.
 * - Otherwise the chunk is mostly something else (invalid or blank lines, a long line's end): the
 *   valid lines are copied, with a newline after each, into one buffer of their own, and the
 *   records are views into it. A record never keeps a mostly-invalid chunk alive.
 *
 * So what a record keeps alive is at most about twice the bytes of the records of its chunk —
 * bounded by what is held, as long as records are consumed roughly in order. Why views are safe:
 * a chunk is never written to after the splitter got it (Node's file, pipe and socket readers hand
 * out a new buffer for every read and never touch it again; a producer that reuses its buffers
 * must not use `sharedBytes`), and no view is ever written through.
 */
/**
 * Buffer views made the way Node makes its own: Node's Buffers are instances of an internal
 * `Uint8Array` subclass whose prototype is `Buffer.prototype`; this is the same, built directly.
 * `buf.subarray()` goes through the species constructor and argument checks, at several times the
 * cost — per line, a tenth of the CLI's time. The result is a Buffer in every way that matters
 * (`Buffer.isBuffer`, `instanceof Buffer`, every Buffer method, shown as a Buffer).
 */
const BufferView = class Buffer extends Uint8Array {};
Object.setPrototypeOf(BufferView.prototype, Buffer.prototype);

function viewOf(memory: ArrayBufferLike, offset: number, length: number): Buffer {
  return new BufferView(memory as ArrayBuffer, offset, length) as unknown as Buffer;
}

export class ChunkRecords {
  #count = 0;
  #validBytes = 0;
  // Parallel arrays reused from chunk to chunk: no object per line until it is released.
  readonly #lines: number[] = [];
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];

  /** Valid lines waiting. */
  get count(): number {
    return this.#count;
  }

  /** Line `line` is `data[start, end)` of the chunk being scanned, and valid. */
  add(line: number, start: number, end: number): void {
    const i = this.#count++;
    this.#lines[i] = line;
    this.#starts[i] = start;
    this.#ends[i] = end;
    this.#validBytes += end - start;
  }

  /** Releases the waiting lines of `data`, oldest first, as records through `push`. */
  release(data: Buffer, push: (record: NdjsonRecord) => void): void {
    const count = this.#count;
    if (count === 0) return;
    const lines = this.#lines;
    const starts = this.#starts;
    const ends = this.#ends;
    let source = data;
    if (this.#validBytes * 2 < data.length) {
      // Sparse: one compact copy of just these lines, newline-separated like the input.
      source = Buffer.allocUnsafe(this.#validBytes + count);
      let offset = 0;
      for (let i = 0; i < count; i++) {
        const start = starts[i] as number;
        const end = ends[i] as number;
        data.copy(source, offset, start, end);
        starts[i] = offset;
        offset += end - start;
        ends[i] = offset;
        source[offset++] = NEWLINE;
      }
    }
    this.#count = 0;
    this.#validBytes = 0;
    // Read once per chunk: a Buffer's `buffer` and `byteOffset` are not free.
    const memory = source.buffer;
    const base = source.byteOffset;
    for (let i = 0; i < count; i++) {
      const start = starts[i] as number;
      const bytes = viewOf(memory, base + start, (ends[i] as number) - start);
      push(new SharedLineRecord(lines[i] as number, source, start, bytes));
    }
  }
}

/**
 * A record whose bytes are shared (`sharedBytes`): it also remembers where they lie, so that a
 * batch of them can be joined for writing without asking each Buffer where it is (a Buffer's
 * `byteOffset` and `buffer` cost tens of nanoseconds each, per line).
 */
export class SharedLineRecord implements NdjsonRecord {
  line: number;
  bytes: Buffer;
  readonly #source: Buffer;
  readonly #start: number;
  /** `bytes` as made: a record whose `bytes` was replaced is not joined from `#source`. */
  readonly #bytes: Buffer;

  /** `bytes` is `source[start, start + bytes.length)`. */
  constructor(line: number, source: Buffer, start: number, bytes: Buffer) {
    this.line = line;
    this.#source = source;
    this.#start = start;
    this.bytes = this.#bytes = bytes;
  }

  /**
   * `record` as the durable log's replay hands it back (line 0: a record read back does not say which
   * input line it was), sharing its memory like the original, when it is a SharedLineRecord whose
   * bytes are still `bytes` as made; otherwise undefined.
   */
  static readBack(record: NdjsonRecord, bytes: Buffer): SharedLineRecord | undefined {
    if (!(record instanceof SharedLineRecord) || record.#bytes !== bytes || record.bytes !== bytes) return undefined;
    return new SharedLineRecord(0, record.#source, record.#start, bytes);
  }

  /**
   * The records' bytes, each followed by a newline, when every one is a SharedLineRecord with its
   * bytes untouched (otherwise `undefined`): a view of their memory when they are one run of it
   * with the newline after the last — no copy at all — else one copy per run. Records adjacent in
   * their source always have exactly a newline between them (the input's own, or the compact
   * copy's), so only the last one's is checked.
   */
  static joined(records: readonly NdjsonRecord[]): Buffer | undefined {
    const n = records.length;
    if (n === 0) return undefined;
    let total = n;
    let runs = 1;
    let previous: SharedLineRecord | undefined;
    for (let i = 0; i < n; i++) {
      const r = records[i] as NdjsonRecord;
      if (!(#source in r) || r.bytes !== r.#bytes) return undefined;
      total += r.#bytes.length;
      if (previous !== undefined && !previous.#precedes(r)) runs++;
      previous = r;
    }
    const first = records[0] as SharedLineRecord;
    const last = previous as SharedLineRecord;
    const end = last.#start + last.#bytes.length;
    // One run with the input's newline after it: that memory is the batch, as it is.
    if (runs === 1 && first.#source[end] === NEWLINE) return first.#source.subarray(first.#start, end + 1);
    const out = Buffer.allocUnsafe(total);
    let offset = 0;
    let head = first;
    for (let i = 1; i <= n; i++) {
      const r = records[i - 1] as SharedLineRecord;
      const next = records[i] as SharedLineRecord | undefined;
      if (next !== undefined && r.#precedes(next)) continue;
      offset += head.#source.copy(out, offset, head.#start, r.#start + r.#bytes.length);
      out[offset++] = NEWLINE;
      if (next !== undefined) head = next;
    }
    return out;
  }

  /** `next` follows this record in the same memory with one byte — the newline — between them. */
  #precedes(next: SharedLineRecord): boolean {
    return next.#source === this.#source && next.#start === this.#start + this.#bytes.length + 1;
  }
}
