// Jobs: greenlets run by the hub, with gevent's Greenlet semantics (value,
// exception, join, get, kill, links), thenable so that async code can
// `await` them. spawn / spawnLater / run / joinall / killall.
import { Greenlet, GreenletExit, getcurrent, runtimeStats } from '../greenlet';
import { codedError, invalidArgType, outOfRange } from '../errors';
import { TIMED_OUT, assertCanBlock, handOffOnFinish, hub, hubCounts, interrupt, onHub, parkFor, resumed, schedule, slotOf, wake, wakeWithError } from './core';
import { Timeout, checkMs } from './timeout';

type LinkKind = 'any' | 'value' | 'exception';

/** Job[onFinish](callback): runs callback(job) synchronously when the job finishes; returns how to remove it. */
const onFinish = Symbol('looplet.onFinish');
type Link = { callback: (job: Job) => void; kind: LinkKind };

/** Job[finishRank]: 0 until the job finishes, then its place among the jobs of this thread in the order they finished. */
const finishRank = Symbol('looplet.finishRank');
let jobsFinished = 0;

export interface GetOptions {
  /** false: do not wait; a job not finished throws a Timeout at once. Default true. */
  block?: boolean;
  /** Wait at most this long, then throw a Timeout. */
  timeoutMs?: number;
}

export interface KillOptions {
  /** What to throw into the job (default: a new GreenletExit, which ends it successfully). */
  error?: unknown;
  /** Wait for the job to end (default true; on the hub, kill never waits). */
  block?: boolean;
  /** With block: wait at most this long. */
  timeoutMs?: number;
}

function checkOptions<T extends object>(options: unknown, name = 'options'): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null) throw invalidArgType(name, 'of type object', options);
  return options as T;
}

function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

/**
 * A greenlet run by the hub: `new Job(fn, ...args)` then start(), or
 * spawn(fn, ...args). Its parent is the hub. When fn returns, `value` holds
 * the result; when it throws, `exception` (a GreenletExit counts as a
 * successful end: the job was killed).
 */
export class Job<T = unknown> extends Greenlet {
  #fn: ((...args: any[]) => T) | undefined;
  #args: unknown[] | undefined;
  #phase: 'new' | 'scheduled' | 'running' | 'done' = 'new';
  #value: T | GreenletExit | undefined;
  #exception: unknown;
  #failed = false;
  #rank = 0;
  #observed = false;
  #joiners = new Set<(job: Job) => void>();
  #links: Link[] = [];
  #linksScheduled = false;
  #promise: Promise<T> | null = null;
  #startTimer: NodeJS.Timeout | null = null;

