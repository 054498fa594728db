// Time on the hub: sleep(), Timeout, withTimeout() and wait(promise), the
// bridge from greenlets to every async Node API. Timers are Node's own
// (setTimeout): one per sleeping greenlet or pending Timeout.
import { getcurrent, type Greenlet } from '../greenlet';
import { codedError, invalidArgType, outOfRange } from '../errors';
import { TIMED_OUT, assertCanBlock, currentSlot, interrupt, onHub, park, parkFor, scheduleNextTurn, slotOf, wake, wakeWithError, withdrawPending, yieldTurn } from './core';

/** The longest time a Node timer takes (2^31 - 1 ms, 24.8 days): setTimeout fires a longer one after 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Validates a time in ms: a number from 0 to MAX_TIMEOUT_MS (fractions
 * allowed), or Infinity / undefined for "never" where `never` allows.
 */
export function checkMs(name: string, value: unknown, never: boolean): number | undefined {
  if (value === undefined || value === null) {
    if (never) return undefined;
    throw invalidArgType(name, 'of type number', value);
  }
  if (typeof value !== 'number') throw invalidArgType(name, never ? 'of type number or undefined' : 'of type number', value);
  if (value === Infinity && never) return undefined;
  if (!(value >= 0 && value <= MAX_TIMEOUT_MS)) {
    throw outOfRange(name, `from 0 to ${MAX_TIMEOUT_MS}${never ? ', or Infinity' : ''}`, value);
  }
  return value;
}

/**
 * Suspends the calling greenlet for `ms` milliseconds; other greenlets and
 * the event loop run meanwhile. sleep(0) lets every other runnable greenlet
 * and one turn of the event loop run first.
 */
export function sleep(ms = 0): void {
  const delay = checkMs('ms', ms, false)!;
  assertCanBlock('sleep()');
  if (delay === 0) {
    const slot = currentSlot()!;
    scheduleNextTurn(slot);
    yieldTurn(slot);
    return;
  }
  park((waiter) => {
    const timer = setTimeout(() => wake(waiter, undefined), delay);
    return () => clearTimeout(timer);
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

export interface WaitOptions {
  /** Give up after this many ms with a Timeout error (code ERR_LOOPLET_TIMEOUT). */
  timeoutMs?: number;
}

/**
 * Blocks the calling greenlet until `promise` settles: returns its value or
 * throws its rejection. A value that is not a thenable is returned as it is.
 */
export function wait<T>(promise: T | PromiseLike<T>, options: WaitOptions = {}): T {
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
  const timeoutMs = checkMs('options.timeoutMs', options.timeoutMs, true);
  if (!isThenable(promise)) return promise;
  assertCanBlock('wait()');
  const result = parkFor(timeoutMs, (waiter) => {
    promise.then(
      (value) => wake(waiter, value),
      (error) => wakeWithError(waiter, error),
    );
    return null;
  });
  if (result === TIMED_OUT) throw new Timeout(timeoutMs);
  return result as T;
}

/**
 * A time limit for whatever the greenlet that starts it does meanwhile:
 * when it expires, `error` (default: the Timeout itself, an Error with code
 * ERR_LOOPLET_TIMEOUT) is thrown into that greenlet where it waits.
 * `error === false` throws the Timeout itself too; withTimeout() and code
 * that checks `err === timeout` treat it as an expected outcome.
 */
export class Timeout extends Error {
  readonly code = 'ERR_LOOPLET_TIMEOUT';
  /** The limit in ms (undefined: never expires). */
  readonly ms: number | undefined;
  readonly error: unknown;
  #timer: NodeJS.Timeout | null = null;
  #target: Greenlet | null = null;
  #expiredIn: Greenlet | null = null; // where it expired: cancel() withdraws an interrupt still held back there

  constructor(ms?: number, error?: unknown) {
    const limit = checkMs('ms', ms, true);
    super(limit === undefined ? 'Timed out' : `Timed out after ${limit} ms`);
    this.name = 'Timeout';
    this.ms = limit;
    this.error = error;
  }

  /** A new Timeout, started. */
  static startNew(ms?: number, error?: unknown): Timeout {
    return new Timeout(ms, error).start();
  }

  /** Whether it is started and has neither expired nor been cancelled. */
  get pending(): boolean {
    return this.#timer !== null;
  }

  /** Starts the clock for the calling greenlet; returns this. */
  start(): this {
    this.#expiredIn = null;
    if (this.#timer !== null) throw codedError(Error, 'ERR_LOOPLET_TIMEOUT_PENDING', 'This Timeout is already pending');
    if (onHub()) {
      throw codedError(
        Error,
        'ERR_LOOPLET_BLOCKING_ON_HUB',
        "A Timeout cannot be started on the event loop's thread (the hub): start it inside a greenlet started with spawn() or run()",
      );
    }
    if (this.ms === undefined) return this;
    this.#target = getcurrent();
    this.#timer = setTimeout(() => this.#expire(), this.ms);
    return this;
  }

  /** Stops the clock; a Timeout that has not expired never will. Idempotent. */
  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#target = null;
    if (this.#expiredIn !== null) withdrawPending(this.#expiredIn, this.#thrown());
    this.#expiredIn = null;
  }

  [Symbol.dispose](): void {
    this.cancel();
  }

  #thrown(): unknown {
    return this.error === undefined || this.error === false ? this : this.error;
  }

  #expire(): void {
    const target = this.#target!;
    this.#timer = null;
    this.#target = null;
    this.#expiredIn = target;
    interrupt(target, this.#thrown());
  }
}

export interface WithTimeoutOptions<D> {
  /** Returned when the limit expires (without it, the Timeout is thrown). */
  default?: D;
}

/**
 * Runs fn() with a time limit. When this limit expires first, returns
 * options.default if given, else throws the Timeout. A Timeout of an outer
 * scope that expires meanwhile goes through untouched.
 */
export function withTimeout<T, D = never>(ms: number, fn: () => T, options: WithTimeoutOptions<D> = {}): T | D {
  if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn);
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
  const timeout = Timeout.startNew(ms, 'default' in options ? false : undefined);
  try {
    return fn();
  } catch (err) {
    if (err === timeout && 'default' in options) return options.default as D;
    throw err;
  } finally {
    timeout.cancel();
  }
}
