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
    for (let i = 0; i < count; i++) {
      push({ line: lines[i] as number, bytes: source.subarray(starts[i] as number, ends[i] as number) });
    }
  }
}