  constructor(fn: (...args: any[]) => T, ...args: unknown[]) {
    if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn);
    super(undefined, hub());
    this.#fn = fn;
    this.#args = args;
  }

  /** Runs on the job's own greenlet (Greenlet calls a subclass's run method). */
  override run(): unknown {
    resumed(slotOf(this));
    this.#phase = 'running';
    const fn = this.#fn!;
    const args = this.#args!;
    this.#fn = undefined;
    this.#args = undefined;
    try {
      this.#finish(false, fn(...args), undefined);
    } catch (err) {
      if (err instanceof GreenletExit) this.#finish(false, err, undefined);
      else this.#finish(true, undefined, err);
    }
    // Hand the turn straight to the next runnable greenlet, if it can take it.
    const next = handOffOnFinish(this);
    return next === null ? undefined : next.value;
  }

  /** Schedules the job to run on the hub; returns this. */
  start(): this {
    if (this.#phase !== 'new' || this.dead) throw codedError(Error, 'ERR_LOOPLET_JOB_STARTED', 'This job has already been started');
    this.#phase = 'scheduled';
    schedule(slotOf(this), undefined);
    return this;
  }

  /** Schedules the job to run in `ms` milliseconds; returns this. */
  startLater(ms: number): this {
    const delay = checkMs('ms', ms, false)!;
    if (this.#phase !== 'new' || this.dead) throw codedError(Error, 'ERR_LOOPLET_JOB_STARTED', 'This job has already been started');
    this.#phase = 'scheduled';
    this.#startTimer = setTimeout(() => {
      this.#startTimer = null;
      schedule(slotOf(this), undefined);
    }, delay);
    return this;
  }

  /** The return value, once finished successfully (a GreenletExit when killed). */
  get value(): T | GreenletExit | undefined {
    return this.#value;
  }

  /** The exception it failed with, if it did. */
  get exception(): unknown {
    this.#observed = true;
    return this.#exception;
  }

  /** Whether it has finished (or was killed before it started). */
  ready(): boolean {
    return this.#phase === 'done';
  }

  /** Finished without an exception (a kill counts as success). */
  successful(): boolean {
    return this.#phase === 'done' && !this.#failed;
  }

  /** Blocks until the job finishes; returns false if timeoutMs passed first. */
  join(timeoutMs?: number): boolean {
    const limit = checkMs('timeoutMs', timeoutMs, true);
    this.#observed = true;
    if (this.#phase === 'done') return true;
    if (this === getcurrent()) throw codedError(Error, 'ERR_LOOPLET_JOIN_SELF', 'A job cannot join itself');
    assertCanBlock('join()');
    const result = parkFor(limit, (waiter) => {
      const joiner = () => wake(waiter, true);
      this.#joiners.add(joiner);
      return () => this.#joiners.delete(joiner);
    });
    return result !== TIMED_OUT;
  }

  /** The job's value, or throws its exception; waits for it unless block is false (then a Timeout is thrown at once). */
  get(options?: GetOptions): T | GreenletExit | undefined {
    const { block, timeoutMs } = checkOptions<GetOptions>(options);
    const blocking = checkBoolean('options.block', block, true);
    const limit = checkMs('options.timeoutMs', timeoutMs, true);
    this.#observed = true;
    if (this.#phase !== 'done') {
      if (!blocking) throw new Timeout(0);
      if (!this.join(limit)) throw new Timeout(limit);
    }
    if (this.#failed) throw this.#exception;
    return this.#value;
  }

  /**
   * Ends the job: a job not started yet never runs (its links still fire);
   * a running one gets `error` (default GreenletExit) thrown where it waits,
   * so its finally blocks run. With block (default), waits until it has
   * ended, at most timeoutMs; on the hub it never waits.
   */
  override kill(options?: KillOptions): void {
    const opts = checkOptions<KillOptions>(options);
    const error = 'error' in opts && opts.error !== undefined ? opts.error : new GreenletExit();
    const blocking = checkBoolean('options.block', opts.block, true);
    const limit = checkMs('options.timeoutMs', opts.timeoutMs, true);
    if (this.#phase === 'done') return;
    if (this.#phase === 'new' || (this.#phase === 'scheduled' && !this.started)) {
      this.#killBeforeStart(error);
      return;
    }
    if (this === getcurrent()) throw error;
    interrupt(this, error);
    if (blocking && !onHub()) this.join(limit);
  }

  /** Raw greenlet throw; into a job that has not started it ends the job like kill({ error, block: false }). */
  override throw(error: unknown = new GreenletExit()): unknown {
    if (this.#phase === 'new' || (this.#phase === 'scheduled' && !this.started)) {
      this.#killBeforeStart(error);
      return undefined;
    }
    return super.throw(error);
  }

  /** Calls callback(job) on the hub once the job has finished (at once if it has). */
  link(callback: (job: Job<T>) => void): void {
    this.#addLink(callback as (job: Job) => void, 'any');
  }

  /** Like link(), only if the job succeeds. */
  linkValue(callback: (job: Job<T>) => void): void {
    this.#addLink(callback as (job: Job) => void, 'value');
  }

  /** Like link(), only if the job fails. */
  linkException(callback: (job: Job<T>) => void): void {
    this.#addLink(callback as (job: Job) => void, 'exception');
  }

  /** Removes every link to callback. */
  unlink(callback: (job: Job<T>) => void): void {
    this.#links = this.#links.filter((l) => l.callback !== callback);
  }

  /** Thenable: settles with the value or the exception once the job has finished. */
  then<R1 = T | GreenletExit | undefined, R2 = never>(
    onFulfilled?: ((value: T | GreenletExit | undefined) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.#observed = true;
    if (this.#promise === null) {
      this.#promise = new Promise<T>((resolve, reject) => {
        const settle = () => (this.#failed ? reject(this.#exception) : resolve(this.#value as T));
        if (this.#phase === 'done') settle();
        else this.#joiners.add(settle);
      });
    }
    return this.#promise.then(onFulfilled, onRejected);
  }

  /** `using job = spawn(...)`: joins it at the end of the scope; if that join is interrupted, kills it. */
  [Symbol.dispose](): void {
    if (this.#phase === 'done') return;
    try {
      this.join();
    } catch (err) {
      this.kill({ block: false });
      throw err;
    }
  }

  get [finishRank](): number {
    return this.#rank;
  }

  [onFinish](callback: (job: Job) => void): () => void {
    if (this.#phase === 'done') {
      callback(this);
      return () => {};
    }
    this.#joiners.add(callback);
    return () => this.#joiners.delete(callback);
  }

  #addLink(callback: (job: Job) => void, kind: LinkKind): void {
    if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
    this.#observed = true;
    this.#links.push({ callback, kind });
    if (this.#phase === 'done') this.#scheduleLinks();
  }

  #killBeforeStart(error: unknown): void {
    if (this.#startTimer !== null) clearTimeout(this.#startTimer);
    this.#startTimer = null;
    slotOf(this).seq++; // its start entry is stale now
    this.#fn = undefined;
    this.#args = undefined;
    super.kill(); // an unstarted greenlet just becomes dead
    if (error instanceof GreenletExit) this.#finish(false, error, undefined);
    else this.#finish(true, undefined, error);
  }

  #finish(failed: boolean, value: T | GreenletExit | undefined, exception: unknown): void {
    this.#phase = 'done';
    this.#rank = ++jobsFinished;
    this.#failed = failed;
    this.#value = value;
    this.#exception = exception;
    const joiners = this.#joiners;
    this.#joiners = new Set();
    for (const joiner of joiners) joiner(this);
    if (this.#links.length > 0) this.#scheduleLinks();
    if (failed && !this.#observed) {
      setImmediate(() => {
        if (this.#observed) return;
        const detail = exception instanceof Error ? (exception.stack ?? String(exception)) : String(exception);
        process.emitWarning(`A job failed and nothing observed it (join, get, then, link, exception): ${detail}`, {
          type: 'LoopletJobWarning',
          code: 'LOOPLET_JOB_FAILED',
        });
      });
    }
  }

  #scheduleLinks(): void {
    if (this.#linksScheduled) return;
    this.#linksScheduled = true;
    // Taken one at a time from the live list: a link removed by unlink(),
    // even by an earlier callback of this batch, is not called; one added
    // meanwhile is called in this batch.
    setImmediate(() => {
      for (let link = this.#links.shift(); link !== undefined; link = this.#links.shift()) {
        const { callback, kind } = link;
        if ((kind === 'value' && this.#failed) || (kind === 'exception' && !this.#failed)) continue;
        try {
          callback(this);
        } catch (err) {
          process.nextTick(() => {
            throw err;
          });
        }
      }
      this.#linksScheduled = false;
    });
  }
}

/** Calls callback(job) synchronously when the job finishes (at once if it has); returns how to remove it. For the hub's own primitives. */
export function whenFinished(job: Job, callback: (job: Job) => void): () => void {
  return job[onFinish](callback);
}

/** Starts fn(...args) in a new job; returns the job. */
export function spawn<T>(fn: (...args: any[]) => T, ...args: unknown[]): Job<T> {
  return new Job<T>(fn, ...args).start();
}

/** Starts fn(...args) in a new job after ms milliseconds. */
export function spawnLater<T>(ms: number, fn: (...args: any[]) => T, ...args: unknown[]): Job<T> {
  return new Job<T>(fn, ...args).startLater(ms);
}

/** Runs fn(...args) in a new job, from ordinary (async) code: the promise settles with its outcome. */
export function run<T>(fn: (...args: any[]) => T, ...args: unknown[]): Promise<T> {
  const job = spawn(fn, ...args);
  return job.then((value) => value as T);
}

function checkJobs(jobs: unknown, name: string): Job[] {
  if (jobs === null || typeof jobs !== 'object' || typeof (jobs as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw invalidArgType(name, 'an iterable of Job', jobs);
  }
  const list = [...(jobs as Iterable<unknown>)];
  for (const job of list) if (!(job instanceof Job)) throw invalidArgType(`${name}[]`, 'an instance of Job', job);
  return list as Job[];
}

export interface JoinAllOptions {
  timeoutMs?: number;
  /** Throw the exception of the first job to fail (first in time). */
  raiseError?: boolean;
  /** Return once this many have finished. */
  count?: number;
}

/**
 * Waits for the jobs to finish (all, or `count` of them, or until
 * timeoutMs); returns the finished ones in the order they finished.
 */
export function joinall(jobs: Iterable<Job>, options?: JoinAllOptions): Job[] {
  const list = checkJobs(jobs, 'jobs');
  const opts = checkOptions<JoinAllOptions>(options);
  const limit = checkMs('options.timeoutMs', opts.timeoutMs, true);
  const raiseError = checkBoolean('options.raiseError', opts.raiseError, false);
  let count = list.length;
  if (opts.count !== undefined) {
    if (typeof opts.count !== 'number') throw invalidArgType('options.count', 'of type number', opts.count);
    if (!Number.isInteger(opts.count) || opts.count < 0) throw outOfRange('options.count', 'an integer >= 0', opts.count);
    count = Math.min(opts.count, list.length);
  }
  const done: Job[] = [];
  const pending = new Set<Job>();
  for (const job of new Set(list)) {
    if (job.ready()) done.push(job);
    else pending.add(job);
    void job.exception; // joined: its failure is observed
  }
  done.sort((a, b) => a[finishRank] - b[finishRank]);
  const failure = (): Job | undefined => (raiseError ? done.find((j) => !j.successful()) : undefined);
  const first = failure();
  if (first !== undefined) throw first.exception;
  if (done.length >= count || pending.size === 0) return done.slice(0, Math.max(count, 0));
  assertCanBlock('joinall()');
  parkFor(limit, (waiter) => {
    const onDone = (job: Job) => {
      if (!waiter.active) return;
      done.push(job);
      pending.delete(job);
      if (raiseError && !job.successful()) wakeWithError(waiter, job.exception);
      else if (done.length >= count) wake(waiter, undefined);
    };
    const removers = [...pending].map((job) => job[onFinish](onDone));
    return () => {
      for (const remove of removers) remove();
    };
  });
  return done.slice(0, count);
}

export interface KillAllOptions extends KillOptions {}

/** Kills every job (see Job#kill); with block (default), waits for all of them to end. */
export function killall(jobs: Iterable<Job>, options?: KillAllOptions): void {
  const list = checkJobs(jobs, 'jobs');
  const opts = checkOptions<KillAllOptions>(options);
  const blocking = checkBoolean('options.block', opts.block, true);
  const limit = checkMs('options.timeoutMs', opts.timeoutMs, true);
  for (const job of list) {
    if (job === getcurrent()) continue;
    job.kill({ ...('error' in opts ? { error: opts.error } : {}), block: false });
  }
  if (blocking && !onHub()) joinall(list.filter((j) => j !== getcurrent()), { timeoutMs: limit });
}

/** This thread's hub: the greenlet that runs the event loop, and its figures. */
export interface Hub {
  /** The main greenlet of this JS thread: it runs the event loop and never blocks. */
  readonly greenlet: Greenlet;
  /** Greenlets queued to run, greenlets parked in a blocking call, switches so far (thread hand-offs). */
  stats(): { runnable: number; parked: number; switches: number };
}

let hubInfo: Hub | null = null;

export function getHub(): Hub {
  if (hubInfo === null) {
    hubInfo = {
      greenlet: hub(),
      stats: () => ({ ...hubCounts(), switches: runtimeStats().switches }),
    };
  }
  return hubInfo;
}
