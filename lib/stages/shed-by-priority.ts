import { RingBuffer } from '../ring-buffer';
import { type PressureSource } from '../state';
import { DropReason } from './drop-reasons';
import { SheddingStage, type SheddingStageOptions } from './shedding-stage';

export interface ShedByPriorityOptions<T> extends SheddingStageOptions {
  /**
   * The item's priority class: a finite number, higher is more important. Meant for a few classes
   * (e.g. 0 debug … 3 error); cost per item is O(number of classes held). If it throws or returns a
   * non-finite number the item is dropped as `'invalid-priority'`.
   */
  priority: (item: T) => number;
  /**
   * Downstream pressure, read on every arrival (e.g. the `BackpressureWritable` this stage feeds;
   * `backpressure()` binds it for you). Without one, the stage uses its own hold's fill:
   * ≥ 50 % elevated, ≥ 80 % critical, full blocked.
   * @default undefined (the hold's own fill)
   */
  pressure?: PressureSource | undefined;
  /**
   * The lowest priority still kept at each pressure level; anything below is shed on arrival
   * (`'shed-priority'`). Never above the highest priority seen so far, so the top class is never
   * shed on arrival; `critical` (which also applies when blocked) is never below `elevated`.
   * @default { elevated: (second-lowest class seen: only the lowest class is shed), critical: (highest class seen: only the top class is kept) }
   */
  keepAtLeast?: { elevated?: number | undefined; critical?: number | undefined } | undefined;
}

/** One priority class's held items, with the arrival sequence of each to keep the output in order. */
interface PriorityClass<T> {
  readonly priority: number;
  readonly items: RingBuffer<T>;
  readonly sequences: RingBuffer<number>;
}

/** Classes that empty out are kept for reuse up to this many; past it they are deleted. */
const MAX_IDLE_CLASSES = 32;

/**
 * Graceful degradation by priority (higher number = more important).
 *
 * - normal: everything is kept.
 * - elevated: the lowest class seen so far is shed on arrival (unless it is also the highest).
 * - critical and blocked: everything below the highest class seen so far is shed on arrival.
 * - hold full (downstream not reading and `capacity` items held): the oldest item of the lowest
 *   held class is evicted (`'evicted-priority'`) if it is less important than the newcomer;
 *   otherwise the newcomer is dropped (`'overflow'`). So the top class is dropped only when the hold
 *   holds nothing but the top class.
 *
 * Items leave in arrival order whatever their class (per-class rings plus a sequence number; the
 * next item out is the class head with the smallest sequence, O(classes)).
 */
export class ShedByPriorityStage<T> extends SheddingStage<T> {
  readonly #priority: (item: T) => number;
  readonly #pressure: PressureSource | undefined;
  readonly #keepElevated: number | undefined;
  readonly #keepCritical: number | undefined;
  /** Classes holding (or recently holding) items, ascending by priority. */
  readonly #classes: PriorityClass<T>[] = [];
  readonly #byPriority = new Map<number, PriorityClass<T>>();
  #holdSize = 0;
  #sequence = 0;
  #lowestSeen = Infinity;
  #secondLowestSeen = Infinity;
  #highestSeen = -Infinity;
  /** Priority of the item being written, computed once in `admit` and reused by `hold`. */
  #arriving = 0;

  constructor(options: ShedByPriorityOptions<T>) {
    super(options, [DropReason.SHED_PRIORITY, DropReason.EVICTED_PRIORITY, DropReason.OVERFLOW, DropReason.INVALID_PRIORITY]);
    if (typeof options.priority !== 'function') throw new TypeError('priority(item) must be a function');
    const { elevated, critical } = options.keepAtLeast ?? {};
    for (const [name, value] of [['elevated', elevated], ['critical', critical]] as const) {
      if (value !== undefined && !Number.isFinite(value)) throw new RangeError(`keepAtLeast.${name} must be a finite number`);
    }
    this.#priority = options.priority;
    this.#pressure = options.pressure;
    this.#keepElevated = elevated;
    this.#keepCritical = critical;
  }

