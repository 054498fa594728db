// How values cross between a ThreadPool's owner and its worker threads:
// V8's serialization (node:v8, the structured-clone format with Node's
// Buffer and typed-array support), as bytes in the native queues.
//
// Errors: V8 serializes an Error as its message and stack, with the class
// only for the built-in kinds and no `code`. A thrown error is therefore
// sent as a plain record (class name, name, message, stack, code, other own
// properties that clone, cause) and rebuilt as an instance of the same
// built-in class, or of a stand-in subclass of Error carrying the original
// class's name. Values that are not errors travel as they are.
//
// A fast path: what most tasks take and return (numbers, booleans, null,
// undefined, short ASCII strings; an argument list of them) is written by
// hand into a small Uint8Array. v8.serialize costs a Serializer object and an
// off-heap Buffer per call, v8.deserialize a Deserializer: microseconds and
// kilobytes of garbage per task, the largest share of a small task's cost
// and of the scavenges that delay the event loop under load. The two
// formats cannot be confused: V8's always starts with its version tag 0xFF,
// the fast one with 0x00.
import * as v8 from 'node:v8';

const FAST = 0x00;
const T_UNDEFINED = 1;
const T_NULL = 2;
const T_TRUE = 3;
const T_FALSE = 4;
const T_NUMBER = 5; // float64, little-endian
const T_STRING = 6; // length byte, then ASCII bytes
const T_ARRAY = 7; // count byte, then that many items (not arrays)
const MAX_STRING = 64;
const MAX_ITEMS = 32;

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes the fast format needs for `v`, or -1 when it does not cover it. */
function itemSize(v: unknown): number {
  switch (typeof v) {
    case 'undefined':
    case 'boolean':
      return 1;
    case 'number':
      return 9;
    case 'string': {
      if (v.length > MAX_STRING) return -1;
      for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0x7f) return -1;
      return 2 + v.length;
    }
    case 'object':
      return v === null ? 1 : -1;
    default:
      return -1;
  }
}

function writeItem(out: Uint8Array, o: number, v: unknown): number {
  switch (typeof v) {
    case 'undefined':
      out[o] = T_UNDEFINED;
      return o + 1;
    case 'boolean':
      out[o] = v ? T_TRUE : T_FALSE;
      return o + 1;
    case 'number':
      out[o] = T_NUMBER;
      f64[0] = v;
      for (let i = 0; i < 8; i++) out[o + 1 + i] = f64Bytes[littleEndian ? i : 7 - i];
      return o + 9;
    case 'string':
      out[o] = T_STRING;
      out[o + 1] = v.length;
      for (let i = 0; i < v.length; i++) out[o + 2 + i] = v.charCodeAt(i);
      return o + 2 + v.length;
    default:
      out[o] = T_NULL;
      return o + 1;
  }
}

/** [value, next offset] of the item at `o`. */
function readItem(b: Uint8Array, o: number): [unknown, number] {
  switch (b[o]) {
    case T_UNDEFINED:
      return [undefined, o + 1];
    case T_NULL:
      return [null, o + 1];
    case T_TRUE:
      return [true, o + 1];
    case T_FALSE:
      return [false, o + 1];
    case T_NUMBER:
      for (let i = 0; i < 8; i++) f64Bytes[littleEndian ? i : 7 - i] = b[o + 1 + i];
      return [f64[0], o + 9];
    case T_STRING: {
      const n = b[o + 1];
      let s = '';
      for (let i = 0; i < n; i++) s += String.fromCharCode(b[o + 2 + i]);
      return [s, o + 2 + n];
    }
    default:
      throw new Error(`looplet/pool: bad fast-format tag ${b[o]}`);
  }
}

/** The largest value the fast format writes, in bytes (see encodeInto). */
export const FAST_VALUE_MAX = 3 + MAX_STRING;

/**
 * Writes `value` in the fast format into out (FAST_VALUE_MAX bytes or more,
 * reused by the caller); its length, or -1 when it needs encode().
 */
export function encodeInto(value: unknown, out: Uint8Array): number {
  const size = itemSize(value);
  if (size < 0) return -1;
  out[0] = FAST;
  writeItem(out, 1, value);
  return 1 + size;
}

/** Serializes `value` (the fast format for a primitive it covers). */
export function encode(value: unknown): Uint8Array {
  const size = itemSize(value);
  if (size < 0) return v8.serialize(value);
  const out = new Uint8Array(1 + size);
  out[0] = FAST;
  writeItem(out, 1, value);
  return out;
}

/** The largest argument list the fast format writes, in bytes (see encodeArgsInto). */
export const FAST_ARGS_MAX = 3 + MAX_ITEMS * (2 + MAX_STRING);

/** Bytes of an argument list in the fast format, or -1 when it does not cover the list. */
function fastArgsSize(args: unknown[]): number {
  if (args.length > MAX_ITEMS) return -1;
  let size = 3;
  for (let i = 0; i < args.length; i++) {
    const n = itemSize(args[i]);
    if (n < 0) return -1;
    size += n;
  }
  return size;
}

function writeFastArgs(args: unknown[], out: Uint8Array): void {
  out[0] = FAST;
  out[1] = T_ARRAY;
  out[2] = args.length;
  let o = 3;
  for (let i = 0; i < args.length; i++) o = writeItem(out, o, args[i]);
}

/**
 * Writes an argument list in the fast format into out (FAST_ARGS_MAX bytes
 * or more, reused by the caller: no allocation per task); its length, or
 * -1 when the list needs encodeArgs().
 */
export function encodeArgsInto(args: unknown[], out: Uint8Array): number {
  const size = fastArgsSize(args);
  if (size > 0) writeFastArgs(args, out);
  return size;
}

