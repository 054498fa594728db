// looplet/pool's errors: the cancelled future's outcome and the coded
// errors of the pool.
import { codedError, type CodedError } from '../errors';

/** A cancelled future's outcome: awaiting it, result() and exception() give this (code ERR_LOOPLET_POOL_CANCELLED). */
export class CancelledError extends Error {
  readonly code = 'ERR_LOOPLET_POOL_CANCELLED';
  constructor(message = 'The task was cancelled before it started', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CancelledError';
  }
}

export function shutdownError(): CodedError {
  return codedError(Error, 'ERR_LOOPLET_POOL_SHUTDOWN', 'The pool has been shut down: it takes no new tasks');
}

export function queueFullError(maxQueue: number): CodedError {
  return codedError(Error, 'ERR_LOOPLET_POOL_QUEUE_FULL', `The pool's queue is full (maxQueue ${maxQueue} tasks wait to start)`);
}

export interface WorkerExitedError extends CodedError {
  /** The worker's exit code. */
  exitCode: number;
}

export function workerExited(exitCode: number, cause: unknown, starting: boolean): WorkerExitedError {
  const what = starting ? 'A worker thread of the pool exited before it could take tasks' : 'The worker thread running this task exited';
  const reason = cause instanceof Error ? `: ${cause.message}` : '';
  const err = codedError(Error, 'ERR_LOOPLET_POOL_WORKER_EXITED', `${what} (exit code ${exitCode})${reason}`) as WorkerExitedError;
  err.exitCode = exitCode;
  if (cause !== undefined) Object.defineProperty(err, 'cause', { value: cause, configurable: true, writable: true });
  return err;
}
