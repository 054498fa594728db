// The hub itself (lib/hub/core.ts): the event loop's thread is the hub and
// every blocking call made on it throws ERR_LOOPLET_BLOCKING_ON_HUB; the run
// queue (FIFO, direct switches: a batch of N wake-ups costs N + 1 switches);
// wake-ups from every kind of event-loop callback; getHub()'s figures.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Greenlet, getcurrent, runtimeStats } from '../lib/greenlet';
import {
  AsyncResult,
  BoundedSemaphore,
  Channel,
  Event,
  Group,
  Job,
  LifoQueue,
  Lock,
  Pool,
  PriorityQueue,
  Queue,
  RLock,
  Semaphore,
  Timeout,
  getHub,
  joinall,
  run,
  sleep,
  spawn,
  wait,
  withTimeout,
} from '../lib/hub';
import { FOREVER, SMALL, installHubChecks, thrown, turns } from './hub-helpers';

installHubChecks();

describe('the hub is the event loop\'s thread', () => {
  it('runs the test body: getHub().greenlet is the current greenlet here, and the parent of every job', async () => {
    const hub = getHub();
    expect(hub.greenlet).toBe(getcurrent());
    expect(hub.greenlet.parent).toBeNull();
    expect(getHub()).toBe(hub);
    expect(await run(() => getcurrent() !== hub.greenlet && getcurrent().parent === hub.greenlet)).toBe(true);
  });

  // Every API that waits, called on the hub where it would have to wait.
  const blocking: Array<[string, () => unknown]> = [
    ['sleep()', () => sleep()],
    ['sleep(0)', () => sleep(0)],
    ['sleep(ms)', () => sleep(SMALL)],
    ['wait(promise)', () => wait(new Promise(() => {}))],
    ['wait(promise, { timeoutMs })', () => wait(new Promise(() => {}), { timeoutMs: 1 })],
    ['Job#join()', () => new Job(() => 1).join()],
    ['Job#join(timeoutMs)', () => new Job(() => 1).join(1)],
    ['Job#get()', () => new Job(() => 1).get()],
    ['Job#get({ timeoutMs })', () => new Job(() => 1).get({ timeoutMs: 1 })],
    ['joinall()', () => joinall([new Job(() => 1)])],
    ['Timeout#start()', () => new Timeout(SMALL).start()],
    ['Timeout.startNew()', () => Timeout.startNew(SMALL)],
    ['withTimeout()', () => withTimeout(SMALL, () => 1)],
    ['Event#wait()', () => new Event().wait()],
    ['AsyncResult#get()', () => new AsyncResult().get()],
    ['AsyncResult#wait()', () => new AsyncResult().wait()],
    ['Queue#get() (empty)', () => new Queue().get()],
    ['Queue#peek() (empty)', () => new Queue().peek()],
    [
      'Queue#put() (full)',
      () => {
        const q = new Queue(1);
        q.put(1);
        q.put(2);
      },
    ],
    [
      'Queue#join() (unfinished tasks)',
      () => {
        const q = new Queue();
        q.put(1);
        q.join();
      },
    ],
    ['LifoQueue#get() (empty)', () => new LifoQueue().get()],
    ['PriorityQueue#get() (empty)', () => new PriorityQueue().get()],
    ['Channel#get()', () => new Channel().get()],
    ['Channel#put()', () => new Channel().put(1)],
    ['Semaphore#acquire() (no permit)', () => new Semaphore(0).acquire()],
    [
      'BoundedSemaphore#acquire() (no permit)',
      () => {
        const sem = new BoundedSemaphore(1);
        sem.acquire();
        sem.acquire();
      },
    ],
    [
      'Lock#acquire() (held)',
      () => {
        const lock = new Lock();
        lock.acquire();
        lock.acquire({ timeoutMs: 1 });
      },
    ],
    [
      'Pool#spawn() (full)',
      () => {
        const pool = new Pool(1);
        pool.add(new Job(() => 1));
        pool.spawn(() => 1);
      },
    ],
    [
      'Pool#waitAvailable() (full)',
      () => {
        const pool = new Pool(1);
        pool.add(new Job(() => 1));
        pool.waitAvailable();
      },
    ],
    [
      'Group#join() (jobs left)',
      () => {
        const group = new Group();
        group.add(new Job(() => 1));
        group.join();
      },
    ],
    ['Group#map()', () => new Group().map((x) => x, [1])],
    ['Pool#imap()', () => new Pool(2).imap((x) => x, [1])],
    ['Pool#imapUnordered()', () => new Pool(2).imapUnordered((x) => x, [1])],
  ];

  it.each(blocking)('%s throws ERR_LOOPLET_BLOCKING_ON_HUB, saying to call it inside spawn() or run()', (_, call) => {
    const err = thrown(call);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('ERR_LOOPLET_BLOCKING_ON_HUB');
    expect(err.message).toMatch(/the hub.*inside a greenlet started with spawn\(\) or run\(\)$/);
  });

  it('the same calls that need no wait work on the hub', () => {
    const q = new Queue<number>(1);
    q.putNowait(1);
    expect(q.peek()).toBe(1);
    expect(q.get()).toBe(1);
    expect(new Semaphore(1).acquire()).toBe(true);
    expect(new RLock().acquire({ blocking: false })).toBe(true);
    const event = new Event();
    event.set();
    expect(event.wait()).toBe(true);
    const result = new AsyncResult<number>();
    result.set(2);
    expect(result.get()).toBe(2);
    expect(wait(3)).toBe(3);
    expect(new Pool(1).waitAvailable()).toBe(1);
    expect(new Group().join()).toBe(true);
    expect(joinall([])).toEqual([]);
  });

  it('a blocking call is fine in any greenlet but the hub, also one that is not a job', async () => {
    const q = new Queue<string>();
    const out = new Promise((resolve) => {
      new Greenlet(() => resolve(q.get())).switch();
    });
    q.putNowait('to a plain greenlet');
    expect(await out).toBe('to a plain greenlet');
  });
});

