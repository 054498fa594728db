// The raw native bindings, typed, and how they are found. Only lib/ talks to
// them: every native call returns a value >= 0, or reports a failure as a
// negative errno (where one call can fail) or as a NativeFailure naming the
// call that failed (where several can), and never throws for bad input (lib/
// validates before calling).
//
// Three binaries (binding.gyp):
//   looplet           Node-API only: one build loads on every Node line.
//   looplet_greenlet  uses V8's C++ API, whose ABI changes with each Node
//                     major: a build is only good for the Node ABI
//                     (process.versions.modules) it was compiled for.
//   looplet_bench     the benchmarks' native floors (benchmarks/ loads it).
// Each is looked for in build/Release (a build from source; skipped when
// LOOPLET_PREBUILDS_ONLY is set), then in prebuilds/<platform>-<arch>/ under
// the names prebuildify gives: <name>.node for Node-API (no ABI tag: any
// Node), <name>.abi<N>.node for one Node ABI.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { codedError, type CodedError } from './errors';

/** A failed native call: its errno (negative, as in Node.js) and the call that failed. */
export interface NativeFailure {
  errno: number;
  syscall: string;
}

export interface NativePollerHandle {
  add(fd: number, events: number): number;
  mod(fd: number, events: number): number;
  del(fd: number): number;
  /** Stores (fd, events) pairs in the buffer given to setBuffer; returns the count or -errno. */
  wait(timeoutMs: number): number;
  setBuffer(buffer: Int32Array): void;
  fileno(): number;
  caps(): number;
  close(): void;
  /**
   * Starts delivering through the event loop: 0, or the failure (nothing is
   * left behind). onReady() means events may be pending; onReady(errno,
   * syscall) that waiting failed (the watch should stop).
   */
  watch(onReady: (errno?: number, syscall?: string) => void): 0 | NativeFailure;
  unwatch(): void;
  rearm(): void;
  ref(refed: boolean): void;
}

export interface NativeSys {
  socketpair(): [number, number] | NativeFailure;
  /** host: a numeric IPv4 or IPv6 address. */
  listen(host: string, port: number, backlog: number): number | NativeFailure;
  connect(host: string, port: number): number | NativeFailure;
  accept(fd: number): number | NativeFailure;
  localPort(fd: number): number | NativeFailure;
  dup2(oldFd: number, newFd: number): number | NativeFailure;
  close(fd: number): number | NativeFailure;
}

/** An address as the addon reports it (getsockname / getpeername / accept). */
export type NativeAddress =
  | { family: 'IPv4' | 'IPv6'; address: string; port: number }
  | { family: 'unix'; path: string }
  | { family: number };

/**
 * The syscalls of looplet/net (native/src/addon/net.cc). The hot calls
 * (recv, send, accept, shutdown, close, connectError) return a count, an fd
 * or 0, or a negative errno; the others their result or a NativeFailure.
 * Every fd made or adopted here is closed with the environment unless
 * closed first.
 */
