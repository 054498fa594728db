// looplet/pool: work off the event loop's thread, with concurrent.futures
// semantics in Node idiom.
//
//   - Native tasks (`native.*`: sleep, waitFd, pread, pwrite, hash, noop)
//     run on the core's lp_pool_t threads, with no isolate; completions come
//     back through the pool's eventfd, watched by a uv_poll on this thread's
//     loop, one JS call per batch.
//   - JS tasks (a function sent by source, or a module export) run on worker
//     threads fed from a queue in process-global native memory
//     (native/src/addon/pool_js.cc, lib/pool/worker.ts): one wake-up per
//     batch on each side, idle workers asleep in their own event loop.
//
// Every submission returns a Future: a thenable (await it from async code)
// whose result() blocks cooperatively inside a greenlet (only that greenlet
// waits) and throws ERR_LOOPLET_BLOCKING_ON_HUB on the event loop's thread.
// Design notes: docs/pool.md.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { binding, packageRoot, type JsTaskQueueHandle, type NativeTaskPoolHandle } from './binding';
import { codedError, describe, invalidArgType, outOfRange, systemError } from './errors';
import { checkMs } from './hub/timeout';
import { FAST_ARGS_MAX, copyOf, decode, decodeThrown, encodeArgs, encodeArgsInto } from './pool/codec';
import { queueFullError, shutdownError, workerExited } from './pool/errors';
import { Future, KIND_HELD, KIND_JS, KIND_NATIVE, futureInternals, inGreenlet, type FutureOwner } from './pool/future';
import { mapRun } from './pool/map';
import { EAGAIN, MAX_INT32, NATIVE, NATIVE_KINDS, isNativeTask, nativeArgs, nativeResult, type NativeTask } from './pool/native-tasks';
import { CURRENT_TASK, TASK_MODULE, TASK_SOURCE, type TaskContextLike } from './pool/shared';

export { CancelledError, type WorkerExitedError } from './pool/errors';
export { Future, asCompleted, type AsCompletedOptions, type ResultOptions } from './pool/future';
export { native, type NativeTask } from './pool/native-tasks';
export type { TaskContextLike as TaskContext } from './pool/shared';

// ---- ThreadPool ------------------------------------------------------------

/** A JS task: a module's export, by file (absolute, relative to the current directory, or a file: URL) and name. */
export interface TaskSpec {
  filename: string | URL;
  /** The export's name (default: 'default'; for CommonJS, 'default' is module.exports itself). */
  name?: string;
}

export type Task = ((...args: any[]) => unknown) | TaskSpec | string | NativeTask;

export interface ThreadPoolOptions {
  /** Threads kept once started, per kind (JS workers, native threads). Default 0. */
  minThreads?: number;
  /** At most this many JS workers, and this many native threads. Default: os.availableParallelism(). */
  maxThreads?: number;
  /** Tasks waiting to start, per kind, before onQueueFull applies. Default Infinity. */
  maxQueue?: number;
  /** Threads beyond minThreads leave after this long idle (ms; Infinity: never). Default 10000. */
  idleTimeoutMs?: number;
  /** The module whose exports `submit('name', ...)` calls. */
  filename?: string | URL;
  /** Node options for the worker threads (a TypeScript loader: ['--import', 'tsx']). */
  execArgv?: string[];
  /** Limits of each worker thread (node:worker_threads ResourceLimits); one that exceeds them is replaced. */
  resourceLimits?: ResourceLimits;
  /** A worker is replaced after running this many tasks. Default Infinity. */
  recycleAfterTasks?: number;
  /** maxQueue reached: 'reject' (default) throws ERR_LOOPLET_POOL_QUEUE_FULL; 'wait' returns a future that queues when room frees. */
  onQueueFull?: 'reject' | 'wait';
  /** A worker that is told to leave and is still running after this long (ms) is terminated. Default 5000. */
  terminateTimeoutMs?: number;
  /**
   * Spinning, in µs (0 to 10,000): an idle thread (native or JS worker) checks
   * for work this long before it sleeps, and this thread's event loop checks
   * this long for a completion before it blocks while tasks are out. Each
   * spinning thread backs off while its spins run out (the next 1, 2, 4, ...
   * 256 idle periods sleep at once), so sporadic work wastes little CPU and
   * back-to-back tasks skip a wake-up. Default 20; 0 sleeps at once.
   */
  spinUs?: number;
}

export interface SubmitOptions {
  /** Aborting it cancels the future (see Future#cancel()). */
  signal?: AbortSignal;
  /** ArrayBuffers in the arguments to move rather than copy: they are detached here once sent. */
  transfer?: readonly ArrayBuffer[];
}

export interface SubmitManyOptions {
  /** Aborting it cancels every future of the batch that has not started. */
  signal?: AbortSignal;
}

export interface MapOptions {
  /** Results in input order (default) or in completion order. */
  ordered?: boolean;
  /** Tasks in flight at once. Default: 2 * maxThreads. */
  concurrency?: number;
}

export interface ShutdownOptions {
  /** Resolve once every pending task has finished and the threads have exited (default true); false resolves at once. */
  wait?: boolean;
  /** Cancel the tasks that have not started (default false). */
  cancelPending?: boolean;
}

export interface TimeStats {
  /** Milliseconds, over the last 4096 tasks. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ThreadPoolStats {
  /** Tasks waiting to start (in the native queues, and held by onQueueFull: 'wait'). */
  queued: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** JS workers + native threads alive. */
  threads: number;
  jsThreads: number;
  nativeThreads: number;
  /** Run time of all tasks / (time since creation * maxThreads). */
  utilization: number;
  /** Time on a thread. */
  runTime: TimeStats;
  /** Time from submit to start. */
  waitTime: TimeStats;
}

