// Native tasks: built-in work that runs on the core pool's threads with no
// isolate (native/src/addon/pool_native.cc). This file validates their
// arguments into the numbers the binding reads and turns their statuses
// into results and errors.
import * as os from 'node:os';
import { codedError, invalidArgType, outOfRange, systemError } from '../errors';
import { checkMs } from '../hub/timeout';
import { CancelledError } from './errors';

export const NATIVE = Symbol('looplet.pool.native');

/** A built-in task that runs on the core pool's threads, with no isolate (see `native`). */
export interface NativeTask<A extends unknown[] = unknown[], R = unknown> {
  readonly [NATIVE]: keyof typeof NATIVE_KINDS;
  readonly name: string;
  /** Types only: the arguments and the result. */
  readonly __signature?: (...args: A) => R;
}

export const NATIVE_KINDS = { noop: 0, sleep: 1, waitFd: 2, pread: 3, pwrite: 4, hash: 5 } as const;

function nativeTask<A extends unknown[], R>(name: keyof typeof NATIVE_KINDS): NativeTask<A, R> {
  return Object.freeze({ [NATIVE]: name, name: `native.${name}` }) as NativeTask<A, R>;
}

/**
 * The built-in native tasks, for submit(), map() and runInExecutor():
 *   noop()                                          nothing (the pool's own overhead)
 *   sleep(ms)                                       blocks a pool thread for ms
 *   waitFd(fd, events, timeoutMs?)                  waits until fd is ready for EVENT_READ / EVENT_WRITE;
 *                                                   the ready events, 0 on timeout
 *   pread(fd, buffer, offset?, length?, position?)  reads at position (default 0); bytes read
 *   pwrite(fd, buffer, offset?, length?, position?) writes at position; bytes written
 *   hash(data, rounds?)                             FNV-1a 64 over data, `rounds` times chained (CPU-bound); a bigint
 */
export const native = Object.freeze({
  noop: nativeTask<[], void>('noop'),
  sleep: nativeTask<[ms: number], void>('sleep'),
  waitFd: nativeTask<[fd: number, events: number, timeoutMs?: number], number>('waitFd'),
  pread: nativeTask<[fd: number, buffer: ArrayBufferView, offset?: number, length?: number, position?: number], number>('pread'),
  pwrite: nativeTask<[fd: number, buffer: ArrayBufferView, offset?: number, length?: number, position?: number], number>('pwrite'),
  hash: nativeTask<[data: ArrayBufferView, rounds?: number], bigint>('hash'),
});

export function isNativeTask(task: unknown): task is NativeTask {
  return typeof task === 'object' && task !== null && NATIVE in task;
}

export const MAX_INT32 = 2 ** 31 - 1;

export function checkInt(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  return value;
}

/**
 * Validates a native task's arguments into out ([n0, n1, n2, offset,
 * length], what the binding's submit() reads); returns the buffer view, if
 * the task has one.
 */
export function nativeArgs(kind: keyof typeof NATIVE_KINDS, args: unknown[], out: Float64Array): ArrayBufferView | undefined {
  const view = (name: string, v: unknown): ArrayBufferView => {
    if (!ArrayBuffer.isView(v)) throw invalidArgType(name, 'an instance of Buffer, TypedArray or DataView', v);
    return v;
  };
  const range = (v: ArrayBufferView, offsetArg: unknown, lengthArg: unknown): void => {
    const offset = offsetArg === undefined ? 0 : checkInt('offset', offsetArg, 0, v.byteLength);
    out[3] = offset;
    out[4] = lengthArg === undefined ? v.byteLength - offset : checkInt('length', lengthArg, 0, v.byteLength - offset);
  };
  switch (kind) {
    case 'noop':
      return undefined;
    case 'sleep': {
      const ms = checkMs('ms', args[0], false)!;
      out[0] = Math.ceil(ms);
      return undefined;
    }
    case 'waitFd': {
      const fd = checkInt('fd', args[0], 0, MAX_INT32);
      const events = args[1];
      if (typeof events !== 'number') throw invalidArgType('events', 'of type number', events);
      if (events !== 1 && events !== 2 && events !== 3) {
        throw codedError(RangeError, 'ERR_LOOPLET_INVALID_EVENTS', `events must be EVENT_READ, EVENT_WRITE or both; received ${String(events)}`);
      }
      const ms = checkMs('timeoutMs', args[2], true);
      out[0] = fd;
      out[1] = events;
      out[2] = ms === undefined ? -1 : Math.ceil(ms);
      return undefined;
    }
    case 'pread':
    case 'pwrite': {
      out[0] = checkInt('fd', args[0], 0, MAX_INT32);
      const v = view('buffer', args[1]);
      range(v, args[2], args[3]);
      out[1] = args[4] === undefined || args[4] === null ? 0 : checkInt('position', args[4], 0, Number.MAX_SAFE_INTEGER);
      return v;
    }
    case 'hash': {
      const v = view('data', args[0]);
      out[0] = args[1] === undefined ? 1 : checkInt('rounds', args[1], 1, 2 ** 32 - 1);
      out[3] = 0;
      out[4] = v.byteLength;
      return v;
    }
  }
}

/** A native task's outcome; a task with no value shares one (read only). */
export interface NativeOutcome {
  readonly ok: boolean;
  readonly value: unknown;
}
const NO_VALUE: NativeOutcome = Object.freeze({ ok: true, value: undefined });

export function nativeResult(kind: keyof typeof NATIVE_KINDS, status: number, lo: number, hi: number, fd: number): NativeOutcome {
  if (status === -ECANCELED()) return { ok: false, value: new CancelledError('The pool closed while the task ran') };
  if (status < 0) {
    const syscall = kind === 'waitFd' ? 'poll' : kind === 'sleep' ? 'poll' : kind;
    return { ok: false, value: systemError(status, syscall, kind === 'pread' || kind === 'pwrite' || kind === 'waitFd' ? fd : undefined) };
  }
  switch (kind) {
    case 'hash':
      return { ok: true, value: (BigInt(hi) << 32n) | BigInt(lo) };
    case 'waitFd':
    case 'pread':
    case 'pwrite':
      return { ok: true, value: status };
    default:
      return NO_VALUE;
  }
}

let ECANCELED_ = 0;
export function ECANCELED(): number {
  if (ECANCELED_ === 0) ECANCELED_ = -(os.constants.errno.ECANCELED as number);
  return ECANCELED_;
}
let EAGAIN_ = 0;
export function EAGAIN(): number {
  if (EAGAIN_ === 0) EAGAIN_ = -(os.constants.errno.EAGAIN as number);
  return EAGAIN_;
}
