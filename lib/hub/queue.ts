// Queues between greenlets (gevent.queue): Queue (FIFO), LifoQueue,
// PriorityQueue, and Channel (no buffer: put waits for a get).
//
// Items are handed over at once: put() with a getter waiting gives the item
// to the first getter in line (FIFO-fair), get() with a putter waiting takes
// the putter's item into the queue. A handed-over item carries an undo, so
// that a getter interrupted before it resumes (a Timeout, a kill) puts the
// item back instead of losing it. Non-blocking calls work on the hub.
import { codedError, invalidArgType, outOfRange, type CodedError } from '../errors';
import { COMMITTED, TIMED_OUT, assertCanBlock, parkFor, wake, yieldToRunnable, type Waiter } from './core';
import { checkMs } from './timeout';

export interface QueueOpOptions {
  /** false: never wait; a full (put) or empty (get) queue throws at once. Default true. */
  block?: boolean;
  /** Wait at most this long, then throw ERR_LOOPLET_QUEUE_FULL / ERR_LOOPLET_QUEUE_EMPTY. */
  timeoutMs?: number;
}

function full(): CodedError {
  return codedError(Error, 'ERR_LOOPLET_QUEUE_FULL', 'The queue is full');
}

function empty(): CodedError {
  return codedError(Error, 'ERR_LOOPLET_QUEUE_EMPTY', 'The queue is empty');
}

function opOptions(options: unknown): { block: boolean; timeoutMs: number | undefined } {
  if (options === undefined) return { block: true, timeoutMs: undefined };
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
  const { block, timeoutMs } = options as QueueOpOptions;
  if (block !== undefined && typeof block !== 'boolean') throw invalidArgType('options.block', 'of type boolean', block);
  return { block: block ?? true, timeoutMs: checkMs('options.timeoutMs', timeoutMs, true) };
}

function checkMaxsize(maxsize: unknown): number {
  if (maxsize === undefined || maxsize === null || maxsize === Infinity) return Infinity;
  if (typeof maxsize !== 'number') throw invalidArgType('maxsize', 'of type number', maxsize);
  if (!Number.isInteger(maxsize) || maxsize < 0) throw outOfRange('maxsize', 'an integer >= 0, or Infinity', maxsize);
  return maxsize === 0 ? Infinity : maxsize;
}

/** The first waiter still active, removed from the set; or null. */
function firstActive<V>(waiters: Map<Waiter, V>): [Waiter, V] | null {
  for (const [waiter, value] of waiters) {
    waiters.delete(waiter);
    if (waiter.active) return [waiter, value];
  }
  return null;
}

/** Parks the caller in `waiters` (with `value`) until woken or timeoutMs. */
function parkIn<V>(waiters: Map<Waiter, V>, value: V, timeoutMs: number | undefined, what: string): unknown {
  assertCanBlock(what);
  return parkFor(timeoutMs, (waiter) => {
    waiters.set(waiter, value);
    return () => waiters.delete(waiter);
  });
}

/**
 * A FIFO queue of unlimited or limited size (maxsize; 0 or undefined:
 * unlimited). With taskDone()/join() for work accounting.
 */
export class Queue<T = unknown> {
  readonly maxsize: number;
  #getters = new Map<Waiter, undefined>();
  #putters = new Map<Waiter, T>();
  #peekers = new Map<Waiter, undefined>();
  #joiners = new Map<Waiter, undefined>();
  #unfinished = 0;

  constructor(maxsize?: number) {
    this.maxsize = checkMaxsize(maxsize);
  }

