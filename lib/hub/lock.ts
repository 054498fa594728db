// Semaphores and locks between greenlets (gevent.lock). FIFO-fair: release()
// hands the permit straight to the greenlet that has waited longest, so a
// greenlet that releases and re-acquires in a loop cannot starve the others.
import { getcurrent, type Greenlet } from '../greenlet';
import { codedError, invalidArgType, outOfRange } from '../errors';
import { TIMED_OUT, assertCanBlock, parkFor, wake, type Waiter } from './core';
import { checkMs } from './timeout';

export interface AcquireOptions {
  /** false: never wait; returns false when no permit is free. Default true. */
  blocking?: boolean;
  /** Wait at most this long; then acquire() returns false. */
  timeoutMs?: number;
}

function acquireOptions(options: unknown): { blocking: boolean; timeoutMs: number | undefined } {
  if (options === undefined) return { blocking: true, timeoutMs: undefined };
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
  const { blocking, timeoutMs } = options as AcquireOptions;
  if (blocking !== undefined && typeof blocking !== 'boolean') throw invalidArgType('options.blocking', 'of type boolean', blocking);
  return { blocking: blocking ?? true, timeoutMs: checkMs('options.timeoutMs', timeoutMs, true) };
}

/** A counter of permits: acquire() takes one (waiting while none is free), release() gives one back. */
export class Semaphore {
  #counter: number;
  #waiters = new Map<Waiter, undefined>();

  constructor(value = 1) {
    if (typeof value !== 'number') throw invalidArgType('value', 'of type number', value);
    if (!Number.isInteger(value) || value < 0) throw outOfRange('value', 'an integer >= 0', value);
    this.#counter = value;
  }

  /** Free permits. */
  get counter(): number {
    return this.#counter;
  }

  /** True when no permit is free. */
  locked(): boolean {
    return this.#counter <= 0;
  }

  /** Takes a permit; returns false when blocking is false or timeoutMs passed before one was free. */
  acquire(options?: AcquireOptions): boolean {
    const { blocking, timeoutMs } = acquireOptions(options);
    if (this.#counter > 0 && !this.#hasWaiters()) {
      this.#counter--;
      return true;
    }
    if (!blocking) return false;
    assertCanBlock(`${this.constructor.name}#acquire()`);
    const got = parkFor(timeoutMs, (waiter) => {
      this.#waiters.set(waiter, undefined);
      return () => this.#waiters.delete(waiter);
    });
    return got !== TIMED_OUT;
  }

  /** Gives a permit back: to the longest waiting greenlet, if any. */
  release(): void {
    for (const waiter of this.#waiters.keys()) {
      this.#waiters.delete(waiter);
      // If that greenlet is interrupted before it resumes, the permit comes back.
      if (wake(waiter, true, () => this.release())) return;
    }
    this.#counter++;
  }

  #hasWaiters(): boolean {
    for (const waiter of this.#waiters.keys()) if (waiter.active) return true;
    return false;
  }
}

/** A Semaphore that refuses to be released more times than it was acquired. */
export class BoundedSemaphore extends Semaphore {
  readonly #initial: number;

  constructor(value = 1) {
    super(value);
    this.#initial = value;
  }

  override release(): void {
    if (this.counter >= this.#initial) {
      throw codedError(Error, 'ERR_LOOPLET_SEMAPHORE_RELEASED', `${this.constructor.name} released more times than it was acquired`);
    }
    super.release();
  }
}

/** A mutual-exclusion lock (a BoundedSemaphore of 1); any greenlet may release it. */
export class Lock extends BoundedSemaphore {
  constructor() {
    super(1);
  }
}

/** A lock its owner may acquire again; it is free once released as many times. Only the owner may release it. */
export class RLock {
  #lock = new Lock();
  #owner: Greenlet | null = null;
  #count = 0;

  locked(): boolean {
    return this.#count > 0;
  }

  acquire(options?: AcquireOptions): boolean {
    const me = getcurrent();
    if (this.#owner === me) {
      acquireOptions(options);
      this.#count++;
      return true;
    }
    if (!this.#lock.acquire(options)) return false;
    this.#owner = me;
    this.#count = 1;
    return true;
  }

  release(): void {
    if (this.#owner !== getcurrent()) throw codedError(Error, 'ERR_LOOPLET_LOCK_NOT_OWNED', 'Cannot release an RLock this greenlet does not own');
    if (--this.#count === 0) {
      this.#owner = null;
      this.#lock.release();
    }
  }
}
