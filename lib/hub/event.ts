// Event and AsyncResult: one-shot notifications between greenlets, and from
// the hub (an event-loop callback may set them; waiting greenlets wake).
import { invalidArgType } from '../errors';
import { TIMED_OUT, assertCanBlock, parkFor, wake, type Waiter } from './core';
import { Timeout, checkMs } from './timeout';

/** Wakes every waiter in the set with `value`, then empties it. */
function wakeAll(waiters: Set<Waiter>, value: unknown): void {
  for (const waiter of waiters) wake(waiter, value);
  waiters.clear();
}

/** Parks the caller in `waiters` until woken or timeoutMs; returns the wake value, or TIMED_OUT. */
function waitIn(waiters: Set<Waiter>, timeoutMs: number | undefined, what: string): unknown {
  assertCanBlock(what);
  return parkFor(timeoutMs, (waiter) => {
    waiters.add(waiter);
    return () => waiters.delete(waiter);
  });
}

/** A flag that greenlets can wait for: set() wakes every waiter, clear() resets it. */
export class Event {
  #set = false;
  #waiters = new Set<Waiter>();

  isSet(): boolean {
    return this.#set;
  }

  /** Sets the flag and wakes every greenlet waiting for it (even if clear() follows at once). */
  set(): void {
    this.#set = true;
    wakeAll(this.#waiters, true);
  }

  clear(): void {
    this.#set = false;
  }

  /** Blocks until the flag is set; returns it (false if timeoutMs passed first). */
  wait(timeoutMs?: number): boolean {
    const limit = checkMs('timeoutMs', timeoutMs, true);
    if (this.#set) return true;
    return waitIn(this.#waiters, limit, 'Event#wait()') !== TIMED_OUT;
  }
}

export interface AsyncResultGetOptions {
  /** false: do not wait; not ready throws a Timeout at once. Default true. */
  block?: boolean;
  timeoutMs?: number;
}

/** A value or an exception that will arrive later (gevent's AsyncResult); thenable. */
export class AsyncResult<T = unknown> {
  #ready = false;
  #failed = false;
  #value: T | undefined;
  #exception: unknown;
  #waiters = new Set<Waiter>();
  #promise: Promise<T> | null = null;
  #settle: ((result: AsyncResult<T>) => void) | null = null;

  /**
   * Stores the value and wakes every waiter. Setting again replaces the
   * outcome for get() and wait() (as in gevent); then() keeps the first.
   */
  set(value?: T): void {
    this.#finish(false, value, undefined);
  }

  /** Stores an exception; get() throws it. */
  setException(error: unknown): void {
    this.#finish(true, undefined, error);
  }

  ready(): boolean {
    return this.#ready;
  }

  successful(): boolean {
    return this.#ready && !this.#failed;
  }

  get value(): T | undefined {
    return this.#value;
  }

  get exception(): unknown {
    return this.#exception;
  }

  /** The value, or throws the exception; waits unless block is false (a Timeout is thrown when the wait ends first). */
  get(options: AsyncResultGetOptions = {}): T {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    if (options.block !== undefined && typeof options.block !== 'boolean') throw invalidArgType('options.block', 'of type boolean', options.block);
    const limit = checkMs('options.timeoutMs', options.timeoutMs, true);
    if (!this.#ready) {
      if (options.block === false) throw new Timeout(0);
      if (waitIn(this.#waiters, limit, 'AsyncResult#get()') === TIMED_OUT) throw new Timeout(limit);
    }
    if (this.#failed) throw this.#exception;
    return this.#value as T;
  }

  /** Blocks until ready (at most timeoutMs); returns the value without throwing (undefined if not ready or failed). */
  wait(timeoutMs?: number): T | undefined {
    const limit = checkMs('timeoutMs', timeoutMs, true);
    if (!this.#ready) waitIn(this.#waiters, limit, 'AsyncResult#wait()');
    return this.#value;
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this.#promise === null) {
      this.#promise = new Promise<T>((resolve, reject) => {
        this.#settle = (r) => (r.#failed ? reject(r.#exception) : resolve(r.#value as T));
        if (this.#ready) this.#settle(this);
      });
    }
    return this.#promise.then(onFulfilled, onRejected);
  }

  #finish(failed: boolean, value: T | undefined, exception: unknown): void {
    this.#ready = true;
    this.#failed = failed;
    this.#value = value;
    this.#exception = exception;
    wakeAll(this.#waiters, undefined);
    const settle = this.#settle;
    this.#settle = null;
    settle?.(this);
  }
}