  // Storage; subclasses change the order.
  protected items: T[] = [];
  protected head = 0;
  protected store(item: T): void {
    this.items.push(item);
  }
  protected take(): T {
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  protected first(): T {
    return this.items[this.head];
  }
  /** Puts an item that was handed to a getter back where it will be taken next. */
  protected restore(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  qsize(): number {
    return this.items.length - this.head;
  }

  empty(): boolean {
    return this.qsize() === 0;
  }

  full(): boolean {
    return this.qsize() >= this.maxsize;
  }

  /** Adds an item; when the queue is full, waits for room (unless block is false). */
  put(item: T, options?: QueueOpOptions): void {
    const { block, timeoutMs } = opOptions(options);
    if (this.#handToGetter(item)) {
      this.#unfinished++;
      return;
    }
    if (this.qsize() < this.maxsize) {
      this.#insert(item);
      return;
    }
    if (!block) throw full();
    if (parkIn(this.#putters, item, timeoutMs, 'Queue#put()') === TIMED_OUT) throw full();
  }

  putNowait(item: T): void {
    this.put(item, { block: false });
  }

  /** Removes and returns the next item; when the queue is empty, waits for one (unless block is false). */
  get(options?: QueueOpOptions): T {
    const { block, timeoutMs } = opOptions(options);
    if (this.qsize() > 0) {
      const item = this.take();
      this.#admitPutter();
      return item;
    }
    if (!block) throw empty();
    const item = parkIn(this.#getters, undefined, timeoutMs, 'Queue#get()');
    if (item === TIMED_OUT) throw empty();
    return item as T;
  }

  getNowait(): T {
    return this.get({ block: false });
  }

  /** The next item, left in the queue; when empty, waits for one (unless block is false). */
  peek(options?: QueueOpOptions): T {
    const { block, timeoutMs } = opOptions(options);
    for (;;) {
      if (this.qsize() > 0) return this.first();
      if (!block) throw empty();
      if (parkIn(this.#peekers, undefined, timeoutMs, 'Queue#peek()') === TIMED_OUT) throw empty();
    }
  }

  /** Marks one item from get() as processed (see join()). */
  taskDone(): void {
    if (this.#unfinished <= 0) throw codedError(Error, 'ERR_LOOPLET_QUEUE_TASK_DONE', 'taskDone() called more times than there were items');
    if (--this.#unfinished === 0) {
      for (const waiter of this.#joiners.keys()) wake(waiter, undefined);
      this.#joiners.clear();
    }
  }

  /** Blocks until every item put has been marked with taskDone(); false if timeoutMs passed first. */
  join(timeoutMs?: number): boolean {
    const limit = checkMs('timeoutMs', timeoutMs, true);
    if (this.#unfinished === 0) return true;
    return parkIn(this.#joiners, undefined, limit, 'Queue#join()') !== TIMED_OUT;
  }

  #insert(item: T): void {
    this.store(item);
    this.#unfinished++;
    this.#wakePeekers();
  }

  /** Gives the item to the first waiting getter; false when none waits. */
  #handToGetter(item: T): boolean {
    const getter = firstActive(this.#getters);
    if (getter === null) return false;
    wake(getter[0], item, () => {
      // The getter was interrupted before it resumed: the item goes to the
      // next getter, or back to where the next get() takes it (a full queue
      // may hold one item over maxsize then; nothing is dropped).
      if (this.#handToGetter(item)) return;
      this.restore(item);
      this.#wakePeekers();
    });
    return true;
  }

  #wakePeekers(): void {
    for (const waiter of this.#peekers.keys()) wake(waiter, undefined);
    this.#peekers.clear();
  }

  /** After a get made room: the first waiting putter's item enters the queue. */
  #admitPutter(): void {
    if (this.qsize() >= this.maxsize) return;
    const putter = firstActive(this.#putters);
    if (putter === null) return;
    this.#insert(putter[1]);
    wake(putter[0], undefined, COMMITTED);
  }
}

/** A last-in, first-out queue. */
export class LifoQueue<T = unknown> extends Queue<T> {
  protected override take(): T {
    return this.items.pop() as T;
  }
  protected override first(): T {
    return this.items[this.items.length - 1];
  }
  protected override restore(item: T): void {
    this.items.push(item);
  }
}

export interface PriorityQueueOptions<T> {
  /** Orders items: negative when a comes first. Default: numbers and strings by <, arrays element by element. */
  compare?: (a: T, b: T) => number;
}

function defaultCompare(a: unknown, b: unknown): number {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < a.length && i < b.length; i++) {
      const c = defaultCompare(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

/** A queue that hands out the smallest item first (a binary heap). */
export class PriorityQueue<T = unknown> extends Queue<T> {
  readonly #compare: (a: T, b: T) => number;

  constructor(maxsize?: number, options: PriorityQueueOptions<T> = {}) {
    super(maxsize);
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    if (options.compare !== undefined && typeof options.compare !== 'function') throw invalidArgType('options.compare', 'of type function', options.compare);
    this.#compare = options.compare ?? defaultCompare;
  }

  protected override store(item: T): void {
    const heap = this.items;
    heap.push(item);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (this.#compare(heap[i], heap[parent]) >= 0) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }
  protected override take(): T {
    const heap = this.items;
    const top = heap[0];
    const last = heap.pop() as T;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.#compare(heap[l], heap[m]) < 0) m = l;
        if (r < heap.length && this.#compare(heap[r], heap[m]) < 0) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  }
  protected override first(): T {
    return this.items[0];
  }
  protected override restore(item: T): void {
    this.store(item);
  }
}

/**
 * A queue with no room at all: put() waits until a get() takes the item
 * (gevent's Channel). full() is always true; qsize() is 0 and empty() true
 * except while it holds items that came back from interrupted getters.
 */
export class Channel<T = unknown> {
  #getters = new Map<Waiter, undefined>();
  #putters = new Map<Waiter, T>();
  #peekers = new Map<Waiter, undefined>();
  // Items handed to getters that were interrupted before taking them.
  #returned: T[] = [];

  qsize(): number {
    return this.#returned.length;
  }

  empty(): boolean {
    return this.#returned.length === 0;
  }

  full(): boolean {
    return true;
  }

  /**
   * Hands the item to a getter, waiting for one (unless block is false).
   * As in gevent, it returns once that getter has run: a getter already
   * waiting is let run first (except on the hub, which never waits).
   */
  put(item: T, options?: QueueOpOptions): void {
    const { block, timeoutMs } = opOptions(options);
    if (this.#handToGetter(item)) {
      yieldToRunnable();
      return;
    }
    if (!block) throw full();
    assertCanBlock('Channel#put()');
    for (const waiter of this.#peekers.keys()) wake(waiter, undefined);
    this.#peekers.clear();
    if (parkIn(this.#putters, item, timeoutMs, 'Channel#put()') === TIMED_OUT) throw full();
  }

  putNowait(item: T): void {
    this.put(item, { block: false });
  }

  /** Takes an item from a putter, waiting for one (unless block is false). */
  get(options?: QueueOpOptions): T {
    const { block, timeoutMs } = opOptions(options);
    if (this.#returned.length > 0) return this.#returned.shift()!;
    const putter = firstActive(this.#putters);
    if (putter !== null) {
      wake(putter[0], undefined, COMMITTED);
      return putter[1];
    }
    if (!block) throw empty();
    const item = parkIn(this.#getters, undefined, timeoutMs, 'Channel#get()');
    if (item === TIMED_OUT) throw empty();
    return item as T;
  }

  getNowait(): T {
    return this.get({ block: false });
  }

  /** The item the next get() would take, left in place; waits for a putter (unless block is false). */
  peek(options?: QueueOpOptions): T {
    const { block, timeoutMs } = opOptions(options);
    for (;;) {
      if (this.#returned.length > 0) return this.#returned[0];
      for (const [waiter, item] of this.#putters) if (waiter.active) return item;
      if (!block) throw empty();
      if (parkIn(this.#peekers, undefined, timeoutMs, 'Channel#peek()') === TIMED_OUT) throw empty();
    }
  }

  #handToGetter(item: T): boolean {
    const getter = firstActive(this.#getters);
    if (getter === null) return false;
    wake(getter[0], item, () => {
      if (!this.#handToGetter(item)) this.#returned.unshift(item);
    });
    return true;
  }
}