export interface NativeNet {
  recv(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  send(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  accept(fd: number): number;
  /** host: a numeric IPv4 or IPv6 address. */
  listenTcp(host: string, port: number, backlog: number, reusePort: boolean): number | NativeFailure;
  /** path: a filesystem path, or "\0name" (Linux abstract namespace). */
  listenUnix(path: string, backlog: number): number | NativeFailure;
  /** [fd, pending]: pending while the connection is in progress (wait for writability, then connectError). */
  connectTcp(host: string, port: number): [number, boolean] | NativeFailure;
  connectUnix(path: string): [number, boolean] | NativeFailure;
  connectError(fd: number): number;
  socketpair(): [number, number] | NativeFailure;
  adopt(fd: number): number | NativeFailure;
  shutdown(fd: number, how: number): number;
  close(fd: number): number;
  address(fd: number, peer: boolean): NativeAddress | NativeFailure;
  /** fds made or adopted in this environment and not closed yet. */
  openCount(): number;
  /** SHUT_RD, SHUT_WR, SHUT_RDWR as this platform numbers them. */
  shutdownModes: { read: number; write: number; both: number };
}

/** Native tasks on a core lp_pool_t (native/src/addon/pool_native.cc). */
export interface NativeTaskPoolHandle {
  /**
   * completions: records of [token, status, result low 32 bits, high 32 bits, wait ns, run ns];
   * args: where submit() reads its numbers, [n0, n1, n2, offset, length] (see pool_native.cc).
   */
  setBuffer(completions: Float64Array, args: Float64Array): void;
  /** 0 or -errno (-EAGAIN: queue full, -ESHUTDOWN). */
  submit(token: number, kind: number, view?: ArrayBufferView): number;
  /**
   * count tasks of one kind under one lock: records[6i .. 6i + 6) = [token, n0, n1, n2, offset, length],
   * views[i] their buffers. How many were queued (from the first), or -errno when none was;
   * all: every one or none (-EAGAIN when maxQueue has room for fewer).
   */
  submitMany(kind: number, records: Float64Array, count: number, views: (ArrayBufferView | undefined)[] | undefined, all: boolean): number;
  /** 0: withdrawn (its completion reports -ECANCELED); -EBUSY: running; -ENOENT. */
  cancel(token: number): number;
  /** Whether the token's task has started on a thread. */
  running(token: number): boolean;
  /** Refuses new tasks; returns how many queued ones were cancelled (when asked). */
  shutdown(cancelPending: boolean): number;
  stats(): { submitted: number; completed: number; failed: number; cancelled: number; wakeups: number; queued: number; running: number; threads: number; idleThreads: number };
  /** Whether its completion handle keeps the loop alive while tasks are out (it refs and unrefs itself as they go and come). */
  ref(refed: boolean): void;
  /** Frees the pool: queued tasks are dropped, blocking ones end, the rest are waited for. */
  close(): void;
}

/** The owner's side of a JS task queue in process-global memory (native/src/addon/pool_js.cc). */
export interface JsTaskQueueHandle {
  id(): number;
  /** header: records of [token, status, offset, length, wait ns, run ns]; data: the results' bytes. */
  setBuffers(header: Float64Array, data: Uint8Array): void;
  defineTask(taskId: number, kind: number, a: string, b: string): void;
  /** 2 * queued + (1 when an idle worker was woken), or -EAGAIN / -ESHUTDOWN. */
  push(token: number, taskId: number, args: Uint8Array | undefined, length?: number): number;
  /** 0: withdrawn; -EBUSY: running (its worker is told, unless queuedOnly); -ENOENT. */
  cancel(token: number, queuedOnly?: boolean): number;
  /** 0 queued, 1 running, 2 neither. */
  state(token: number): number;
  /** Completions written to the buffers; their count. */
  drain(): number;
  /** A result too large for the data buffer (drain() gave offset -1). */
  result(token: number): Buffer;
  /** The token the worker was running (>= 0), -1 none, -2 it had retired, -3 it never attached. */
  workerGone(workerId: number): number;
  stop(): void;
  stats(): { queued: number; running: number; workers: number; idle: number; wakeups: number };
  ref(refed: boolean): void;
  close(): void;
}

/** A worker thread's side of a JS task queue. */
export interface JsTaskWorkerHandle {
  attached(): boolean;
  /** header: [token, task id, args length, args inline (1) or to fetch (0)]. */
  setBuffers(header: Float64Array, data: Uint8Array): void;
  /** 1: a task is in the buffers; 0: none (this worker is idle now); -1: leave. */
  take(): number;
  args(token: number): Buffer;
  /** Completes the task (status 0 value, 1 error) and takes the next (as take()); retire: leave instead. */
  /** length: how much of result to take (all of it when undefined). */
  complete(token: number, status: number, result: Uint8Array | undefined, retire?: boolean, length?: number): number;
  cancelled(token: number): boolean;
  task(taskId: number): [kind: number, a: string, b: string] | undefined;
  retire(minWorkers: number): boolean;
  detach(): void;
}

export interface NativePoolBinding {
  NativeTaskPool: new (
    minThreads: number,
    maxThreads: number,
    maxQueue: number,
    idleTimeoutMs: number,
    spinUs: number,
    stackSize: number,
    onComplete: (count: number) => void,
  ) => NativeTaskPoolHandle;
  /** spinUs > 0: the owner's loop spins that long for a completion before it blocks. */
  JsTaskQueue: new (maxQueue: number, onComplete: () => void, spinUs: number) => JsTaskQueueHandle;
  /** spinUs: how long take() spins for a push before the worker goes idle. */
  JsTaskWorker: new (poolId: number, workerId: number, onWake: () => void, spinUs: number) => JsTaskWorkerHandle;
  kinds: { noop: number; sleep: number; waitFd: number; pread: number; pwrite: number; hash: number };
}

export interface NativeBinding {
  NativePoller: new (backendId: number) => NativePollerHandle;
  /** Backend name -> id, for the backends this build and platform have. */
  backends: Record<string, number>;
  defaultBackend: string;
  sys: NativeSys;
  net: NativeNet;
  pool: NativePoolBinding;
  version: number;
}

export interface NativeGreenletRuntime {
  /** A greenlet with its thread, starting in async context `context` (from context()); its id or -errno. */
  create(stackSize: number, context: unknown): number;
  /** A wake reason (NativeGreenletBinding.wake) or -errno. */
  switchTo(id: number): number;
  /** Whether the greenlet has not finished natively (one ended from outside has). */
  alive(id: number): boolean;
  /** The current async context: V8's continuation-preserved embedder data (opaque). */
  context(): unknown;
  stats(): {
    threads: number;
    idleThreads: number;
    threadsCreated: number;
    yields: number;
    spins: number;
    spinTimeouts: number;
    sleeps: number;
    switches: number;
    futexHashSlots: number;
  };
  /** Sets (ns, when given) and returns the process-wide spin budget in ns. */
  spin(ns?: number): number;
  /** Sets (when given) and returns the idle timeout of pooled threads beyond the reserve, in ms. */
  idleTimeout(ms?: number): number;
  /** From now on, counter[0] counts the greenlets ended from outside (terminated), for cheap checks before alive(). */
  countEnded(counter: Int32Array): void;
}

export interface NativeGreenletBinding {
  createGreenletRuntime(trampoline: (id: number) => number): NativeGreenletRuntime;
  /** NODE_MODULE_VERSION of the headers it was built with. */
  nodeModuleVersion: number;
  /** The negative errno values switchTo() and create() return, as this platform numbers them. */
  errno: { ENOENT: number; EAGAIN: number; ESHUTDOWN: number };
  /** Wake reasons: switchTo() in the greenlet that gets control back. */
  wake: { RESUME: number; TERMINATE: number; NO_THREAD: number };
}

/** The package root: the nearest folder above this file with looplet's package.json. */
export function packageRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'looplet') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`looplet: cannot find the package root above ${from}`);
    dir = up;
  }
}

