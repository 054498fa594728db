// Jobs: gevent's src/gevent/tests/test__greenlet.py and test__api.py, ported
// to looplet's hub. Links, states, joinall, join/get, kill and killall, the
// thenable, Symbol.dispose, the unobserved-failure warning and the argument
// errors. Each scenario runs inside a job (`run()`): the test body itself
// runs on the hub, where blocking calls throw.
import { describe, expect, it } from 'vitest';
import { Greenlet, GreenletExit, getcurrent, settrace } from '../lib/greenlet';
import { AsyncResult, Job, Queue, Timeout, getHub, joinall, killall, run, sleep, spawn, spawnLater } from '../lib/hub';
import { ExpectedError, FOREVER, SMALL, collectWarnings, installHubChecks, thrown, turns } from './hub-helpers';

installHubChecks();

/** Fails the job: the error is observed at once by whoever gets it. */
function fail(message: string): never {
  throw new ExpectedError(message);
}

describe('links (test__greenlet.py TestLink, TestReturn_link, TestRaise_link)', () => {
  it('calls a link with the finished job, and a link added after the end at once (test_link_to_asyncresult)', () =>
    run(() => {
      const p = spawn(() => 100);
      const event = new AsyncResult<unknown>();
      p.link((job) => event.set(job.value));
      expect(event.get()).toBe(100);
      for (let i = 0; i < 3; i++) {
        const again = new AsyncResult<unknown>();
        p.link((job) => again.set(job.value));
        expect(again.get()).toBe(100);
      }
    }));

  it('hands a link the exception by identity (test_link_to_asyncresult_exception)', () =>
    run(() => {
      const err = new ExpectedError('test_link_to_asyncresult_exception');
      const p = spawn(() => {
        throw err;
      });
      for (let i = 0; i < 4; i++) {
        const event = new AsyncResult();
        p.link((job) => event.setException(job.exception));
        expect(thrown(() => event.get())).toBe(err);
      }
    }));

  it("links to a queue's put (test_link_to_queue)", () =>
    run(() => {
      const p = spawn(() => 100);
      const q = new Queue<Job>();
      p.link((job) => q.put(job));
      expect(q.get().get()).toBe(100);
      for (let i = 0; i < 3; i++) {
        p.link((job) => q.put(job));
        expect(q.get()).toBe(p);
      }
    }));

  it('fires link and linkValue for a value, never linkException (TestReturn_link._test_return)', () =>
    run(() => {
      const p = spawn(() => 25);
      const fired: string[] = [];
      p.link(() => fired.push('link'));
      p.linkValue(() => fired.push('linkValue'));
      p.linkException(() => fired.push('linkException'));
      const value = new AsyncResult();
      p.linkValue((job) => value.set(job.value));
      expect(value.get()).toBe(25);
      sleep(SMALL);
      expect(fired).toEqual(['link', 'linkValue']);
      expect(p.ready() && p.successful()).toBe(true);
    }));

  it('fires link and linkValue with a GreenletExit value for a killed job (TestReturn_link._test_kill)', () =>
    run(() => {
      const p = spawn(() => sleep(FOREVER));
      sleep(0);
      const fired: string[] = [];
      const values: unknown[] = [];
      p.link((job) => values.push(job.value));
      p.linkValue((job) => values.push(job.value));
      p.linkException(() => fired.push('linkException'));
      p.kill();
      sleep(SMALL);
      expect(fired).toEqual([]);
      expect(values).toHaveLength(2);
      for (const value of values) expect(value).toBeInstanceOf(GreenletExit);
      expect(p.successful()).toBe(true);
    }));

  it('fires link and linkException for an exception, never linkValue (TestRaise_link)', () =>
    run(() => {
      const err = new ExpectedError('test_raise');
      const p = spawn(() => {
        throw err;
      });
      const fired: Array<[string, unknown]> = [];
      p.link((job) => fired.push(['link', job.exception]));
      p.linkException((job) => fired.push(['linkException', job.exception]));
      p.linkValue(() => fired.push(['linkValue', null]));
      sleep(SMALL);
      expect(fired).toEqual([
        ['link', err],
        ['linkException', err],
      ]);
      expect(p.ready()).toBe(true);
      expect(p.successful()).toBe(false);
      expect(p.value).toBeUndefined();
    }));

  it('fires a link once, however often the job is killed or joined afterwards', () =>
    run(() => {
      const p = spawn(() => sleep(FOREVER));
      const calls: Job[] = [];
      p.link((job) => calls.push(job));
      sleep(0);
      p.kill();
      p.kill();
      p.join();
      sleep(SMALL);
      p.kill({ error: new ExpectedError() });
      sleep(SMALL);
      expect(calls).toEqual([p]);
    }));

  it('runs each link on the hub, in the order they were added', () =>
    run(() => {
      const p = spawn(() => 1);
      const seen: Array<[number, boolean]> = [];
      for (let i = 0; i < 5; i++) p.link(() => seen.push([i, getcurrent() === getHub().greenlet]));
      p.join();
      sleep(SMALL);
      expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => [i, true]));
    }));

  it('unlink() removes every link to the callback, for each kind (TestUnlink)', () =>
    run(() => {
      for (const kind of ['link', 'linkValue', 'linkException'] as const) {
        const p = spawn(() => fail(kind));
        const calls: string[] = [];
        const callback = () => calls.push(kind);
        p[kind](callback);
        p[kind](callback);
        p.unlink(callback);
        p.link(() => calls.push('kept'));
        expect(thrown(() => p.get())).toBeInstanceOf(ExpectedError);
        sleep(SMALL);
        expect(calls).toEqual(['kept']);
      }
    }));

  it('never calls a link that an earlier link of the same batch unlinked (test_multiple_listeners_error_unlink)', () =>
    run(() => {
      const results: number[] = [];
      const listener1 = (job: Job) => {
        job.unlink(listener2);
        results.push(5);
      };
      const listener2 = (job: Job) => {
        job.unlink(listener1);
        results.push(5);
      };
      const p = spawn(() => 5);
      p.link(listener1);
      p.link(listener2);
      sleep(SMALL);
      expect(results).toEqual([5]);
    }));
});

