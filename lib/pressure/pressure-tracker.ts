import { BackpressureState, type StateChange } from './state';
import { upperThreshold, type WatermarkThresholds } from './levels';
import { nextPressureState } from './watermark-state';

/** What the tracker needs to know about the buffer it watches. */
export interface PressureOptions extends WatermarkThresholds {
  maxBufferSize: number;
  maxBufferBytes: number;
  /** How long the state may stay blocked without progress before `onBlockTimeout` (Infinity: forever). */
  maxBlockTimeMs: number;
}

/** The stream whose `'state'` events the tracker emits and whose fill it reads. */
export interface PressureHost {
  emit(event: 'state', change: StateChange): unknown;
}

/**
 * The watermark state of one buffer: its current state, the thresholds that move it, the
 * block timer, and the one place that changes the state and emits `'state'`.
 *
 * The owner tells it when the buffer changed (`update`, or the cheaper `updateOnGrowth`), and
 * moves it through the lifecycle states (`transition(DRAINING | CLOSED)`); once draining or
 * closed, utilization no longer moves the state.
 */
export class PressureTracker {
  readonly #o: PressureOptions;
  readonly #host: PressureHost;
  readonly #utilization: () => number;
  readonly #onLeftBlocked: () => void;
  #state: BackpressureState = BackpressureState.NORMAL;
  /** Held items / bytes at which the state must be re-evaluated on the way up (see update). */
  #nextUpItems = 0;
  #nextUpBytes = 0;
  #blockTimer: NodeJS.Timeout | null = null;
  readonly #onBlockTimeout: () => void;
  readonly #onBlockTimer = (): void => {
    this.#blockTimer = null;
    this.#onBlockTimeout();
  };

  /**
   * @param utilization the buffer's fill, max(items, bytes), read on every evaluation and event
   * @param onBlockTimeout blocked for `maxBlockTimeMs` without progress
   * @param onLeftBlocked called after the `'state'` event that leaves blocked (a `'drain'` may be owed)
   */
  constructor(
    o: PressureOptions,
    host: PressureHost,
    utilization: () => number,
    onBlockTimeout: () => void,
    onLeftBlocked: () => void,
  ) {
    this.#o = o;
    this.#host = host;
    this.#utilization = utilization;
    this.#onBlockTimeout = onBlockTimeout;
    this.#onLeftBlocked = onLeftBlocked;
  }

  get state(): BackpressureState {
    return this.#state;
  }

  /** Held items at which the state must be re-evaluated on the way up: below it, growth changes nothing. */
  get nextUpItems(): number {
    return this.#nextUpItems;
  }

  /** Draining or closed: the lifecycle, not utilization, decides the state now. */
  get ending(): boolean {
    return this.#state === BackpressureState.DRAINING || this.#state === BackpressureState.CLOSED;
  }

  /** Re-evaluates the state from the buffer's utilization (nothing once draining or closed). */
  update(): void {
    if (this.ending) return;
    const next = nextPressureState(this.#state, this.#utilization(), this.#o);
    if (next !== this.#state) this.transition(next);
    // Precompute where the next state up begins, so a growing buffer costs one
    // comparison per item instead of a full evaluation. Slightly early (1e-9)
    // so float rounding can only cause an extra evaluation, never a missed one.
    const t = upperThreshold(this.#state, this.#o);
    this.#nextUpItems = t * this.#o.maxBufferSize * (1 - 1e-9);
    this.#nextUpBytes = t * this.#o.maxBufferBytes * (1 - 1e-9);
  }

  /** The buffer only grew (to `items` and `bytes` held): re-evaluate only if it reached the next threshold up. */
  updateOnGrowth(items: number, bytes: number): void {
    if (items >= this.#nextUpItems || bytes >= this.#nextUpBytes) this.update();
  }

  /** The one state change: arms or disarms the block timer and emits `'state'`. Closed is terminal. */
  transition(to: BackpressureState): void {
    const from = this.#state;
    if (from === to || from === BackpressureState.CLOSED) return;
    this.#state = to;
    if (to === BackpressureState.BLOCKED) this.#armBlockTimer();
    else this.clearBlockTimer();
    this.#host.emit('state', { from, to, utilization: this.#utilization() } satisfies StateChange);
    if (from === BackpressureState.BLOCKED) this.#onLeftBlocked();
  }

  /** The sink made progress: a blocked writer's deadline starts again. */
  rearmBlockTimerOnProgress(): void {
    if (this.#blockTimer !== null) this.#armBlockTimer();
  }

  clearBlockTimer(): void {
    if (this.#blockTimer !== null) {
      clearTimeout(this.#blockTimer);
      this.#blockTimer = null;
    }
  }

  #armBlockTimer(): void {
    if (this.#o.maxBlockTimeMs === Infinity) return;
    if (this.#blockTimer !== null) clearTimeout(this.#blockTimer);
    this.#blockTimer = setTimeout(this.#onBlockTimer, this.#o.maxBlockTimeMs);
  }
}
