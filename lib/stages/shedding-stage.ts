import { RingBuffer } from '../util/ring-buffer';
import { BackpressureState, type PressureSource } from '../pressure/state';
import { DEFAULT_WATERMARKS, PRESSURE_LEVELS, levelAt, pressureRank } from '../pressure/levels';
import { Duplex } from '../util/stream-classes';
import type { WriteDoneCallback } from '../util/write-signature';
import { DropReason, type DropEvent } from './drop-reasons';
import { invalidOption } from '../util/validate';
import { stageCapacity, type SheddingStageOptions, type StageMetrics } from './stage-options';

export { DEFAULT_STAGE_CAPACITY, stageCapacity, type SheddingStageOptions, type StageMetrics } from './stage-options';

/**
 * The shared machinery of the strategy stages: an object-mode Duplex that never makes its writer
 * wait longer than one event-loop turn, whatever happens downstream. An item goes straight to
 * `push()` while the readable side wants data and nothing is held (order is preserved that way);
 * otherwise into the policy's bounded hold, which `_read` empties.
 *
 * When the hold starts to fill, or the `pressure` source rises above `normal`, `write()` returns
 * `false` and `'drain'` follows on the next `setImmediate`, whether or not the consumer has read
 * anything. A producer that runs as a chain of microtasks (an async generator in `pipeline()`) would
 * otherwise never let Node's `pipe()` resume its flow (scheduled with `process.nextTick`), and one
 * that pushes synchronously (`Readable.from(array)`) would never let the consumer's flush settle: the
 * hold would fill, or sampling start, while the consumer sat idle. One turn is all it waits: a
 * consumer that is really behind gets no more, and the policy drops. Under sustained pressure it does
 * not yield again until the hold has emptied or the pressure fell back to `normal`. A writer that
 * ignores `false` is never refused.
 *
 * A policy (subclass) supplies the hold and two decisions: `admit` (shed on arrival, e.g. sampling)
 * and `hold` (what to do when the hold is full). Every item written is, at every moment, exactly one
 * of: passed, dropped (with a `'drop'` event), or held — `written === passed + dropped + held`.
 *
 * It is a Duplex rather than a Transform on purpose: Transform allocates a closure per item and
 * withholds the write callback while its readable side is full, which is exactly the blocking a
 * shedding stage exists to avoid.
 */
export abstract class SheddingStage<T> extends Duplex {
  readonly capacity: number;