describe('states (test__greenlet.py test_simple_exit, test_error_exit, TestStart, TestBasic)', () => {
  it('goes from new to scheduled to running to finished with a value (test_simple_exit)', () =>
    run(() => {
      const links: Job[] = [];
      const g = new Job((delay: number, value: number) => {
        sleep(delay);
        return value;
      }, SMALL, 5);
      g.link((job) => links.push(job));
      const state = () => ({ dead: g.dead, ready: g.ready(), successful: g.successful(), value: g.value, exception: g.exception });
      const unfinished = { dead: false, ready: false, successful: false, value: undefined, exception: undefined };
      expect(state()).toEqual(unfinished);
      expect(g.start()).toBe(g);
      expect(state()).toEqual(unfinished);
      sleep(0);
      expect(g.started).toBe(true);
      expect(state()).toEqual(unfinished);
      expect(links).toEqual([]);
      g.join();
      expect(state()).toEqual({ dead: true, ready: true, successful: true, value: 5, exception: undefined });
      sleep(SMALL);
      expect(links).toEqual([g]);
    }));

  it('keeps the error it failed with, and no value (test_error_exit)', () =>
    run(() => {
      const g = spawn(() => {
        sleep(1);
        const error = new ExpectedError('test_error_exit') as ExpectedError & { myattr?: number };
        error.myattr = 5;
        throw error;
      });
      expect(g.join()).toBe(true);
      expect({ dead: g.dead, ready: g.ready(), successful: g.successful(), value: g.value }).toEqual({
        dead: true,
        ready: true,
        successful: false,
        value: undefined,
      });
      expect((g.exception as { myattr: number }).myattr).toBe(5);
    }));

  it('cannot be started twice (TestStart)', () =>
    run(() => {
      const g = spawn(() => sleep(1));
      expect(thrown(() => g.start())).toMatchObject({ code: 'ERR_LOOPLET_JOB_STARTED' });
      g.join();
      expect(thrown(() => g.start())).toMatchObject({ code: 'ERR_LOOPLET_JOB_STARTED' });
      expect(thrown(() => g.startLater(1))).toMatchObject({ code: 'ERR_LOOPLET_JOB_STARTED' });
      expect(g.successful()).toBe(true);
    }));

  it('passes the arguments of spawn, spawnLater and run to the function', async () => {
    expect(await run((a: number, b: string) => `${a}${b}`, 1, 'x')).toBe('1x');
    expect(await spawn((...args: unknown[]) => args, 1, 2, 3)).toEqual([1, 2, 3]);
    expect(await spawnLater(1, (a: number) => a * 2, 21)).toBe(42);
  });

  it("has the hub as its parent, and runs on a greenlet of its own (test_minimal_ident_parent_not_hub)", async () => {
    const hub = getHub().greenlet;
    expect(hub).toBe(getcurrent());
    const g: Job = spawn(() => getcurrent() === g && g.parent === hub);
    expect(g.parent).toBe(hub);
    expect(await g).toBe(true);
  });

  it('runs a job spawned by a job that returns at once (test__api.py test_spawn_is_not_cancelled)', () =>
    run(() => {
      const lst = [1];
      spawn(() => {
        spawn(() => lst.pop());
      });
      sleep(SMALL);
      expect(lst).toEqual([]);
    }));

  it('fires spawnLater after its delay, in the order of the delays (test__api.py test_timer_fired)', () =>
    run(() => {
      const order: string[] = [];
      const late = spawnLater(3 * SMALL, () => order.push('late'));
      const early = spawnLater(SMALL, () => order.push('early'));
      const now = spawn(() => order.push('now'));
      expect(order).toEqual([]);
      sleep(0);
      expect(order).toEqual(['now']);
      joinall([late, early, now]);
      expect(order).toEqual(['now', 'early', 'late']);
    }));

  it('never reports a job dead while it is being switched into (TestDeadPropertyDuringSwitch)', () =>
    run(() => {
      const dead: boolean[] = [];
      const previous = settrace((event, [, target]) => {
        if (event === 'switch') dead.push(target.dead);
      });
      try {
        const g = spawn(() => 42);
        g.join();
      } finally {
        settrace(previous);
      }
      expect(dead.length).toBeGreaterThan(0);
      expect(dead.every((d) => !d)).toBe(true);
    }));
});

