// Poller: a readiness selector for any file descriptor, with the semantics of
// Python's `selectors` module and millisecond timeouts. The registration keys
// live here; the native side only knows fds and event masks.
import * as os from 'node:os';
import { binding, type NativePollerHandle } from './binding';
import { codedError, invalidArgType, outOfRange, systemError } from './errors';
import { setNativeAccessor } from './internal';

export const EVENT_READ = 1;
export const EVENT_WRITE = 2;
/** Registration flag: edge-triggered (epoll, kqueue). */
export const EDGE_TRIGGERED = 0x100;
/** Registration flag: report once, then stay disarmed until modify(). */
export const ONESHOT = 0x200;

const EVENT_MASK = EVENT_READ | EVENT_WRITE;
const FLAG_MASK = EDGE_TRIGGERED | ONESHOT;
const CAP_EDGE = 0x1;
const CAP_ONESHOT = 0x2;
const CAP_FILENO = 0x4;
const CAP_ANY_FD = 0x8;
const MAX_TIMEOUT_MS = 0x7fffffff;
const MIN_BUFFER_PAIRS = 64;

export type Backend = 'epoll' | 'kqueue' | 'poll' | 'select';

/** Anything with a file descriptor: a number, `{ fd }`, or `{ fileno() }`. */
export type FileLike = number | { readonly fd: number } | { fileno(): number };

export interface SelectorKey<T = unknown> {
  readonly fileobj: FileLike;
  readonly fd: number;
  /** The interest: EVENT_READ | EVENT_WRITE, plus EDGE_TRIGGERED / ONESHOT if given. */
  readonly events: number;
  readonly data: T | undefined;
}

export type ReadyList<T = unknown> = Array<[SelectorKey<T>, number]>;

export interface PollerOptions {
  /** Defaults to the best backend of the platform (epoll, then kqueue, then poll). */
  backend?: Backend;
}

export interface Capabilities {
  /** EDGE_TRIGGERED is honoured. */
  edgeTriggered: boolean;
  /** ONESHOT is honoured. */
  oneshot: boolean;
  /** fileno() returns a pollable fd. */
  fileno: boolean;
  /** Any fd can be registered (select is limited to fds below FD_SETSIZE). */
  anyFd: boolean;
}

export type WatchCallback<T = unknown> = (ready: ReadyList<T>) => void;

const SYSCALLS: Record<Backend, { ctl: string; wait: string }> = {
  epoll: { ctl: 'epoll_ctl', wait: 'epoll_wait' },
  kqueue: { ctl: 'kevent', wait: 'kevent' },
  poll: { ctl: 'poll', wait: 'poll' },
  select: { ctl: 'select', wait: 'select' },
};

// Native calls answer with negative errno values, numbered as this platform numbers them.
const ENOENT = -os.constants.errno.ENOENT;
const EEXIST = -os.constants.errno.EEXIST;
const ERANGE = -os.constants.errno.ERANGE;

/** Resolves a file-like argument to its fd, with Node.js-style errors. */
export function fileobjToFd(fileobj: unknown, name = 'fileobj'): number {
  let fd: unknown = fileobj;
  if (typeof fileobj === 'object' && fileobj !== null) {
    const obj = fileobj as { fd?: unknown; fileno?: unknown };
    if (typeof obj.fileno === 'function') fd = (obj.fileno as () => unknown)();
    else if ('fd' in obj) fd = obj.fd;
    else throw invalidArgType(name, 'a file descriptor (number) or an object with an fd property or fileno() method', fileobj);
  }
  if (typeof fd !== 'number') {
    throw invalidArgType(name, 'a file descriptor (number) or an object with an fd property or fileno() method', fileobj);
  }
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw outOfRange('fd', 'an integer >= 0 and <= 2147483647', fd);
  }
  return fd;
}

// A 32-bit unsigned integer, as the native side takes it: bit operations
// alone would look at the low 32 bits of a larger number.
function checkEvents(events: unknown): number {
  if (typeof events !== 'number') throw invalidArgType('events', 'of type number', events);
  if (events >>> 0 !== events || (events & EVENT_MASK) === 0 || (events & ~(EVENT_MASK | FLAG_MASK)) !== 0) {
    throw codedError(
      RangeError,
      'ERR_LOOPLET_INVALID_EVENTS',
      `Invalid events: ${events}. Use EVENT_READ and/or EVENT_WRITE, optionally with EDGE_TRIGGERED or ONESHOT`,
    );
  }
  return events;
}

