import { type PressureSource } from '../pressure/state';
import { DropReason } from './drop-reasons';
import { SheddingStage, type SheddingStageOptions } from './shedding-stage';
import { functionOption, invalidOption } from '../util/validate';

export interface ShedByPriorityOptions<T> extends SheddingStageOptions {
  /**
   * The item's priority: a finite number, higher is more important. A few classes (e.g. 0 debug …
   * 3 error) or all distinct (a timestamp, an id): cost per held item is O(log held) and memory is
   * bounded by `capacity` either way. If it throws or returns a non-finite number the item is
   * dropped as `'invalid-priority'`.
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

/** What the priority options are called where they are given: the stage's own names, or `backpressure()`'s. */
export interface PriorityOptionNames {
  priority: string;
  keepAtLeast: string;
}

const PRIORITY_OPTION_NAMES: PriorityOptionNames = { priority: 'priority', keepAtLeast: 'keepAtLeast' };

/**
 * Validates `priority` (a function, required) and `keepAtLeast` (an object of finite numbers) and
 * returns the floors; throws the coded TypeError/RangeError of `invalidOption`, naming the option as
 * `names` spells it.
 */
export function priorityFloors<T>(
  owner: string,
  options: { priority?: ((item: T) => number) | undefined; keepAtLeast?: ShedByPriorityOptions<T>['keepAtLeast'] },
  names: PriorityOptionNames,
): { elevated: number | undefined; critical: number | undefined } {
  functionOption(owner, names.priority, options.priority, true, 'a function (item) => number');
  const keep: unknown = options.keepAtLeast;
  if (keep === undefined) return { elevated: undefined, critical: undefined };
  if (keep === null || typeof keep !== 'object')
    throw invalidOption('type', owner, names.keepAtLeast, 'an object { elevated?, critical? }', keep);
  const floors = keep as { elevated?: unknown; critical?: unknown };
  for (const level of ['elevated', 'critical'] as const) {
    const value = floors[level];
    if (value === undefined) continue;
    const name = `${names.keepAtLeast}.${level}`;
    if (typeof value !== 'number') throw invalidOption('type', owner, name, 'a finite number', value);
    if (!Number.isFinite(value)) throw invalidOption('range', owner, name, 'a finite number', value);
  }
  return { elevated: floors.elevated as number | undefined, critical: floors.critical as number | undefined };
}

/** Slot index meaning "none" in the arrival list and the free list. */
const NONE = -1;
/** Slots allocated up front; the hold grows by doubling, up to `capacity`, as it fills. */
const INITIAL_SLOTS = 16;

/**
 * Graceful degradation by priority (higher number = more important).
 *
 * - normal: everything is kept.
 * - elevated: the lowest priority seen so far is shed on arrival (unless it is also the highest).
 * - critical and blocked: everything below the highest priority seen so far is shed on arrival.
 * - hold full (downstream not reading and `capacity` items held): the oldest held item of the lowest
 *   held priority is evicted (`'evicted-priority'`) if it is less important than the newcomer;
 *   otherwise the newcomer is dropped (`'overflow'`). So the top class is dropped only when the hold
 *   holds nothing but the top class.
 *
 * The floors need only the lowest, second-lowest and highest priority seen: three numbers, whatever
 * the number of distinct priorities (a timestamp or an id as priority makes every one distinct).
 *
 * The hold is one set of slots (parallel arrays, reused through a free list, at most `capacity` of
 * them) threaded on two orders: a doubly linked list in arrival order, so items leave in arrival
 * order whatever their priority (O(1)), and a binary min-heap keyed by (priority, arrival), whose root
 * is the item a full hold evicts (O(log held)). Nothing is kept per distinct priority, so neither the
 * cost per item nor the memory grows with how many have been seen, and nothing is allocated per item.
 */
export class ShedByPriorityStage<T> extends SheddingStage<T> {
  readonly #priority: (item: T) => number;
  readonly #pressure: PressureSource | undefined;
  readonly #keepElevated: number | undefined;
  readonly #keepCritical: number | undefined;
  // One slot per held item; the typed arrays hold no references, so only #items needs clearing.
  #items: (T | undefined)[];
  #priorities: Float64Array;
  /** Arrival number of each held item: the heap's tie-break, so the oldest of equals is evicted first. */
  #arrivals: Float64Array;
  /** Arrival order: next newer held slot; for a free slot, the next free slot. */
  #newer: Int32Array;
  #older: Int32Array;
  /** Position of each held slot in #heap, to remove it from there when it is released. */
  #heapPosition: Int32Array;
  /** Held slots as a binary min-heap by (priority, arrival); its first #holdSize entries are used. */
  #heap: Int32Array;
  #oldest = NONE;
  #newest = NONE;
  #free = NONE;
  #holdSize = 0;
  #arrival = 0;
  #lowestSeen = Infinity;
  #secondLowestSeen = Infinity;
  #highestSeen = -Infinity;
  /** Priority of the item being written, computed once in `admit` and reused by `hold`. */
  #arriving = 0;

