// The TypeScript layer against a fake NativeBinding that records every call:
// which operations reach the native side (and so make a syscall), how
// timeouts and results are converted, and how native failures become errors.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { NativeBinding, NativeFailure, NativePollerHandle } from '../lib/binding';

type Call = [string, ...unknown[]];

const fake = vi.hoisted(() => ({
  calls: [] as Call[],
  /** Return values for the next add/mod/del calls (default 0). */
  next: {} as Partial<Record<'add' | 'mod' | 'del', number[]>>,
  /** Failures for the next watch calls (default: success). */
  watchFailures: [] as NativeFailure[],
  /** (fd, events) pairs the next wait() stores, or a negative errno. */
  ready: [] as Array<[number, number]> | number,
  ctorErrno: 0,
  last: null as null | { buffer: Int32Array | null; onReady: ((errno?: number, syscall?: string) => void) | null },
}));

vi.mock('../lib/binding', () => {
  const CAPS: Record<number, number> = { 1: 0x1 | 0x2 | 0x4 | 0x8, 3: 0x2 | 0x8, 4: 0x2 };
  const take = (op: 'add' | 'mod' | 'del') => fake.next[op]?.shift() ?? 0;
  class FakeNativePoller implements NativePollerHandle {
    buffer: Int32Array | null = null;
    onReady: ((errno?: number, syscall?: string) => void) | null = null;
    constructor(readonly id: number) {
      if (fake.ctorErrno) {
        const err = new Error('lp_poller_new failed') as Error & { errno: number };
        err.errno = fake.ctorErrno;
        throw err;
      }
      fake.last = this;
    }
    add(fd: number, events: number) {
      fake.calls.push(['add', fd, events]);
      return take('add');
    }
    mod(fd: number, events: number) {
      fake.calls.push(['mod', fd, events]);
      return take('mod');
    }
    del(fd: number) {
      fake.calls.push(['del', fd]);
      return take('del');
    }
    wait(timeoutMs: number) {
      fake.calls.push(['wait', timeoutMs]);
      if (typeof fake.ready === 'number') return fake.ready;
      fake.ready.forEach(([fd, ev], i) => {
        this.buffer![2 * i] = fd;
        this.buffer![2 * i + 1] = ev;
      });
      return fake.ready.length;
    }
    setBuffer(buffer: Int32Array) {
      fake.calls.push(['setBuffer', buffer.length]);
      this.buffer = buffer;
    }
    fileno() {
      return this.id === 1 ? 100 : -1;
    }
    caps() {
      return CAPS[this.id];
    }
    close() {
      fake.calls.push(['close']);
    }
    watch(onReady: (errno?: number, syscall?: string) => void) {
      fake.calls.push(['watch']);
      const failure = fake.watchFailures.shift();
      if (failure) return failure;
      this.onReady = onReady;
      return 0 as const;
    }
    unwatch() {
      fake.calls.push(['unwatch']);
      this.onReady = null;
    }
    rearm() {
      fake.calls.push(['rearm']);
    }
    ref(refed: boolean) {
      fake.calls.push(['ref', refed]);
    }
  }
  const binding: NativeBinding = {
    NativePoller: FakeNativePoller,
    backends: { epoll: 1, poll: 3, select: 4 },
    defaultBackend: 'epoll',
    sys: {
      socketpair: () => ({ errno: -24, syscall: 'socketpair' }),
      listen: () => ({ errno: -98, syscall: 'bind' }),
      connect: () => ({ errno: -24, syscall: 'socket' }),
      accept: () => ({ errno: -11, syscall: 'accept4' }),
      localPort: () => ({ errno: -97, syscall: 'getsockname' }),
      dup2: () => ({ errno: -9, syscall: 'dup2' }),
      close: () => 0,
    },
    version: 0x100,
  };
  return { binding: () => binding, packageRoot: () => '/fake' };
});

// Imported after the mock is in place (vi.mock is hoisted above imports).
import { EVENT_READ, EVENT_WRITE, ONESHOT, Poller, sys } from '../lib/index';

