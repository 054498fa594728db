// A ThreadPool's worker thread (the script lib/pool.ts starts). It attaches
// to the pool's queue in process-global native memory and runs JS tasks one
// at a time: take -> run -> complete -> take, without returning to its
// event loop while tasks are queued. With none left it is idle: it returns
// to its own event loop (its timers, I/O and async work go on) and the next
// push wakes it through a uv_async on that loop; no Atomics.wait.
//
// A task is a function sent by source (compiled here once per task id) or
// an export of a module (require()d, or import()ed for ESM and TypeScript
// files); both are looked up by task id in the pool's native table and
// cached. Arguments and results are V8-serialized (codec.ts).
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { binding, type JsTaskWorkerHandle } from '../binding';
import { codedError } from '../errors';
import { FAST_VALUE_MAX, decode, encode, encodeInto, encodeThrown } from './codec';
import { CURRENT_TASK, TASK_MODULE, TASK_SOURCE, type TaskContextLike } from './shared';

interface PoolWorkerData {
  poolId: number;
  workerId: number;
  minThreads: number;
  /** -1: never retire when idle. */
  idleTimeoutMs: number;
  /** 0: never. */
  recycleAfterTasks: number;
  terminateTimeoutMs: number;
  spinUs: number;
}

type TaskFn = (...args: unknown[]) => unknown;

const data = workerData as PoolWorkerData;
const EMPTY: unknown[] = [];
const header = new Float64Array(4);
const buffer = Buffer.allocUnsafe(64 * 1024);
const RESULT_SCRATCH = new Uint8Array(new ArrayBuffer(FAST_VALUE_MAX));
const fns = new Map<number, TaskFn>();
const loading = new Map<number, Promise<TaskFn>>();
// import() kept as it is (tsc would turn it into require() in CommonJS output).
const dynamicImport = new Function('url', 'return import(url)') as (url: string) => Promise<Record<string, unknown>>;
const requireFromCwd = createRequire(path.join(process.cwd(), '[looplet task]'));

let worker: JsTaskWorkerHandle;
let busy = false;
let tasksRun = 0;
let idleTimer: NodeJS.Timeout | null = null;
let context: TaskContext | null = null;

const abortedOf = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get! as (this: AbortSignal) => boolean;

/** What currentTask() returns inside a running task. */
class TaskContext implements TaskContextLike {
  readonly #token: number;
  #controller: AbortController | null = null;
  #over = false;

  constructor(token: number) {
    this.#token = token;
  }

  /** Aborted once the owner cancels this running task (Future#cancel(), an AbortSignal); reading `aborted` checks. */
  get signal(): AbortSignal {
    if (this.#controller === null) {
      const controller = new AbortController();
      this.#controller = controller;
      // A synchronous task polls `signal.aborted`: make each read look at the native flag.
      Object.defineProperty(controller.signal, 'aborted', {
        get: () => {
          this.poll();
          return abortedOf.call(controller.signal);
        },
        configurable: true,
      });
    }
    return this.#controller.signal;
  }

  /** Whether the owner asked to cancel this task. */
  get cancelled(): boolean {
    this.poll();
    return this.#controller !== null ? abortedOf.call(this.#controller.signal) : this.#askedToCancel();
  }

  #askedToCancel(): boolean {
    return !this.#over && worker.cancelled(this.#token);
  }

  poll(): void {
    const controller = this.#controller;
    if (controller === null || abortedOf.call(controller.signal) || !this.#askedToCancel()) return;
    controller.abort(codedError(Error, 'ERR_LOOPLET_POOL_CANCELLED', 'The task was cancelled by its pool'));
  }

  end(): void {
    this.#over = true;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function typeScriptHint(file: string, err: unknown): unknown {
  if (!/\.[cm]?ts$/.test(file)) return err;
  const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
  const hint = codedError(
    Error,
    'ERR_LOOPLET_POOL_TYPESCRIPT',
    `Cannot load the TypeScript task file ${file}: ${reason}. This Node does not run TypeScript by itself; ` +
      "pass a loader to the pool, e.g. new ThreadPool({ execArgv: ['--import', 'tsx'] }), " +
      "or ['--experimental-strip-types'] on Node 22.6 and later, or give the compiled .js file",
  );
  (hint as Error & { cause?: unknown }).cause = err;
  return hint;
}

function exportOf(mod: Record<string, unknown>, file: string, name: string): TaskFn {
  let fn: unknown = name === 'default' ? (mod.default ?? mod) : mod[name];
  if (fn === undefined && typeof mod.default === 'object' && mod.default !== null) fn = (mod.default as Record<string, unknown>)[name];
  if (typeof fn !== 'function') {
    throw codedError(TypeError, 'ERR_LOOPLET_POOL_TASK_NOT_FOUND', `The task module ${file} has no function export named "${name}" (found ${typeof fn})`);
  }
  return fn as TaskFn;
}

/** The task's function, or a promise of it while an ES module loads. */
function taskFunction(taskId: number): TaskFn | Promise<TaskFn> {
  const known = fns.get(taskId) ?? loading.get(taskId);
  if (known !== undefined) return known;
  const def = worker.task(taskId);
  if (def === undefined) throw codedError(Error, 'ERR_LOOPLET_POOL_TASK_NOT_FOUND', `Unknown task id ${taskId}`);
  const [kind, a, b] = def;
  if (kind === TASK_SOURCE) {
    // Compiled at this module's scope: only globals and require() are visible.
    const fn = new Function('require', `return (${a}\n);`)(requireFromCwd) as TaskFn;
    if (typeof fn !== 'function') throw new TypeError('The task source does not evaluate to a function');
    fns.set(taskId, fn);
    return fn;
  }
  if (kind !== TASK_MODULE) throw new Error(`Unknown task kind ${kind}`);
  const file = a;
  if (!/\.(mjs|[cm]?ts)$/.test(file)) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const fn = exportOf(require(file) as Record<string, unknown>, file, b);
      fns.set(taskId, fn);
      return fn;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE') throw err;
    }
  }
  const load = dynamicImport(pathToFileURL(file).href).then(
    (mod) => {
      const fn = exportOf(mod, file, b);
      fns.set(taskId, fn);
      loading.delete(taskId);
      return fn;
    },
    (err: unknown) => {
      loading.delete(taskId);
      throw typeScriptHint(file, err);
    },
  );
  loading.set(taskId, load);
  return load;
}

