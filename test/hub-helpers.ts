// Shared by the hub suites (test/hub-*.test.ts), ports of gevent's
// src/gevent/tests/: an error class to throw on purpose, the delays gevent's
// tests use (scaled to ms), and installHubChecks(), which makes every test
// leave the hub idle and every file leave no greenlet thread busy, no timer
// and no fd behind.
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { runtimeStats } from '../lib/greenlet';
import { getHub } from '../lib/hub';
import { countFds, waitFor } from './helpers';

export { thrown, type ThrownError } from './helpers';

/** gevent.testing's ExpectedException: an error a test throws on purpose. */
export class ExpectedError extends Error {
  constructor(message = 'expected') {
    super(message);
    this.name = 'ExpectedError';
  }
}

/** gevent.testing.timing.SMALL_TICK (10 ms): a delay for orderings, never measured. */
export const SMALL = 10;
/** A wait that a test always ends by other means (a kill, a timeout, a set). */
export const FOREVER = 60_000;

/** Lets the event loop run `turns` full turns (timers, I/O, immediates). */
export async function turns(n = 2): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 0)).then(() => new Promise((resolve) => setImmediate(resolve)));
}

/**
 * Blocks the event loop's thread for ms, so that timers falling due
 * meanwhile all fire in the next timers phase, in the order of their
 * deadlines, before any greenlet they wake can resume.
 */
export function busyWait(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

/** Resolves after the hub's pending drain: the jobs spawned so far have run until they blocked. */
export function afterDrain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Timers keeping the event loop alive, at the least over a few turns:
 * vitest's own come and go with its messages to the main process, while a
 * timer left behind stays.
 */
async function activeTimers(): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 5; i++) {
    await turns(1);
    least = Math.min(least, process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length);
  }
  return least;
}

/** Greenlet threads running or suspended (not back in the pool). */
export function busyThreads(): number {
  const stats = runtimeStats();
  return stats.threads - stats.idleThreads;
}

/**
 * After each test: no more greenlets runnable or parked on the hub than
 * before it (every job the test started has ended; a leak fails that test
 * only). After the file: every greenlet thread is back in the
 * pool, and no timer or fd is left beyond those open before the first test.
 */
export function installHubChecks(): void {
  let fds = 0;
  let timers = 0;
  beforeAll(async () => {
    await turns();
    fds = countFds();
    timers = await activeTimers();
  });
  let before = { runnable: 0, parked: 0 };
  beforeEach(() => {
    const { runnable, parked } = getHub().stats();
    before = { runnable, parked };
  });
  afterEach(async () => {
    await turns();
    const { runnable, parked } = getHub().stats();
    expect({ runnable, parked }, 'greenlets the test left runnable or parked').toEqual(before);
  });
  afterAll(async () => {
    await waitFor(() => busyThreads() === 0, 10_000, 'every greenlet thread to go back to the pool');
    await turns();
    const left = { timers: await activeTimers(), fds: countFds() };
    expect(left.timers, 'timers left behind').toBeLessThanOrEqual(timers);
    expect(left.fds, 'fds left behind').toBeLessThanOrEqual(fds);
  });
}

/** Collects the process warnings of one code while a test runs. */
export function collectWarnings(code: string): { warnings: Error[]; stop(): void } {
  const warnings: Error[] = [];
  const listener = (warning: Error & { code?: string }) => {
    if (warning.code === code) warnings.push(warning);
  };
  process.on('warning', listener);
  return { warnings, stop: () => process.off('warning', listener) };
}
