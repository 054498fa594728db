// Time on the hub: gevent's src/gevent/tests/test__timeout.py and
// test__api_timeout.py (Timeout, nested timeouts, with_timeout), the nested
// with_timeout case of test__api.py, and sleep() and wait(promise), the
// bridge to async Node APIs. Orderings and outcomes only: no durations.
import { describe, expect, it } from 'vitest';
import { Greenlet } from '../lib/greenlet';
import { AsyncResult, Event, Job, Lock, Queue, Timeout, run, sleep, spawn, wait, withTimeout } from '../lib/hub';
import { ExpectedError, FOREVER, SMALL, afterDrain, busyWait, installHubChecks, thrown } from './hub-helpers';

installHubChecks();

describe('Timeout (test__timeout.py)', () => {
  it('is an Error with code ERR_LOOPLET_TIMEOUT, never pending when thrown directly (TestDirectRaise)', () => {
    const timeout = new Timeout();
    expect(thrown(() => {
      throw timeout;
    })).toBe(timeout);
    expect(timeout).toBeInstanceOf(Error);
    expect(timeout).toMatchObject({ name: 'Timeout', code: 'ERR_LOOPLET_TIMEOUT', pending: false, ms: undefined });
    expect(new Timeout(5)).toMatchObject({ ms: 5, message: 'Timed out after 5 ms', pending: false });
  });

  it('is thrown into the greenlet that started it, by identity, and can be started again (test_expires)', () =>
    run(() => {
      const timeout = new Timeout(1);
      expect(timeout.start()).toBe(timeout);
      expect(timeout.pending).toBe(true);
      expect(thrown(() => sleep(FOREVER))).toBe(timeout);
      expect(timeout.pending).toBe(false);
      timeout.start();
      expect(thrown(() => sleep(FOREVER))).toBe(timeout);
      expect(timeout.pending).toBe(false);
    }));

  it('with error false, is still thrown itself where the greenlet waits (test_expires_false)', () =>
    run(() => {
      const timeout = Timeout.startNew(1, false);
      expect(thrown(() => sleep(FOREVER))).toBe(timeout);
      expect(timeout.error).toBe(false);
    }));

  it('throws a custom error instead of itself (test__api_timeout.py test_api)', () =>
    run(() => {
      const error = new ExpectedError('Operation takes way too long');
      const timeout = Timeout.startNew(1, error);
      expect(thrown(() => sleep(FOREVER))).toBe(error);
      expect(timeout.pending).toBe(false);
    }));

  it('does nothing once cancelled (test_cancel), and cancel() is idempotent', () =>
    run(() => {
      const timeout = Timeout.startNew(1);
      timeout.cancel();
      timeout.cancel();
      sleep(3 * SMALL);
      expect(timeout.pending).toBe(false);
    }));

  it('is cancelled by Symbol.dispose when the scope ends first (test_api)', () =>
    run(() => {
      const timeout = new Timeout(2 * SMALL);
      timeout.start();
      try {
        expect(timeout.pending).toBe(true);
        sleep(1);
      } finally {
        timeout[Symbol.dispose]();
      }
      expect(timeout.pending).toBe(false);
      sleep(3 * SMALL);
    }));

  it('with no limit (undefined or Infinity), never expires and is never pending (test_api: Timeout(None))', () =>
    run(() => {
      for (const timeout of [Timeout.startNew(), Timeout.startNew(undefined), Timeout.startNew(Infinity)]) {
        expect(timeout.pending).toBe(false);
        expect(timeout.ms).toBeUndefined();
        sleep(1);
        timeout.cancel();
      }
    }));

  it('cannot be started while pending (ERR_LOOPLET_TIMEOUT_PENDING)', () =>
    run(() => {
      const timeout = Timeout.startNew(FOREVER);
      expect(thrown(() => timeout.start())).toMatchObject({ code: 'ERR_LOOPLET_TIMEOUT_PENDING' });
      timeout.cancel();
    }));

  it('cannot be started on the hub (ERR_LOOPLET_BLOCKING_ON_HUB), nor by withTimeout', () => {
    const timeout = new Timeout(FOREVER);
    expect(thrown(() => timeout.start())).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    expect(timeout.pending).toBe(false);
    expect(thrown(() => Timeout.startNew(FOREVER))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    expect(thrown(() => withTimeout(FOREVER, () => 1))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
  });

  it('is harmless when it expires after the greenlet that started it has ended', () =>
    run(() => {
      const starter = spawn(() => {
        Timeout.startNew(1);
        return 'ended';
      });
      const bystander = spawn(() => {
        sleep(3 * SMALL);
        return 'undisturbed';
      });
      expect([starter.get(), bystander.get()]).toEqual(['ended', 'undisturbed']);
    }));

  it('checks its arguments', () => {
    expect(thrown(() => new Timeout(-1))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => new Timeout(NaN))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => new Timeout('5' as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });
});

describe('nested timeouts (test__api_timeout.py test_nested_timeout, test__api.py test_nested_with_timeout)', () => {
  it('throws the outer Timeout when it expires first; the inner one stays pending', () =>
    run(() => {
      const t1 = Timeout.startNew(1);
      const t2 = Timeout.startNew(FOREVER);
      try {
        expect(thrown(() => sleep(FOREVER))).toBe(t1);
        expect(t1.pending).toBe(false);
        expect(t2.pending).toBe(true);
      } finally {
        t2.cancel();
        t1.cancel();
      }
      expect(t2.pending).toBe(false);
    }));

  it('throws the inner Timeout when it expires first; the outer one stays pending', () =>
    run(() => {
      const t1 = Timeout.startNew(FOREVER);
      const t2 = Timeout.startNew(1);
      try {
        expect(thrown(() => sleep(FOREVER))).toBe(t2);
        expect(t1.pending).toBe(true);
        expect(t2.pending).toBe(false);
      } finally {
        t1.cancel();
      }
    }));

  it('gives the default of the scope whose limit expired (two silent scopes)', () =>
    run(() => {
      const result = withTimeout(SMALL, () => withTimeout(FOREVER, () => sleep(FOREVER), { default: 'inner' }), { default: 'outer' });
      expect(result).toBe('outer');
      const inner = withTimeout(FOREVER, () => withTimeout(1, () => sleep(FOREVER), { default: 'inner' }), { default: 'outer' });
      expect(inner).toBe('inner');
    }));

  it("lets an outer limit through an inner withTimeout's default (test_nested_with_timeout)", () =>
    run(() => {
      const err = thrown(() => withTimeout(SMALL, () => withTimeout(FOREVER, () => sleep(FOREVER), { default: 1 })));
      expect(err).toBeInstanceOf(Timeout);
      expect((err as Timeout).ms).toBe(SMALL);
      const outer = Timeout.startNew(1);
      expect(thrown(() => withTimeout(FOREVER, () => sleep(FOREVER), { default: 'x' }))).toBe(outer);
    }));

  // The wait's own timer falls due first and wakes it with "timed out"; the
  // outer Timeout falls due before the greenlet has resumed. The event loop
  // is held busy so that both fire in the same timers phase, in the order of
  // their deadlines (each timer's start is read when it is made: the limits
  // differ by far more than the time between the two).
  const waits: Array<[string, (ms: number) => unknown]> = [
    ['Event#wait', (ms) => new Event().wait(ms)],
    ['AsyncResult#get', (ms) => new AsyncResult().get({ timeoutMs: ms })],
    ['Queue#get', (ms) => new Queue().get({ timeoutMs: ms })],
    ['Queue#put (full)', (ms) => {
      const q = new Queue(1);
      q.put(1);
      q.put(2, { timeoutMs: ms });
    }],
    ['Lock#acquire', (ms) => {
      const lock = new Lock();
      lock.acquire();
      return lock.acquire({ timeoutMs: ms });
    }],
    ['Job#join', (ms) => new Job(() => 1).join(ms)],
    ['wait(promise)', (ms) => wait(new Promise(() => {}), { timeoutMs: ms })],
  ];

  it.each(waits)("%s: an inner wait's own time limit never hides an outer Timeout that expired before the greenlet resumed", async (_, waitFor) => {
    let outer: Timeout | undefined;
    const job = spawn(() => {
      outer = Timeout.startNew(SMALL);
      try {
        return { returned: waitFor(1) };
      } catch (err) {
        return { threw: err === outer ? 'the outer Timeout' : err };
      }
    });
    await afterDrain();
    busyWait(3 * SMALL);
    expect(await job).toEqual({ threw: 'the outer Timeout' });
  });

  it.each(waits)('%s: an outer Timeout that expires first is thrown, not the wait\'s own time limit', async (_, waitFor) => {
    let outer: Timeout | undefined;
    const job = spawn(() => {
      outer = Timeout.startNew(1);
      try {
        return { returned: waitFor(SMALL) };
      } catch (err) {
        return { threw: err === outer ? 'the outer Timeout' : err };
      }
    });
    await afterDrain();
    busyWait(3 * SMALL);
    expect(await job).toEqual({ threw: 'the outer Timeout' });
  });
});

describe('withTimeout (test__timeout.py test_with_timeout)', () => {
  it('throws the Timeout when the limit expires first, or returns the default', () =>
    run(() => {
      const err = thrown(() => withTimeout(1, () => sleep(FOREVER)));
      expect(err).toMatchObject({ name: 'Timeout', code: 'ERR_LOOPLET_TIMEOUT', ms: 1 });
      const X = {};
      expect(withTimeout(1, () => sleep(FOREVER), { default: X })).toBe(X);
      expect(withTimeout(1, () => sleep(FOREVER), { default: undefined })).toBeUndefined();
    }));

  it("returns fn's result when fn finishes first, and cancels its limit", () =>
    run(() => {
      expect(withTimeout(FOREVER, () => 'done', { default: 'late' })).toBe('done');
      expect(withTimeout(3 * SMALL, () => {
        sleep(1);
        return 'slept';
      })).toBe('slept');
      sleep(4 * SMALL);
    }));

  it("lets fn's own error through", () =>
    run(() => {
      const err = new ExpectedError();
      expect(thrown(() => withTimeout(FOREVER, () => {
        throw err;
      }, { default: 1 }))).toBe(err);
    }));

  it('checks its arguments', () =>
    run(() => {
      expect(thrown(() => withTimeout(1, 'fn' as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => withTimeout(1, () => 1, null as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => withTimeout(-1, () => 1))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    }));
});

describe('sleep', () => {
  it('sleep(0) lets every other runnable greenlet run first', () =>
    run(() => {
      const order: string[] = [];
      spawn(() => order.push('b'));
      spawn(() => order.push('c'));
      order.push('a');
      sleep(0);
      order.push('a again');
      expect(order).toEqual(['a', 'b', 'c', 'a again']);
    }));

  it('sleep(0) lets the event loop have a turn first', () =>
    run(() => {
      const order: string[] = [];
      setImmediate(() => order.push('immediate'));
      sleep(0);
      order.push('resumed');
      expect(order).toEqual(['immediate', 'resumed']);
    }));

  it('wakes sleepers in the order of their delays (gevent seed 000: spawn / joinall)', () =>
    run(() => {
      const order: number[] = [];
      const jobs = [3, 1, 2].map((n) =>
        spawn(() => {
          sleep(n * SMALL);
          order.push(n);
        }),
      );
      for (const job of jobs) job.join();
      expect(order).toEqual([1, 2, 3]);
    }));

  it('works in a plain Greenlet too: any greenlet but the hub can block', async () => {
    const done = new Promise((resolve) => {
      new Greenlet(() => {
        sleep(1);
        resolve('slept in a greenlet');
      }).switch();
    });
    expect(await done).toBe('slept in a greenlet');
  });

  it('throws ERR_LOOPLET_BLOCKING_ON_HUB on the hub, naming spawn() and run()', () => {
    for (const ms of [0, 1]) {
      const err = thrown(() => sleep(ms));
      expect(err.code).toBe('ERR_LOOPLET_BLOCKING_ON_HUB');
      expect(err.message).toMatch(/^sleep\(\) would block the event loop's thread \(the hub\); call it inside a greenlet started with spawn\(\) or run\(\)$/);
    }
  });

  it('checks its argument', () =>
    run(() => {
      expect(thrown(() => sleep(-1))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => sleep(Infinity))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      // Longer than a Node timer takes (setTimeout would fire it after 1 ms).
      expect(thrown(() => sleep(2 ** 31))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => new Timeout(2 ** 31))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => sleep('1' as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => sleep(null as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    }));
});

describe('wait(promise)', () => {
  it('returns what the promise resolves to, and throws its rejection by identity', () =>
    run(() => {
      expect(wait(Promise.resolve(42))).toBe(42);
      expect(wait(new Promise((resolve) => setTimeout(() => resolve('later'), 1)))).toBe('later');
      const err = new ExpectedError();
      expect(thrown(() => wait(Promise.reject(err)))).toBe(err);
    }));

  it('takes any thenable, and returns a value that is not one as it is (also on the hub)', () =>
    run(() => {
      const thenable = {
        then(resolve: (v: string) => void) {
          setImmediate(() => resolve('thenable'));
        },
      };
      expect(wait(thenable as unknown as PromiseLike<string>)).toBe('thenable');
      expect(wait(7)).toBe(7);
    }).then(() => {
      expect(wait('plain')).toBe('plain');
      expect(wait(null)).toBe(null);
    }));

  it('throws a Timeout after timeoutMs; a rejection that comes later is handled, not unhandled', () =>
    run(() => {
      let reject!: (err: unknown) => void;
      const promise = new Promise((_, r) => (reject = r));
      const err = thrown(() => wait(promise, { timeoutMs: 1 }));
      expect(err).toMatchObject({ name: 'Timeout', code: 'ERR_LOOPLET_TIMEOUT', ms: 1 });
      reject(new ExpectedError('too late'));
      sleep(1);
    }));

  it('waits for many promises at once, each in its own job', () =>
    run(() => {
      const jobs = Array.from({ length: 50 }, (_, i) => spawn(() => wait(new Promise((resolve) => setTimeout(() => resolve(i * 2), i % 5)))));
      expect(jobs.map((j) => j.get())).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
    }));

  it('throws ERR_LOOPLET_BLOCKING_ON_HUB on the hub for a thenable', () => {
    expect(thrown(() => wait(Promise.resolve(1)))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
  });

  it('checks its options', () => {
    expect(thrown(() => wait(Promise.resolve(1), null as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => wait(Promise.resolve(1), { timeoutMs: -1 }))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => wait(Promise.resolve(1), { timeoutMs: '1' as never }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });
});
