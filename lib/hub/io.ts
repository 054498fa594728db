// The hub's poller: readiness of fds for greenlets (looplet/net's sockets)
// and for event-loop callbacks (StreamServer's accept, makeStream()).
//
// One poller per JS thread, made on first use, watched through Node's own
// event loop (Poller#watch's mechanism: a uv_poll on the epoll fd). It is
// used through its native handle: a harvest fills one Int32Array with
// (fd, events) pairs and looks each fd up in an array, allocating nothing.
//
// Edge-triggered (epoll, kqueue): an fd is registered once, for both
// directions, when its entry is made, and never modified: a wait costs no
// syscall besides the one that failed with EAGAIN. That is safe because a
// waiter always tries its syscall first and parks only after EAGAIN, and a
// harvest only runs on the hub, never between a greenlet's try and its park:
// an edge that arrives while nobody waits was either before the try (which
// then saw the data) or is still queued in the kernel when the greenlet
// parks. Backends without edges (poll, select) register ONESHOT and re-arm
// the interest of the waiters at each park and after each report.
//
// A harvest wakes the greenlets parked on the ready fds and runs them at
// once (runWoken): each switches straight to the next when it parks again,
// so a batch of N ready sockets costs about N + 1 switches.
//
// Invariants
//   - entries[fd] is the live entry of fd, or undefined; an entry leaves the
//     array (and the poller) when closed, before its fd is closed.
//   - At most one greenlet waits per direction (reader, writer); a second
//     one is refused with ERR_LOOPLET_SOCKET_BUSY, as gevent does.
//   - `interested` counts the parked waiters and the callbacks set; while it
//     is above zero the watch keeps the event loop alive.
import { binding, type NativePollerHandle } from '../binding';
import { codedError, systemError, type CodedError } from '../errors';
import { TIMED_OUT, parkFor, runWoken, wakeWithError, wake, type Waiter } from './core';
import * as os from 'node:os';

export const IO_READ = 1;
export const IO_WRITE = 2;
const EDGE_TRIGGERED = 0x100;
const ONESHOT = 0x200;
const EAGAIN = -os.constants.errno.EAGAIN;
/** Pairs a harvest takes per wait; more ready fds are taken by further waits of the same harvest. */
const BATCH = 1024;
/** Waits per harvest; what is left is reported on the next turn of the event loop. */
const MAX_ROUNDS = 8;

/** One fd known to the hub's poller: who waits for it, and how. */
export class IoEntry {
  reader: Waiter | null = null;
  writer: Waiter | null = null;
  onReadable: (() => void) | null = null;
  onWritable: (() => void) | null = null;
  closed = false;
  /** ONESHOT mode: whether the fd is in the poller yet. */
  added = false;
  // Bound once per entry, so that a wait allocates only its Waiter.
  readonly parkRead = (waiter: Waiter): (() => void) => {
    this.reader = waiter;
    interest(1);
    if (!edge) arm(this);
    return this.#unparkRead;
  };
  readonly parkWrite = (waiter: Waiter): (() => void) => {
    this.writer = waiter;
    interest(1);
    if (!edge) arm(this);
    return this.#unparkWrite;
  };
  readonly #unparkRead = (): void => {
    this.reader = null;
    interest(-1);
  };
  readonly #unparkWrite = (): void => {
    this.writer = null;
    interest(-1);
  };
  constructor(readonly fd: number) {}
}

let native: NativePollerHandle | null = null;
let buffer: Int32Array;
let edge = true;
let backendName = '';
const entries: Array<IoEntry | undefined> = [];
let interested = 0;
let refed = false;

/** The backend of the hub's poller: the platform's default, or LOOPLET_HUB_BACKEND (for tests). */
function chooseBackend(): { name: string; id: number } {
  const b = binding();
  const name = process.env.LOOPLET_HUB_BACKEND || b.defaultBackend;
  const id = Object.hasOwn(b.backends, name) ? b.backends[name] : undefined;
  if (id === undefined) {
    throw codedError(Error, 'ERR_LOOPLET_BACKEND_UNAVAILABLE', `LOOPLET_HUB_BACKEND names no backend of this platform: ${JSON.stringify(name)}`);
  }
  return { name, id };
}

function poller(): NativePollerHandle {
  if (native !== null) return native;
  const { name, id } = chooseBackend();
  let handle: NativePollerHandle;
  try {
    handle = new (binding().NativePoller)(id);
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (typeof errno === 'number') throw systemError(errno, name === 'epoll' ? 'epoll_create1' : name);
    throw err;
  }
  edge = (handle.caps() & 0x1) !== 0;
  buffer = new Int32Array(2 * BATCH);
  handle.setBuffer(buffer);
  const result = handle.watch(onReady);
  if (result !== 0) {
    handle.close();
    throw systemError(result.errno, result.syscall);
  }
  handle.ref(false);
  backendName = name;
  native = handle;
  return handle;
}

function interest(delta: number): void {
  interested += delta;
  const want = interested > 0;
  if (want !== refed) {
    refed = want;
    native!.ref(want);
  }
}

let rearmQueued = false;

/**
 * ONESHOT mode: the poll / select backends are watched by a helper thread
 * that polls a snapshot of the interest set, refreshed by rearm(): one per
 * batch of changes (a microtask), and one after each harvest.
 */
function changed(): void {
  if (rearmQueued) return;
  rearmQueued = true;
  queueMicrotask(() => {
    rearmQueued = false;
    native?.rearm();
  });
}