function thrownResult(err: unknown): Buffer {
  try {
    return encodeThrown(err);
  } catch (encodeErr) {
    return encodeThrown(encodeErr);
  }
}

/** Runs taken tasks until none is left: code is take()'s answer. */
function drive(code: number): void {
  while (code === 1) {
    const token = header[0];
    const len = header[2];
    let status = 0;
    let bytes: Uint8Array | undefined;
    let length = -1;
    tasksRun++;
    const retire = data.recycleAfterTasks > 0 && tasksRun >= data.recycleAfterTasks;
    context = new TaskContext(token);
    try {
      const args = len === 0 ? EMPTY : ((header[3] === 1 ? decode(buffer, 0, len) : decode(worker.args(token), 0, undefined, true)) as unknown[]);
      const fn = taskFunction(header[1]);
      const result = typeof fn === 'function' ? fn(...args) : fn.then((f) => f(...args));
      if (isThenable(result)) {
        busy = true;
        settleLater(token, result, retire);
        return;
      }
      if (result !== undefined) {
        // A small result goes through a reused off-heap buffer (no typed
        // array per task, none for the binding to move off V8's heap).
        length = encodeInto(result, RESULT_SCRATCH);
        bytes = length > 0 ? RESULT_SCRATCH : encode(result);
      }
    } catch (err) {
      status = 1;
      bytes = thrownResult(err);
    }
    context.end();
    context = null;
    code = worker.complete(token, status, bytes, retire, bytes === RESULT_SCRATCH ? length : undefined);
  }
  if (code === 0) armIdle();
  else leave();
}

function settleLater(token: number, result: PromiseLike<unknown>, retire: boolean): void {
  Promise.resolve(result).then(
    (value) => {
      let status = 0;
      let bytes: Uint8Array | undefined;
      try {
        if (value !== undefined) bytes = encode(value);
      } catch (err) {
        status = 1;
        bytes = thrownResult(err);
      }
      finish(token, status, bytes, retire);
    },
    (err: unknown) => finish(token, 1, thrownResult(err), retire),
  );
}

function finish(token: number, status: number, bytes: Uint8Array | undefined, retire: boolean): void {
  context?.end();
  context = null;
  busy = false;
  drive(worker.complete(token, status, bytes, retire));
}

// A push (or a cancellation of the running task) woke this worker.
function onWake(): void {
  if (busy) {
    context?.poll();
    return;
  }
  if (idleTimer !== null) {
    clearTimeout(idleTimer);
    idleTimer = null;
  }
  drive(worker.take());
}

function armIdle(): void {
  if (data.idleTimeoutMs < 0 || idleTimer !== null) return;
  idleTimer = setTimeout(() => {
    idleTimer = null;
    if (busy) return;
    if (worker.retire(data.minThreads)) leave();
    else armIdle(); // needed (minThreads), or a push on its way: ask again later
  }, data.idleTimeoutMs);
}

// Leaves the pool: the loop ends once whatever the tasks left behind is
// done, or after terminateTimeoutMs.
function leave(): void {
  if (idleTimer !== null) clearTimeout(idleTimer);
  idleTimer = null;
  worker.detach();
  setTimeout(() => process.exit(0), data.terminateTimeoutMs).unref();
}

Object.defineProperty(globalThis, CURRENT_TASK, { value: () => context, configurable: true });
worker = new (binding().pool.JsTaskWorker)(data.poolId, data.workerId, onWake, data.spinUs);
if (worker.attached()) {
  worker.setBuffers(header, buffer);
  parentPort!.postMessage('ready');
  onWake();
}