/**
 * Serializes an argument list (an array the pool made from rest arguments:
 * dense, no other properties); each ArrayBuffer in `transfer` is detached from
 * the sender once its bytes are in the message.
 */
export function encodeArgs(args: unknown[], transfer?: readonly ArrayBuffer[]): Uint8Array {
  if (transfer === undefined || transfer.length === 0) {
    const size = fastArgsSize(args);
    if (size > 0) {
      const out = new Uint8Array(size);
      writeFastArgs(args, out);
      return out;
    }
  }
  const bytes = v8.serialize(args);
  if (transfer !== undefined && transfer.length > 0) structuredClone(transfer, { transfer: transfer as ArrayBuffer[] });
  return bytes;
}

/** A copy of bytes[offset, offset + length) (a Buffer's slice() would be a view). */
export function copyOf(bytes: Uint8Array, offset: number, length: number): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, offset, offset + length);
}

/**
 * The value encode() or encodeArgs() wrote into bytes[offset, offset + length).
 * v8.deserialize makes each Buffer and typed array in a value a view of the
 * bytes it reads, so the bytes are copied first unless `owned` says nothing
 * else will write them (the pool's shared buffers are rewritten by the next
 * task: a result or argument must not change under its holder).
 */
export function decode(bytes: Uint8Array, offset = 0, length = bytes.length - offset, owned = false): unknown {
  if (length > 0 && bytes[offset] === FAST) {
    if (bytes[offset + 1] !== T_ARRAY) return readItem(bytes, offset + 1)[0];
    const n = bytes[offset + 2];
    const out = new Array<unknown>(n);
    let o = offset + 3;
    for (let i = 0; i < n; i++) [out[i], o] = readItem(bytes, o);
    return out;
  }
  if (!owned) return v8.deserialize(copyOf(bytes, offset, length));
  return v8.deserialize(offset === 0 && length === bytes.length ? bytes : bytes.subarray(offset, offset + length));
}

interface ErrorRecord {
  $looplet_error: 1;
  className: string;
  /** The nearest built-in class in its prototype chain. */
  base: string;
  name: string;
  message: string;
  stack: string | undefined;
  props: Record<string, unknown>;
  cause?: unknown;
}

const BUILTIN: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

function builtinBase(err: Error): string {
  for (let p = Object.getPrototypeOf(err); p !== null; p = Object.getPrototypeOf(p)) {
    const name = p.constructor?.name;
    if (typeof name === 'string' && Object.hasOwn(BUILTIN, name) && BUILTIN[name].prototype === p) return name;
  }
  return 'Error';
}

function cloneable(value: unknown): boolean {
  try {
    v8.serialize(value);
    return true;
  } catch {
    return false;
  }
}

function toRecord(err: Error, depth: number): ErrorRecord {
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    if (key === 'stack' || key === 'message' || key === 'cause') continue;
    const value = (err as unknown as Record<string, unknown>)[key];
    if (cloneable(value)) props[key] = value;
  }
  const record: ErrorRecord = {
    $looplet_error: 1,
    className: typeof err.constructor?.name === 'string' && err.constructor.name !== '' ? err.constructor.name : 'Error',
    base: builtinBase(err),
    name: String(err.name),
    message: String(err.message),
    stack: typeof err.stack === 'string' ? err.stack : undefined,
    props,
  };
  if ('cause' in err) {
    const cause = err.cause;
    record.cause = cause instanceof Error && depth < 8 ? toRecord(cause, depth + 1) : cloneable(cause) ? cause : String(cause);
  }
  return record;
}

/** The bytes that describe a thrown value. */
export function encodeThrown(thrown: unknown): Buffer {
  if (thrown instanceof Error || (typeof thrown === 'object' && thrown !== null && 'stack' in thrown && 'message' in thrown)) {
    return v8.serialize(toRecord(thrown as Error, 0));
  }
  if (cloneable(thrown)) return v8.serialize({ $looplet_thrown: thrown });
  return v8.serialize({ $looplet_thrown: String(thrown) });
}

const standIns = new Map<string, ErrorConstructor>();

/** A subclass of the built-in `base` named `name`, the same one for every error of that class name. */
function standIn(name: string, base: string): ErrorConstructor {
  const key = `${base}:${name}`;
  let ctor = standIns.get(key);
  if (ctor === undefined) {
    const Base = BUILTIN[base] ?? Error;
    ctor = class extends Base {} as ErrorConstructor;
    Object.defineProperty(ctor, 'name', { value: name });
    standIns.set(key, ctor);
  }
  return ctor;
}

function fromRecord(r: ErrorRecord): Error {
  const Ctor = Object.hasOwn(BUILTIN, r.className) ? BUILTIN[r.className] : standIn(r.className, r.base);
  const err = Object.create(Ctor.prototype) as Error;
  Object.defineProperty(err, 'message', { value: r.message, writable: true, configurable: true, enumerable: false });
  if (err.name !== r.name) Object.defineProperty(err, 'name', { value: r.name, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(err, 'stack', { value: r.stack ?? `${r.name}: ${r.message}`, writable: true, configurable: true, enumerable: false });
  Object.assign(err, r.props);
  if ('cause' in r) {
    const c = r.cause as ErrorRecord | unknown;
    const cause = typeof c === 'object' && c !== null && (c as ErrorRecord).$looplet_error === 1 ? fromRecord(c as ErrorRecord) : c;
    Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
  }
  return err;
}

/** The thrown value that encodeThrown() described (bytes: its own, as decode()'s `owned`). */
export function decodeThrown(bytes: Uint8Array): unknown {
  const r = v8.deserialize(bytes) as ErrorRecord | { $looplet_thrown: unknown };
  if (typeof r === 'object' && r !== null && '$looplet_thrown' in r) return r.$looplet_thrown;
  return fromRecord(r as ErrorRecord);
}