  constructor(options: ShedByPriorityOptions<T>) {
    super(options, [
      DropReason.SHED_PRIORITY,
      DropReason.EVICTED_PRIORITY,
      DropReason.OVERFLOW,
      DropReason.INVALID_PRIORITY,
    ]);
    const { elevated, critical } = priorityFloors(new.target.name, options, PRIORITY_OPTION_NAMES);
    this.#priority = options.priority;
    this.#pressure = options.pressure;
    this.#keepElevated = elevated;
    this.#keepCritical = critical;
    // A large capacity costs memory only once the hold actually fills up to it.
    const slots = Math.min(this.capacity, INITIAL_SLOTS);
    this.#items = new Array<T | undefined>(slots);
    this.#priorities = new Float64Array(slots);
    this.#arrivals = new Float64Array(slots);
    this.#newer = new Int32Array(slots);
    this.#older = new Int32Array(slots);
    this.#heapPosition = new Int32Array(slots);
    this.#heap = new Int32Array(slots);
    this.#freeSlots(0, slots);
  }

  /**
   * Slots the hold has allocated: it grows (by doubling) with the number of items held, up to
   * `capacity`, and never shrinks; it does not depend on how many distinct priorities were seen.
   * For monitoring the stage's memory.
   */
  get allocatedSlots(): number {
    return this.#heap.length;
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
      this.#insert(item, priority);
      return;
    }
    // The hold can be full while holding nothing: `capacity` items wait in the readable side.
    const lowest = this.#holdSize > 0 ? (this.#heap[0] as number) : NONE;
    if (lowest === NONE || (this.#priorities[lowest] as number) >= priority) {
      this.discard(item, DropReason.OVERFLOW);
      return;
    }
    // The newcomer takes the evicted item's slot: the heap's root gets a larger key, so one sift down
    // restores it, and the hold's size does not change (the counters balance when 'drop' fires).
    const evicted = this.#items[lowest] as T;
    this.#unlink(lowest);
    this.#fill(lowest, item, priority);
    this.#siftDown(0);
    this.discard(evicted, DropReason.EVICTED_PRIORITY);
  }

