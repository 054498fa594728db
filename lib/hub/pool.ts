// Groups of jobs (gevent.pool): Group tracks jobs and joins or kills them
// together; Pool(size) also caps how many run at once (spawn() waits for a
// free slot). map / imap / imapUnordered run a function over an iterable.
import { getcurrent } from '../greenlet';
import { invalidArgType, outOfRange } from '../errors';
import { TIMED_OUT, assertCanBlock, park, parkFor, wake, type Waiter } from './core';
import { Job, killall, whenFinished, type KillOptions } from './job';
import { Semaphore } from './lock';
import { checkMs } from './timeout';

type Outcome = { value: unknown } | { error: unknown };

/**
 * Package-internal, for code that runs on the hub and must not block
 * (StreamServer): group[tryAdd](job) adds a job only if a slot is free now
 * (false otherwise); group[onSlotFree](callback) calls callback once, the
 * next time a Pool slot is given back (a Group never fills).
 */
export const tryAdd: unique symbol = Symbol('looplet.group.tryAdd');
export const onSlotFree: unique symbol = Symbol('looplet.group.onSlotFree');

function checkFunction(name: string, fn: unknown): void {
  if (typeof fn !== 'function') throw invalidArgType(name, 'of type function', fn);
}

function iteratorOf(iterable: unknown): Iterator<unknown> {
  if (iterable === null || typeof iterable !== 'object' || typeof (iterable as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    if (typeof iterable !== 'string') throw invalidArgType('iterable', 'an iterable', iterable);
  }
  return (iterable as Iterable<unknown>)[Symbol.iterator]();
}

/** A set of jobs that can be joined or killed together; finished jobs leave it by themselves. */
export class Group implements Iterable<Job> {
  readonly #jobs = new Set<Job>();
  readonly #emptyWaiters = new Map<Waiter, undefined>();

  /** Jobs in the group (running or not started yet). */
  get size(): number {
    return this.#jobs.size;
  }

  has(job: Job): boolean {
    return this.#jobs.has(job);
  }

  [Symbol.iterator](): Iterator<Job> {
    return [...this.#jobs][Symbol.iterator]();
  }

  /** Starts fn(...args) in a new job of this group. */
  spawn<T>(fn: (...args: any[]) => T, ...args: unknown[]): Job<T> {
    checkFunction('fn', fn);
    const job = new Job<T>(fn, ...args);
    this.add(job);
    return job.start();
  }

  /** Adds a job (started or not); it leaves the group when it finishes. */
  add(job: Job): void {
    if (!(job instanceof Job)) throw invalidArgType('job', 'an instance of Job', job);
    if (this.#jobs.has(job) || job.ready()) return;
    this.#jobs.add(job);
    whenFinished(job, () => this.discard(job));
  }

  /** @internal see tryAdd. */
  [tryAdd](job: Job): boolean {
    this.add(job);
    return true;
  }

  /** @internal see onSlotFree; never called for a Group, which never fills. */
  [onSlotFree](callback: () => void): void {
    void callback;
  }

  /** Removes a job from the group (without stopping it). */
  discard(job: Job): void {
    if (!this.#jobs.delete(job) || this.#jobs.size > 1) return;
    // join() returns once the group is empty, or holds only the joining job.
    for (const waiter of this.#emptyWaiters.keys()) {
      if (this.#jobs.size === 1 && !this.#jobs.has(waiter.slot.greenlet as Job)) continue;
      this.#emptyWaiters.delete(waiter);
      wake(waiter, undefined);
    }
  }

  /** Blocks until every job has finished (but the caller, if it is one of them); false if timeoutMs passed first. */
  join(timeoutMs?: number): boolean {
    const limit = checkMs('timeoutMs', timeoutMs, true);
    if (this.#jobs.size === 0 || (this.#jobs.size === 1 && this.#jobs.has(getcurrent() as Job))) return true;
    assertCanBlock(`${this.constructor.name}#join()`);
    return (
      parkFor(limit, (waiter) => {
        this.#emptyWaiters.set(waiter, undefined);
        return () => this.#emptyWaiters.delete(waiter);
      }) !== TIMED_OUT
    );
  }

  /** Kills every job of the group (see killall). */
  kill(options?: KillOptions): void {
    killall([...this.#jobs], options);
  }

  /** Free slots: unlimited for a Group. */
  freeCount(): number {
    return Infinity;
  }

  full(): boolean {
    return this.freeCount() <= 0;
  }

  /** Blocks until a slot is free (at most timeoutMs); returns the free slots (0 if the time ran out). */
  waitAvailable(timeoutMs?: number): number {
    checkMs('timeoutMs', timeoutMs, true);
    return this.freeCount();
  }

  /** fn over every item, at most as many at once as the group allows; the results in input order. */
  map<T, R>(fn: (item: T) => R, iterable: Iterable<T>): R[] {
    return [...(this.#results(fn as (item: unknown) => unknown, iterable, true, 'map') as Generator<R>)];
  }

  /** Like map(), yielding each result as soon as it and those before it are ready. */
  imap<T, R>(fn: (item: T) => R, iterable: Iterable<T>): IterableIterator<R> {
    return this.#results(fn as (item: unknown) => unknown, iterable, true, 'imap') as IterableIterator<R>;
  }

  /** Like imap(), yielding results in the order they finish. */
  imapUnordered<T, R>(fn: (item: T) => R, iterable: Iterable<T>): IterableIterator<R> {
    return this.#results(fn as (item: unknown) => unknown, iterable, false, 'imapUnordered') as IterableIterator<R>;
  }

  /** Checks the arguments, and that the caller can block, when called rather than at the first next(). */
  #results(fn: (item: unknown) => unknown, iterable: Iterable<unknown>, ordered: boolean, what: string): Generator<unknown> {
    checkFunction('fn', fn);
    const source = iteratorOf(iterable);
    assertCanBlock(`${this.constructor.name}#${what}()`);
    return this.#outcomes(fn, source, ordered);
  }

  /**
   * A feeder job walks the iterable and spawns fn(item) in this group
   * (waiting for free slots); the iterator hands out the outcomes, in input
   * order or as they finish. An exception, from fn or from the iterable, is
   * thrown where its result would have been, and ends the iteration.
   */
  *#outcomes(fn: (item: unknown) => unknown, source: Iterator<unknown>, ordered: boolean): Generator<unknown> {
    const outcomes = new Map<number, Outcome>(); // by input index, or by arrival for unordered
    let produced = 0; // outcomes recorded
    let total: number | null = null; // items, once the iterable is exhausted
    let consumer: Waiter | null = null;
    const deliver = (index: number, outcome: Outcome) => {
      outcomes.set(ordered ? index : produced, outcome);
      produced++;
      if (consumer !== null) wake(consumer, undefined);
    };
    const feeder = new Job(() => {
      let index = 0;
      try {
        for (let step = source.next(); !step.done; step = source.next()) {
          const i = index++;
          const job = this.spawn(fn, step.value);
          whenFinished(job, (j) => deliver(i, j.successful() ? { value: j.value } : { error: j.exception }));
        }
      } catch (error) {
        deliver(index++, { error });
      }
      total = index;
      if (consumer !== null) wake(consumer, undefined);
    });
    feeder.start();
    try {
      for (let next = 0; total === null || next < total; ) {
        const outcome = outcomes.get(next);
        if (outcome === undefined) {
          park((waiter) => {
            consumer = waiter;
            return () => {
              consumer = null;
            };
          });
          continue;
        }
        outcomes.delete(next++);
        if ('error' in outcome) throw outcome.error;
        yield outcome.value;
      }
    } finally {
      if (!feeder.ready()) feeder.kill({ block: false });
    }
  }
}

/**
 * A Group that runs at most `size` jobs at once: spawn() and add() wait for
 * a free slot. A job holds its slot while it is in the pool: until it
 * finishes or is discarded.
 */
export class Pool extends Group {
  readonly maxSize: number;
  readonly #slots: Semaphore;
  #slotFree: Array<() => void> = [];

  constructor(size: number) {
    super();
    if (typeof size !== 'number') throw invalidArgType('size', 'of type number', size);
    if (!Number.isInteger(size) || size < 1) throw outOfRange('size', 'an integer >= 1', size);
    this.maxSize = size;
    this.#slots = new Semaphore(size);
  }

  override add(job: Job): void {
    if (!(job instanceof Job)) throw invalidArgType('job', 'an instance of Job', job);
    if (this.has(job) || job.ready()) return;
    this.#slots.acquire();
    if (this.has(job) || job.ready()) {
      // Added by another greenlet, or finished, while this one waited for the slot.
      this.#slots.release();
      return;
    }
    super.add(job);
  }

  override [tryAdd](job: Job): boolean {
    if (this.has(job) || job.ready()) return true;
    if (!this.#slots.acquire({ blocking: false })) return false;
    super.add(job);
    return true;
  }

  override [onSlotFree](callback: () => void): void {
    this.#slotFree.push(callback);
  }

  /** Removes a job from the pool (without stopping it): its slot is free at once. */
  override discard(job: Job): void {
    if (!this.has(job)) return;
    super.discard(job);
    this.#slots.release();
    if (this.#slotFree.length > 0) {
      const callbacks = this.#slotFree;
      this.#slotFree = [];
      for (const callback of callbacks) callback();
    }
  }

  override freeCount(): number {
    return this.#slots.counter;
  }

  override waitAvailable(timeoutMs?: number): number {
    const limit = checkMs('timeoutMs', timeoutMs, true);
    if (this.#slots.counter > 0) return this.#slots.counter;
    if (!this.#slots.acquire({ timeoutMs: limit })) return 0;
    this.#slots.release();
    return this.#slots.counter;
  }
}