interface WorkerInfo {
  id: number;
  worker: Worker;
  online: boolean;
  error: unknown;
  exited: boolean;
}

interface Held {
  future: Future;
  push(token: number): number;
  detach(): void;
}

const SAMPLES = 4096;
const JS_RECORDS = 512;
const NATIVE_RECORDS = 512;
const NO_RECORDS = new Float64Array(0);

// Pools with pending tasks: reachable while native threads work for them.
const busyPools = new Set<ThreadPool>();

const { create: futureNew, settle: futureSettle, cancelled: futureCancelled, place: futurePlace, token: futureToken, kind: futureKind } = futureInternals;

/** Where #submitJs encodes small argument lists (off V8's heap: an ArrayBuffer this size is external). */
const ARGS_SCRATCH = new Uint8Array(new ArrayBuffer(FAST_ARGS_MAX));

/** A free token (one returned to `free`), else the next unused index of `used`. */
function takeToken(free: number[], used: unknown[]): number {
  return free.length > 0 ? free.pop()! : used.length;
}

function workerScript(): string {
  // From the TypeScript sources (tests), the built worker script.
  const dir = __filename.endsWith('.ts') ? path.join(packageRoot(), 'dist', 'cjs', 'pool') : path.join(__dirname, 'pool');
  return path.join(dir, 'worker.js');
}

/**
 * The error for a native submit's -errno other than a full queue: after
 * shutdown, a thread that could not be started (-EAGAIN with none running),
 * or what made the pool unusable (-ENOMEM; -EMFILE and the like when its
 * completion fd could not be made).
 */
function nativeSubmitError(rc: number): Error {
  if (util.getSystemErrorName(rc) === 'ESHUTDOWN') return shutdownError();
  return systemError(rc, rc === EAGAIN() ? 'pthread_create' : 'lp_pool_submit');
}

/** spinUs: the default budget (adaptive: docs/pool.md, "Spinning") and the most allowed. */
const DEFAULT_SPIN_US = 20;
const MAX_SPIN_US = 10_000;

function checkCount(name: string, value: unknown, min: number, infinite: boolean): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (infinite && value === Infinity) return Infinity;
  if (!Number.isInteger(value) || value < min || value > MAX_INT32) {
    throw outOfRange(name, `an integer >= ${min}${infinite ? ', or Infinity' : ''}`, value);
  }
  return value;
}

function toPath(name: string, file: unknown): string {
  if (file instanceof URL) return fileURLToPath(file);
  if (typeof file !== 'string' || file === '') throw invalidArgType(name, 'a non-empty string or a file: URL', file);
  return file.startsWith('file:') ? fileURLToPath(file) : path.resolve(file);
}

/** A thread pool for native and JS tasks. */
export class ThreadPool {
  readonly minThreads: number;
  readonly maxThreads: number;
  readonly maxQueue: number;
  readonly idleTimeoutMs: number;
  readonly onQueueFull: 'reject' | 'wait';
  readonly terminateTimeoutMs: number;
  readonly #filename: string | undefined;
  readonly #execArgv: string[] | undefined;
  readonly #resourceLimits: ResourceLimits | undefined;
  readonly #recycleAfterTasks: number;
  readonly #spinUs: number;

  #q: JsTaskQueueHandle | null = null;
  #np: NativeTaskPoolHandle | null = null;
  #jsFutures: Array<Future | undefined> = [];
  #jsFree: number[] = [];
  #nFutures: Array<Future | undefined> = [];
  #nFree: number[] = [];
  #nKinds: Array<keyof typeof NATIVE_KINDS> = [];
  #nFds: number[] = [];
  #jsHeld: Held[] = [];
  #nHeld: Held[] = [];
  #pending = 0;
  #refed = true;
  #handlesRefed = false;
  #workers = new Map<number, WorkerInfo>();
  #nextWorkerId = 1;
  #starting = 0;
  #taskIds = new Map<string, number>();
  #fnIds = new WeakMap<Function, number>();
  // A submit with a descriptor or a name seen before skips resolving the
  // path and building the key (a few µs of a small task's cost): by the
  // descriptor object, as long as its filename (a string) and name are the
  // ones it had (absolute paths only: a relative one follows the current
  // directory); by the name for the pool's own filename.
  #specIds = new WeakMap<object, { filename: string; name: string | undefined; id: number }>();
  #nameIds = new Map<string, number>();
  #nextTaskId = 1;
  #shutdown = false;
  #closing = false;
  #closed: Promise<void> | null = null;
  #resolveClosed: (() => void) | null = null;
  #terminateTimer: NodeJS.Timeout | null = null;
  #completed = 0;
  #failed = 0;
  #cancelled = 0;
  #created = performance.now();
  #runNs = new Float64Array(SAMPLES);
  #waitNs = new Float64Array(SAMPLES);
  #samples = 0;
  #totalRunNs = 0;
  #jsHeader = new Float64Array(JS_RECORDS * 6);
  #jsData = Buffer.allocUnsafe(256 * 1024);
  #nBuffer = new Float64Array(NATIVE_RECORDS * 6);
  #nRecords = NO_RECORDS; // submitMany's records
  #nArgs = new Float64Array(5);