describe('joinall (test__greenlet.py TestStuff, TestJoinAll)', () => {
  it('waits for every job; raiseError with no error returns them all (test_wait_noerrors)', () =>
    run(() => {
      const jobs = [spawn(() => 1), spawn(() => 2), spawn(() => 3)];
      expect(new Set(joinall(jobs, { raiseError: true }))).toEqual(new Set(jobs));
      expect(jobs.map((j) => j.value)).toEqual([1, 2, 3]);
    }));

  it('raises the error of a failed job, also when it failed before the call (test_wait_error)', () =>
    run(() => {
      const x = spawn(() => {
        sleep(SMALL);
        return 1;
      });
      const err = new ExpectedError('test_wait_error');
      const y = spawn(() => {
        throw err;
      });
      expect(thrown(() => joinall([x, y], { raiseError: true }))).toBe(err);
      expect(thrown(() => joinall([y], { raiseError: true }))).toBe(err);
      expect(x.join()).toBe(true);
    }));

  it('raises the error that happened first in time (test_joinall_exception_order)', () =>
    run(() => {
      const a = spawn(() => {
        sleep(5 * SMALL);
        fail('first');
      });
      const b = spawn(() => fail('second'));
      expect(thrown(() => joinall([a, b], { raiseError: true })).message).toBe('second');
      joinall([a, b]);
      expect(a.exception).toMatchObject({ message: 'first' });
    }));

  it('raises the error that happened first in time when both jobs have failed before the call', () =>
    run(() => {
      const a = spawn(() => {
        sleep(SMALL);
        fail('first in the list, second in time');
      });
      const b = spawn(() => fail('second in the list, first in time'));
      b.link(() => {});
      a.link(() => {});
      sleep(3 * SMALL);
      expect(a.ready() && b.ready()).toBe(true);
      expect(thrown(() => joinall([a, b], { raiseError: true })).message).toBe('second in the list, first in time');
    }));

  it('returns the finished jobs in the order they finished', () =>
    run(() => {
      const order = [3, 1, 2];
      const jobs = order.map((n) => spawn(() => sleep(n * SMALL)));
      expect(joinall(jobs)).toEqual([jobs[1], jobs[2], jobs[0]]);
      const done = [spawn(() => sleep(2 * SMALL)), spawn(() => sleep(SMALL))];
      sleep(4 * SMALL);
      expect(joinall(done)).toEqual([done[1], done[0]]);
    }));

  it('returns once `count` jobs have finished, without raising when raiseError is false (test_joinall_count_raise_error)', () =>
    run(() => {
      const sleeper = spawn(() => {
        for (;;) sleep(SMALL);
      });
      const raiser = spawn(() => fail('count'));
      expect(joinall([sleeper, raiser], { raiseError: false, count: 1 })).toEqual([raiser]);
      expect(raiser.ready()).toBe(true);
      expect(sleeper.ready()).toBe(false);
      sleeper.kill();
      expect(sleeper.ready()).toBe(true);
    }));

  it('returns the jobs finished so far when timeoutMs passes first (TestJoinAll, TestJoinAll0)', () =>
    run(() => {
      const quick = spawn(() => 1);
      const slow = spawn(() => sleep(FOREVER));
      expect(joinall([quick, slow], { timeoutMs: SMALL })).toEqual([quick]);
      slow.kill();
      const unstarted = new Job(() => 1);
      expect(joinall([unstarted], { timeoutMs: SMALL })).toEqual([]);
      expect(joinall([], { timeoutMs: 0 })).toEqual([]);
    }));

  it('lets an outer Timeout through (test_outer_timeout_is_not_lost)', () =>
    run(() => {
      const g = spawn(() => sleep(FOREVER));
      const timeout = Timeout.startNew(1);
      try {
        expect(thrown(() => joinall([g], { timeoutMs: FOREVER }))).toBe(timeout);
      } finally {
        timeout.cancel();
        g.kill();
      }
    }));

  it('returns at once on the hub when every job has finished, and throws ERR_LOOPLET_BLOCKING_ON_HUB otherwise', async () => {
    const done = spawn(() => 1);
    await done;
    expect(joinall([done])).toEqual([done]);
    const pending = spawn(() => sleep(FOREVER));
    expect(thrown(() => joinall([done, pending]))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    pending.kill();
    await pending;
  });
});

describe('join and get (test__greenlet.py TestJoin, TestGet; timing.AbstractGeneric*TestCase)', () => {
  it('join(timeoutMs) returns false when the time passes first, true once the job has finished', () =>
    run(() => {
      const g = spawn(() => sleep(3 * SMALL));
      expect(g.join(1)).toBe(false);
      expect(g.join()).toBe(true);
      expect(g.join(0)).toBe(true);
    }));

  it('get({ timeoutMs }) throws a Timeout (ERR_LOOPLET_TIMEOUT) and leaves the job running', () =>
    run(() => {
      const g = spawn(() => {
        sleep(3 * SMALL);
        return 'late';
      });
      const err = thrown(() => g.get({ timeoutMs: 1 }));
      expect(err).toBeInstanceOf(Timeout);
      expect(err.code).toBe('ERR_LOOPLET_TIMEOUT');
      expect(g.ready()).toBe(false);
      expect(g.get()).toBe('late');
    }));

  it('get({ block: false }) throws a Timeout at once for an unfinished job, and works on the hub', async () => {
    const g = spawn(() => 'done');
    expect(thrown(() => g.get({ block: false }))).toMatchObject({ name: 'Timeout', code: 'ERR_LOOPLET_TIMEOUT' });
    await g;
    expect(g.get({ block: false })).toBe('done');
    expect(g.get()).toBe('done');
  });

  it('get() throws the exception the job failed with, by identity', () =>
    run(() => {
      const err = new ExpectedError();
      const g = spawn(() => {
        throw err;
      });
      expect(thrown(() => g.get())).toBe(err);
      expect(thrown(() => g.get())).toBe(err);
    }));

  it.each([
    ['join', (g: Job) => g.join(FOREVER)],
    ['get', (g: Job) => g.get({ timeoutMs: FOREVER })],
  ])('%s lets an outer Timeout through, and its custom error (test_outer_timeout_is_not_lost, test_raises_timeout_Timeout_exc_customized)', (_, wait) =>
    run(() => {
      const g = spawn(() => sleep(FOREVER));
      try {
        const timeout = Timeout.startNew(1);
        expect(thrown(() => wait(g))).toBe(timeout);
        expect(timeout.pending).toBe(false);
        const error = new ExpectedError('custom');
        const custom = Timeout.startNew(1, error);
        expect(thrown(() => wait(g))).toBe(error);
        custom.cancel();
      } finally {
        g.kill();
      }
    }));

  it('cannot join itself (ERR_LOOPLET_JOIN_SELF)', () =>
    run(() => {
      const self = getcurrent() as Job;
      expect(thrown(() => self.join())).toMatchObject({ code: 'ERR_LOOPLET_JOIN_SELF' });
    }));
});

describe('kill (test__api.py test_killing_dormant; test__greenlet.py TestKill, TestKillAfterStart, TestKillAfterStartLater, TestKillWhileRunning)', () => {
  it('runs the finally block and the catch of a dormant job before kill() returns (test_killing_dormant)', () =>
    run(() => {
      const state: string[] = [];
      const g = spawn(() => {
        try {
          state.push('start');
          sleep(FOREVER);
        } catch (err) {
          state.push(err instanceof GreenletExit ? 'except' : 'other');
        } finally {
          state.push('finally');
        }
        state.push('finished');
      });
      sleep(SMALL / 2);
      expect(state).toEqual(['start']);
      g.kill();
      expect(state).toEqual(['start', 'except', 'finally', 'finished']);
    }));

  const errors: Array<[string, () => unknown]> = [
    ['GreenletExit (the default)', () => undefined],
    ['an Error', () => new ExpectedError('kill')],
    ['a non-Error value (42)', () => 42],
  ];
  const starts: Array<[string, (g: Job) => void]> = [
    ['not started', () => {}],
    ['started, not yet run', (g) => g.start()],
    ['started later', (g) => g.startLater(FOREVER)],
    [
      'running',
      (g) => {
        g.start();
        sleep(0);
      },
    ],
  ];
  const ways = [
    ['kill', true],
    ['kill', false],
    ['killall', true],
    ['killall', false],
  ] as const;

  describe.each(starts)('a job %s', (startName, start) => {
    it.each(ways.flatMap(([how, block]) => errors.map(([errName, make]) => [how, block, errName, make] as const)))(
      '%s({ block: %s }) with %s: it never runs on, its link fires once, and a second kill does nothing',
      (how, block, _, makeError) =>
        run(() => {
          const result: number[] = [];
          const links: Job[] = [];
          const g = new Job(() => {
            if (startName === 'running') sleep(FOREVER);
            result.push(1);
          });
          g.link((job) => links.push(job));
          start(g);
          const error = makeError();
          const options = error === undefined ? { block } : { block, error };
          const kill = () => (how === 'kill' ? g.kill(options) : killall([g], options));
          kill();
          if (!block) sleep(1);
          const check = () => {
            expect(g.dead).toBe(true);
            expect(g.ready()).toBe(true);
            if (error === undefined) {
              expect(g.successful()).toBe(true);
              expect(g.value).toBeInstanceOf(GreenletExit);
              expect(g.exception).toBeUndefined();
            } else {
              expect(g.successful()).toBe(false);
              expect(g.value).toBeUndefined();
              expect(g.exception).toBe(error);
            }
          };
          check();
          sleep(SMALL);
          check();
          kill();
          sleep(SMALL);
          check();
          expect(result).toEqual([]);
          expect(links).toEqual([g]);
        }),
    );
  });

  it('never waits on the hub: kill() returns while the job still runs its cleanup', async () => {
    const state: string[] = [];
    const g = spawn(() => {
      try {
        sleep(FOREVER);
      } finally {
        state.push('cleaning');
        sleep(1);
        state.push('clean');
      }
    });
    await turns();
    g.kill();
    expect(state).toEqual([]);
    expect(await g).toBeInstanceOf(GreenletExit);
    expect(state).toEqual(['cleaning', 'clean']);
  });

  it('with block and timeoutMs, returns after the time limit when the job refuses to end', () =>
    run(() => {
      const g = spawn(() => {
        for (;;) {
          try {
            sleep(FOREVER);
          } catch (err) {
            if (!(err instanceof GreenletExit)) throw err;
          }
        }
      });
      sleep(0);
      g.kill({ timeoutMs: SMALL });
      expect(g.ready()).toBe(false);
      const err = new ExpectedError('stop');
      g.kill({ error: err });
      expect(g.exception).toBe(err);
    }));

  it('a job that kills itself ends there, successfully', () =>
    run(() => {
      const after: string[] = [];
      const g = spawn(() => {
        (getcurrent() as Job).kill();
        after.push('not reached');
      });
      expect(g.get()).toBeInstanceOf(GreenletExit);
      expect(after).toEqual([]);
    }));

  it('killall with block waits until every job has run its finally block', () =>
    run(() => {
      const cleaned: number[] = [];
      const jobs = [0, 1, 2, 3].map((i) =>
        spawn(() => {
          try {
            sleep(FOREVER);
          } finally {
            sleep(1);
            cleaned.push(i);
          }
        }),
      );
      sleep(0);
      killall(jobs);
      expect(cleaned.sort()).toEqual([0, 1, 2, 3]);
      expect(jobs.every((j) => j.ready() && j.value instanceof GreenletExit)).toBe(true);
    }));

  it('killall skips the calling job and kills the rest', () =>
    run(() => {
      const other = spawn(() => sleep(FOREVER));
      sleep(0);
      killall([getcurrent() as Job, other]);
      expect(other.ready()).toBe(true);
    }));
});

describe('the thenable (await job, await run(fn))', () => {
  it('resolves with the value, rejects with the exception, and resolves a killed job with its GreenletExit', async () => {
    expect(await spawn(() => 'value')).toBe('value');
    const err = new ExpectedError();
    await expect(
      spawn(() => {
        throw err;
      }),
    ).rejects.toBe(err);
    const sleeper = spawn(() => sleep(FOREVER));
    await turns();
    sleeper.kill();
    expect(await sleeper).toBeInstanceOf(GreenletExit);
    const unstarted = new Job(() => 1);
    unstarted.kill();
    expect(await unstarted).toBeInstanceOf(GreenletExit);
  });

  it('run(fn) resolves and rejects with the outcome of fn', async () => {
    expect(await run(() => 1 + 1)).toBe(2);
    await expect(run(() => fail('from run'))).rejects.toMatchObject({ message: 'from run' });
  });

  it('settles every then() with the same outcome, also after the job has finished', async () => {
    const g = spawn(() => 7);
    const [a, b] = await Promise.all([g.then((v) => v), g.then((v) => v)]);
    expect([a, b, await g]).toEqual([7, 7, 7]);
  });
});

describe('Symbol.dispose (test__greenlet.py TestContextManager)', () => {
  it('joins the job at the end of the scope (test_simple, test_greenlet_raises)', () =>
    run(() => {
      const g = spawn(() => sleep(SMALL));
      g[Symbol.dispose]();
      expect(g.ready()).toBe(true);
      const failing = spawn(() => fail('test_greenlet_raises'));
      failing[Symbol.dispose]();
      expect(failing.ready()).toBe(true);
      expect(thrown(() => failing.get())).toMatchObject({ message: 'test_greenlet_raises' });
    }));

  it('kills the job when the join is interrupted, and lets the interruption through (test_join_raises)', () =>
    run(() => {
      const cleaned: string[] = [];
      const g = spawn(() => {
        try {
          sleep(FOREVER);
        } finally {
          cleaned.push('finally');
        }
      });
      const timeout = Timeout.startNew(SMALL);
      expect(thrown(() => g[Symbol.dispose]())).toBe(timeout);
      g.join();
      expect(cleaned).toEqual(['finally']);
      expect(g.value).toBeInstanceOf(GreenletExit);
    }));
});

describe('the unobserved-failure warning (LOOPLET_JOB_FAILED)', () => {
  it('is emitted once for a job that fails with nothing observing it', async () => {
    const collected = collectWarnings('LOOPLET_JOB_FAILED');
    try {
      const g = spawn(() => fail('nobody looks'));
      await turns(3);
      expect(g.ready()).toBe(true);
      expect(collected.warnings).toHaveLength(1);
      expect(collected.warnings[0]).toMatchObject({ name: 'LoopletJobWarning', code: 'LOOPLET_JOB_FAILED' });
      expect(collected.warnings[0].message).toContain('nobody looks');
    } finally {
      collected.stop();
    }
  });

  const observers: Array<[string, (g: Job) => void]> = [
    ['join()', (g) => spawn(() => g.join())],
    ['get()', (g) => spawn(() => thrown(() => g.get()))],
    ['then()', (g) => void g.then(undefined, () => {})],
    ['link()', (g) => g.link(() => {})],
    ['linkException()', (g) => g.linkException(() => {})],
    ['exception', (g) => void g.exception],
    ['joinall()', (g) => spawn(() => joinall([g]))],
  ];

  it.each(observers)('is not emitted when %s observes the failure', async (_, observe) => {
    const collected = collectWarnings('LOOPLET_JOB_FAILED');
    try {
      const g = spawn(() => fail('observed'));
      observe(g);
      await turns(3);
      expect(g.ready()).toBe(true);
      expect(collected.warnings).toEqual([]);
    } finally {
      collected.stop();
    }
  });

  it('is not emitted for a job killed with GreenletExit, nor for one that succeeds', async () => {
    const collected = collectWarnings('LOOPLET_JOB_FAILED');
    try {
      const sleeper = spawn(() => sleep(FOREVER));
      const ok = spawn(() => 1);
      await turns();
      sleeper.kill();
      await turns(3);
      expect(sleeper.ready() && ok.ready()).toBe(true);
      expect(collected.warnings).toEqual([]);
    } finally {
      collected.stop();
    }
  });
});

describe('argument errors (test__greenlet.py test_spawn_non_callable)', () => {
  const cases: Array<[string, string, string, () => unknown]> = [
    ['spawn(1)', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => spawn(1 as never)],
    ['new Job(null)', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => new Job(null as never)],
    ['run("fn")', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => run('fn' as never)],
    ['spawnLater(1)', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => spawnLater(1, undefined as never)],
    ['spawnLater("1", fn)', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => spawnLater('1' as never, () => 1)],
    ['spawnLater(-1, fn)', 'RangeError', 'ERR_OUT_OF_RANGE', () => spawnLater(-1, () => 1)],
    ['spawnLater(NaN, fn)', 'RangeError', 'ERR_OUT_OF_RANGE', () => spawnLater(NaN, () => 1)],
    ['spawnLater(Infinity, fn)', 'RangeError', 'ERR_OUT_OF_RANGE', () => spawnLater(Infinity, () => 1)],
    ['joinall(5)', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => joinall(5 as never)],
    ['joinall([1])', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => joinall([1] as never)],
    ['joinall([], 1)', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => joinall([], 1 as never)],
    ['joinall([], { count: "1" })', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => joinall([], { count: '1' as never })],
    ['joinall([], { count: -1 })', 'RangeError', 'ERR_OUT_OF_RANGE', () => joinall([], { count: -1 })],
    ['joinall([], { count: 1.5 })', 'RangeError', 'ERR_OUT_OF_RANGE', () => joinall([], { count: 1.5 })],
    ['joinall([], { timeoutMs: -1 })', 'RangeError', 'ERR_OUT_OF_RANGE', () => joinall([], { timeoutMs: -1 })],
    ['joinall([], { raiseError: 1 })', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => joinall([], { raiseError: 1 as never })],
    ['killall(null)', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => killall(null as never)],
    ['killall([a plain Greenlet]) (TestKillallRawGreenlet)', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => killall([new Greenlet(() => 1)] as never)],
    ['killall([], { block: "no" })', 'TypeError', 'ERR_INVALID_ARG_TYPE', () => killall([], { block: 'no' as never })],
  ];

  it.each(cases)('%s throws %s %s', (_, name, code, call) => {
    const err = thrown(call);
    expect(err.name).toBe(name);
    expect(err.code).toBe(code);
  });

  it('checks the arguments of join, get, kill and link (TypeError / RangeError with Node codes)', async () => {
    const g = new Job(() => 1);
    const expectations: Array<[() => unknown, string, string]> = [
      [() => g.join(-1), 'RangeError', 'ERR_OUT_OF_RANGE'],
      [() => g.join('1' as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [() => g.get(5 as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [() => g.get({ block: 'no' as never }), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [() => g.get({ timeoutMs: -5 }), 'RangeError', 'ERR_OUT_OF_RANGE'],
      [() => g.kill(null as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [() => g.kill({ timeoutMs: NaN }), 'RangeError', 'ERR_OUT_OF_RANGE'],
      [() => g.link(null as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [() => g.linkValue('x' as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [() => g.linkException(1 as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [() => g.startLater(-1), 'RangeError', 'ERR_OUT_OF_RANGE'],
    ];
    for (const [call, name, code] of expectations) expect(thrown(call)).toMatchObject({ name, code });
    expect(g.ready()).toBe(false);
    g.kill();
  });

  it('names the argument in the message, as Node does', () => {
    expect(thrown(() => spawn(1 as never)).message).toBe('The "fn" argument must be of type function. Received type number (1)');
    expect(thrown(() => spawnLater(-1, () => 1)).message).toBe('The value of "ms" is out of range. It must be from 0 to 2147483647. Received -1');
  });
});
