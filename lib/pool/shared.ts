// What lib/pool.ts and its worker script (worker.ts) agree on.

/** Task kinds in the pool's native task table. */
export const TASK_SOURCE = 0;
export const TASK_MODULE = 1;

/**
 * A global slot, not a module variable: the worker script and a task file
 * that imports looplet/pool may load two copies of the module (dist/ and a
 * package installed elsewhere); both find the running task here.
 */
export const CURRENT_TASK: unique symbol = Symbol.for('looplet.pool.currentTask') as never;

export interface TaskContextLike {
  /** Aborted when the task's pool cancels it while it runs; reading `signal.aborted` checks at once. */
  readonly signal: AbortSignal;
  /** Whether its pool asked to cancel it. */
  readonly cancelled: boolean;
}
