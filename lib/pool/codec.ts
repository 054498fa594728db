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
import * as v8 from 'node:v8';

/** Serializes `value`; each ArrayBuffer in `transfer` is detached from the sender once its bytes are in the message. */
export function encode(value: unknown, transfer?: readonly ArrayBuffer[]): Buffer {
  const bytes = v8.serialize(value);
  if (transfer !== undefined && transfer.length > 0) structuredClone(transfer, { transfer: transfer as ArrayBuffer[] });
  return bytes;
}

export function decode(bytes: Uint8Array): unknown {
  return v8.deserialize(bytes);
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

/** The thrown value that encodeThrown() described. */
export function decodeThrown(bytes: Uint8Array): unknown {
  const r = v8.deserialize(bytes) as ErrorRecord | { $looplet_thrown: unknown };
  if (typeof r === 'object' && r !== null && '$looplet_thrown' in r) return r.$looplet_thrown;
  return fromRecord(r as ErrorRecord);
}