/** ONESHOT mode: (re-)arms the fd for what its waiters and callbacks want. */
function arm(entry: IoEntry): void {
  const reading = (entry.reader !== null && entry.reader.active) || entry.onReadable !== null;
  const writing = (entry.writer !== null && entry.writer.active) || entry.onWritable !== null;
  const events = (reading ? IO_READ : 0) | (writing ? IO_WRITE : 0);
  if (events === 0 || entry.closed) return;
  const rc = entry.added ? native!.mod(entry.fd, events | ONESHOT) : native!.add(entry.fd, events | ONESHOT);
  if (rc < 0) throw systemError(rc, backendName === 'epoll' ? 'epoll_ctl' : backendName, entry.fd);
  entry.added = true;
  changed();
}

/**
 * Registers fd with the hub's poller; returns its entry. The fd must be
 * non-blocking. Throws a system error when the poller refuses it.
 */
export function ioRegister(fd: number): IoEntry {
  const handle = poller();
  const entry = new IoEntry(fd);
  if (edge) {
    const rc = handle.add(fd, IO_READ | IO_WRITE | EDGE_TRIGGERED);
    if (rc < 0) throw systemError(rc, backendName === 'epoll' ? 'epoll_ctl' : backendName, fd);
    entry.added = true;
  }
  while (entries.length <= fd) entries.push(undefined);
  entries[fd] = entry;
  return entry;
}

/**
 * Takes fd out of the hub's poller (call it before closing the fd): its
 * waiting greenlets are woken with `error`, its callbacks dropped. Idempotent.
 */
export function ioUnregister(entry: IoEntry, error: unknown): void {
  if (entry.closed) return;
  entry.closed = true;
  if (entry.reader !== null) wakeWithError(entry.reader, error);
  if (entry.writer !== null) wakeWithError(entry.writer, error);
  setCallback(entry, IO_READ, null);
  setCallback(entry, IO_WRITE, null);
  if (entry.added) {
    native!.del(entry.fd);
    if (!edge) changed();
  }
  entry.added = false;
  if (entries[entry.fd] === entry) entries[entry.fd] = undefined;
}

function busy(direction: number): CodedError {
  return codedError(
    Error,
    'ERR_LOOPLET_SOCKET_BUSY',
    `Another greenlet is already waiting to ${direction === IO_READ ? 'read from' : 'write to'} this socket`,
  );
}

/**
 * Parks the current greenlet until the fd may be ready for `direction`
 * (call it after the syscall failed with EAGAIN). Returns false when
 * timeoutMs passed first (undefined: no limit). Throws `closedError()` if
 * the entry is closed, before or while waiting.
 */
export function ioWait(entry: IoEntry, direction: number, timeoutMs: number | undefined, closedError: () => unknown): boolean {
  if (entry.closed) throw closedError();
  const reading = direction === IO_READ;
  if ((reading ? entry.reader : entry.writer) !== null) throw busy(direction);
  return parkFor(timeoutMs, reading ? entry.parkRead : entry.parkWrite) !== TIMED_OUT;
}

/**
 * Sets (or with null clears) the event-loop callback of an fd for one
 * direction: it runs on the hub each time the fd is reported ready that
 * way (edge-triggered: it must then work until EAGAIN). A callback keeps
 * the event loop alive.
 */
export function setCallback(entry: IoEntry, direction: number, callback: (() => void) | null): void {
  const reading = direction === IO_READ;
  const had = (reading ? entry.onReadable : entry.onWritable) !== null;
  if (callback !== null && entry.closed) return;
  if (reading) entry.onReadable = callback;
  else entry.onWritable = callback;
  const has = callback !== null;
  if (has !== had) interest(has ? 1 : -1);
  if (has && !edge) arm(entry);
}

function onReady(errno?: number, syscall?: string): void {
  if (errno !== undefined) {
    // The loop could not watch the poller (it failed once and would again):
    // every waiter gets the error, and the error is reported once.
    const error = systemError(errno, syscall ?? 'uv_poll');
    runWoken(() => {
      for (const entry of entries) {
        if (entry === undefined) continue;
        if (entry.reader !== null) wakeWithError(entry.reader, error);
        if (entry.writer !== null) wakeWithError(entry.writer, error);
      }
    });
    process.nextTick(() => {
      throw error;
    });
    return;
  }
  runWoken(harvest);
  if (!edge) changed();
}

function harvest(): void {
  const handle = native!;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const n = handle.wait(0);
    if (n < 0) {
      if (n === EAGAIN) continue; // only left-overs of closed fds: looked at again
      throw systemError(n, backendName === 'epoll' ? 'epoll_wait' : backendName);
    }
    for (let i = 0; i < n; i++) {
      const entry = entries[buffer[2 * i]];
      if (entry === undefined) continue;
      const events = buffer[2 * i + 1];
      if ((events & IO_READ) !== 0) {
        if (entry.reader !== null) wake(entry.reader, undefined);
        if (entry.onReadable !== null) call(entry.onReadable);
      }
      if ((events & IO_WRITE) !== 0) {
        if (entry.writer !== null) wake(entry.writer, undefined);
        if (entry.onWritable !== null) call(entry.onWritable);
      }
      if (!edge) rearm(entry);
    }
    if (n < BATCH) return;
  }
}

/** ONESHOT mode, after a report: arms the fd again for whoever still waits; a failure goes to them. */
function rearm(entry: IoEntry): void {
  try {
    arm(entry);
  } catch (err) {
    if (entry.reader !== null) wakeWithError(entry.reader, err);
    if (entry.writer !== null) wakeWithError(entry.writer, err);
  }
}

function call(callback: () => void): void {
  try {
    callback();
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}

/** Figures for tests and benchmarks: registered fds and pending interest. */
export function ioStats(): { backend: string; edgeTriggered: boolean; registered: number; interested: number } {
  let registered = 0;
  for (const e of entries) if (e !== undefined) registered++;
  return { backend: backendName, edgeTriggered: edge, registered, interested };
}
