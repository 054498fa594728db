// Shared by the looplet/pool suites: pools made through makePool() are shut
// down (cancelling what has not started) after the file's tests.
import { afterAll } from 'vitest';
import { ThreadPool, type ThreadPoolOptions } from '../lib/pool';

const pools: ThreadPool[] = [];

afterAll(async () => {
  await Promise.all(pools.splice(0).map((p) => p.shutdown({ cancelPending: true })));
});

/** A ThreadPool (maxThreads 2 unless given) that is shut down after the file's tests. */
export function makePool(options: ThreadPoolOptions = {}): ThreadPool {
  const pool = new ThreadPool({ maxThreads: 2, ...options });
  pools.push(pool);
  return pool;
}
