// Future: a submitted task's outcome (concurrent.futures.Future in Node
// idiom), and asCompleted(). A future is settled by its pool on the event
// loop's thread; a greenlet that waits for it parks on the hub (only that
// greenlet blocks), async code awaits it (it is a thenable).
import { invalidArgType } from '../errors';
import { TIMED_OUT, blockingOnHub, onHub, parkFor, wake, type Waiter } from '../hub/core';
import { Timeout, checkMs } from '../hub/timeout';
import { CancelledError } from './errors';

/** What a future asks of the pool that owns it. */
export interface FutureOwner {
  /** Cancels the task if it has not started. */
  cancel(future: Future): boolean;
  /** Whether the task runs on a thread now. */
  running(future: Future): boolean;
}

const PENDING = 0;
const CANCELLED = 1;
const FINISHED = 2;

/** Where a pending future's task is: the JS queue, the native pool, or held (onQueueFull: 'wait'). */
export const KIND_JS = 0;
export const KIND_NATIVE = 1;
export const KIND_HELD = 2;

export interface ResultOptions {
  /** Give up after this many ms with a Timeout (code ERR_LOOPLET_TIMEOUT); the task goes on. */
  timeoutMs?: number;
}

/** The pool's access to a future's state (bound in Future's static block; not exported from looplet/pool). */
export const futureInternals = {} as {
  create<T>(owner: FutureOwner | null): Future<T>;
  settle(f: Future, failed: boolean, value: unknown): void;
  cancelled(f: Future, cause?: unknown): void;
  place(f: Future, kind: number, token: number): void;
  token(f: Future): number;
  kind(f: Future): number;
};

/** Whether the caller is a greenlet other than the hub (where blocking is allowed). */
export function inGreenlet(): boolean {
  try {
    return !onHub();
  } catch {
    return false; // no greenlet runtime: this can only be the hub
  }
}

function reportCallbackError(err: unknown): void {
  process.nextTick(() => {
    throw err;
  });
}

/**
 * The outcome of a submitted task (concurrent.futures.Future in Node idiom).
 * Thenable: `await future`. Not constructed directly.
 */
export class Future<T = unknown> implements PromiseLike<T> {
  #owner: FutureOwner | null;
  #kind = KIND_JS;
  #token = -1;
  #state = PENDING;
  #failed = false;
  #value: unknown = undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- keeps Future<T> assignable to Future<unknown>
  #callbacks: ((future: any) => void) | Array<(future: any) => void> | null = null; // one, or several in order
  #waiters: Set<Waiter> | null = null;
  #promise: Promise<T> | null = null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  #resolve: ((value: any) => void) | null = null;
  #reject: ((reason: unknown) => void) | null = null;

  static {
    Object.assign(futureInternals, {
      create: <T>(owner: FutureOwner | null) => new Future<T>(owner, FUTURE_KEY),
      settle: (f: Future, failed: boolean, value: unknown) => f.#settle(failed, value),
      cancelled: (f: Future, cause?: unknown) =>
        f.#settle(true, new CancelledError(undefined, cause === undefined ? undefined : { cause }), CANCELLED),
      place: (f: Future, kind: number, token: number) => {
        f.#kind = kind;
        f.#token = token;
      },
      token: (f: Future) => f.#token,
      kind: (f: Future) => f.#kind,
    });
  }

  /** @internal */
  constructor(owner: FutureOwner | null, key: symbol) {
    if (key !== FUTURE_KEY) throw new TypeError('Futures are made by ThreadPool#submit()');
    this.#owner = owner;
  }