  readonly #owner: FutureOwner = {
    cancel: (f) => this.#cancel(f),
    running: (f) => this.#running(f),
  };

  constructor(options: ThreadPoolOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    const cpus = os.availableParallelism?.() ?? os.cpus().length;
    this.minThreads = options.minThreads === undefined ? 0 : checkCount('options.minThreads', options.minThreads, 0, false);
    this.maxThreads = options.maxThreads === undefined ? Math.max(this.minThreads, cpus, 1) : checkCount('options.maxThreads', options.maxThreads, 1, false);
    if (this.minThreads > this.maxThreads) throw outOfRange('options.minThreads', `<= options.maxThreads (${this.maxThreads})`, this.minThreads);
    this.maxQueue = options.maxQueue === undefined ? Infinity : checkCount('options.maxQueue', options.maxQueue, 1, true);
    const idle = checkMs('options.idleTimeoutMs', options.idleTimeoutMs ?? 10_000, true);
    this.idleTimeoutMs = idle === undefined ? Infinity : idle;
    this.#filename = options.filename === undefined ? undefined : toPath('options.filename', options.filename);
    if (options.execArgv !== undefined && (!Array.isArray(options.execArgv) || !options.execArgv.every((a) => typeof a === 'string'))) {
      throw invalidArgType('options.execArgv', 'an array of strings', options.execArgv);
    }
    this.#execArgv = options.execArgv === undefined ? undefined : [...options.execArgv];
    if (options.resourceLimits !== undefined && (typeof options.resourceLimits !== 'object' || options.resourceLimits === null)) {
      throw invalidArgType('options.resourceLimits', 'of type object', options.resourceLimits);
    }
    this.#resourceLimits = options.resourceLimits;
    this.#recycleAfterTasks = options.recycleAfterTasks === undefined ? Infinity : checkCount('options.recycleAfterTasks', options.recycleAfterTasks, 1, true);
    const full = options.onQueueFull ?? 'reject';
    if (full !== 'reject' && full !== 'wait') {
      throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `The property 'options.onQueueFull' must be 'reject' or 'wait'. Received ${describe(full)}`);
    }
    this.onQueueFull = full;
    this.terminateTimeoutMs = checkMs('options.terminateTimeoutMs', options.terminateTimeoutMs ?? 5000, false)!;
    this.#spinUs = options.spinUs === undefined ? DEFAULT_SPIN_US : checkCount('options.spinUs', options.spinUs, 0, false);
    if (this.#spinUs > MAX_SPIN_US) throw outOfRange('options.spinUs', `an integer from 0 to ${MAX_SPIN_US}`, this.#spinUs);
  }

  /** Runs task(...args) on a thread; the Future of its outcome. */
  submit<A extends unknown[], R>(task: NativeTask<A, R>, ...args: A): Future<R>;
  submit<A extends unknown[], R>(task: (...args: A) => R, ...args: A): Future<Awaited<R>>;
  submit(task: TaskSpec | string, ...args: unknown[]): Future<unknown>;
  submit(task: Task, ...args: unknown[]): Future<unknown> {
    return this.#submit(task, args, undefined);
  }

  /** submit() with options: an AbortSignal, ArrayBuffers to transfer. */
  submitWith<A extends unknown[], R>(options: SubmitOptions, task: NativeTask<A, R>, ...args: A): Future<R>;
  submitWith<A extends unknown[], R>(options: SubmitOptions, task: (...args: A) => R, ...args: A): Future<Awaited<R>>;
  submitWith(options: SubmitOptions, task: TaskSpec | string, ...args: unknown[]): Future<unknown>;
  submitWith(options: SubmitOptions, task: Task, ...args: unknown[]): Future<unknown> {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    return this.#submit(task, args, options);
  }

  /**
   * Runs task(...args) once per argument list, in order: their Futures.
   * Every list is checked (and a JS task's arguments serialized) before any
   * task is queued. Native tasks enter the pool in one call, under one lock
   * of its queue, where n submit() calls would contend with the pool's
   * threads n times. With onQueueFull 'reject' a batch that does not fit in
   * maxQueue throws ERR_LOOPLET_POOL_QUEUE_FULL and queues none; with 'wait'
   * the tasks without room wait for it, in order.
   */
  submitMany<A extends unknown[], R>(task: NativeTask<A, R>, argsList: Iterable<A>, options?: SubmitManyOptions): Future<R>[];
  submitMany<A extends unknown[], R>(task: (...args: A) => R, argsList: Iterable<A>, options?: SubmitManyOptions): Future<Awaited<R>>[];
  submitMany(task: TaskSpec | string, argsList: Iterable<unknown[]>, options?: SubmitManyOptions): Future<unknown>[];
  submitMany(task: Task, argsList: Iterable<unknown[]>, options: SubmitManyOptions = {}): Future<unknown>[] {
    if (this.#shutdown) throw shutdownError();
    if (argsList === null || typeof argsList !== 'object' || typeof (argsList as Iterable<unknown[]>)[Symbol.iterator] !== 'function') {
      throw invalidArgType('argsList', 'an iterable of argument arrays', argsList);
    }
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
    this.#checkTask(task);
    const lists = Array.from(argsList);
    for (let i = 0; i < lists.length; i++) {
      if (!Array.isArray(lists[i])) throw invalidArgType(`argsList[${i}]`, 'an array of arguments', lists[i]);
    }
    if (signal?.aborted) return lists.map((args) => this.#abortedFuture(task, args));
    const futures = isNativeTask(task) ? this.#submitManyNative(task, lists) : this.#submitManyJs(task, lists);
    if (signal !== undefined) for (const f of futures) this.#watchSignal(f, signal);
    return futures;
  }

  /**
   * Runs task(item) for every item, at most `concurrency` at once: the
   * results in input order (or completion order), as an async iterable, and
   * inside a greenlet as a plain iterable. The first failure is thrown where
   * its result would be and cancels the tasks not started; so does leaving
   * the loop early.
   */
  map<T, R>(task: NativeTask<[T], R> | ((item: T) => R) | TaskSpec | string, iterable: Iterable<T>, options: MapOptions = {}): AsyncIterable<Awaited<R>> & Iterable<Awaited<R>> {
    if (iterable === null || typeof iterable !== 'object' || typeof (iterable as Iterable<T>)[Symbol.iterator] !== 'function') {
      throw invalidArgType('iterable', 'an iterable', iterable);
    }
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    if (options.ordered !== undefined && typeof options.ordered !== 'boolean') throw invalidArgType('options.ordered', 'of type boolean', options.ordered);
    const ordered = options.ordered ?? true;
    const concurrency = options.concurrency === undefined ? 2 * this.maxThreads : checkCount('options.concurrency', options.concurrency, 1, true);
    this.#checkTask(task as Task);
    const submit = (item: T) => this.#submit(task as Task, [item], undefined) as Future<Awaited<R>>;
    return {
      [Symbol.asyncIterator]: () => mapRun(iterable, submit, ordered, concurrency, false)[Symbol.asyncIterator](),
      [Symbol.iterator]: () => mapRun(iterable, submit, ordered, concurrency, true)[Symbol.iterator](),
    } as AsyncIterable<Awaited<R>> & Iterable<Awaited<R>>;
  }

  /**
   * Takes no new tasks (submit throws ERR_LOOPLET_POOL_SHUTDOWN); with
   * cancelPending, cancels those not started. The promise resolves once the
   * pending tasks are done and every thread has exited (wait: true), or at
   * once (wait: false; the pool still finishes its tasks and closes).
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    if (options.wait !== undefined && typeof options.wait !== 'boolean') throw invalidArgType('options.wait', 'of type boolean', options.wait);
    if (options.cancelPending !== undefined && typeof options.cancelPending !== 'boolean') {
      throw invalidArgType('options.cancelPending', 'of type boolean', options.cancelPending);
    }
    if (this.#closed === null) this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#shutdown = true;
    if (options.cancelPending) {
      // Those not started only: a running JS task's signal is left alone.
      for (const held of [...this.#jsHeld, ...this.#nHeld]) held.future.cancel();
      for (const f of this.#jsFutures) if (f !== undefined && !f.done()) this.#cancel(f, true);
      for (const f of this.#nFutures) f?.cancel();
    }
    this.#maybeClose();
    return options.wait === false ? Promise.resolve() : this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** Pending tasks no longer keep the process alive. */
  unref(): this {
    this.#refed = false;
    this.#np?.ref(false);
    this.#updateRef();
    return this;
  }

  /** Pending tasks keep the process alive (the default; an idle pool never does). */
  ref(): this {
    this.#refed = true;
    this.#np?.ref(true);
    this.#updateRef();
    return this;
  }

  stats(): ThreadPoolStats {
    const js = this.#q?.stats();
    const nat = this.#np?.stats();
    const n = Math.min(this.#samples, SAMPLES);
    const times = (ring: Float64Array): TimeStats => {
      if (n === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
      const sorted = ring.slice(0, n).sort();
      const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))] / 1e6;
      return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1] / 1e6 };
    };
    const elapsedNs = (performance.now() - this.#created) * 1e6;
    return {
      queued: (js?.queued ?? 0) + (nat?.queued ?? 0) + this.#jsHeld.length + this.#nHeld.length,
      running: (js?.running ?? 0) + (nat?.running ?? 0),
      completed: this.#completed,
      failed: this.#failed,
      cancelled: this.#cancelled,
      threads: this.#workers.size + (nat?.threads ?? 0),
      jsThreads: this.#workers.size,
      nativeThreads: nat?.threads ?? 0,
      utilization: elapsedNs > 0 ? this.#totalRunNs / (elapsedNs * this.maxThreads) : 0,
      runTime: times(this.#runNs),
      waitTime: times(this.#waitNs),
    };
  }

  // -- submission ------------------------------------------------------------

  #checkTask(task: Task): void {
    if (typeof task === 'function' || isNativeTask(task) || typeof task === 'string') return;
    if (typeof task === 'object' && task !== null && 'filename' in task) return;
    throw invalidArgType('task', 'a function, a native task, { filename, name } or an export name', task);
  }

  #submit(task: Task, args: unknown[], options: SubmitOptions | undefined): Future {
    if (this.#shutdown) throw shutdownError();
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
    const transfer = options?.transfer;
    if (transfer !== undefined && (!Array.isArray(transfer) || !transfer.every((b) => b instanceof ArrayBuffer))) {
      throw invalidArgType('options.transfer', 'an array of ArrayBuffers', transfer);
    }
    if (signal?.aborted) return this.#abortedFuture(task, args);
    const future = isNativeTask(task) ? this.#submitNative(task, args) : this.#submitJs(task, args, transfer);
    if (signal !== undefined) this.#watchSignal(future, signal);
    return future;
  }

  /**
   * The future of a task whose signal aborted before it was submitted:
   * cancelled, never queued (a task queued first could be taken at once by
   * a spinning thread, before the cancel). A native task's arguments are
   * checked as submit checks them; a JS task's are not serialized.
   */
  #abortedFuture(task: Task, args: unknown[]): Future {
    if (isNativeTask(task)) nativeArgs(task[NATIVE], args, this.#nArgs);
    else this.#checkTask(task);
    const future = futureNew<unknown>(this.#owner);
    this.#cancelled++;
    futureCancelled(future);
    return future;
  }

  #watchSignal(future: Future, signal: AbortSignal): void {
    if (signal.aborted) {
      future.cancel();
    } else {
      const onAbort = () => future.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
      future.addDoneCallback(() => signal.removeEventListener('abort', onAbort));
    }
  }

  #taskId(task: Exclude<Task, NativeTask>): number {
    if (typeof task === 'function') {
      const known = this.#fnIds.get(task);
      if (known !== undefined) return known;
      const source = Function.prototype.toString.call(task);
      if (/^class[\s{]/.test(source) || /\{\s*\[native code\]\s*\}\s*$/.test(source)) {
        throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `The task ${describe(task)} cannot be sent by source: pass a plain function (no closures), or { filename, name }`);
      }
      const id = this.#define(`src:${source}`, TASK_SOURCE, source, '');
      this.#fnIds.set(task, id);
      return id;
    }
    let spec: TaskSpec;
    if (typeof task === 'string') {
      const known = this.#nameIds.get(task);
      if (known !== undefined) return known;
      if (this.#filename === undefined) {
        throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `A task given by name ("${task}") needs the pool's filename option`);
      }
      spec = { filename: this.#filename, name: task };
    } else if (typeof task === 'object' && task !== null && 'filename' in task) {
      const hit = this.#specIds.get(task);
      if (hit !== undefined && hit.filename === task.filename && hit.name === task.name) return hit.id;
      spec = task;
    } else {
      throw invalidArgType('task', 'a function, a native task, { filename, name } or an export name', task);
    }
    const name = spec.name ?? 'default';
    if (typeof name !== 'string') throw invalidArgType('task.name', 'of type string', name);
    const file = toPath('task.filename', spec.filename);
    const key = `mod:${file}\0${name}`;
    let id = this.#taskIds.get(key);
    if (id === undefined) {
      if (!fs.existsSync(file)) throw codedError(Error, 'ERR_LOOPLET_POOL_TASK_NOT_FOUND', `Cannot find the task module ${file}`);
      id = this.#define(key, TASK_MODULE, file, name);
    }
    if (typeof task === 'string') this.#nameIds.set(task, id);
    else if (typeof spec.filename === 'string' && path.isAbsolute(spec.filename)) this.#specIds.set(spec, { filename: spec.filename, name: spec.name, id });
    return id;
  }

  #define(key: string, kind: number, a: string, b: string): number {
    const known = this.#taskIds.get(key);
    if (known !== undefined) return known;
    const id = this.#nextTaskId++;
    this.#jsQueue().defineTask(id, kind, a, b);
    this.#taskIds.set(key, id);
    return id;
  }

  #jsQueue(): JsTaskQueueHandle {
    if (this.#q === null) {
      const Queue = binding().pool.JsTaskQueue;
      this.#q = new Queue(this.maxQueue === Infinity ? 0 : this.maxQueue, this.#onJsComplete, this.#spinUs);
      this.#q.setBuffers(this.#jsHeader, this.#jsData);
      this.#q.ref(this.#handlesRefed);
    }
    return this.#q;
  }

  #nativePool(): NativeTaskPoolHandle {
    if (this.#np === null) {
      const Pool = binding().pool.NativeTaskPool;
      const idle = this.idleTimeoutMs === Infinity ? -1 : Math.max(1, Math.ceil(this.idleTimeoutMs));
      this.#np = new Pool(this.minThreads, this.maxThreads, this.maxQueue === Infinity ? 0 : this.maxQueue, idle, this.#spinUs, 0, this.#onNativeComplete);
      this.#np.setBuffer(this.#nBuffer, this.#nArgs);
      this.#np.ref(this.#refed); // the binding refs its handle while tasks are out
    }
    return this.#np;
  }

  #submitJs(task: Exclude<Task, NativeTask>, args: unknown[], transfer: readonly ArrayBuffer[] | undefined): Future {
    const taskId = this.#taskId(task);
    if (args.length === 0) return this.#pushJs(taskId, undefined);
    // Small argument lists go through one reused off-heap buffer that the
    // queue copies from: no typed array per task (and none for the binding
    // to move off V8's heap).
    if (transfer === undefined || transfer.length === 0) {
      const length = encodeArgsInto(args, ARGS_SCRATCH);
      if (length > 0) return this.#pushJs(taskId, ARGS_SCRATCH, length);
    }
    return this.#pushJs(taskId, encodeArgs(args, transfer));
  }

  #submitManyJs(task: Exclude<Task, NativeTask>, lists: unknown[][]): Future[] {
    const taskId = this.#taskId(task);
    const encoded = lists.map((args) => (args.length === 0 ? undefined : encodeArgs(args, undefined)));
    const q = this.#jsQueue();
    if (this.onQueueFull === 'reject' && this.maxQueue !== Infinity && q.stats().queued + lists.length > this.maxQueue) {
      throw queueFullError(this.maxQueue);
    }
    // The queue's room only grows until the next push (only this thread
    // pushes), so none of these throws for a full queue.
    return encoded.map((bytes) => this.#pushJs(taskId, bytes));
  }

  /** bytes[0, length) are the encoded arguments (length: all of bytes); ARGS_SCRATCH is copied before it is held. */
  #pushJs(taskId: number, bytes: Uint8Array | undefined, length = bytes === undefined ? 0 : bytes.length): Future {
    const q = this.#jsQueue();
    const future = futureNew<unknown>(this.#owner);
    if (this.#jsHeld.length > 0) {
      const own = bytes === ARGS_SCRATCH ? bytes.slice(0, length) : bytes;
      this.#hold(this.#jsHeld, future, (token) => q.push(token, taskId, own), KIND_JS);
      return future;
    }
    const token = takeToken(this.#jsFree, this.#jsFutures);
    const rc = q.push(token, taskId, bytes, length);
    if (rc < 0) {
      this.#jsFree.push(token);
      if (rc !== EAGAIN()) throw shutdownError();
      if (this.onQueueFull === 'reject') throw queueFullError(this.maxQueue);
      const own = bytes === ARGS_SCRATCH ? bytes.slice(0, length) : bytes;
      this.#hold(this.#jsHeld, future, (t) => q.push(t, taskId, own), KIND_JS);
      return future;
    }
    this.#placeJs(future, token, rc);
    return future;
  }

  #placeJs(future: Future, token: number, rc: number): void {
    futurePlace(future, KIND_JS, token);
    this.#jsFutures[token] = future;
    this.#addPending();
    if ((rc & 1) === 0 && rc >> 1 > this.#starting && this.#workers.size < this.maxThreads) this.#spawnWorker();
    while (this.#workers.size < this.minThreads) this.#spawnWorker();
  }

  #submitNative(task: NativeTask, args: unknown[]): Future {
    const kind = task[NATIVE];
    const view = nativeArgs(kind, args, this.#nArgs);
    const np = this.#nativePool();
    const future = futureNew<unknown>(this.#owner);
    if (this.#nHeld.length > 0) {
      this.#holdNative(future, kind, view);
      return future;
    }
    const token = takeToken(this.#nFree, this.#nFutures);
    this.#nKinds[token] = kind;
    this.#nFds[token] = this.#nArgs[0];
    const rc = np.submit(token, NATIVE_KINDS[kind], view);
    if (rc < 0) {
      this.#nFree.push(token);
      if (rc === EAGAIN() && this.#nativeFull(np, 1)) {
        if (this.onQueueFull === 'reject') throw queueFullError(this.maxQueue);
        this.#holdNative(future, kind, view);
        return future;
      }
      throw nativeSubmitError(rc);
    }
    futurePlace(future, KIND_NATIVE, token);
    this.#nFutures[token] = future;
    this.#addPending();
    return future;
  }

  #submitManyNative(task: NativeTask, lists: unknown[][]): Future[] {
    const kind = task[NATIVE];
    const n = lists.length;
    // One scratch array, grown as needed (the binding reads it during the
    // call), taken while in use: an argument's getter may submit again.
    let records = this.#nRecords;
    this.#nRecords = NO_RECORDS;
    if (records.length < n * 6) records = new Float64Array(Math.max(n, (2 * records.length) / 6) * 6);
    let views: (ArrayBufferView | undefined)[] | undefined;
    for (let i = 0; i < n; i++) {
      const view = nativeArgs(kind, lists[i], this.#nArgs);
      records.set(this.#nArgs, i * 6 + 1);
      if (view !== undefined) (views ??= new Array<ArrayBufferView | undefined>(n))[i] = view;
    }
    const np = this.#nativePool();
    const futures = new Array<Future>(n);
    for (let i = 0; i < n; i++) futures[i] = futureNew<unknown>(this.#owner);
    let taken = 0;
    if (this.#nHeld.length === 0 && n > 0) {
      for (let i = 0; i < n; i++) {
        const token = takeToken(this.#nFree, this.#nFutures);
        this.#nFutures[token] = futures[i]; // reserves the token
        this.#nKinds[token] = kind;
        this.#nFds[token] = records[i * 6 + 1];
        records[i * 6] = token;
      }
      const rc = np.submitMany(NATIVE_KINDS[kind], records, n, views, this.onQueueFull === 'reject');
      taken = Math.max(rc, 0);
      for (let i = taken; i < n; i++) {
        const token = records[i * 6];
        this.#nFutures[token] = undefined;
        this.#nFree.push(token);
      }
      if (rc < 0) {
        // With 'reject' the binding takes all or none: none fit when the
        // room is less than the batch; with 'wait', when there is none.
        if (rc !== EAGAIN() || !this.#nativeFull(np, this.onQueueFull === 'reject' ? n : 1)) throw nativeSubmitError(rc);
        if (this.onQueueFull === 'reject') throw queueFullError(this.maxQueue);
      }
      for (let i = 0; i < taken; i++) {
        futurePlace(futures[i], KIND_NATIVE, records[i * 6]);
        this.#addPending();
      }
    }
    // The rest wait for room (onQueueFull 'wait'; with 'reject', only when
    // memory ran out part way), in order.
    for (let i = taken; i < n; i++) {
      this.#nArgs.set(records.subarray(i * 6 + 1, i * 6 + 6));
      this.#holdNative(futures[i], kind, views?.[i]);
    }
    this.#nRecords = records;
    return futures;
  }

  /**
   * Whether the native pool's -EAGAIN for `need` tasks meant a full queue
   * (maxQueue), not a thread that could not be started: the core answers
   * -EAGAIN for both, the second only while it has no thread at all (a new
   * pool, or every thread gone idle); then no thread takes tasks from the
   * queue, so its count is the one the submit saw.
   */
  #nativeFull(np: NativeTaskPoolHandle, need: number): boolean {
    const st = np.stats();
    return st.threads > 0 || (this.maxQueue !== Infinity && st.queued + need > this.maxQueue);
  }

  #holdNative(future: Future, kind: keyof typeof NATIVE_KINDS, view: ArrayBufferView | undefined): void {
    const saved = Float64Array.from(this.#nArgs);
    this.#hold(
      this.#nHeld,
      future,
      (token) => {
        this.#nArgs.set(saved);
        this.#nKinds[token] = kind;
        this.#nFds[token] = saved[0];
        return this.#np!.submit(token, NATIVE_KINDS[kind], view);
      },
      KIND_NATIVE,
    );
  }

  #hold(list: Held[], future: Future, push: (token: number) => number, kind: number): void {
    futurePlace(future, KIND_HELD, -1);
    const held: Held = { future, push, detach: () => list.splice(list.indexOf(held), 1) };
    (held as Held & { kind: number }).kind = kind;
    list.push(held);
    heldOf.set(future, held);
    this.#addPending();
  }

  /** Moves held futures into the queues while they have room. */
  #pumpHeld(): void {
    if (this.#q !== null) this.#pump(this.#jsHeld, this.#jsFree, this.#jsFutures, this.#placeHeldJs);
    if (this.#np !== null) this.#pump(this.#nHeld, this.#nFree, this.#nFutures, this.#placeHeldNative);
  }

  /** Pushes held futures from the front of list while their queue takes them; place() records each. */
  #pump(list: Held[], free: number[], used: unknown[], place: (future: Future, token: number, rc: number) => void): void {
    while (list.length > 0) {
      const token = takeToken(free, used);
      const rc = list[0].push(token);
      if (rc < 0) {
        free.push(token);
        break;
      }
      const held = list.shift()!;
      heldOf.delete(held.future);
      place(held.future, token, rc);
    }
  }

  #placeHeldJs = (future: Future, token: number, rc: number): void => {
    this.#pending--; // #placeJs counts it again
    this.#placeJs(future, token, rc);
  };

  #placeHeldNative = (future: Future, token: number): void => {
    futurePlace(future, KIND_NATIVE, token);
    this.#nFutures[token] = future;
  };

  // -- pending count and refs ------------------------------------------------

  #addPending(): void {
    if (this.#pending++ === 0) {
      busyPools.add(this);
      this.#updateRef();
    }
  }

  #donePending(n: number): void {
    this.#pending -= n;
    if (this.#pending === 0) {
      busyPools.delete(this);
      this.#updateRef();
      this.#maybeClose();
    }
  }

  /** The JS queue's handle keeps the loop alive while tasks are pending (the native pool's binding does this itself). */
  #updateRef(): void {
    const want = this.#refed && this.#pending > 0;
    if (want === this.#handlesRefed) return;
    this.#handlesRefed = want;
    this.#q?.ref(want);
  }

  // -- completions -----------------------------------------------------------

  #sample(waitNs: number, runNs: number): void {
    const i = this.#samples++ & (SAMPLES - 1);
    this.#waitNs[i] = waitNs;
    this.#runNs[i] = runNs;
    this.#totalRunNs += runNs;
  }

  #onJsComplete = (): void => {
    const q = this.#q;
    if (q === null) return;
    const h = this.#jsHeader;
    let total = 0;
    let n: number;
    do {
      n = q.drain();
      for (let i = 0; i < n; i++) {
        const o = i * 6;
        const token = h[o];
        const status = h[o + 1];
        const offset = h[o + 2];
        const length = h[o + 3];
        const future = this.#jsFutures[token]!;
        this.#jsFutures[token] = undefined;
        this.#jsFree.push(token);
        this.#sample(h[o + 4], h[o + 5]);
        let failed = status !== 0;
        let value: unknown;
        try {
          if (length === 0) value = undefined;
          else if (failed) value = decodeThrown(offset >= 0 ? copyOf(this.#jsData, offset, length) : q.result(token));
          else value = offset >= 0 ? decode(this.#jsData, offset, length) : decode(q.result(token), 0, undefined, true);
        } catch (err) {
          failed = true;
          value = err;
        }
        if (failed) this.#failed++;
        else this.#completed++;
        futureSettle(future, failed, value);
      }
      total += n;
    } while (n === JS_RECORDS);
    // Also called when a worker took a task from a full queue (room for
    // the held ones, onQueueFull 'wait').
    this.#pumpHeld();
    if (total > 0) this.#donePending(total);
  };

  #onNativeComplete = (n: number): void => {
    const b = this.#nBuffer;
    for (let i = 0; i < n; i++) {
      const o = i * 6;
      const token = b[o];
      const status = b[o + 1];
      const future = this.#nFutures[token]!;
      this.#nFutures[token] = undefined;
      this.#nFree.push(token);
      if (future.cancelled()) continue; // counted when cancel() succeeded
      this.#sample(b[o + 4], b[o + 5]);
      const { ok, value } = nativeResult(this.#nKinds[token], status, b[o + 2], b[o + 3], this.#nFds[token]);
      if (ok) this.#completed++;
      else this.#failed++;
      futureSettle(future, !ok, value);
    }
    // Also called with n = 0 when a task left a full queue (room for the
    // held ones, onQueueFull 'wait').
    this.#pumpHeld();
    if (n > 0) this.#donePending(n);
  };

  // -- cancellation ----------------------------------------------------------

  /** Future#cancel(); queuedOnly: a running JS task is not told (its signal stays). */
  #cancel(f: Future, queuedOnly = false): boolean {
    const kind = futureKind(f);
    const token = futureToken(f);
    if (kind === KIND_HELD) {
      const held = heldOf.get(f);
      if (held === undefined) return false;
      heldOf.delete(f);
      held.detach();
      this.#cancelled++;
      futureCancelled(f);
      this.#donePending(1);
      return true;
    }
    if (kind === KIND_JS) {
      const rc = this.#q!.cancel(token, queuedOnly);
      if (rc !== 0) return false;
      this.#jsFutures[token] = undefined;
      this.#jsFree.push(token);
      this.#cancelled++;
      futureCancelled(f);
      this.#pumpHeld();
      this.#donePending(1);
      return true;
    }
    // Native: the token stays taken until the -ECANCELED completion arrives.
    if (this.#np!.cancel(token) !== 0) return false;
    this.#cancelled++;
    futureCancelled(f);
    return true;
  }

  #running(f: Future): boolean {
    const kind = futureKind(f);
    if (kind === KIND_JS) return this.#q!.state(futureToken(f)) === 1;
    if (kind === KIND_NATIVE) return this.#np!.running(futureToken(f));
    return false;
  }

  // -- workers ---------------------------------------------------------------

  #spawnWorker(): void {
    const q = this.#jsQueue();
    const id = this.#nextWorkerId++;
    const worker = new Worker(workerScript(), {
      workerData: {
        poolId: q.id(),
        workerId: id,
        minThreads: this.minThreads,
        idleTimeoutMs: this.idleTimeoutMs === Infinity ? -1 : this.idleTimeoutMs,
        recycleAfterTasks: this.#recycleAfterTasks === Infinity ? 0 : this.#recycleAfterTasks,
        terminateTimeoutMs: this.terminateTimeoutMs,
        spinUs: this.#spinUs,
      },
      execArgv: this.#execArgv,
      resourceLimits: this.#resourceLimits,
    });
    const info: WorkerInfo = { id, worker, online: false, error: undefined, exited: false };
    this.#workers.set(id, info);
    this.#starting++;
    worker.once('online', () => {
      info.online = true;
      this.#starting--;
    });
    worker.on('error', (err) => {
      info.error ??= err;
    });
    worker.once('exit', (code) => this.#onWorkerExit(info, code));
    worker.unref();
  }

  #onWorkerExit(info: WorkerInfo, code: number): void {
    info.exited = true;
    this.#workers.delete(info.id);
    if (!info.online) this.#starting--;
    const q = this.#q;
    if (q !== null) {
      const r = q.workerGone(info.id);
      if (r >= 0) {
        const future = this.#jsFutures[r]!;
        this.#jsFutures[r] = undefined;
        this.#jsFree.push(r);
        this.#failed++;
        futureSettle(future, true, workerExited(code, info.error, false));
        this.#donePending(1);
      } else if (r === -3 && !this.#closing) {
        // It never attached (a bad execArgv, a loader that failed): the
        // queued tasks fail rather than wait for workers that die alike.
        this.#failQueued(workerExited(code, info.error, true));
      }
    }
    if (this.#closing) {
      if (this.#workers.size === 0) this.#finishClose();
      return;
    }
    const st = q?.stats();
    if (st !== undefined && st.queued > st.idle + this.#starting && this.#workers.size < this.maxThreads) this.#spawnWorker();
    if (st !== undefined && this.#pending > 0) while (this.#workers.size < this.minThreads) this.#spawnWorker();
  }

  #failQueued(error: Error): void {
    const q = this.#q!;
    let n = 0;
    for (let token = 0; token < this.#jsFutures.length; token++) {
      const f = this.#jsFutures[token];
      if (f === undefined || q.cancel(token, true) !== 0) continue;
      this.#jsFutures[token] = undefined;
      this.#jsFree.push(token);
      this.#failed++;
      futureSettle(f, true, error);
      n++;
    }
    for (const held of this.#jsHeld.splice(0)) {
      heldOf.delete(held.future);
      this.#failed++;
      futureSettle(held.future, true, error);
      n++;
    }
    if (n > 0) this.#donePending(n);
  }

  // -- closing ---------------------------------------------------------------

  #maybeClose(): void {
    if (!this.#shutdown || this.#closing || this.#pending > 0) return;
    this.#closing = true;
    this.#np?.close();
    this.#np = null;
    if (this.#q === null || this.#workers.size === 0) {
      this.#finishClose();
      return;
    }
    // Until they have left, the workers keep the process alive: whoever
    // awaits shutdown() gets its answer.
    for (const info of this.#workers.values()) info.worker.ref();
    this.#q.stop();
    this.#terminateTimer = setTimeout(() => {
      for (const info of this.#workers.values()) void info.worker.terminate();
    }, this.terminateTimeoutMs);
    this.#terminateTimer.unref();
  }

  #finishClose(): void {
    if (this.#terminateTimer !== null) clearTimeout(this.#terminateTimer);
    this.#terminateTimer = null;
    this.#q?.close();
    this.#q = null;
    this.#resolveClosed?.();
    this.#resolveClosed = null;
  }
}

const heldOf = new WeakMap<Future, Held>();

// ---- runInExecutor and the running task --------------------------------------

let defaultPool: ThreadPool | null = null;

/** The pool runInExecutor(null, ...) uses: made on first use, with the default options. */
export function getDefaultPool(): ThreadPool {
  defaultPool ??= new ThreadPool();
  return defaultPool;
}

/**
 * asyncio's loop.run_in_executor(executor, fn, *args): runs fn(...args) on
 * `pool` (null or undefined: the default pool). From async code, a Future to
 * await; inside a greenlet, the result itself (only that greenlet waits).
 */
export function runInExecutor<A extends unknown[], R>(pool: ThreadPool | null | undefined, fn: NativeTask<A, R>, ...args: A): Future<R> | R;
export function runInExecutor<A extends unknown[], R>(pool: ThreadPool | null | undefined, fn: (...args: A) => R, ...args: A): Future<Awaited<R>> | Awaited<R>;
export function runInExecutor(pool: ThreadPool | null | undefined, fn: TaskSpec | string, ...args: unknown[]): Future<unknown> | unknown;
export function runInExecutor(pool: ThreadPool | null | undefined, fn: Task, ...args: unknown[]): unknown {
  if (pool !== null && pool !== undefined && !(pool instanceof ThreadPool)) throw invalidArgType('pool', 'a ThreadPool, null or undefined', pool);
  const future = (pool ?? getDefaultPool()).submit(fn as TaskSpec, ...args);
  return inGreenlet() ? future.result() : future;
}

/**
 * Inside a JS task on a pool's worker thread: the running task's context,
 * whose `signal` aborts when the pool cancels the task. Undefined elsewhere.
 */
export function currentTask(): TaskContextLike | undefined {
  const get = (globalThis as Record<symbol, unknown>)[CURRENT_TASK] as (() => TaskContextLike | null) | undefined;
  return get?.() ?? undefined;
}
