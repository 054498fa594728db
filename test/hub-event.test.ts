// Event and AsyncResult: gevent's src/gevent/tests/test__event.py ported to
// looplet's hub, with the AsyncResult cases of test__greenlet.py (links to an
// AsyncResult).
import { describe, expect, it } from 'vitest';
import { runtimeStats } from '../lib/greenlet';
import { AsyncResult, Event, Timeout, joinall, run, sleep, spawn, spawnLater, withTimeout } from '../lib/hub';
import { ExpectedError, FOREVER, SMALL, installHubChecks, thrown } from './hub-helpers';

installHubChecks();

describe('Event (test__event.py TestEventWait, TestEvent_SetThenClear, TestEventBasics)', () => {
  it('wait(timeoutMs) returns false when nothing sets it in time (TestEventWait)', () =>
    run(() => {
      const event = new Event();
      expect(event.wait(1)).toBe(false);
      expect(event.wait(0)).toBe(false);
      expect(event.isSet()).toBe(false);
    }));

  it('wait() returns true once set; isSet() and clear() follow the flag', () =>
    run(() => {
      const event = new Event();
      const waiter = spawn(() => event.wait());
      sleep(0);
      expect(waiter.ready()).toBe(false);
      event.set();
      expect(event.isSet()).toBe(true);
      expect(waiter.get()).toBe(true);
      expect(event.wait()).toBe(true);
      event.clear();
      expect(event.isSet()).toBe(false);
      expect(event.wait(1)).toBe(false);
    }));

  it.each([1, 100, 1000])('set() then clear() at once still wakes all %i waiters (TestEvent_SetThenClear)', (n) =>
    run(() => {
      const event = new Event();
      const waiters = Array.from({ length: n }, () => spawn(() => event.wait()));
      sleep(1);
      event.set();
      event.clear();
      expect(joinall(waiters)).toHaveLength(n);
      expect(waiters.every((w) => w.value === true)).toBe(true);
      expect(event.isSet()).toBe(false);
    }));

  it('wakes its waiters in the order they began to wait', () =>
    run(() => {
      const event = new Event();
      const order: number[] = [];
      const waiters = [0, 1, 2, 3, 4].map((i) =>
        spawn(() => {
          event.wait();
          order.push(i);
        }),
      );
      sleep(0);
      event.set();
      joinall(waiters);
      expect(order).toEqual([0, 1, 2, 3, 4]);
    }));

  it('a wait after set() and clear() in the same greenlet waits for the next set (test_set_during_wait)', () =>
    run(() => {
      const event = new Event();
      const waiter = spawn(() => {
        const setter = spawn(() => event.set());
        expect(event.wait()).toBe(true);
        expect(event.isSet()).toBe(true);
        setter.join();
        event.clear();
        expect(event.isSet()).toBe(false);
        expect(event.wait(SMALL)).toBe(false);
        expect(event.isSet()).toBe(false);
      });
      waiter.get();
    }));

  it('a wait on a set event returns at once, without a switch (test_wait_while_notifying)', () =>
    run(() => {
      const event = new Event();
      event.set();
      const before = runtimeStats().switches;
      expect(event.wait()).toBe(true);
      expect(event.wait(0)).toBe(true);
      expect(runtimeStats().switches).toBe(before);
    }));

  it('set() from an event-loop callback wakes the waiting greenlets', () =>
    run(() => {
      const event = new Event();
      const waiters = [spawn(() => event.wait()), spawn(() => event.wait())];
      sleep(0);
      setTimeout(() => event.set(), 1);
      expect(waiters.map((w) => w.get())).toEqual([true, true]);
    }));

  it('wait() lets an outer Timeout through (test_outer_timeout_is_not_lost)', () =>
    run(() => {
      const timeout = Timeout.startNew(1);
      expect(thrown(() => new Event().wait(FOREVER))).toBe(timeout);
    }));

  it('throws ERR_LOOPLET_BLOCKING_ON_HUB on the hub unless set', () => {
    const event = new Event();
    expect(thrown(() => event.wait())).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    expect(thrown(() => event.wait(1))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    event.set();
    expect(event.wait()).toBe(true);
  });

  it('checks its argument', () => {
    const event = new Event();
    expect(thrown(() => event.wait(-1))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => event.wait('1' as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });
});

describe('AsyncResult (test__event.py TestAsyncResult, TestAsyncResultGet, TestAsyncResultWait)', () => {
  it('is neither ready nor successful until set, with no value or exception', () => {
    const result = new AsyncResult<number>();
    expect({ ready: result.ready(), successful: result.successful(), value: result.value, exception: result.exception }).toEqual({
      ready: false,
      successful: false,
      value: undefined,
      exception: undefined,
    });
    result.set(1);
    expect({ ready: result.ready(), successful: result.successful(), value: result.value }).toEqual({ ready: true, successful: true, value: 1 });
  });

  it('get() in a waiting greenlet throws the exception set later, by identity (test_set_exc)', () =>
    run(() => {
      const log: Array<[string, unknown]> = [];
      const result = new AsyncResult();
      spawn(() => {
        try {
          result.get();
        } catch (err) {
          log.push(['caught', err]);
        }
      });
      const obj = new ExpectedError();
      sleep(0);
      result.setException(obj);
      sleep(0);
      expect(log).toEqual([['caught', obj]]);
      expect({ ready: result.ready(), successful: result.successful(), exception: result.exception }).toEqual({
        ready: true,
        successful: false,
        exception: obj,
      });
    }));

  it('get() is interrupted by a Timeout with a custom error before a later set (test_set)', () =>
    run(() => {
      const result = new AsyncResult<string>();
      const timerExc = new ExpectedError('interrupted');
      const setter = spawnLater(3 * SMALL, () => result.set('hello event1'));
      const timeout = Timeout.startNew(0, timerExc);
      try {
        expect(thrown(() => result.get())).toBe(timerExc);
      } finally {
        timeout.cancel();
        setter.kill();
      }
      expect(result.ready()).toBe(false);
    }));

  it('withTimeout around get() returns the default when nothing is set (test_set_with_timeout)', () =>
    run(() => {
      const X = {};
      expect(withTimeout(SMALL, () => new AsyncResult().get(), { default: X })).toBe(X);
    }));

  it('get({ block: false }) throws a Timeout at once when not ready, also on the hub (test_nonblocking_get)', () => {
    const result = new AsyncResult();
    expect(thrown(() => result.get({ block: false }))).toMatchObject({ name: 'Timeout', code: 'ERR_LOOPLET_TIMEOUT' });
    result.set('ready');
    expect(result.get({ block: false })).toBe('ready');
    expect(result.get()).toBe('ready');
  });

  it('get({ timeoutMs }) throws a Timeout; wait(timeoutMs) returns undefined (TestAsyncResultGet, TestAsyncResultWait)', () =>
    run(() => {
      const result = new AsyncResult();
      expect(thrown(() => result.get({ timeoutMs: 1 }))).toMatchObject({ name: 'Timeout', code: 'ERR_LOOPLET_TIMEOUT', ms: 1 });
      expect(result.wait(1)).toBeUndefined();
    }));

  it('get() and wait() let an outer Timeout through (test_outer_timeout_is_not_lost)', () =>
    run(() => {
      const result = new AsyncResult();
      const t1 = Timeout.startNew(1);
      expect(thrown(() => result.get({ timeoutMs: FOREVER }))).toBe(t1);
      const t2 = Timeout.startNew(1);
      expect(thrown(() => result.wait(FOREVER))).toBe(t2);
      const error = new ExpectedError();
      Timeout.startNew(1, error);
      expect(thrown(() => result.get())).toBe(error);
    }));

  it('wait() returns the value without throwing, and undefined for an exception', () =>
    run(() => {
      const ok = new AsyncResult<number>();
      spawnLater(1, () => ok.set(3));
      expect(ok.wait()).toBe(3);
      const failed = new AsyncResult<number>();
      spawnLater(1, () => failed.setException(new ExpectedError()));
      expect(failed.wait()).toBeUndefined();
      expect(failed.ready()).toBe(true);
    }));

  it('set() wakes every waiting greenlet, also from an event-loop callback', () =>
    run(() => {
      const result = new AsyncResult<string>();
      const getters = Array.from({ length: 10 }, () => spawn(() => result.get()));
      sleep(0);
      setImmediate(() => result.set('all'));
      expect(getters.map((g) => g.get())).toEqual(Array(10).fill('all'));
    }));

  it('a second set() replaces the outcome for get(); then() keeps the first', async () => {
    const result = new AsyncResult<string>();
    const first = result.then((v) => v);
    result.set('one');
    result.set('two');
    expect(result.get()).toBe('two');
    expect(await first).toBe('one');
    expect(await result).toBe('one');
    result.setException(new ExpectedError());
    expect(thrown(() => result.get())).toBeInstanceOf(ExpectedError);
  });

  it('is thenable: await resolves with the value or rejects with the exception', async () => {
    const ok = new AsyncResult<number>();
    setTimeout(() => ok.set(5), 1);
    expect(await ok).toBe(5);
    const failed = new AsyncResult();
    const err = new ExpectedError();
    setTimeout(() => failed.setException(err), 1);
    await expect(failed).rejects.toBe(err);
  });

  it('throws ERR_LOOPLET_BLOCKING_ON_HUB on the hub for get() and wait() while not ready', () => {
    const result = new AsyncResult();
    expect(thrown(() => result.get())).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    expect(thrown(() => result.wait())).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    result.set(1);
    expect(result.wait()).toBe(1);
  });

  it('checks its arguments', () => {
    const result = new AsyncResult();
    expect(thrown(() => result.get(1 as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => result.get({ block: 1 as never }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => result.get({ timeoutMs: -1 }))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => result.wait(-1))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  });
});

describe('AsyncResult as a link target (test__event.py TestAsyncResultAsLinkTarget)', () => {
  it('gets the value through link and linkValue, nothing through linkException (test_set)', () =>
    run(() => {
      const g = spawn(() => 1);
      const [s1, s2, s3] = [new AsyncResult(), new AsyncResult(), new AsyncResult()];
      g.link((job) => s1.set(job.value));
      g.linkValue((job) => s2.set(job.value));
      g.linkException((job) => s3.setException(job.exception));
      expect(s1.get()).toBe(1);
      expect(s2.get()).toBe(1);
      const X = {};
      expect(withTimeout(SMALL, () => s3.get(), { default: X })).toBe(X);
    }));

  it('gets the exception through link and linkException, nothing through linkValue (test_set_exception)', () =>
    run(() => {
      const err = new ExpectedError('TestAsyncResultAsLinkTarget.test_set_exception');
      const g = spawn(() => {
        throw err;
      });
      const [s1, s2, s3] = [new AsyncResult(), new AsyncResult(), new AsyncResult()];
      g.link((job) => (job.successful() ? s1.set(job.value) : s1.setException(job.exception)));
      g.linkValue((job) => s2.set(job.value));
      g.linkException((job) => s3.setException(job.exception));
      expect(thrown(() => s1.get())).toBe(err);
      const X = {};
      expect(withTimeout(SMALL, () => s2.get(), { default: X })).toBe(X);
      expect(thrown(() => s3.get())).toBe(err);
    }));
});