/** Converts a selectors-style timeout (ms; undefined blocks, <= 0 polls) for the native wait. */
export function toNativeTimeout(timeoutMs: unknown): number {
  if (timeoutMs === undefined || timeoutMs === null) return -1;
  if (typeof timeoutMs !== 'number') throw invalidArgType('timeoutMs', 'of type number', timeoutMs);
  if (Number.isNaN(timeoutMs)) throw outOfRange('timeoutMs', 'a number (NaN given)', timeoutMs);
  if (timeoutMs <= 0) return 0;
  if (timeoutMs === Infinity) return -1;
  return Math.min(Math.ceil(timeoutMs), MAX_TIMEOUT_MS);
}

/** A read-only view of a poller's registrations, fd -> key. */
class KeyMap<T> implements ReadonlyMap<number, SelectorKey<T>> {
  readonly #map: Map<number, SelectorKey<T>>;
  constructor(map: Map<number, SelectorKey<T>>) {
    this.#map = map;
  }
  get size(): number {
    return this.#map.size;
  }
  get(fd: number): SelectorKey<T> | undefined {
    return this.#map.get(fd);
  }
  has(fd: number): boolean {
    return this.#map.has(fd);
  }
  keys(): MapIterator<number> {
    return this.#map.keys();
  }
  values(): MapIterator<SelectorKey<T>> {
    return this.#map.values();
  }
  entries(): MapIterator<[number, SelectorKey<T>]> {
    return this.#map.entries();
  }
  forEach(fn: (value: SelectorKey<T>, key: number, map: ReadonlyMap<number, SelectorKey<T>>) => void, thisArg?: unknown): void {
    for (const [fd, key] of this.#map) fn.call(thisArg, key, fd, this);
  }
  [Symbol.iterator](): MapIterator<[number, SelectorKey<T>]> {
    return this.#map.entries();
  }
  get [Symbol.toStringTag](): string {
    return 'KeyMap';
  }
}

export class Poller<T = unknown> {
  readonly backend: Backend;
  readonly capabilities: Readonly<Capabilities>;
  #native: NativePollerHandle | null;
  readonly #keys = new Map<number, SelectorKey<T>>();
  readonly #view = new KeyMap<T>(this.#keys);
  // The same keys indexed by fd, for select(): an array index instead of a
  // Map lookup per ready fd. Filled with undefined, never with holes, so it
  // stays a packed array.
  readonly #byFd: Array<SelectorKey<T> | undefined> = [];
  #buffer: Int32Array;
  #watchCallback: WatchCallback<T> | null = null;
  #rearmQueued = false;
  #refed = true;

  /** The backends this platform and build provide, best first. */
  static backends(): Backend[] {
    const available = binding().backends;
    return (['epoll', 'kqueue', 'poll', 'select'] as const).filter((b) => b in available);
  }

