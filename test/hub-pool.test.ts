// Group and Pool: gevent's src/gevent/tests/test__pool.py ported to looplet's
// hub. Slots (spawn waits for one), add/discard, join/kill, freeCount and
// waitAvailable; map, imap (input order) and imapUnordered (completion order)
// for pools of several sizes and an unlimited Group; errors from fn and from
// the iterable; the argument errors.
import { describe, expect, it } from 'vitest';
import { GreenletExit } from '../lib/greenlet';
import { Event, Group, Job, Pool, Queue, Timeout, joinall, run, sleep, spawn, spawnLater } from '../lib/hub';
import { ExpectedError, FOREVER, SMALL, installHubChecks, thrown } from './hub-helpers';

installHubChecks();

const squared = (x: number): number => x * x;
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function sqr(x: number, waitMs = 0): number {
  sleep(waitMs);
  return x * x;
}

function sqrRandomSleep(x: number): number {
  sleep(Math.floor(Math.random() * SMALL));
  return x * x;
}

describe('Pool slots (test__pool.py PoolBasicTests, TestSpawn)', () => {
  it('counts free slots as jobs start and finish (test_execute_async)', () =>
    run(() => {
      const p = new Pool(2);
      expect(p.freeCount()).toBe(2);
      const r: number[] = [];
      const first = p.spawn(() => r.push(1));
      expect(p.freeCount()).toBe(1);
      first.get();
      expect(r).toEqual([1]);
      expect(p.freeCount()).toBe(2);
      p.spawn(() => r.push(2));
      expect(p.freeCount()).toBe(1);
      p.spawn(() => r.push(3));
      expect(p.freeCount()).toBe(0);
      expect(p.full()).toBe(true);
      expect(r).toEqual([1]);
      p.spawn(() => r.push(4));
      expect(r.sort()).toEqual([1, 2, 3]);
      p.join();
      expect(r.sort()).toEqual([1, 2, 3, 4]);
      expect(p.freeCount()).toBe(2);
    }));

  it('spawn() waits for a free slot when the pool is full (TestSpawn.test)', () =>
    run(() => {
      const p = new Pool(1);
      expect(p.size).toBe(0);
      const first = p.spawn(() => sleep(SMALL));
      expect(p.size).toBe(1);
      const second = p.spawn(() => sleep(SMALL));
      expect(first.ready()).toBe(true);
      expect(second.ready()).toBe(false);
      expect(p.size).toBe(1);
      p.join();
      expect(p.size).toBe(0);
    }));

  it('runs a consumer and a producer side by side (TestCoroutinePool.test_multiple_coros)', () =>
    run(() => {
      const event = new Event();
      const results: string[] = [];
      const pool = new Pool(2);
      const done = pool.spawn(() => {
        results.push('cons1');
        event.wait();
        results.push('cons2');
      });
      pool.spawn(() => {
        sleep(1);
        results.push('prod');
        event.set();
      });
      done.get();
      expect(results).toEqual(['cons1', 'prod', 'cons2']);
      pool.join();
    }));

  it('never runs more jobs at once than its size', () =>
    run(() => {
      const p = new Pool(3);
      let running = 0;
      let most = 0;
      for (let i = 0; i < 12; i++) {
        p.spawn(() => {
          most = Math.max(most, ++running);
          sleep(i % 3);
          running--;
        });
      }
      p.join();
      expect(most).toBe(3);
      expect(running).toBe(0);
    }));

  it('join(timeoutMs) is false while a job runs, true once all have finished (testSpawnAndWait)', () =>
    run(() => {
      const p = new Pool(1);
      p.spawn(() => sleep(3 * SMALL));
      expect(p.join(1)).toBe(false);
      expect(p.join()).toBe(true);
      expect(p.size).toBe(0);
    }));

  it('join() of an empty pool or group returns true at once, also on the hub (TestJoinEmpty)', () => {
    expect(new Pool(1).join()).toBe(true);
    expect(new Group().join()).toBe(true);
  });

  it('join() lets an outer Timeout through (TestJoinSleep, test_outer_timeout_is_not_lost)', () =>
    run(() => {
      for (const group of [new Pool(2), new Group()]) {
        const g = group.spawn(() => sleep(FOREVER));
        const timeout = Timeout.startNew(1);
        expect(thrown(() => group.join(FOREVER))).toBe(timeout);
        g.kill();
        expect(group.size).toBe(0);
      }
    }));

  it('discard() removes a job without stopping it and frees its slot at once (test_discard)', () =>
    run(() => {
      const p = new Pool(1);
      const first = p.spawn(() => sleep(FOREVER));
      p.discard(first);
      expect(p.size).toBe(0);
      expect(p.has(first)).toBe(false);
      expect(p.freeCount()).toBe(1);
      expect(first.ready()).toBe(false);
      first.kill();
      expect(p.freeCount()).toBe(1);
      const second = p.spawn(() => 'ran');
      expect(second.get()).toBe('ran');
      expect(p.freeCount()).toBe(1);
    }));

  it('add() takes a running job into a slot, and waits while the pool is full (test_add_method)', () =>
    run(() => {
      const p = new Pool(1);
      const first = spawn(() => sleep(FOREVER));
      const second = spawn(() => sleep(FOREVER));
      try {
        expect([p.freeCount(), p.size]).toEqual([1, 0]);
        p.add(first);
        expect([p.freeCount(), p.size]).toEqual([0, 1]);
        const timeout = Timeout.startNew(SMALL);
        expect(thrown(() => p.add(second))).toBe(timeout);
        expect([p.freeCount(), p.size]).toEqual([0, 1]);
        p.add(first);
        expect([p.freeCount(), p.size]).toEqual([0, 1]);
      } finally {
        second.kill();
        first.kill();
      }
      expect([p.freeCount(), p.size]).toEqual([1, 0]);
    }));

  it('add() of a job that finished while it waited for a slot gives the slot back', () =>
    run(() => {
      const p = new Pool(1);
      const holder = p.spawn(() => sleep(2 * SMALL));
      const quick = spawn(() => sleep(SMALL));
      p.add(quick);
      expect(quick.ready()).toBe(true);
      expect(holder.ready()).toBe(true);
      expect(p.has(quick)).toBe(false);
      expect(p.freeCount()).toBe(1);
    }));

  it('add() of the same job by two greenlets at once takes one slot', () =>
    run(() => {
      const p = new Pool(2);
      const holder = p.spawn(() => sleep(SMALL));
      const blocker = p.spawn(() => sleep(SMALL));
      const job = spawn(() => sleep(3 * SMALL));
      const adders = [spawn(() => p.add(job)), spawn(() => p.add(job))];
      joinall([...adders, holder, blocker]);
      expect(p.size).toBe(1);
      expect(p.freeCount()).toBe(1);
      job.join();
      expect(p.freeCount()).toBe(2);
    }));

  it('waitAvailable(timeoutMs) returns 0 when no slot frees in time, the free count once one does (TestPool0.test_wait_full)', () =>
    run(() => {
      const p = new Pool(1);
      expect(p.waitAvailable()).toBe(1);
      const g = p.spawn(() => sleep(2 * SMALL));
      expect(p.full()).toBe(true);
      expect(p.waitAvailable(1)).toBe(0);
      expect(p.waitAvailable()).toBe(1);
      expect(g.ready()).toBe(true);
      expect(new Group().waitAvailable(0)).toBe(Infinity);
      expect(new Group().freeCount()).toBe(Infinity);
      expect(new Group().full()).toBe(false);
    }));

  it('throws ERR_LOOPLET_BLOCKING_ON_HUB on the hub where it would wait for a slot or for its jobs', async () => {
    const p = new Pool(1);
    const g = p.spawn(() => sleep(FOREVER));
    expect(thrown(() => p.spawn(() => 1))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    expect(thrown(() => p.add(new Job(() => 1)))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    expect(thrown(() => p.waitAvailable())).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    expect(thrown(() => p.join())).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    expect(p.size).toBe(1);
    p.kill();
    expect(await g).toBeInstanceOf(GreenletExit);
    expect(p.freeCount()).toBe(1);
  });
});

describe('Group', () => {
  it('tracks its jobs: they leave by themselves when they finish; add() ignores a finished job', () =>
    run(() => {
      const group = new Group();
      const a = group.spawn(() => sleep(SMALL));
      const b = spawn(() => sleep(2 * SMALL));
      group.add(b);
      group.add(b);
      expect(group.size).toBe(2);
      expect([...group]).toEqual([a, b]);
      expect(group.has(a) && group.has(b)).toBe(true);
      a.join();
      expect([...group]).toEqual([b]);
      group.join();
      expect(group.size).toBe(0);
      group.add(a);
      expect(group.size).toBe(0);
    }));

  it('spawns on the hub without waiting (no limit)', async () => {
    const group = new Group();
    const jobs = [group.spawn(() => 1), group.spawn(() => 2)];
    expect(await Promise.all(jobs)).toEqual([1, 2]);
    expect(group.size).toBe(0);
  });

  it('kill() ends every job, running their finally blocks before it returns (test_terminate)', () =>
    run(() => {
      for (const group of [new Group(), new Pool(2)]) {
        const cleaned: number[] = [];
        const jobs = [0, 1].map((i) =>
          group.spawn(() => {
            try {
              sleep(FOREVER);
            } finally {
              cleaned.push(i);
            }
          }),
        );
        sleep(0);
        group.kill();
        expect(cleaned.sort()).toEqual([0, 1]);
        expect(jobs.every((j) => j.value instanceof GreenletExit)).toBe(true);
        expect(group.size).toBe(0);
      }
    }));

  it('kill() while map() runs ends the jobs running then; map goes on with the rest (test_terminate)', () =>
    run(() => {
      const p = new Pool(2);
      const mapper = spawn(() => p.map((ms: number) => sleep(ms), [FOREVER, FOREVER, 0, 0]));
      sleep(1);
      p.kill();
      const results = mapper.get() as unknown[];
      expect(results).toHaveLength(4);
      expect(results[0]).toBeInstanceOf(GreenletExit);
      expect(results[1]).toBeInstanceOf(GreenletExit);
      expect(results.slice(2)).toEqual([undefined, undefined]);
    }));

  it('join() from a job of the group waits for the others only', () =>
    run(() => {
      for (const group of [new Group(), new Pool(3)]) {
        const alone = group.spawn(() => group.join());
        expect(alone.get()).toBe(true);
        const order: string[] = [];
        const supervisor = group.spawn(() => {
          group.spawn(() => {
            sleep(1);
            order.push('worker');
          });
          const joined = group.join(FOREVER);
          order.push('supervisor');
          return joined;
        });
        expect(supervisor.get()).toBe(true);
        expect(order).toEqual(['worker', 'supervisor']);
        expect(group.size).toBe(0);
      }
    }));
});

const sizes: Array<[string, () => Group]> = [
  ['Pool(1)', () => new Pool(1)],
  ['Pool(2)', () => new Pool(2)],
  ['Pool(3)', () => new Pool(3)],
  ['Pool(10)', () => new Pool(10)],
  ['Group (unlimited)', () => new Group()],
];

describe.each(sizes)('%s: map, imap, imapUnordered (test__pool.py TestPool, TestPool2, TestPool3, TestPool10, TestPoolUnlimit)', (name, make) => {
  it('map keeps the input order (test_map, test_empty_map)', () =>
    run(() => {
      const pool = make();
      expect(pool.map(sqr, range(10))).toEqual(range(10).map(squared));
      expect(pool.map(sqr, range(100))).toEqual(range(100).map(squared));
      expect(pool.map(sqr, [])).toEqual([]);
      pool.join();
    }));

  it('imap yields in input order, one next() at a time (test_imap_list_small, test_imap_it_small, test_imap_it_large)', () =>
    run(() => {
      const pool = make();
      expect([...pool.imap(sqr, range(10))]).toEqual(range(10).map(squared));
      const it = pool.imap(sqr, range(10));
      for (const i of range(10)) expect(it.next()).toEqual({ value: i * i, done: false });
      expect(it.next().done).toBe(true);
      const large = pool.imap(sqr, range(1000));
      for (const i of range(1000)) expect(large.next().value).toBe(i * i);
      expect(large.next().done).toBe(true);
      pool.join();
    }));

  it('imap keeps the input order when later items finish first (test_imap_random)', () =>
    run(() => {
      const pool = make();
      expect([...pool.imap(sqrRandomSleep, range(10))]).toEqual(range(10).map(squared));
      expect([...pool.imap((i: number) => sqr(i, 10 - i), range(10))]).toEqual(range(10).map(squared));
      pool.join();
    }));

  it('imapUnordered yields every result (test_imap_unordered, test_imap_unordered_random, test_empty_imap_unordered, test_empty_imap)', () =>
    run(() => {
      const pool = make();
      expect([...pool.imapUnordered(sqr, range(1000))].sort((a, b) => a - b)).toEqual(range(1000).map(squared));
      expect([...pool.imapUnordered(sqrRandomSleep, range(10))].sort((a, b) => a - b)).toEqual(range(10).map(squared));
      expect([...pool.imapUnordered(sqr, [])]).toEqual([]);
      expect([...pool.imap(sqr, [])]).toEqual([]);
      pool.join();
    }));

  it('imapUnordered yields in completion order (test_imap_unordered_sleep)', () =>
    run(() => {
      const pool = make();
      const result = [...pool.imapUnordered((x: number) => {
        sleep(x * SMALL);
        return String(x);
      }, [10, 1, 2])];
      expect(result).toEqual(name === 'Pool(1)' ? ['10', '1', '2'] : ['1', '2', '10']);
      pool.join();
    }));

  it('imap and imapUnordered take an iterable that blocks, ended later (test_imap_no_stop, test_imap_unordered_no_stop)', () =>
    run(() => {
      const pool = make();
      for (const method of ['imap', 'imapUnordered'] as const) {
        const STOP = Symbol('stop');
        const q = new Queue<unknown>();
        q.put(123);
        spawnLater(SMALL, () => q.put(STOP));
        function* items(): Generator<unknown> {
          for (let item = q.get(); item !== STOP; item = q.get()) yield item;
        }
        expect([...pool[method]((x: unknown) => x, items())]).toEqual([123]);
      }
      pool.join();
    }));

  it('imap and imapUnordered take an iterable that sleeps after its last item (test_imap_final_sleep)', () =>
    run(() => {
      const pool = make();
      function* finalSleep(): Generator<number> {
        yield* range(3);
        sleep(SMALL);
      }
      expect([...pool.imap(sqr, finalSleep())]).toEqual([0, 1, 4]);
      expect([...pool.imapUnordered(sqr, finalSleep())].sort()).toEqual([0, 1, 4]);
      pool.join();
    }));
});

describe('errors in map (test__pool.py TestErrorInIterator, TestErrorInHandler)', () => {
  function* errorIter(): Generator<number> {
    yield 1;
    yield 2;
    throw new ExpectedError('from the iterable');
  }

  const divideBy = (x: number): number => {
    if (x === 0) throw new ExpectedError('division by zero');
    return 1 / x;
  };

  it('map and imapUnordered throw the error of the iterable (TestErrorInIterator)', () =>
    run(() => {
      const p = new Pool(3);
      expect(thrown(() => p.map(() => null, errorIter()))).toMatchObject({ message: 'from the iterable' });
      expect(thrown(() => [...p.imapUnordered(() => null, errorIter())])).toMatchObject({ message: 'from the iterable' });
      p.join();
    }));

  it('map throws the error of fn (test_map)', () =>
    run(() => {
      const p = new Pool(3);
      expect(thrown(() => p.map(divideBy, [1, 0, 2]))).toMatchObject({ message: 'division by zero' });
      p.join();
    }));

  it('imap and imapUnordered throw the error of fn where its result would be, and end there (test_imap, test_imap_unordered)', () =>
    run(() => {
      for (const method of ['imap', 'imapUnordered'] as const) {
        const p = new Pool(1);
        const it = p[method](divideBy, [1, 0, 2]);
        expect(it.next()).toEqual({ value: 1, done: false });
        expect(thrown(() => it.next())).toMatchObject({ message: 'division by zero' });
        // gevent's IMap goes on to 0.5 here; a JS generator that has thrown
        // is done, like any iterator for-of has seen throw.
        expect(it.next()).toEqual({ value: undefined, done: true });
        p.join();
      }
    }));

  it('stops feeding items when the consumer stops iterating', () =>
    run(() => {
      const p = new Pool(1);
      let fed = 0;
      function* counting(): Generator<number> {
        for (let i = 0; i < 100; i++) {
          fed++;
          yield i;
        }
      }
      for (const value of p.imap(sqr, counting())) if (value >= 4) break;
      p.join();
      sleep(SMALL);
      expect(fed).toBeLessThan(10);
    }));
});

describe('blocking on the hub and argument errors', () => {
  it('map, imap and imapUnordered throw ERR_LOOPLET_BLOCKING_ON_HUB on the hub, when called', () => {
    for (const group of [new Pool(2), new Group()]) {
      expect(thrown(() => group.map(squared, [1]))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
      expect(thrown(() => group.imap(squared, [1]))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
      expect(thrown(() => group.imapUnordered(squared, [1]))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
      expect(group.size).toBe(0);
    }
  });

  it('checks the size of a Pool (test_init_error)', () => {
    expect(thrown(() => new Pool(-1))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => new Pool(0))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => new Pool(1.5))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => new Pool('2' as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => new Pool(undefined as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('checks the arguments of spawn, add, join, waitAvailable, map, imap and imapUnordered when called', () =>
    run(() => {
      for (const group of [new Pool(2), new Group()]) {
        const cases: Array<[() => unknown, string, string]> = [
          [() => group.spawn(1 as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
          [() => group.add({} as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
          [() => group.join(-1), 'RangeError', 'ERR_OUT_OF_RANGE'],
          [() => group.waitAvailable('1' as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
          [() => group.map(1 as never, []), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
          [() => group.imap('fn' as never, []), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
          [() => group.imapUnordered(squared, 5 as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
          [() => group.imap(squared, null as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
        ];
        for (const [call, errName, code] of cases) expect(thrown(call)).toMatchObject({ name: errName, code });
        expect(group.size).toBe(0);
      }
    }));
});
