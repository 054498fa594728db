// Queues: gevent's src/gevent/tests/test__queue.py ported to Queue,
// LifoQueue, PriorityQueue and Channel. The behaviours every kind shares run
// against each kind; then what is particular to each, the interrupts that
// must lose no item, and the argument errors.
import { describe, expect, it } from 'vitest';
import { GreenletExit } from '../lib/greenlet';
import { AsyncResult, Channel, LifoQueue, PriorityQueue, Queue, Timeout, joinall, run, sleep, spawn, withTimeout } from '../lib/hub';
import { FOREVER, SMALL, afterDrain, busyWait, installHubChecks, thrown } from './hub-helpers';

installHubChecks();

type AnyQueue = Queue<unknown> | Channel<unknown>;

const kinds: Array<[string, (maxsize?: number) => AnyQueue]> = [
  ['Queue', (maxsize) => new Queue(maxsize)],
  ['LifoQueue', (maxsize) => new LifoQueue(maxsize)],
  ['PriorityQueue', (maxsize) => new PriorityQueue(maxsize)],
  ['Channel', () => new Channel()],
];
const buffered = kinds.filter(([name]) => name !== 'Channel') as Array<[string, (maxsize?: number) => Queue<unknown>]>;

/** Runs fn on the hub from an event-loop callback, the way gevent's tests use loop.run_callback. */
function onHub<T>(fn: () => T): Promise<T> {
  return new Promise((resolve, reject) =>
    setImmediate(() => {
      try {
        resolve(fn());
      } catch (err) {
        reject(err);
      }
    }),
  );
}

/** What a call threw, as its code (or the value it returned). */
function outcome(fn: () => unknown): unknown {
  try {
    return { returned: fn() };
  } catch (err) {
    return (err as { code?: string }).code ?? err;
  }
}

/** gevent's do_receive: a getter whose Timeout of 0 expires before any item arrives. */
function receiveWithExpiredTimeout(q: AnyQueue, evt: AsyncResult<unknown>): void {
  const timeout = Timeout.startNew(0, new Error('timed out'));
  try {
    evt.set(q.get());
  } catch (err) {
    evt.set((err as Error).message);
  } finally {
    timeout.cancel();
  }
}

