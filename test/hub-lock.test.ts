// Semaphores and locks: gevent's src/gevent/tests/test__semaphore.py ported
// to Semaphore, BoundedSemaphore, Lock and RLock on looplet's hub: time
// limits, FIFO fairness, over-release, permits that interrupts must not lose.
import { describe, expect, it } from 'vitest';
import { GreenletExit } from '../lib/greenlet';
import { BoundedSemaphore, Lock, RLock, Semaphore, Timeout, joinall, run, sleep, spawn } from '../lib/hub';
import { ExpectedError, FOREVER, SMALL, afterDrain, busyWait, installHubChecks, thrown } from './hub-helpers';

installHubChecks();

const kinds: Array<[string, () => Semaphore]> = [
  ['Semaphore(1)', () => new Semaphore(1)],
  ['BoundedSemaphore(1)', () => new BoundedSemaphore(1)],
  ['Lock', () => new Lock()],
];

describe.each(kinds)('%s (test__semaphore.py TestSemaphore, TestSemaphoreFair)', (_, make) => {
  it('acquire({ timeoutMs }) returns false when no permit frees in time (test_acquire_returns_false_after_timeout)', () =>
    run(() => {
      const sem = make();
      expect(sem.acquire()).toBe(true);
      expect(sem.locked()).toBe(true);
      expect(sem.acquire({ timeoutMs: 1 })).toBe(false);
      expect(sem.acquire({ timeoutMs: 0 })).toBe(false);
      expect(sem.acquire({ blocking: false })).toBe(false);
      sem.release();
      expect(sem.locked()).toBe(false);
      expect(sem.acquire({ blocking: false })).toBe(true);
      sem.release();
    }));

  it('release() wakes the greenlet that has waited longest', () =>
    run(() => {
      const sem = make();
      sem.acquire();
      const order: number[] = [];
      const waiters = [0, 1, 2].map((i) =>
        spawn(() => {
          sem.acquire();
          order.push(i);
          sem.release();
        }),
      );
      sleep(0);
      expect(order).toEqual([]);
      sem.release();
      joinall(waiters);
      expect(order).toEqual([0, 1, 2]);
      expect(sem.locked()).toBe(false);
      expect(sem.counter).toBe(1);
    }));

  it('is FIFO-fair: a greenlet that releases and acquires again goes behind those waiting (test_fair_or_hangs)', () =>
    run(() => {
      const sem = make();
      const order: string[] = [];
      const worker = (name: string) => () => {
        for (let i = 0; i < 3; i++) {
          sem.acquire();
          order.push(name);
          sleep(0);
          sem.release();
        }
      };
      joinall([spawn(worker('a')), spawn(worker('b')), spawn(worker('c'))]);
      expect(order.join('')).toBe('abcabcabc');
    }));

  it('hands a released permit to a waiter, not to the releaser acquiring again without yielding', () =>
    run(() => {
      const sem = make();
      sem.acquire();
      const waiter = spawn(() => sem.acquire());
      sleep(0);
      sem.release();
      expect(sem.acquire({ blocking: false })).toBe(false);
      expect(waiter.get()).toBe(true);
      sem.release();
    }));

  it('release() from an event-loop callback wakes a waiter', () =>
    run(() => {
      const sem = make();
      sem.acquire();
      const waiter = spawn(() => sem.acquire());
      sleep(0);
      setImmediate(() => sem.release());
      expect(waiter.get()).toBe(true);
      expect(sem.locked()).toBe(true);
      sem.release();
    }));

  it('acquire() lets an outer Timeout through, by identity', () =>
    run(() => {
      const sem = make();
      sem.acquire();
      const timeout = Timeout.startNew(1);
      expect(thrown(() => sem.acquire({ timeoutMs: FOREVER }))).toBe(timeout);
      const error = new ExpectedError();
      Timeout.startNew(1, error);
      expect(thrown(() => sem.acquire())).toBe(error);
      sem.release();
      expect(sem.counter).toBe(1);
    }));

  it('a permit handed to a waiter killed before it resumed goes to the next waiter', () =>
    run(() => {
      const sem = make();
      sem.acquire();
      const first = spawn(() => sem.acquire());
      const second = spawn(() => {
        sem.acquire();
        return 'second has it';
      });
      sleep(0);
      setImmediate(() => {
        sem.release();
        first.kill({ block: false });
      });
      expect(second.get()).toBe('second has it');
      expect(first.get()).toBeInstanceOf(GreenletExit);
      expect(sem.locked()).toBe(true);
      sem.release();
      expect(sem.counter).toBe(1);
    }));

  it('a permit handed to a waiter killed before it resumed comes back when nobody else waits', () =>
    run(() => {
      const sem = make();
      sem.acquire();
      const only = spawn(() => sem.acquire());
      sleep(0);
      setImmediate(() => {
        sem.release();
        only.kill({ block: false });
      });
      only.join();
      expect(sem.counter).toBe(1);
      expect(sem.acquire({ blocking: false })).toBe(true);
      sem.release();
    }));

  it('a permit handed to a waiter whose Timeout expires before it resumed is not lost', async () => {
    const sem = make();
    // The release's timer falls due first; the Timeout's before the waiter
    // can resume (the event loop is held busy until both are due).
    const waiter = spawn(() => {
      sem.acquire();
      setTimeout(() => sem.release(), 1);
      const timeout = Timeout.startNew(SMALL);
      try {
        return sem.acquire();
      } catch (err) {
        return err === timeout ? 'timed out' : err;
      }
    });
    await afterDrain();
    busyWait(3 * SMALL);
    expect(await waiter).toBe('timed out');
    expect(sem.counter).toBe(1);
  });

  it('throws ERR_LOOPLET_BLOCKING_ON_HUB from acquire() on the hub only when it would wait', () => {
    const sem = make();
    expect(sem.acquire()).toBe(true);
    expect(sem.acquire({ blocking: false })).toBe(false);
    const err = thrown(() => sem.acquire());
    expect(err.code).toBe('ERR_LOOPLET_BLOCKING_ON_HUB');
    expect(err.message).toContain('#acquire() would block');
    expect(thrown(() => sem.acquire({ timeoutMs: 1 }))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    sem.release();
  });
});

describe('Semaphore counts', () => {
  it('lets `value` holders in at once and makes the next one wait', () =>
    run(() => {
      const sem = new Semaphore(3);
      for (let i = 0; i < 3; i++) expect(sem.acquire({ blocking: false })).toBe(true);
      expect(sem.counter).toBe(0);
      expect(sem.acquire({ timeoutMs: 1 })).toBe(false);
      sem.release();
      expect(sem.counter).toBe(1);
    }));

  it('Semaphore(0) starts locked; an unbounded Semaphore may be released beyond its start value', () =>
    run(() => {
      const sem = new Semaphore(0);
      expect(sem.locked()).toBe(true);
      const waiter = spawn(() => sem.acquire());
      sleep(0);
      sem.release();
      expect(waiter.get()).toBe(true);
      sem.release();
      sem.release();
      expect(sem.counter).toBe(2);
    }));

  it('several releases wake as many waiters (test_release_twice)', () =>
    run(() => {
      const sem = new Semaphore(0);
      const waiters = [spawn(() => sem.acquire()), spawn(() => sem.acquire()), spawn(() => sem.acquire({ timeoutMs: SMALL }))];
      sleep(0);
      sem.release();
      sem.release();
      expect(waiters.map((w) => w.get())).toEqual([true, true, false]);
      expect(sem.counter).toBe(0);
    }));

  it('BoundedSemaphore and Lock refuse to be released more than acquired (ERR_LOOPLET_SEMAPHORE_RELEASED)', () => {
    for (const sem of [new BoundedSemaphore(2), new Lock()]) {
      expect(thrown(() => sem.release())).toMatchObject({ code: 'ERR_LOOPLET_SEMAPHORE_RELEASED' });
      sem.acquire();
      sem.release();
      expect(thrown(() => sem.release())).toMatchObject({ code: 'ERR_LOOPLET_SEMAPHORE_RELEASED' });
    }
    expect(thrown(() => new BoundedSemaphore(1).release()).message).toBe('BoundedSemaphore released more times than it was acquired');
  });

  it('any greenlet may release a Lock, also the hub', () =>
    run(() => {
      const lock = new Lock();
      spawn(() => lock.acquire()).join();
      expect(lock.locked()).toBe(true);
      lock.release();
      expect(lock.locked()).toBe(false);
    }));
});

describe('RLock', () => {
  it('lets its owner acquire it again, and is free once released as many times', () =>
    run(() => {
      const lock = new RLock();
      expect(lock.acquire()).toBe(true);
      expect(lock.acquire()).toBe(true);
      expect(lock.acquire({ blocking: false })).toBe(true);
      const other = spawn(() => lock.acquire({ timeoutMs: 1 }));
      expect(other.get()).toBe(false);
      lock.release();
      lock.release();
      expect(lock.locked()).toBe(true);
      const waiter = spawn(() => {
        lock.acquire();
        lock.release();
        return 'got it';
      });
      sleep(0);
      expect(waiter.ready()).toBe(false);
      lock.release();
      expect(lock.locked()).toBe(false);
      expect(waiter.get()).toBe('got it');
    }));

  it('may be released only by its owner (ERR_LOOPLET_LOCK_NOT_OWNED)', () =>
    run(() => {
      const lock = new RLock();
      expect(thrown(() => lock.release())).toMatchObject({ code: 'ERR_LOOPLET_LOCK_NOT_OWNED' });
      lock.acquire();
      const other = spawn(() => thrown(() => lock.release()));
      expect(other.get()).toMatchObject({ code: 'ERR_LOOPLET_LOCK_NOT_OWNED' });
      lock.release();
    }));

  it('is FIFO-fair between owners', () =>
    run(() => {
      const lock = new RLock();
      const order: string[] = [];
      const worker = (name: string) => () => {
        for (let i = 0; i < 2; i++) {
          lock.acquire();
          lock.acquire();
          order.push(name);
          sleep(0);
          lock.release();
          lock.release();
        }
      };
      joinall([spawn(worker('a')), spawn(worker('b'))]);
      expect(order.join('')).toBe('abab');
    }));
});

describe('argument errors', () => {
  it('checks the start value and the options of acquire', () => {
    for (const Kind of [Semaphore, BoundedSemaphore]) {
      expect(thrown(() => new Kind(-1))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => new Kind(1.5))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => new Kind('1' as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    }
    for (const lock of [new Semaphore(), new Lock(), new RLock()]) {
      expect(thrown(() => lock.acquire(5 as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => lock.acquire({ blocking: 1 as never }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => lock.acquire({ timeoutMs: -1 }))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(lock.locked()).toBe(false);
    }
  });
});
