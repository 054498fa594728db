// Errors with stable `code`s, in the style of Node.js core: argument errors
// are TypeError / RangeError, syscall failures carry code, errno, syscall.
import * as util from 'node:util';

export type ErrorCtor = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

export interface CodedError extends Error {
  code: string;
}

export interface SystemError extends CodedError {
  errno: number;
  syscall: string;
  fd?: number;
}

export function codedError(Ctor: ErrorCtor, code: string, message: string): CodedError {
  const err = new Ctor(message) as CodedError;
  err.code = code;
  Error.captureStackTrace?.(err, codedError);
  return err;
}

/** An error for a failed syscall; errno is negative, as in Node.js. */
export function systemError(errno: number, syscall: string, fd?: number): SystemError {
  const code = util.getSystemErrorName(errno);
  const description = util.getSystemErrorMap().get(errno)?.[1] ?? 'unknown error';
  const err = new Error(`${code}: ${description}, ${syscall}`) as SystemError;
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  if (fd !== undefined) err.fd = fd;
  Error.captureStackTrace?.(err, systemError);
  return err;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`;
  if (typeof value === 'string') return `type string (${JSON.stringify(value.length > 28 ? value.slice(0, 25) + '...' : value)})`;
  return `type ${typeof value} (${String(value)})`;
}

export function invalidArgType(name: string, expected: string, actual: unknown): CodedError {
  return codedError(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}. Received ${describe(actual)}`,
  );
}

export function outOfRange(name: string, range: string, actual: unknown): CodedError {
  return codedError(
    RangeError,
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${String(actual)}`,
  );
}