describe.each(kinds)('%s (test__queue.py UsesOnlyOneItemMixin, TestSimpleQueue, TestGetInterrupt, TestPutInterrupt)', (name, make) => {
  const holdsItems = name !== 'Channel';

  it('putNowait works on the hub: it takes what fits and throws ERR_LOOPLET_QUEUE_FULL for the rest (test_put_nowait_simple)', async () => {
    const q = make(1);
    const results = await Promise.all([onHub(() => outcome(() => q.putNowait(2))), onHub(() => outcome(() => q.putNowait(3)))]);
    expect(results).toEqual(holdsItems ? [{ returned: undefined }, 'ERR_LOOPLET_QUEUE_FULL'] : ['ERR_LOOPLET_QUEUE_FULL', 'ERR_LOOPLET_QUEUE_FULL']);
  });

  it('putNowait from an event-loop callback wakes a waiting getter (test_put_nowait_unlock)', () =>
    run(() => {
      const q = make();
      const p = spawn(() => q.get());
      expect(q.empty()).toBe(true);
      expect(q.full()).toBe(!holdsItems);
      sleep(1);
      expect(q.empty()).toBe(true);
      let result: unknown = 'not called';
      setImmediate(() => {
        result = outcome(() => q.putNowait(10));
      });
      expect(p.ready()).toBe(false);
      expect(p.get()).toBe(10);
      expect(result).toEqual({ returned: undefined });
      expect(q.empty()).toBe(true);
    }));

  it('hands an item to a getter waiting under a Timeout (test_send_last)', () =>
    run(() => {
      const q = make();
      const p = spawn(() => withTimeout(FOREVER, () => q.get()));
      sleep(1);
      q.put('hi2');
      expect(p.get({ timeoutMs: FOREVER })).toBe('hi2');
    }));

  it('delivers from a putter that has ended (test_senders_that_die)', () =>
    run(() => {
      const q = make();
      spawn(() => q.put('sent'));
      expect(q.get()).toBe('sent');
    }));

  it('gives several waiters one item each (test_multiple_waiters)', () =>
    run(() => {
      const q = make();
      const sendings = ['1', '2', '3', '4'];
      const evts = sendings.map(() => new AsyncResult<unknown>());
      for (const evt of evts) spawn(() => evt.set(q.get()));
      sleep(1);
      const results = new Set<unknown>();
      const collect = () => {
        for (const evt of evts) {
          const value = withTimeout(1, () => evt.get(), { default: undefined });
          if (value !== undefined) results.add(value);
        }
        return results.size;
      };
      spawn(() => q.put(sendings[0]));
      expect(collect()).toBe(1);
      spawn(() => q.put(sendings[1]));
      expect(collect()).toBe(2);
      spawn(() => q.put(sendings[2]));
      spawn(() => q.put(sendings[3]));
      expect(collect()).toBe(4);
      expect([...results].sort()).toEqual(sendings);
    }));

  it('a waiter that timed out consumes nothing (test_waiters_that_cancel)', () =>
    run(() => {
      const q = make();
      const evt = new AsyncResult<unknown>();
      spawn(receiveWithExpiredTimeout, q, evt);
      expect(evt.get()).toBe('timed out');
      spawn(() => q.put('hi'));
      expect(q.get()).toBe('hi');
    }));

  it('of two waiters, the one that timed out gets nothing and the other the item (test_two_waiters_one_dies)', () =>
    run(() => {
      const q = make();
      const dying = new AsyncResult<unknown>();
      const waiting = new AsyncResult<unknown>();
      spawn(receiveWithExpiredTimeout, q, dying);
      spawn(() => waiting.set(q.get()));
      sleep(SMALL);
      spawn(() => q.put('hi'));
      expect(dying.get()).toBe('timed out');
      expect(waiting.get()).toBe('hi');
    }));

  it('two waiters that timed out leave the item for the next get (test_two_bogus_waiters)', () =>
    run(() => {
      const q = make();
      const e1 = new AsyncResult<unknown>();
      const e2 = new AsyncResult<unknown>();
      spawn(receiveWithExpiredTimeout, q, e1);
      spawn(receiveWithExpiredTimeout, q, e2);
      sleep(SMALL);
      spawn(() => q.put('sent'));
      expect(e1.get()).toBe('timed out');
      expect(e2.get()).toBe('timed out');
      expect(q.get()).toBe('sent');
    }));

  it('get({ timeoutMs }) throws ERR_LOOPLET_QUEUE_EMPTY, get({ block: false }) at once (TestGetInterrupt)', () =>
    run(() => {
      const q = make();
      expect(outcome(() => q.get({ timeoutMs: 1 }))).toBe('ERR_LOOPLET_QUEUE_EMPTY');
      expect(outcome(() => q.get({ block: false }))).toBe('ERR_LOOPLET_QUEUE_EMPTY');
      expect(outcome(() => q.getNowait())).toBe('ERR_LOOPLET_QUEUE_EMPTY');
      const err = thrown(() => q.get({ timeoutMs: 0 }));
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toBe('The queue is empty');
    }));

  it('put({ timeoutMs }) on a full queue throws ERR_LOOPLET_QUEUE_FULL, put({ block: false }) at once (TestPutInterrupt)', () =>
    run(() => {
      const q = make(1);
      while (!q.full()) q.put(1);
      expect(outcome(() => q.put(2, { timeoutMs: 1 }))).toBe('ERR_LOOPLET_QUEUE_FULL');
      expect(outcome(() => q.put(2, { block: false }))).toBe('ERR_LOOPLET_QUEUE_FULL');
      expect(outcome(() => q.putNowait(2))).toBe('ERR_LOOPLET_QUEUE_FULL');
      expect(thrown(() => q.put(2, { timeoutMs: 0 })).message).toBe('The queue is full');
      expect(q.qsize()).toBe(holdsItems ? 1 : 0);
    }));

  it('get and put let an outer Timeout through, by identity (test_outer_timeout_is_not_lost)', () =>
    run(() => {
      const q = make(1);
      const t1 = Timeout.startNew(1);
      expect(thrown(() => q.get({ timeoutMs: FOREVER }))).toBe(t1);
      while (!q.full()) q.put(1);
      const t2 = Timeout.startNew(1);
      expect(thrown(() => q.put(2, { timeoutMs: FOREVER }))).toBe(t2);
      const error = new Error('custom');
      Timeout.startNew(1, error);
      expect(thrown(() => q.put(2))).toBe(error);
    }));

  it('throws ERR_LOOPLET_BLOCKING_ON_HUB on the hub where it would wait', () => {
    const q = make(1);
    expect(thrown(() => q.get())).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    expect(thrown(() => q.get({ timeoutMs: 1 }))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    expect(thrown(() => q.peek())).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    if (holdsItems) q.put('fits');
    expect(thrown(() => q.put('waits'))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    expect(q.qsize()).toBe(holdsItems ? 1 : 0);
  });

  it('checks its arguments (TypeError / RangeError with Node codes)', () => {
    const q = make();
    const cases: Array<[() => unknown, string, string]> = [
      [() => q.get(1 as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [() => q.get({ block: 'no' as never }), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [() => q.get({ timeoutMs: -1 }), 'RangeError', 'ERR_OUT_OF_RANGE'],
      [() => q.put(1, null as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [() => q.put(1, { timeoutMs: '1' as never }), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [() => q.peek({ timeoutMs: NaN }), 'RangeError', 'ERR_OUT_OF_RANGE'],
    ];
    for (const [call, errName, code] of cases) expect(thrown(call)).toMatchObject({ name: errName, code });
  });
});

describe.each(buffered)('%s with room for items (test__queue.py TestQueue)', (_, make) => {
  it('lets one greenlet put and get without switching; peek leaves the item (test_send_first)', () => {
    const q = make();
    q.put('hi');
    expect(q.peek()).toBe('hi');
    expect(q.qsize()).toBe(1);
    expect(q.get()).toBe('hi');
    expect(q.empty()).toBe(true);
  });

  it('peek waits for an item, times out with ERR_LOOPLET_QUEUE_EMPTY, and several peekers see the same item (test_peek_empty, test_peek_multi_greenlet)', () =>
    run(() => {
      const q = make();
      expect(outcome(() => q.peek({ timeoutMs: 1 }))).toBe('ERR_LOOPLET_QUEUE_EMPTY');
      expect(outcome(() => q.peek({ block: false }))).toBe('ERR_LOOPLET_QUEUE_EMPTY');
      const peekers = [spawn(() => q.peek()), spawn(() => q.peek())];
      sleep(0);
      q.put(1);
      expect(peekers.map((p) => p.get())).toEqual([1, 1]);
      expect(q.peek()).toBe(1);
      expect(q.qsize()).toBe(1);
    }));

  it('put waits while the queue is full, and each get lets one putter in (test_max_size)', () =>
    run(() => {
      const q = make(2);
      const results: string[] = [];
      const p = spawn(() => {
        for (const item of ['a', 'b', 'c']) {
          q.put(item);
          results.push(item);
        }
        return 'OK';
      });
      sleep(0);
      expect(results).toEqual(['a', 'b']);
      expect(q.full()).toBe(true);
      q.get();
      sleep(0);
      expect(results).toEqual(['a', 'b', 'c']);
      expect(q.qsize()).toBe(2);
      q.get();
      q.get();
      expect(p.get({ timeoutMs: 0 })).toBe('OK');
    }));

  it('getNowait from an event-loop callback lets a waiting putter in (test_get_nowait_simple, test_get_nowait_unlock)', () =>
    run(() => {
      const q = make(1);
      q.put(4);
      const p = spawn(() => q.put(5));
      sleep(0);
      expect(q.full()).toBe(true);
      let results: unknown[] = [];
      setImmediate(() => {
        results = [outcome(() => q.getNowait()), outcome(() => q.getNowait()), outcome(() => q.getNowait())];
      });
      p.join();
      expect(results).toEqual([{ returned: 4 }, { returned: 5 }, 'ERR_LOOPLET_QUEUE_EMPTY']);
      expect(p.successful()).toBe(true);
      expect(q.empty()).toBe(true);
    }));

  it('join() returns at once when nothing was ever put (test_issue_45)', () =>
    run(() => {
      expect(make().join()).toBe(true);
    }));

  it('join() waits until taskDone() has been called for every item (test_task_done)', () =>
    run(() => {
      const q = make();
      const X = {};
      spawn(() => q.put(X));
      expect(q.get()).toBe(X);
      expect(q.join(0)).toBe(false);
      const joiner = spawn(() => q.join());
      sleep(0);
      expect(joiner.ready()).toBe(false);
      q.taskDone();
      expect(joiner.get()).toBe(true);
      expect(q.join(0)).toBe(true);
      expect(thrown(() => q.taskDone())).toMatchObject({ code: 'ERR_LOOPLET_QUEUE_TASK_DONE' });
    }));

  it('counts items handed straight to a waiting getter as unfinished tasks', () =>
    run(() => {
      const q = make();
      const worker = spawn(() => {
        for (let i = 0; i < 3; i++) {
          q.get();
          sleep(1);
          q.taskDone();
        }
      });
      sleep(0);
      for (let i = 0; i < 3; i++) q.put(i);
      expect(q.join(FOREVER)).toBe(true);
      expect(worker.ready()).toBe(true);
    }));

  it('join() throws ERR_LOOPLET_BLOCKING_ON_HUB on the hub while tasks are unfinished', () => {
    const q = make();
    q.put(1);
    expect(thrown(() => q.join())).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
  });

  it('treats maxsize 0 and undefined as unlimited', () => {
    for (const q of [make(), make(0), make(Infinity)]) {
      expect(q.maxsize).toBe(Infinity);
      for (let i = 0; i < 1000; i++) q.putNowait(i);
      expect(q.full()).toBe(false);
      expect(q.qsize()).toBe(1000);
    }
  });
});

describe('ordering (test__queue.py TestLifoQueue, TestPriorityQueue)', () => {
  it('Queue is first in, first out', () => {
    const q = new Queue<number>();
    for (const n of [3, 1, 2]) q.put(n);
    expect([q.get(), q.get(), q.get()]).toEqual([3, 1, 2]);
  });

  it('LifoQueue is last in, first out, and peek shows the last', () => {
    const q = new LifoQueue<number>();
    for (const n of [3, 1, 2]) q.put(n);
    expect(q.peek()).toBe(2);
    expect([q.get(), q.get(), q.get()]).toEqual([2, 1, 3]);
  });

  it('PriorityQueue hands out the smallest first: numbers, strings, and arrays element by element', () => {
    const numbers = new PriorityQueue<number>();
    for (const n of [5, 3, 9, 1, 7, 1]) numbers.put(n);
    expect(numbers.peek()).toBe(1);
    expect(Array.from({ length: 6 }, () => numbers.get())).toEqual([1, 1, 3, 5, 7, 9]);
    const strings = new PriorityQueue<string>();
    for (const s of ['pear', 'apple', 'fig']) strings.put(s);
    expect([strings.get(), strings.get(), strings.get()]).toEqual(['apple', 'fig', 'pear']);
    const tuples = new PriorityQueue<[number, string]>();
    for (const t of [[2, 'b'], [1, 'z'], [2, 'a'], [1, 'y']] as Array<[number, string]>) tuples.put(t);
    expect(Array.from({ length: 4 }, () => tuples.get())).toEqual([
      [1, 'y'],
      [1, 'z'],
      [2, 'a'],
      [2, 'b'],
    ]);
  });

  it('PriorityQueue takes a compare function', () => {
    const q = new PriorityQueue<{ at: number }>(0, { compare: (a, b) => b.at - a.at });
    for (const at of [1, 3, 2]) q.put({ at });
    expect([q.get(), q.get(), q.get()].map((x) => x.at)).toEqual([3, 2, 1]);
  });

  it('PriorityQueue keeps its order through many puts and gets', () => {
    const q = new PriorityQueue<number>();
    const values = Array.from({ length: 500 }, (_, i) => (i * 7919) % 501);
    for (const v of values) q.put(v);
    const out = Array.from({ length: 500 }, () => q.get());
    expect(out).toEqual([...values].sort((a, b) => a - b));
  });

  it('checks the options of PriorityQueue', () => {
    expect(thrown(() => new PriorityQueue(0, null as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => new PriorityQueue(0, { compare: 1 as never }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });
});

describe('Channel (test__queue.py TestChannel)', () => {
  it('put waits for a get (test_zero_max_size)', () =>
    run(() => {
      const q = new Channel<string>();
      const e1 = new AsyncResult<string>();
      const e2 = new AsyncResult<string>();
      const p1 = spawn(() => {
        q.put('hi');
        e1.set('done');
      });
      sleep(1);
      expect(e1.ready()).toBe(false);
      const p2 = spawn(() => e2.set(q.get()));
      expect(e2.get()).toBe('hi');
      expect(e1.get()).toBe('done');
      expect(joinall([p1, p2], { timeoutMs: 0 })).toHaveLength(2);
    }));

  it('interleaves a sender with its receiver (test_send)', () =>
    run(() => {
      const channel = new Channel<string>();
      const events: string[] = [];
      const g = spawn(() => {
        events.push(channel.get());
        events.push(channel.get());
      });
      events.push('sending');
      channel.put('hello');
      events.push('sent hello');
      channel.put('world');
      events.push('sent world');
      expect(events).toEqual(['sending', 'hello', 'sent hello', 'world', 'sent world']);
      g.get();
    }));

  it('interleaves a receiver with its sender (test_wait)', () =>
    run(() => {
      const channel = new Channel<string>();
      const events: string[] = [];
      const g = spawn(() => {
        events.push('sending hello');
        channel.put('hello');
        events.push('sending world');
        channel.put('world');
        events.push('sent world');
      });
      events.push('waiting');
      events.push(channel.get());
      events.push(channel.get());
      expect(events).toEqual(['waiting', 'sending hello', 'hello', 'sending world', 'world']);
      sleep(0);
      expect(events).toEqual(['waiting', 'sending hello', 'hello', 'sending world', 'world', 'sent world']);
      g.get();
    }));

  it('getNowait on the hub takes the item of a waiting putter and lets it go on (test_get_nowait_unlock_channel)', () =>
    run(() => {
      const q = new Channel<number>();
      const p = spawn(() => q.put(5));
      expect([q.empty(), q.full()]).toEqual([true, true]);
      sleep(1);
      expect([q.empty(), q.full(), q.qsize()]).toEqual([true, true, 0]);
      let result: unknown;
      setImmediate(() => {
        result = q.getNowait();
      });
      p.join();
      expect(result).toBe(5);
      expect(p.successful()).toBe(true);
      expect(q.empty()).toBe(true);
    }));

  it('peek shows the item of a waiting putter, and waits for one', () =>
    run(() => {
      const q = new Channel<string>();
      expect(outcome(() => q.peek({ block: false }))).toBe('ERR_LOOPLET_QUEUE_EMPTY');
      const peeker = spawn(() => q.peek());
      sleep(0);
      const putter = spawn(() => q.put('x'));
      expect(peeker.get()).toBe('x');
      expect(q.peek()).toBe('x');
      expect(q.get()).toBe('x');
      putter.join();
    }));
});

describe('interrupts lose no item', () => {
  it('Queue: a putter killed after a get let its item in returns from put(), and the kill lands at its next blocking call', () =>
    run(() => {
      const q = new Queue<string>(1);
      q.put('first');
      const log: string[] = [];
      const putter = spawn(() => {
        q.put('second'); // waits: the queue is full
        log.push('put returned');
        sleep(0);
        log.push('not reached');
      });
      sleep(0);
      setImmediate(() => {
        expect(q.getNowait()).toBe('first'); // lets 'second' in and wakes the putter
        putter.kill({ block: false });
      });
      expect(putter.get()).toBeInstanceOf(GreenletExit);
      expect(log).toEqual(['put returned']);
      expect(q.getNowait()).toBe('second');
    }));

  it('Channel: a putter whose item was taken returns from put() even if its Timeout expired meanwhile; cancel() drops the held-back Timeout', async () => {
    const ch = new Channel<string>();
    const putter = spawn(() => {
      setTimeout(() => ch.getNowait(), 1);
      const timeout = Timeout.startNew(SMALL);
      ch.put('x'); // taken by the timer's get, then the Timeout expires before the putter resumes
      timeout.cancel();
      sleep(1); // the expired-but-cancelled Timeout is not thrown here
      return 'put and slept';
    });
    await afterDrain();
    busyWait(3 * SMALL);
    expect(await putter).toBe('put and slept');
  });

  it('Channel: without cancel(), the held-back Timeout is thrown at the next blocking call', async () => {
    const ch = new Channel<string>();
    const putter = spawn(() => {
      setTimeout(() => ch.getNowait(), 1);
      const timeout = Timeout.startNew(SMALL);
      ch.put('x');
      try {
        sleep(1);
        return 'slept';
      } catch (err) {
        return err === timeout ? 'timeout after put' : err;
      }
    });
    await afterDrain();
    busyWait(3 * SMALL);
    expect(await putter).toBe('timeout after put');
  });

  it.each(buffered)('%s: a getter killed after a put handed it an item leaves the item in the queue', (_, make) =>
    run(() => {
      const q = make();
      const getter = spawn(() => q.get());
      sleep(0);
      q.put('x');
      getter.kill({ block: false });
      expect(q.qsize()).toBe(1);
      expect(getter.get()).toBeInstanceOf(GreenletExit);
      expect(q.get()).toBe('x');
    }),
  );

  it('Channel: a getter killed after a put handed it an item leaves the item for the next get', () =>
    run(() => {
      const q = new Channel<string>();
      const getter = spawn(() => q.get());
      sleep(0);
      setImmediate(() => {
        q.putNowait('x');
        getter.kill({ block: false });
      });
      expect(getter.get()).toBeInstanceOf(GreenletExit);
      expect(q.qsize()).toBe(1);
      expect(q.get({ block: false })).toBe('x');
      expect(q.qsize()).toBe(0);
    }));

  it.each(kinds)('%s: an item handed to a killed getter goes on to the next getter in line', (_, make) =>
    run(() => {
      const q = make();
      const first = spawn(() => q.get());
      const second = spawn(() => q.get());
      sleep(0);
      setImmediate(() => {
        q.putNowait('x');
        first.kill({ block: false });
      });
      expect(second.get()).toBe('x');
      expect(first.get()).toBeInstanceOf(GreenletExit);
      expect(q.qsize()).toBe(0);
    }),
  );

  it.each(kinds)('%s: a getter whose Timeout expires after a put handed it an item leaves the item in the queue', async (_, make) => {
    const q = make();
    // The put's timer falls due first; the Timeout's before the getter can
    // resume (the event loop is held busy until both are due).
    const getter = spawn(() => {
      setTimeout(() => q.putNowait('x'), 1);
      const timeout = Timeout.startNew(SMALL);
      try {
        return q.get();
      } catch (err) {
        return err === timeout ? 'timed out' : err;
      }
    });
    await afterDrain();
    busyWait(3 * SMALL);
    expect(await getter).toBe('timed out');
    expect(q.qsize()).toBe(1);
    expect(q.getNowait()).toBe('x');
  });

  it('Queue: many getters and putters, some killed, some timing out: every item is got exactly once', () =>
    run(() => {
      const q = new Queue<number>(3);
      const got: number[] = [];
      const getters = Array.from({ length: 20 }, (_, i) =>
        spawn(() => {
          for (;;) {
            try {
              got.push(q.get({ timeoutMs: i % 4 === 0 ? 1 : FOREVER }));
            } catch (err) {
              if ((err as { code?: string }).code !== 'ERR_LOOPLET_QUEUE_EMPTY') throw err;
            }
            if (i % 3 === 0) sleep(0);
          }
        }),
      );
      const putters = Array.from({ length: 5 }, (_, p) =>
        spawn(() => {
          for (let n = 0; n < 40; n++) {
            q.put(p * 100 + n);
            if (n % 7 === 0) sleep(1);
          }
        }),
      );
      for (let round = 0; round < 10; round++) {
        sleep(1);
        getters[round].kill({ block: false });
      }
      joinall(putters);
      while (got.length < 200) sleep(1);
      for (const g of getters) g.kill();
      expect(got.length).toBe(200);
      expect(new Set(got).size).toBe(200);
      expect(q.qsize()).toBe(0);
    }));
});

describe('argument errors', () => {
  it('checks maxsize', () => {
    for (const Kind of [Queue, LifoQueue, PriorityQueue]) {
      expect(thrown(() => new Kind(-1))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => new Kind(1.5))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => new Kind('1' as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    }
  });
});
