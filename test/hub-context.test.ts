// Async context on the hub (issue 9, "Async context"): a job runs in the
// AsyncLocalStorage context of the code that spawned it, whichever callback
// later resumes it, and concurrent jobs never see each other's stores. That
// holds where each greenlet keeps its own context (asyncContextPerGreenlet():
// Node 24+, or 22 with --experimental-async-context-frame). Elsewhere (Node
// 20, 22 by default) Node keeps stores on its async resource stack, which no
// greenlet can own: a job sees the store of the event-loop callback that
// resumed it (docs/greenlets.md). Each case asserts what its line documents.
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { asyncContextPerGreenlet } from '../lib/greenlet';
import { AsyncResult, Event, Queue, joinall, run, sleep, spawn, wait } from '../lib/hub';
import { waitFor } from './helpers';
import { installHubChecks, turns } from './hub-helpers';

installHubChecks();

const perGreenlet = asyncContextPerGreenlet();
const als = new AsyncLocalStorage<string>();

describe(perGreenlet ? 'each job keeps the context it was spawned in' : 'each job sees the context of the callback that resumed it', () => {
  it(`${perGreenlet ? 'keeps' : 'does not keep'} the spawner's store across sleep, wait(promise), a queue get and an Event wait woken from another context`, async () => {
    const q = new Queue<string>();
    const event = new Event();
    let waitingIn = '';
    const seen = als.run('spawner', () =>
      run(() => {
        const stores: Record<string, string | undefined> = { start: als.getStore() };
        sleep(1);
        stores.sleep = als.getStore();
        stores.promise = wait(new Promise<string>((resolve) => als.run('resolver', () => setTimeout(() => resolve('value'), 1))));
        stores.afterPromise = als.getStore();
        waitingIn = 'queue';
        q.get();
        stores.queue = als.getStore();
        waitingIn = 'event';
        event.wait();
        stores.event = als.getStore();
        return stores;
      }),
    );
    await waitFor(() => waitingIn === 'queue', 10_000, 'the job to wait in the queue');
    als.run('putter', () => q.putNowait('item'));
    await waitFor(() => waitingIn === 'event', 10_000, 'the job to wait for the event');
    als.run('setter', () => event.set());
    const stores = await seen;
    expect(stores.promise).toBe('value');
    delete stores.promise;
    if (perGreenlet) {
      expect(stores).toEqual({ start: 'spawner', sleep: 'spawner', afterPromise: 'spawner', queue: 'spawner', event: 'spawner' });
    } else {
      // The start, the timer and the promise reaction were all made in the
      // job's own callbacks; the queue and the event were woken by callbacks
      // run in other stores, and the job sees those.
      expect(stores).toEqual({ start: 'spawner', sleep: 'spawner', afterPromise: 'spawner', queue: 'putter', event: 'setter' });
    }
  });

  it(`${perGreenlet ? 'keeps' : 'does not keep'} two concurrent jobs apart: each sees ${perGreenlet ? 'only its own store' : 'the store of the callback that started the batch'}`, async () => {
    const hand = new AsyncResult<void>();
    let waiting = 0;
    const worker = () => {
      const stores = [als.getStore()];
      for (let i = 0; i < 3; i++) {
        sleep(1);
        stores.push(als.getStore());
      }
      waiting++;
      hand.wait();
      stores.push(als.getStore());
      return stores;
    };
    const a = als.run('A', () => spawn(worker));
    const b = als.run('B', () => spawn(worker));
    await waitFor(() => waiting === 2, 10_000, 'both jobs to wait');
    als.run('hub', () => hand.set());
    const [seenA, seenB] = await Promise.all([a, b]);
    if (perGreenlet) {
      expect(seenA).toEqual(['A', 'A', 'A', 'A', 'A']);
      expect(seenB).toEqual(['B', 'B', 'B', 'B', 'B']);
    } else {
      // Both were started by the one drain scheduled when A was spawned, and
      // woken last from 'hub'.
      expect(seenA).toEqual(['A', 'A', 'A', 'A', 'hub']);
      expect(seenB).toEqual(['A', 'A', 'A', 'A', 'hub']);
    }
  });

  it('settles run() in the context of its caller on every line', async () => {
    const outcome = await als.run('caller', () => run(() => 1).then((v) => [v, als.getStore()]));
    expect(outcome).toEqual([1, 'caller']);
  });

  it.runIf(perGreenlet)('keeps a store that a job enters itself across its own waits, and never leaks it to other jobs', async () => {
    const event = new Event();
    const inner = als.run('outer', () =>
      spawn(() =>
        als.run('inner', () => {
          sleep(1);
          const afterSleep = als.getStore();
          event.wait();
          return [afterSleep, als.getStore()];
        }),
      ),
    );
    const bystander = als.run('bystander', () =>
      spawn(() => {
        const stores = [];
        for (let i = 0; i < 3; i++) {
          sleep(1);
          stores.push(als.getStore());
        }
        return stores;
      }),
    );
    await turns();
    als.run('setter', () => setTimeout(() => event.set(), 5));
    expect(await inner).toEqual(['inner', 'inner']);
    expect(await bystander).toEqual(['bystander', 'bystander', 'bystander']);
    expect(joinall([]).length).toBe(0);
  });
});