describe('the run queue', () => {
  it('starts jobs in the order they were spawned, each running until it blocks', () =>
    run(() => {
      const order: string[] = [];
      const jobs = ['a', 'b', 'c'].map((name) =>
        spawn(() => {
          order.push(`${name}1`);
          sleep(0);
          order.push(`${name}2`);
        }),
      );
      joinall(jobs);
      expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'c2']);
    }));

  it('a job that spawns another goes on until it blocks (spawn does not switch)', () =>
    run(() => {
      const order: string[] = [];
      const child = spawn(() => order.push('child'));
      order.push('parent goes on');
      child.join();
      expect(order).toEqual(['parent goes on', 'child']);
    }));

  it('resumes woken greenlets in the order they were woken', () =>
    run(() => {
      const q = new Queue<number>();
      const order: number[] = [];
      const getters = [0, 1, 2, 3].map((i) =>
        spawn(() => {
          order.push(i * 10 + q.get());
        }),
      );
      sleep(0);
      for (const n of [1, 2, 3, 4]) q.put(n);
      joinall(getters);
      expect(order).toEqual([1, 12, 23, 34]);
    }));

  it('wakes N greenlets with N + 1 switches: hub to the first, each straight to the next, the last back to the hub', async () => {
    const n = 50;
    const event = new Event();
    const jobs = Array.from({ length: n }, () => spawn(() => event.wait()));
    await turns();
    expect(getHub().stats().parked).toBe(n);
    const before = runtimeStats().switches;
    event.set();
    await turns();
    expect(jobs.every((j) => j.ready())).toBe(true);
    expect(runtimeStats().switches - before).toBe(n + 1);
  });

  it("counts runnable and parked greenlets in getHub().stats()", async () => {
    const event = new Event();
    const jobs = [spawn(() => event.wait()), spawn(() => event.wait())];
    expect(getHub().stats().runnable).toBeGreaterThanOrEqual(2);
    await turns();
    expect(getHub().stats()).toMatchObject({ runnable: 0, parked: 2 });
    event.set();
    await Promise.all(jobs);
    expect(getHub().stats()).toMatchObject({ parked: 0 });
    expect(getHub().stats().switches).toBe(runtimeStats().switches);
  });

  it('lets many jobs pass items around a ring of channels', () =>
    run(() => {
      const n = 20;
      const channels = Array.from({ length: n }, () => new Channel<number>());
      const jobs = channels.map((input, i) =>
        spawn(() => {
          const output = channels[(i + 1) % n];
          for (;;) {
            const hops = input.get();
            if (hops === 0) return i;
            output.put(hops - 1);
          }
        }),
      );
      channels[0].put(5 * n);
      const first = joinall(jobs, { count: 1 });
      expect(first[0].value).toBe(0);
      for (const job of jobs) job.kill();
    }));
});

describe('wake-ups from every kind of event-loop callback', () => {
  it('putNowait from a timer, an immediate, nextTick, a promise reaction and an fs callback each wake a getter', () =>
    run(() => {
      const q = new Queue<string>();
      const getters = Array.from({ length: 5 }, () => spawn(() => q.get()));
      sleep(0);
      setTimeout(() => q.putNowait('timer'), 1);
      setImmediate(() => q.putNowait('immediate'));
      process.nextTick(() => q.putNowait('nextTick'));
      void Promise.resolve().then(() => q.putNowait('promise'));
      fs.stat(__filename, () => q.putNowait('fs'));
      expect(getters.map((g) => g.get()).sort()).toEqual(['fs', 'immediate', 'nextTick', 'promise', 'timer']);
    }));

  it('a job can wait for the promise of run() or of another job', () =>
    run(() => {
      expect(wait(run(() => 'inner run'))).toBe('inner run');
      const other = spawn(() => {
        sleep(1);
        return 'other job';
      });
      expect(wait(other)).toBe('other job');
    }));

  it('wait(promise) under a Timeout ends with whichever comes first', () =>
    run(() => {
      let timer: NodeJS.Timeout | undefined;
      const slow = new Promise((resolve) => (timer = setTimeout(() => resolve('slow'), FOREVER)));
      const timeout = Timeout.startNew(1);
      expect(thrown(() => wait(slow))).toBe(timeout);
      clearTimeout(timer);
      expect(withTimeout(FOREVER, () => wait(new Promise((resolve) => setTimeout(() => resolve('fast'), 1))))).toBe('fast');
    }));
});