  protected override admit(item: T): DropReason | null {
    let priority: number;
    try {
      priority = this.#priority(item);
    } catch {
      return DropReason.INVALID_PRIORITY;
    }
    if (typeof priority !== 'number' || !Number.isFinite(priority)) return DropReason.INVALID_PRIORITY;
    this.#arriving = priority;
    this.#see(priority);
    const rank = this.pressureRankOf(this.#pressure);
    if (rank === 0) return null;
    return priority < this.#floor(rank) ? DropReason.SHED_PRIORITY : null;
  }

  protected override get holdSize(): number {
    return this.#holdSize;
  }

  protected override hold(item: T): void {
    const priority = this.#arriving;
    if (!this.full) {
      this.#append(item, priority);
      return;
    }
    const lowest = this.#lowestHeld();
    if (lowest === undefined || lowest.priority >= priority) {
      this.discard(item, DropReason.OVERFLOW);
      return;
    }
    const evicted = lowest.items.shift() as T;
    lowest.sequences.shift();
    this.#holdSize--;
    this.#append(item, priority);
    this.discard(evicted, DropReason.EVICTED_PRIORITY);
  }

  protected override release(): T {
    let next: PriorityClass<T> | undefined;
    let nextSequence = Infinity;
    for (const candidate of this.#classes) {
      const sequence = candidate.sequences.peek();
      if (sequence !== undefined && sequence < nextSequence) {
        next = candidate;
        nextSequence = sequence;
      }
    }
    const chosen = next as PriorityClass<T>;
    chosen.sequences.shift();
    this.#holdSize--;
    const item = chosen.items.shift() as T;
    if (chosen.items.size === 0 && this.#classes.length > MAX_IDLE_CLASSES) this.#remove(chosen);
    return item;
  }

  /** Lowest priority kept at pressure `rank` (1 elevated, 2+ critical/blocked). */
  #floor(rank: number): number {
    const highest = this.#highestSeen;
    const elevated = Math.min(this.#keepElevated ?? this.#secondLowestSeen, highest);
    if (rank === 1) return elevated;
    return Math.max(elevated, Math.min(this.#keepCritical ?? highest, highest));
  }

  #see(priority: number): void {
    if (priority > this.#highestSeen) this.#highestSeen = priority;
    if (priority < this.#lowestSeen) {
      this.#secondLowestSeen = this.#lowestSeen;
      this.#lowestSeen = priority;
    } else if (priority > this.#lowestSeen && priority < this.#secondLowestSeen) {
      this.#secondLowestSeen = priority;
    }
  }

  #append(item: T, priority: number): void {
    let target = this.#byPriority.get(priority);
    if (target === undefined) target = this.#add(priority);
    target.items.push(item);
    target.sequences.push(this.#sequence++);
    this.#holdSize++;
  }

  #lowestHeld(): PriorityClass<T> | undefined {
    for (const candidate of this.#classes) if (candidate.items.size > 0) return candidate;
    return undefined;
  }

  #add(priority: number): PriorityClass<T> {
    const created: PriorityClass<T> = { priority, items: new RingBuffer<T>(), sequences: new RingBuffer<number>() };
    let index = this.#classes.length;
    while (index > 0 && (this.#classes[index - 1] as PriorityClass<T>).priority > priority) index--;
    this.#classes.splice(index, 0, created);
    this.#byPriority.set(priority, created);
    return created;
  }

  #remove(idle: PriorityClass<T>): void {
    this.#classes.splice(this.#classes.indexOf(idle), 1);
    this.#byPriority.delete(idle.priority);
  }
}

/** A {@link ShedByPriorityStage}. */
export function shedByPriority<T>(options: ShedByPriorityOptions<T>): ShedByPriorityStage<T> {
  return new ShedByPriorityStage<T>(options);
}