beforeEach(() => {
  fake.calls.length = 0;
  fake.next = {};
  fake.watchFailures = [];
  fake.ready = [];
  fake.ctorErrno = 0;
});

function calls(): Call[] {
  return fake.calls.splice(0);
}

describe('Poller over a fake binding', () => {
  it('the fake binding is what the Poller uses', () => {
    const p = new Poller();
    expect(p.backend).toBe('epoll');
    expect(p.fileno()).toBe(100);
    expect(Poller.backends()).toEqual(['epoll', 'poll', 'select']);
    expect(calls()).toEqual([['setBuffer', 128]]);
  });

  it('register makes one add call; unregister one del call', () => {
    const p = new Poller();
    calls();
    p.register(5, EVENT_READ | EVENT_WRITE, 'a');
    expect(calls()).toEqual([['add', 5, 3]]);
    p.unregister(5);
    expect(calls()).toEqual([['del', 5]]);
  });

  it('a data-only modify() makes no native call (no syscall)', () => {
    const p = new Poller();
    p.register(5, EVENT_READ, 'a');
    calls();
    const key = p.modify(5, EVENT_READ, 'b');
    expect(calls()).toEqual([]);
    expect(key.data).toBe('b');
    expect(p.getKey(5)).toBe(key);
    p.modify({ fd: 5 }, EVENT_READ, 'c');
    expect(calls()).toEqual([]);
  });

  it('a modify() that changes the events makes exactly one native call', () => {
    const p = new Poller();
    p.register(5, EVENT_READ, 'a');
    calls();
    const key = p.modify(5, EVENT_WRITE, 'a');
    expect(calls()).toEqual([['mod', 5, EVENT_WRITE]]);
    expect(key.events).toBe(EVENT_WRITE);
  });

  it('modify() with ONESHOT always reaches the native side (it re-arms)', () => {
    const p = new Poller();
    p.register(5, EVENT_READ | ONESHOT);
    calls();
    p.modify(5, EVENT_READ | ONESHOT);
    expect(calls()).toEqual([['mod', 5, EVENT_READ | ONESHOT]]);
  });

  it('argument errors make no native call', () => {
    const p = new Poller({ backend: 'poll' });
    calls();
    expect(() => p.register(-1, EVENT_READ)).toThrow(RangeError);
    expect(() => p.register(5, 0)).toThrow(RangeError);
    expect(() => p.register(5, EVENT_READ | 0x100)).toThrow(expect.objectContaining({ code: 'ERR_LOOPLET_UNSUPPORTED_FLAG' }));
    expect(() => p.modify(5, EVENT_READ)).toThrow(expect.objectContaining({ code: 'ERR_LOOPLET_NOT_REGISTERED' }));
    expect(() => p.select(NaN)).toThrow(RangeError);
    expect(calls()).toEqual([]);
  });

  it('a failed modify() keeps the previous registration (the native side rolls back)', () => {
    const p = new Poller();
    const key = p.register(5, EVENT_READ, 'old');
    fake.next.mod = [-1];
    expect(() => p.modify(5, EVENT_WRITE, 'new')).toThrow(expect.objectContaining({ code: 'EPERM', syscall: 'epoll_ctl' }));
    expect(p.getKey(5)).toBe(key);
    expect(p.getMap().size).toBe(1);
  });

  it('native failures become coded errors', () => {
    const ep = new Poller({ backend: 'epoll' });
    fake.next.add = [-1, -17, -2, -9];
    expect(() => ep.register(5, EVENT_READ)).toThrow(
      expect.objectContaining({ code: 'EPERM', errno: -1, syscall: 'epoll_ctl', fd: 5, message: 'EPERM: operation not permitted, epoll_ctl' }),
    );
    expect(() => ep.register(5, EVENT_READ)).toThrow(expect.objectContaining({ code: 'ERR_LOOPLET_ALREADY_REGISTERED' }));
    expect(() => ep.register(5, EVENT_READ)).toThrow(expect.objectContaining({ code: 'ERR_LOOPLET_NOT_REGISTERED' }));
    expect(() => ep.register(5, EVENT_READ)).toThrow(expect.objectContaining({ code: 'EBADF', errno: -9, syscall: 'epoll_ctl' }));
    expect(ep.getMap().size).toBe(0);

    const sel = new Poller({ backend: 'select' });
    fake.next.add = [-34];
    const err = (() => {
      try {
        sel.register(2000, EVENT_READ);
      } catch (e) {
        return e as RangeError & { code: string };
      }
    })();
    expect(err).toBeInstanceOf(RangeError);
    expect(err!.code).toBe('ERR_LOOPLET_FD_SETSIZE');
    expect(err!.message).toBe('fd 2000 is not below FD_SETSIZE (1024): the select backend cannot watch it; use epoll, kqueue or poll');

    // ERANGE only means FD_SETSIZE for select.
    const poll = new Poller({ backend: 'poll' });
    fake.next.add = [-34];
    expect(() => poll.register(5, EVENT_READ)).toThrow(expect.objectContaining({ code: 'ERANGE', syscall: 'poll' }));

    fake.ready = -4;
    expect(() => ep.select(0)).toThrow(expect.objectContaining({ code: 'EINTR', errno: -4, syscall: 'epoll_wait' }));
    expect(() => sel.select(0)).toThrow(expect.objectContaining({ code: 'EINTR', syscall: 'select' }));
  });

  it('a failing constructor becomes a system error', () => {
    fake.ctorErrno = -24;
    expect(() => new Poller({ backend: 'epoll' })).toThrow(expect.objectContaining({ code: 'EMFILE', errno: -24, syscall: 'epoll_create1' }));
    expect(() => new Poller({ backend: 'poll' })).toThrow(expect.objectContaining({ code: 'EMFILE', syscall: 'poll' }));
  });

  it('select converts timeouts and maps (fd, events) pairs to keys, masked by the interest', () => {
    const p = new Poller();
    const k5 = p.register(5, EVENT_READ, 'five');
    const k7 = p.register(7, EVENT_READ | EVENT_WRITE, 'seven');
    calls();
    fake.ready = [
      [5, EVENT_READ | EVENT_WRITE],
      [7, EVENT_WRITE],
    ];
    expect(p.select()).toEqual([
      [k5, EVENT_READ],
      [k7, EVENT_WRITE],
    ]);
    fake.ready = [];
    expect(p.select(0.3)).toEqual([]);
    p.select(-5);
    p.select(250);
    p.select(Infinity);
    p.select(null as never);
    expect(calls()).toEqual([
      ['wait', -1],
      ['wait', 1],
      ['wait', 0],
      ['wait', 250],
      ['wait', -1],
      ['wait', -1],
    ]);
  });

  it('the result buffer grows with the registrations', () => {
    const p = new Poller();
    calls();
    for (let fd = 10; fd < 10 + 64; fd++) p.register(fd, EVENT_READ);
    expect(calls().filter(([op]) => op === 'setBuffer')).toEqual([]);
    p.register(100, EVENT_READ);
    expect(calls().filter(([op]) => op === 'setBuffer')).toEqual([['setBuffer', 256]]);
    fake.ready = Array.from({ length: 65 }, (_, i) => [i < 64 ? 10 + i : 100, EVENT_READ] as [number, number]);
    expect(p.select(0)).toHaveLength(65);
  });

  it('watch harvests with wait(0), calls back with the batch, then re-arms', () => {
    const p = new Poller({ backend: 'poll' });
    const key = p.register(5, EVENT_READ);
    const batches: unknown[] = [];
    p.watch((ready) => batches.push(ready));
    calls();
    fake.ready = [[5, EVENT_READ]];
    fake.last!.onReady!();
    expect(batches).toEqual([[[key, EVENT_READ]]]);
    expect(calls()).toEqual([['wait', 0], ['rearm']]);
    fake.ready = [];
    fake.last!.onReady!();
    expect(batches).toHaveLength(1); // nothing ready: no call
    expect(calls()).toEqual([['wait', 0], ['rearm']]);
  });

  it('with a helper thread (no fileno), registration changes while watching re-arm once per tick', async () => {
    const p = new Poller({ backend: 'poll' });
    p.watch(() => {});
    calls();
    p.register(5, EVENT_READ);
    p.register(6, EVENT_READ);
    p.modify(5, EVENT_WRITE);
    p.unregister(6);
    expect(calls().filter(([op]) => op === 'rearm')).toEqual([]);
    await Promise.resolve();
    expect(calls()).toEqual([['rearm']]);
    p.modify(5, EVENT_WRITE, 'data only');
    await Promise.resolve();
    expect(calls()).toEqual([]);
  });

  it('with a pollable fileno (epoll), registration changes need no re-arm', async () => {
    const p = new Poller({ backend: 'epoll' });
    p.watch(() => {});
    calls();
    p.register(5, EVENT_READ);
    await Promise.resolve();
    expect(calls()).toEqual([['add', 5, EVENT_READ]]);
  });

  it('a failing native watch leaves the poller unwatched, with the call that failed', () => {
    const p = new Poller();
    fake.watchFailures = [{ errno: -24, syscall: 'eventfd' }];
    expect(() => p.watch(() => {})).toThrow(expect.objectContaining({ code: 'EMFILE', errno: -24, syscall: 'eventfd' }));
    expect(p.watching).toBe(false);
    expect(() => p.watch(() => {})).not.toThrow();
    expect(p.watching).toBe(true);
  });

  it('a wait that fails while watched is thrown once and stops the watch', () => {
    const p = new Poller({ backend: 'poll' });
    p.register(5, EVENT_READ);
    const batches: unknown[] = [];
    p.watch((ready) => batches.push(ready));
    const onReady = fake.last!.onReady!;
    calls();
    expect(() => onReady(-22, 'poll')).toThrow(expect.objectContaining({ code: 'EINVAL', errno: -22, syscall: 'poll' }));
    expect(p.watching).toBe(false);
    expect(calls()).toEqual([['unwatch']]);
    expect(() => onReady()).not.toThrow(); // a late delivery after the stop is dropped
    expect(calls()).toEqual([]);

    p.watch((ready) => batches.push(ready));
    calls();
    fake.ready = -22;
    expect(() => fake.last!.onReady!()).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'poll' }));
    expect(p.watching).toBe(false);
    expect(calls()).toEqual([['wait', 0], ['unwatch']]);
    expect(batches).toEqual([]);
  });

  it('an exception from the callback keeps the watch (and re-arms)', () => {
    const p = new Poller({ backend: 'poll' });
    p.register(5, EVENT_READ);
    p.watch(() => {
      throw new Error('boom');
    });
    calls();
    fake.ready = [[5, EVENT_READ]];
    expect(() => fake.last!.onReady!()).toThrow('boom');
    expect(p.watching).toBe(true);
    expect(calls()).toEqual([['wait', 0], ['rearm']]);
  });

  it('ref/unref reach the native side; close() is idempotent and stops the watch', () => {
    const p = new Poller();
    p.watch(() => {});
    calls();
    p.unref();
    expect(p.refed).toBe(false);
    p.ref();
    expect(p.refed).toBe(true);
    expect(calls()).toEqual([
      ['ref', false],
      ['ref', true],
    ]);
    p.close();
    p.close();
    expect(calls()).toEqual([['close']]);
    expect(p.watching).toBe(false);
    expect(() => p.unref()).not.toThrow();
    expect(calls()).toEqual([]);
  });

  it('sys turns native failures into system errors naming the call that failed', () => {
    expect(() => sys.socketpair()).toThrow(expect.objectContaining({ code: 'EMFILE', errno: -24, syscall: 'socketpair' }));
    expect(sys.accept(3)).toBe(-1);
    expect(() => sys.dup2(3, 4)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'dup2', fd: 3 }));
    expect(() => sys.listen('::1', 80)).toThrow(expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind' }));
    expect(() => sys.connect('localhost', 80)).toThrow(expect.objectContaining({ code: 'EMFILE', syscall: 'socket' }));
    expect(() => sys.localPort(7)).toThrow(expect.objectContaining({ code: 'EAFNOSUPPORT', syscall: 'getsockname', fd: 7 }));
    expect(sys.close(7)).toBeUndefined();
  });
});