export type AddonName = 'looplet' | 'looplet_greenlet' | 'looplet_bench';

const PER_ABI: ReadonlySet<AddonName> = new Set(['looplet_greenlet']);

/** The files that may hold an addon, best first. */
export function addonCandidates(name: AddonName, root: string = packageRoot()): string[] {
  const files: string[] = [];
  if (!process.env.LOOPLET_PREBUILDS_ONLY) files.push(path.join(root, 'build', 'Release', `${name}.node`));
  const file = PER_ABI.has(name) ? `${name}.abi${process.versions.modules}.node` : `${name}.node`;
  files.push(path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, file));
  return files;
}

/**
 * Loads an addon from the first candidate that exists and suits this Node;
 * throws an Error with code ERR_LOOPLET_NATIVE_MISSING (and every reason
 * a candidate was passed over) when none does.
 */
export function loadAddon<T>(name: AddonName, root: string = packageRoot()): T {
  const rejected: string[] = [];
  for (const file of addonCandidates(name, root)) {
    if (!fs.existsSync(file)) continue;
    let addon: T & { nodeModuleVersion?: number };
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      addon = require(file);
    } catch (err) {
      rejected.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    if (PER_ABI.has(name) && addon.nodeModuleVersion !== Number(process.versions.modules)) {
      rejected.push(`${file}: built for Node ABI ${addon.nodeModuleVersion}, this is ${process.versions.modules}`);
      continue;
    }
    return addon;
  }
  throw missingAddon(name, root, rejected);
}

function missingAddon(name: AddonName, root: string, rejected: string[]): CodedError {
  const what = PER_ABI.has(name) ? `Node ${process.version} (ABI ${process.versions.modules})` : 'Node-API';
  const looked = addonCandidates(name, root).map((f) => `  ${f}`);
  const lines = [
    `looplet: no ${name} binary for ${what} on ${process.platform}-${process.arch}.`,
    'Looked for:',
    ...looked,
    ...(rejected.length ? ['Passed over:', ...rejected.map((r) => `  ${r}`)] : []),
    'Build it from source with `npm rebuild looplet` (needs a C++ compiler, make and Python 3).',
  ];
  return codedError(Error, 'ERR_LOOPLET_NATIVE_MISSING', lines.join('\n'));
}

let cached: NativeBinding | undefined;

/** The Node-API binding (poller, sys). */
export function binding(): NativeBinding {
  if (cached === undefined) cached = loadAddon<NativeBinding>('looplet');
  return cached;
}

let greenletCached: NativeGreenletBinding | undefined;

/** The greenlet runtime's binding, for this Node's ABI; loaded on first use. */
export function greenletBinding(): NativeGreenletBinding {
  if (greenletCached === undefined) greenletCached = loadAddon<NativeGreenletBinding>('looplet_greenlet');
  return greenletCached;
}