  protected override release(): T {
    const slot = this.#oldest;
    const item = this.#items[slot] as T;
    this.#unlink(slot);
    this.#removeFromHeap(this.#heapPosition[slot] as number);
    this.#items[slot] = undefined; // let the GC have it
    this.#newer[slot] = this.#free;
    this.#free = slot;
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

  /** Adds `item` as the newest held item, in a free slot. */
  #insert(item: T, priority: number): void {
    if (this.#free === NONE) this.#grow();
    const slot = this.#free;
    this.#free = this.#newer[slot] as number;
    this.#fill(slot, item, priority);
    const position = this.#holdSize++;
    this.#heap[position] = slot;
    this.#heapPosition[slot] = position;
    this.#siftUp(position);
  }

  /** Stores `item` in `slot` and links it as the newest; the caller places it in the heap. */
  #fill(slot: number, item: T, priority: number): void {
    this.#items[slot] = item;
    this.#priorities[slot] = priority;
    this.#arrivals[slot] = this.#arrival++;
    this.#older[slot] = this.#newest;
    this.#newer[slot] = NONE;
    if (this.#newest === NONE) this.#oldest = slot;
    else this.#newer[this.#newest] = slot;
    this.#newest = slot;
  }

  /** Takes `slot` out of the arrival list (not out of the heap). */
  #unlink(slot: number): void {
    const older = this.#older[slot] as number;
    const newer = this.#newer[slot] as number;
    if (older === NONE) this.#oldest = newer;
    else this.#newer[older] = newer;
    if (newer === NONE) this.#newest = older;
    else this.#older[newer] = older;
  }

  #removeFromHeap(position: number): void {
    const last = --this.#holdSize;
    if (position === last) return;
    const moved = this.#heap[last] as number;
    this.#heap[position] = moved;
    this.#heapPosition[moved] = position;
    // The slot moved in from the end may belong above or below its new position.
    if (position > 0 && this.#before(moved, this.#heap[(position - 1) >> 1] as number)) this.#siftUp(position);
    else this.#siftDown(position);
  }

  /** Slot `a` comes out of the heap before slot `b`: lower priority, or the same and older. */
  #before(a: number, b: number): boolean {
    const pa = this.#priorities[a] as number;
    const pb = this.#priorities[b] as number;
    return pa < pb || (pa === pb && (this.#arrivals[a] as number) < (this.#arrivals[b] as number));
  }

  #siftUp(position: number): void {
    const heap = this.#heap;
    const slot = heap[position] as number;
    while (position > 0) {
      const parentPosition = (position - 1) >> 1;
      const parent = heap[parentPosition] as number;
      if (!this.#before(slot, parent)) break;
      heap[position] = parent;
      this.#heapPosition[parent] = position;
      position = parentPosition;
    }
    heap[position] = slot;
    this.#heapPosition[slot] = position;
  }

  #siftDown(position: number): void {
    const heap = this.#heap;
    const size = this.#holdSize;
    const slot = heap[position] as number;
    for (;;) {
      let child = 2 * position + 1;
      if (child >= size) break;
      const right = child + 1;
      if (right < size && this.#before(heap[right] as number, heap[child] as number)) child = right;
      const childSlot = heap[child] as number;
      if (!this.#before(childSlot, slot)) break;
      heap[position] = childSlot;
      this.#heapPosition[childSlot] = position;
      position = child;
    }
    heap[position] = slot;
    this.#heapPosition[slot] = position;
  }

  /** Doubles the slots, up to `capacity` (the hold never holds more), and frees the new ones. */
  #grow(): void {
    const from = this.#heap.length;
    const to = Math.max(from + 1, Math.min(from * 2, this.capacity));
    this.#items.length = to;
    this.#priorities = grown(this.#priorities, new Float64Array(to));
    this.#arrivals = grown(this.#arrivals, new Float64Array(to));
    this.#newer = grown(this.#newer, new Int32Array(to));
    this.#older = grown(this.#older, new Int32Array(to));
    this.#heapPosition = grown(this.#heapPosition, new Int32Array(to));
    this.#heap = grown(this.#heap, new Int32Array(to));
    this.#freeSlots(from, to);
  }

  /** Pushes slots `from` … `to - 1` on the free list, lowest first out. */
  #freeSlots(from: number, to: number): void {
    for (let slot = to - 1; slot >= from; slot--) {
      this.#newer[slot] = this.#free;
      this.#free = slot;
    }
  }
}

function grown<A extends Float64Array | Int32Array>(old: A, next: A): A {
  next.set(old);
  return next;
}

/** A {@link ShedByPriorityStage}. */
export function shedByPriority<T>(options: ShedByPriorityOptions<T>): ShedByPriorityStage<T> {
  return new ShedByPriorityStage<T>(options);
}