  #written = 0;
  /** Items handed to `push()`; `passed` is this minus what the readable side still buffers. */
  #pushed = 0;
  #dropped = 0;
  readonly #droppedByReason: Record<string, number> = {};
  /** `_read` asked for data and `push()` has not returned false since: items may skip the hold. */
  #wanted = false;
  /** `_final`'s callback, kept until the hold is empty so that `'finish'` means "nothing left held". */
  #finalCallback: ((error?: Error | null) => void) | null = null;
  /**
   * The last items that `push()` left in the readable side's buffer. That buffer is private to the
   * stream implementation, so to report the items it still holds when the stage is destroyed, we
   * mirror its tail here; trimmed on every such push, so it stays at ≤ 2 items.
   */
  readonly #transit = new RingBuffer<T>(4);
  /** Bound once (no closure per event): the consumer paused, so items must wait in the hold. */
  readonly #onPause = (): void => {
    this.#wanted = false;
  };
  /** Set once `_destroy` has taken over the readable side's items (to drop them). */
  #settled = false;
  #lostInTransit = 0;
  /** The one-turn yield in progress: `write()` says false until it fires `'drain'`. */
  #yield: ReturnType<typeof setImmediate> | null = null;
  readonly #endYield = (): void => {
    this.#yield = null;
    if (!this.destroyed) this.emit('drain');
  };
  readonly #pressure: PressureSource | undefined;
  /** The pressure source was above normal after the previous item: a rise is what makes the stage yield. */
  #underPressure = false;
  /** See {@link attachOutlet}: where items go instead of the readable side. */
  #outlet: ((item: T) => boolean) | null = null;
  /** The outlet's last answer was true: an item may go straight to it when nothing is held. */
  #outletOpen = false;

  // The stages emit the usual Duplex events plus `'drop'` with a {@link DropEvent}, synchronously,
  // after the stage's counters already reflect the drop (so `getMetrics()` inside a listener balances).
  override on(event: 'drop', listener: (event: DropEvent<T>) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  override once(event: 'drop', listener: (event: DropEvent<T>) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }

  protected constructor(options: SheddingStageOptions, reasons: readonly DropReason[]) {
    super({
      objectMode: true,
      // 0, not 1: with 1, Readable#read() calls _read to refill *before* taking the buffered item, so
      // one more item would always sit in the readable buffer, out of the policy's reach. With 0,
      // _read is only called once that buffer is empty, so the hold (which the policy controls)
      // holds everything that waits.
      readableHighWaterMark: 0,
      // Only matters on Node's own write path (corked, end(item)): there write() returns
      // `length < highWaterMark` computed *before* _write runs, so 1 would make it return false
      // although we call back synchronously. 16 is the object-mode default.
      writableHighWaterMark: 16,
    });
    if (options === null || typeof options !== 'object')
      throw invalidOption('type', new.target.name, 'options', 'an object', options);
    this.capacity = stageCapacity(new.target.name, 'capacity', options.capacity);
    this.#pressure = options.pressure;
    this.on('pause', this.#onPause);
    for (const reason of reasons) this.#droppedByReason[reason] = 0;
    this.#droppedByReason[DropReason.DESTROYED] = 0;
  }

  /** Number of items in the policy's hold. */
  protected abstract get holdSize(): number;

  /**
   * Puts an item that cannot go downstream right now into the hold, or, when the hold is full, drops
   * it or another held item as the policy says. Must update the hold *before* calling `discard()`, so
   * the counters balance when the `'drop'` event fires.
   */
  protected abstract hold(item: T): void;

  /** Removes and returns the next held item to send downstream; only called when `holdSize > 0`. */
  protected abstract release(): T;

  /**
   * Shed on arrival: returns the reason to drop `item`, or `null` to keep it. Called once for every
   * written item, before it is passed or held. The default keeps everything.
   */
  protected admit(_item: T): DropReason | null {
    return null;
  }

  /** Counts and announces a drop. The caller has already removed `item` from wherever it was. */
  protected discard(item: T, reason: DropReason): void {
    this.#dropped++;
    this.#droppedByReason[reason] = (this.#droppedByReason[reason] ?? 0) + 1;
    // The payload is only allocated when someone listens; the counters are kept regardless.
    if (this.listenerCount('drop') > 0) this.emit('drop', { item, reason } satisfies DropEvent<T>);
  }

  /**
   * The hold's own fill as a pressure state, for stages with no downstream `PressureSource`:
   * the core's default watermarks without hysteresis (< 50 % normal, < 80 % elevated, < 100 %
   * critical, full blocked).
   */
  protected holdPressure(): BackpressureState {
    return PRESSURE_LEVELS[levelAt(this.held / this.capacity, DEFAULT_WATERMARKS)] as BackpressureState;
  }

  /** Pressure rank (0 normal … 3 blocked) from `source`, or from the hold when there is none. */
  protected pressureRankOf(source: PressureSource | undefined): number {
    return pressureRank(source === undefined ? this.holdPressure() : source.state);
  }

  /** `held` has reached `capacity`: the policy must drop something to take another item. */
  protected get full(): boolean {
    return this.holdSize + this.#inTransit() >= this.capacity;
  }

  /** Items waiting in the stage (hold + readable buffer). */
  get held(): number {
    return this.holdSize + this.#inTransit();
  }

  getMetrics(): StageMetrics {
    const inTransit = this.#inTransit();
    return {
      written: this.#written,
      passed: this.#pushed - this.#lostInTransit - inTransit,
      dropped: this.#dropped,
      droppedByReason: { ...this.#droppedByReason },
      held: this.holdSize + inTransit,
      capacity: this.capacity,
    };
  }

  /**
   * Fast path: while nothing is queued in the Writable machinery (it never is: we call back at
   * once), take the item directly instead of going through Writable#write's per-item bookkeeping,
   * which is most of the cost of a pass-through item (bench/stages.bench.ts). Everything unusual —
   * null, after end or destroy — goes through Node's own write() and its errors.
   *
   * `cork()` does not delay acceptance: Node would keep corked items in its own queue, outside the
   * stage's account, and discard them on `destroy()`. Batching writes buys a stage nothing, so a
   * corked item is accepted at once like any other.
   *
   * Returns `false` only while the one-turn yield is in progress (see the class comment).
   */
  override write(chunk: unknown, callback?: WriteDoneCallback): boolean;
  override write(chunk: unknown, encoding: BufferEncoding, callback?: WriteDoneCallback): boolean;
  override write(chunk: unknown, encoding?: BufferEncoding | WriteDoneCallback, callback?: WriteDoneCallback): boolean {
    if (chunk === null || this.destroyed || this.writableEnded || this.writableLength > 0) {
      // Node's write() with the arguments as given, so that its own checks and errors apply.
      if (typeof encoding === 'function') return super.write(chunk, encoding);
      if (encoding === undefined) return super.write(chunk, callback);
      return super.write(chunk, encoding, callback);
    }
    if (typeof encoding === 'function') callback = encoding;
    this.#accept(chunk as T);
    if (typeof callback === 'function') process.nextTick(callback, null);
    return this.#yield === null;
  }

  override _write(item: T, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#accept(item);
    callback();
  }

  override _read(): void {
    this.#wanted = true;
    while (this.#wanted && this.holdSize > 0) this.#pushOut(this.release());
    if (this.#finalCallback !== null && this.holdSize === 0) this.#endReadable();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#finalCallback = callback;
    // Nothing more can be written: a yield in progress has no writer left to wait for it.
    this.#cancelYield();
    if (this.holdSize === 0) this.#endReadable();
    // Otherwise _read ends the readable side once the hold is empty.
  }

  /**
   * Sends what the stage lets through to `write` instead of its readable side: for a composition
   * that owns the consumer (`backpressure()` attaches its `BackpressureWritable` this way). An item
   * goes straight to `write` while nothing is held and `write`'s last answer was `true`; once it
   * answers `false` (the consumer is full), items wait in the hold, where the policy applies, until
   * {@link resumeOutlet}. Each item is counted as passed *before* `write` is called, so listeners of
   * events the consumer emits inside `write` see both accounts balance.
   *
   * The one-turn yield applies as without an outlet: when the consumer is full and the hold starts
   * to fill, `write()` says false and `'drain'` follows on the next `setImmediate`. That turn lets a
   * sink that needs the event loop (I/O, timers) catch up before the policy has to drop; a sink that
   * is really behind gets no more. The readable side is unused from then on: do not pipe or read an
   * attached stage. Call it before the first write.
   */
  attachOutlet(write: (item: T) => boolean): void {
    if (this.#outlet !== null || this.#written > 0) {
      throw Object.assign(new Error('attachOutlet() must be called once, before the first write'), {
        code: 'ERR_INVALID_STATE',
      });
    }
    this.#outlet = write;
    this.#outletOpen = true;
  }

  /**
   * The outlet has room again: hands it held items, in the policy's order, until it answers `false`
   * or the hold is empty. Ends the readable side once the hold is empty after `end()`.
   */
  resumeOutlet(): void {
    const outlet = this.#outlet;
    if (outlet === null || this.destroyed) return;
    this.#outletOpen = true;
    while (this.#outletOpen && this.holdSize > 0) {
      const item = this.release();
      this.#pushed++;
      this.#outletOpen = outlet(item);
    }
    if (this.#finalCallback !== null && this.holdSize === 0) this.#endReadable();
  }

  /**
   * Hands everything the stage holds — the items left in its readable side first, then the hold,
   * oldest first — to `give`, one at a time while `canGive()` says yes, each counted as passed. For
   * a composition being destroyed: its writable takes them and dead-letters them with its own,
   * because the policy never shed them. Whatever `canGive()` refuses stays held (and is dropped as
   * `destroyed` by the destroy that must follow, synchronously).
   */
  handOverHeld(give: (item: T) => void, canGive: () => boolean): void {
    this.#settle();
    while (this.#transit.size > 0 && canGive()) give(this.#transit.shift() as T); // already counted in #pushed
    while (this.holdSize > 0 && canGive()) {
      const item = this.release();
      this.#pushed++;
      give(item);
    }
  }

  /** From now on the readable side's count is #transit.size (its buffer will be discarded). */
  #settle(): void {
    if (this.#settled) return;
    const unread = this.readableEnded ? 0 : Math.min(this.readableLength, this.#transit.size);
    while (this.#transit.size > unread) this.#transit.shift();
    this.#settled = true;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Nothing is lost silently: whatever the stage still holds (a stage on its own, or one whose
    // writable is already gone) is dropped, with an event each, one at a time so that the counters
    // balance at every event.
    this.#settle();
    while (this.#transit.size > 0) {
      const item = this.#transit.shift() as T;
      this.#lostInTransit++;
      this.discard(item, DropReason.DESTROYED);
    }
    while (this.holdSize > 0) this.discard(this.release(), DropReason.DESTROYED);
    // A pending `_final` callback is abandoned: a destroyed stream never finishes.
    this.#finalCallback = null;
    this.#outletOpen = false;
    this.#cancelYield();
    callback(error);
  }

  #accept(item: T): void {
    this.#written++;
    const reason = this.admit(item);
    if (reason !== null) this.discard(item, reason);
    else if (this.#wanted && this.holdSize === 0) this.#pushOut(item);
    else if (this.#outletOpen && this.holdSize === 0) this.#handOut(item);
    else this.#holdItem(item);
    if (this.#pressure !== undefined) this.#watchPressure(this.#pressure);
  }

  /** Read after the item went downstream, so that the rise it caused pauses the writer before the next one. */
  #watchPressure(pressure: PressureSource): void {
    const under = pressure.state !== BackpressureState.NORMAL;
    if (under && !this.#underPressure) this.#startYield();
    this.#underPressure = under;
  }

  #startYield(): void {
    if (this.#yield === null && !this.destroyed) this.#yield = setImmediate(this.#endYield);
  }

  #cancelYield(): void {
    if (this.#yield === null) return;
    clearImmediate(this.#yield);
    this.#yield = null;
  }

  #handOut(item: T): void {
    this.#pushed++;
    this.#outletOpen = (this.#outlet as (item: T) => boolean)(item);
  }

  #holdItem(item: T): void {
    const wasEmpty = this.holdSize === 0;
    this.hold(item);
    // The hold starts to fill: give the consumer one event-loop turn to take it (class comment).
    if (wasEmpty && this.holdSize > 0) this.#startYield();
  }

  #inTransit(): number {
    return this.#settled ? this.#transit.size : this.readableLength;
  }

  #pushOut(item: T): void {
    this.#pushed++;
    // With readableHighWaterMark 0, push() returns true exactly when the item did not stay in the
    // readable buffer (it went straight to a flowing consumer's 'data' listener), so the common
    // path needs no other check. If that listener paused us (pipe() does when its destination is
    // full), #onPause has already cleared #wanted: what comes next waits in the hold.
    if (this.push(item)) return;
    this.#wanted = false;
    // The item stayed in the readable buffer. Mirror it: the buffer is FIFO, so its contents are
    // always the last `readableLength` items mirrored.
    const buffered = this.readableLength;
    this.#transit.push(item);
    while (this.#transit.size > buffered) this.#transit.shift();
  }

  #endReadable(): void {
    const callback = this.#finalCallback;
    this.#finalCallback = null;
    this.push(null);
    if (callback !== null) callback();
  }
}