  constructor(options: PollerOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    const native = binding();
    const backend = options.backend ?? (native.defaultBackend as Backend);
    if (typeof backend !== 'string') throw invalidArgType('options.backend', 'of type string', backend);
    const id = Object.hasOwn(native.backends, backend) ? native.backends[backend] : undefined;
    if (id === undefined) {
      const known = ['epoll', 'kqueue', 'poll', 'select'].includes(backend);
      throw codedError(
        known ? Error : RangeError,
        known ? 'ERR_LOOPLET_BACKEND_UNAVAILABLE' : 'ERR_INVALID_ARG_VALUE',
        known
          ? `The ${backend} backend is not available on this platform (available: ${Poller.backends().join(', ')})`
          : `The "options.backend" must be one of 'epoll', 'kqueue', 'poll', 'select'. Received ${JSON.stringify(backend)}`,
      );
    }
    try {
      this.#native = new native.NativePoller(id);
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (typeof errno === 'number') throw systemError(errno, backend === 'epoll' ? 'epoll_create1' : backend);
      throw err;
    }
    this.backend = backend;
    const caps = this.#native.caps();
    this.capabilities = Object.freeze({
      edgeTriggered: (caps & CAP_EDGE) !== 0,
      oneshot: (caps & CAP_ONESHOT) !== 0,
      fileno: (caps & CAP_FILENO) !== 0,
      anyFd: (caps & CAP_ANY_FD) !== 0,
    });
    this.#buffer = new Int32Array(2 * MIN_BUFFER_PAIRS);
    this.#native.setBuffer(this.#buffer);
    setNativeAccessor(this, () => this.#native);
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#native === null;
  }

  /** The backend's own fd (epoll, kqueue), -1 for poll and select or once closed. */
  fileno(): number {
    return this.#native ? this.#native.fileno() : -1;
  }

  register(fileobj: FileLike, events: number, data?: T): SelectorKey<T> {
    this.#open();
    const fd = fileobjToFd(fileobj);
    const native = this.#open(); // fileno() may have closed the poller
    checkEvents(events);
    if (this.#keys.has(fd)) {
      throw codedError(Error, 'ERR_LOOPLET_ALREADY_REGISTERED', `fd ${fd} is already registered`);
    }
    this.#checkFlags(events);
    const rc = native.add(fd, events);
    if (rc < 0) throw this.#ctlError(rc, fd);
    const key: SelectorKey<T> = Object.freeze({ fileobj, fd, events, data });
    this.#keys.set(fd, key);
    this.#index(fd, key);
    if (this.#keys.size > this.#buffer.length / 2) {
      this.#buffer = new Int32Array(this.#buffer.length * 2);
      native.setBuffer(this.#buffer);
    }
    this.#changed();
    return key;
  }

  modify(fileobj: FileLike, events: number, data?: T): SelectorKey<T> {
    this.#open();
    const fd = this.#lookup(fileobj);
    const native = this.#open();
    checkEvents(events);
    const old = this.#known(fd);
    this.#checkFlags(events);
    // A data-only change makes no syscall, unless it re-arms a one-shot fd.
    if (events !== old.events || (events & ONESHOT) !== 0) {
      const rc = native.mod(fd, events);
      if (rc < 0) throw this.#ctlError(rc, fd);
      this.#changed();
    }
    const key: SelectorKey<T> = Object.freeze({ fileobj, fd, events, data });
    this.#keys.set(fd, key);
    this.#index(fd, key);
    return key;
  }

  /** Removes a registration; succeeds even if the fd was closed or its number reused since. */
  unregister(fileobj: FileLike): SelectorKey<T> {
    this.#open();
    const fd = this.#lookup(fileobj);
    const native = this.#open();
    const key = this.#known(fd);
    native.del(fd);
    this.#keys.delete(fd);
    this.#byFd[fd] = undefined;
    this.#changed();
    return key;
  }

  /**
   * Waits until at least one registered fd is ready or the timeout expires.
   * timeoutMs: undefined (or Infinity) blocks, <= 0 polls, else milliseconds
   * rounded up to a whole ms. Returns [key, readyEvents] pairs.
   * This blocks the JS thread; use watch() to be told through the event loop.
   */
  select(timeoutMs?: number): ReadyList<T> {
    const native = this.#open();
    const timeout = toNativeTimeout(timeoutMs);
    const n = native.wait(timeout);
    if (n < 0) throw systemError(n, SYSCALLS[this.backend].wait);
    const ready: ReadyList<T> = [];
    const buffer = this.#buffer;
    const byFd = this.#byFd;
    for (let i = 0; i < n; i++) {
      const key = byFd[buffer[2 * i]]!;
      ready.push([key, buffer[2 * i + 1] & key.events]);
    }
    return ready;
  }

  /**
   * select() into an array the caller keeps: `out` gets the ready pairs
   * (its own pair arrays are reused, new ones appended as needed, its length
   * set to the count) and the count is returned. Allocates nothing once
   * `out` has grown to the largest count seen, for loops that select often.
   */
  selectInto(out: ReadyList<T>, timeoutMs?: number): number {
    if (!Array.isArray(out)) throw invalidArgType('out', 'an instance of Array', out);
    const native = this.#open();
    const timeout = toNativeTimeout(timeoutMs);
    const n = native.wait(timeout);
    if (n < 0) throw systemError(n, SYSCALLS[this.backend].wait);
    const buffer = this.#buffer;
    const byFd = this.#byFd;
    for (let i = 0; i < n; i++) {
      const key = byFd[buffer[2 * i]]!;
      const events = buffer[2 * i + 1] & key.events;
      const pair = out[i];
      if (Array.isArray(pair) && pair.length === 2) {
        pair[0] = key;
        pair[1] = events;
      } else {
        out[i] = [key, events];
      }
    }
    out.length = n;
    return n;
  }

  #index(fd: number, key: SelectorKey<T>): void {
    const byFd = this.#byFd;
    while (byFd.length <= fd) byFd.push(undefined);
    byFd[fd] = key;
  }

  /** The key of a registered fd; throws ERR_LOOPLET_NOT_REGISTERED otherwise. */
  getKey(fileobj: FileLike): SelectorKey<T> {
    this.#open();
    const fd = this.#lookup(fileobj);
    this.#open();
    return this.#known(fd);
  }

  /** A read-only map fd -> key, live. */
  getMap(): ReadonlyMap<number, SelectorKey<T>> {
    return this.#view;
  }

  /**
   * Delivers ready events through the event loop, without blocking it:
   * callback(ready) runs whenever registered fds are ready (level-triggered:
   * again on every loop turn while they stay ready). epoll/kqueue use the
   * poller's fd; poll/select use a helper thread. Registrations may change
   * while watching. Keeps the process alive unless unref() was called.
   * If waiting fails (e.g. poll() refuses more fds than RLIMIT_NOFILE), the
   * watch stops and the error is thrown once from the event loop, as an
   * uncaught exception.
   */
  watch(callback: WatchCallback<T>): this {
    const native = this.#open();
    if (typeof callback !== 'function') throw invalidArgType('callback', 'of type function', callback);
    if (this.#watchCallback) throw codedError(Error, 'ERR_LOOPLET_ALREADY_WATCHING', 'This poller is already being watched; call unwatch() first');
    const result = native.watch((errno, syscall) => this.#onReady(errno, syscall));
    if (result !== 0) throw systemError(result.errno, result.syscall);
    this.#watchCallback = callback;
    return this;
  }

  /** Stops watch(); harmless when not watching. */
  unwatch(): this {
    this.#watchCallback = null;
    this.#native?.unwatch();
    return this;
  }

  get watching(): boolean {
    return this.#watchCallback !== null;
  }

  /** Lets the process exit while this poller is watched. */
  unref(): this {
    this.#refed = false;
    this.#native?.ref(false);
    return this;
  }

  ref(): this {
    this.#refed = true;
    this.#native?.ref(true);
    return this;
  }

  get refed(): boolean {
    return this.#refed;
  }

  /** Stops watching, closes the backend fd and forgets every registration. Idempotent. */
  close(): void {
    if (this.#native === null) return;
    this.#watchCallback = null;
    this.#native.close();
    this.#native = null;
    this.#keys.clear();
    this.#byFd.length = 0;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // A wait that failed would fail again at once: it is reported once and
  // the watch stops. An exception from the callback leaves the watch on.
  #onReady(errno?: number, syscall?: string): void {
    const callback = this.#watchCallback;
    if (callback === null || this.#native === null) return;
    let ready: ReadyList<T>;
    try {
      if (errno !== undefined) throw systemError(errno, syscall ?? SYSCALLS[this.backend].wait);
      ready = this.select(0);
    } catch (err) {
      this.unwatch();
      throw err;
    }
    try {
      if (ready.length > 0) callback(ready);
    } finally {
      this.#native?.rearm();
    }
  }

  #changed(): void {
    if (this.#watchCallback === null || this.capabilities.fileno || this.#rearmQueued) return;
    this.#rearmQueued = true;
    queueMicrotask(() => {
      this.#rearmQueued = false;
      if (this.#watchCallback !== null) this.#native?.rearm();
    });
  }

  #open(): NativePollerHandle {
    if (this.#native === null) throw codedError(Error, 'ERR_LOOPLET_POLLER_CLOSED', 'The poller is closed');
    return this.#native;
  }

  // The fd of a fileobj. A registered object whose fd is no longer valid
  // (a closed FileHandle's fd, a closed socket's fileno(), both -1) is found
  // by identity, as selectors' _fileobj_lookup does.
  #lookup(fileobj: FileLike): number {
    try {
      return fileobjToFd(fileobj);
    } catch (err) {
      if (typeof fileobj === 'object' && fileobj !== null) {
        for (const key of this.#keys.values()) if (key.fileobj === fileobj) return key.fd;
      }
      throw err;
    }
  }

  #known(fd: number): SelectorKey<T> {
    const key = this.#keys.get(fd);
    if (key === undefined) throw codedError(Error, 'ERR_LOOPLET_NOT_REGISTERED', `fd ${fd} is not registered`);
    return key;
  }

  #checkFlags(events: number): void {
    if ((events & EDGE_TRIGGERED) !== 0 && !this.capabilities.edgeTriggered) {
      throw codedError(RangeError, 'ERR_LOOPLET_UNSUPPORTED_FLAG', `The ${this.backend} backend does not support EDGE_TRIGGERED`);
    }
    if ((events & ONESHOT) !== 0 && !this.capabilities.oneshot) {
      throw codedError(RangeError, 'ERR_LOOPLET_UNSUPPORTED_FLAG', `The ${this.backend} backend does not support ONESHOT`);
    }
  }

  #ctlError(rc: number, fd: number): Error {
    if (rc === ERANGE && this.backend === 'select') {
      return codedError(
        RangeError,
        'ERR_LOOPLET_FD_SETSIZE',
        `fd ${fd} is not below FD_SETSIZE (1024): the select backend cannot watch it; use epoll, kqueue or poll`,
      );
    }
    if (rc === EEXIST) return codedError(Error, 'ERR_LOOPLET_ALREADY_REGISTERED', `fd ${fd} is already registered`);
    if (rc === ENOENT) return codedError(Error, 'ERR_LOOPLET_NOT_REGISTERED', `fd ${fd} is not registered`);
    return systemError(rc, SYSCALLS[this.backend].ctl, fd);
  }
}