  /**
   * Cancels the task if it has not started: true then (and when it was
   * cancelled already); false once it runs or is done. A running JS task is
   * told anyway: its currentTask().signal aborts.
   */
  cancel(): boolean {
    if (this.#state === CANCELLED) return true;
    if (this.#state === FINISHED || this.#owner === null) return false;
    return this.#owner.cancel(this);
  }

  cancelled(): boolean {
    return this.#state === CANCELLED;
  }

  /** Whether the task is running on a thread now. */
  running(): boolean {
    return this.#state === PENDING && this.#owner !== null && this.#owner.running(this);
  }

  /** Whether it finished or was cancelled. */
  done(): boolean {
    return this.#state !== PENDING;
  }

  /**
   * The task's value, or throws its error (a CancelledError when
   * cancelled). Not done yet: inside a greenlet, blocks that greenlet only
   * (at most timeoutMs, then throws a Timeout); on the event loop's thread,
   * throws ERR_LOOPLET_BLOCKING_ON_HUB (await the future there).
   */
  result(options: ResultOptions = {}): T {
    this.#await('Future#result()', options);
    if (this.#failed) throw this.#value;
    return this.#value as T;
  }

  /** The task's error (undefined if it succeeded); waits as result() does. */
  exception(options: ResultOptions = {}): unknown {
    this.#await('Future#exception()', options);
    if (this.#state === CANCELLED) throw this.#value;
    return this.#failed ? this.#value : undefined;
  }

  /**
   * Calls fn(future) once it is done, on the event loop's thread (at once
   * when it is done already). An exception from fn is reported as uncaught.
   */
  addDoneCallback(fn: (future: Future<T>) => void): void {
    if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn);
    if (this.#state !== PENDING) {
      this.#call(fn);
      return;
    }
    const callbacks = this.#callbacks;
    if (callbacks === null) this.#callbacks = fn;
    else if (typeof callbacks === 'function') this.#callbacks = [callbacks, fn];
    else callbacks.push(fn);
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this.#promise === null) {
      this.#promise = new Promise<T>((resolve, reject) => {
        if (this.#state !== PENDING) {
          if (this.#failed) reject(this.#value);
          else resolve(this.#value as T);
        } else {
          this.#resolve = resolve;
          this.#reject = reject;
        }
      });
    }
    return this.#promise.then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.then(undefined, undefined).finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return 'Future';
  }

  #await(what: string, options: ResultOptions): void {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    const timeoutMs = checkMs('options.timeoutMs', options.timeoutMs, true);
    if (this.#state !== PENDING) return;
    if (!inGreenlet()) throw blockingOnHub(what);
    const woken = parkFor(timeoutMs, (waiter) => {
      (this.#waiters ??= new Set()).add(waiter);
      return () => this.#waiters?.delete(waiter);
    });
    if (woken === TIMED_OUT) throw new Timeout(timeoutMs);
  }

  #settle(failed: boolean, value: unknown, state = FINISHED): void {
    if (this.#state !== PENDING) return;
    this.#state = state;
    this.#failed = failed;
    this.#value = value;
    this.#owner = null;
    if (this.#resolve !== null) {
      if (failed) this.#reject!(value);
      else this.#resolve(value);
      this.#resolve = this.#reject = null;
    }
    const waiters = this.#waiters;
    if (waiters !== null) {
      this.#waiters = null;
      for (const waiter of waiters) wake(waiter, undefined);
    }
    const callbacks = this.#callbacks;
    if (callbacks !== null) {
      this.#callbacks = null;
      if (typeof callbacks === 'function') this.#call(callbacks);
      else for (const fn of callbacks) this.#call(fn);
    }
  }

  #call(fn: (future: Future<T>) => void): void {
    try {
      fn(this);
    } catch (err) {
      reportCallbackError(err);
    }
  }
}

const FUTURE_KEY = Symbol('looplet.pool.future');

// ---- asCompleted -----------------------------------------------------------

export interface AsCompletedOptions {
  /** The whole iteration's limit: a Timeout (ERR_LOOPLET_TIMEOUT) is thrown when it passes first. */
  timeoutMs?: number;
}

/**
 * The futures in the order they complete (those done already first). An
 * async iterable (`for await`), and inside a greenlet a plain iterable whose
 * waits block only that greenlet.
 */
export function asCompleted<T>(futures: Iterable<Future<T>>, options: AsCompletedOptions = {}): AsyncIterable<Future<T>> & Iterable<Future<T>> {
  if (futures === null || typeof futures !== 'object' || typeof (futures as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw invalidArgType('futures', 'an iterable of Futures', futures);
  }
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
  const timeoutMs = checkMs('options.timeoutMs', options.timeoutMs, true);
  const list = [...new Set(futures)];
  for (const f of list) if (!(f instanceof Future)) throw invalidArgType('futures', 'an iterable of Futures', f);
  return {
    [Symbol.asyncIterator]: () => completionOrder(list, timeoutMs, false)[Symbol.asyncIterator](),
    [Symbol.iterator]: () => completionOrder(list, timeoutMs, true)[Symbol.iterator](),
  } as unknown as AsyncIterable<Future<T>> & Iterable<Future<T>>;
}

/** A queue of completed futures with a waiter: what asCompleted and unordered map() wait on. */
export class CompletionQueue<T> {
  readonly done: Future<T>[] = [];
  #head = 0;
  #notify: (() => void) | null = null;
  #waiter: Waiter | null = null;

  watch(f: Future<T>): void {
    f.addDoneCallback((fut) => {
      this.done.push(fut);
      const notify = this.#notify;
      this.#notify = null;
      notify?.();
      const waiter = this.#waiter;
      this.#waiter = null;
      if (waiter !== null) wake(waiter, undefined);
    });
  }

  take(): Future<T> | undefined {
    if (this.#head === this.done.length) return undefined;
    return this.done[this.#head++];
  }

  /** Resolves when something completes, or with TIMED_OUT at the deadline. */
  next(deadline: number | undefined): Promise<unknown> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      this.#notify = () => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(undefined);
      };
      if (deadline !== undefined) {
        timer = setTimeout(() => {
          this.#notify = null;
          resolve(TIMED_OUT);
        }, Math.max(0, deadline - performance.now()));
      }
    });
  }

  /** Blocks the calling greenlet until something completes; TIMED_OUT at the deadline. */
  nextSync(deadline: number | undefined, what: string): unknown {
    if (!inGreenlet()) throw blockingOnHub(what);
    return parkFor(deadline === undefined ? undefined : Math.max(0, deadline - performance.now()), (waiter) => {
      this.#waiter = waiter;
      return () => {
        if (this.#waiter === waiter) this.#waiter = null;
      };
    });
  }
}

function completionOrder<T>(list: Future<T>[], timeoutMs: number | undefined, sync: boolean): AsyncIterable<Future<T>> & Iterable<Future<T>> {
  const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
  const queue = new CompletionQueue<T>();
  for (const f of list) queue.watch(f);
  if (sync) {
    return {
      *[Symbol.iterator]() {
        for (let n = 0; n < list.length; n++) {
          let f = queue.take();
          while (f === undefined) {
            if (queue.nextSync(deadline, 'asCompleted()') === TIMED_OUT) throw new Timeout(timeoutMs);
            f = queue.take();
          }
          yield f;
        }
      },
    } as unknown as AsyncIterable<Future<T>> & Iterable<Future<T>>;
  }
  // Not an async generator: its `yield` would await each (thenable) future
  // and hand out the values.
  let n = 0;
  let finished = false;
  const iterator: AsyncIterator<Future<T>> = {
    next: async () => {
      if (finished || n === list.length) {
        finished = true;
        return { done: true, value: undefined };
      }
      let f = queue.take();
      while (f === undefined) {
        if ((await queue.next(deadline)) === TIMED_OUT) {
          finished = true;
          throw new Timeout(timeoutMs);
        }
        f = queue.take();
      }
      n++;
      return { done: false, value: f };
    },
    return: async () => {
      finished = true;
      return { done: true, value: undefined };
    },
  };
  return { [Symbol.asyncIterator]: () => iterator } as unknown as AsyncIterable<Future<T>> & Iterable<Future<T>>;
}
