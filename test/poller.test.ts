// The Poller against every backend this platform has. The behaviours come
// from CPython's Lib/test/test_selectors.py (BaseSelectorTestCase and
// ScalableSelectorMixIn), with looplet's millisecond timeouts, its error
// codes, and its registration flags added.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { EDGE_TRIGGERED, EVENT_READ, EVENT_WRITE, ONESHOT, Poller, sys, type SelectorKey } from '../lib/index';
import { toNativeTimeout } from '../lib/poller';
import {
  capabilitiesOf,
  closeFd,
  drain,
  ensureDist,
  installFdCleanup,
  pollerFactory,
  repoRoot,
  send,
  socketpair,
  summary,
  thrown,
  track,
  unusedFd,
  watchdog,
} from './helpers';

const READ_WRITE = EVENT_READ | EVENT_WRITE;
const FD_SETSIZE = 1024;

installFdCleanup();

describe('Poller.backends()', () => {
  it('lists the Linux backends, best first, and the default is the first', () => {
    const backends = Poller.backends();
    expect(backends).toEqual(['epoll', 'poll', 'select'].filter((b) => backends.includes(b as never)));
    expect(backends).toContain('poll');
    expect(backends).toContain('select');
    if (os.platform() === 'linux') expect(backends[0]).toBe('epoll');
    const p = new Poller();
    expect(p.backend).toBe(backends[0]);
    p.close();
  });
});

describe('toNativeTimeout (selectors timeout semantics in ms)', () => {
  it('blocks for undefined, null and Infinity; polls for zero and negative values', () => {
    expect(toNativeTimeout(undefined)).toBe(-1);
    expect(toNativeTimeout(null)).toBe(-1);
    expect(toNativeTimeout(Infinity)).toBe(-1);
    expect(toNativeTimeout(0)).toBe(0);
    expect(toNativeTimeout(-0)).toBe(0);
    expect(toNativeTimeout(-1)).toBe(0);
    expect(toNativeTimeout(-Infinity)).toBe(0);
  });

  it('rounds fractions up to whole ms (never wakes early) and clamps to int32', () => {
    expect(toNativeTimeout(0.3)).toBe(1);
    expect(toNativeTimeout(1.0001)).toBe(2);
    expect(toNativeTimeout(250)).toBe(250);
    expect(toNativeTimeout(1e12)).toBe(0x7fffffff);
  });
});

describe.each(Poller.backends())('Poller with the %s backend', (backend) => {
  const caps = capabilitiesOf(backend);
  const open = pollerFactory(backend);
  // epoll and kqueue register (fd, file) pairs in the kernel; poll and select
  // pass the fd numbers to every wait.
  const kernelSet = backend === 'epoll' || backend === 'kqueue';

  it('reports its backend, capabilities and fileno', () => {
    const p = open();
    expect(p.backend).toBe(backend);
    expect(Object.isFrozen(p.capabilities)).toBe(true);
    expect(p.capabilities.edgeTriggered).toBe(backend === 'epoll' || backend === 'kqueue');
    expect(p.capabilities.anyFd).toBe(backend !== 'select');
    expect(p.capabilities.fileno).toBe(kernelSet);
    if (kernelSet) {
      expect(p.fileno()).toBeGreaterThanOrEqual(0);
      expect(fs.fstatSync(p.fileno())).toBeTruthy();
    } else {
      expect(p.fileno()).toBe(-1);
    }
    expect(p.closed).toBe(false);
  });

  describe('register', () => {
    it('returns a key with fileobj, fd, events and data', () => {
      const p = open();
      const [rd] = socketpair();
      const key = p.register(rd, EVENT_READ, 'data');
      expect(key).toEqual({ fileobj: rd, fd: rd, events: EVENT_READ, data: 'data' });
      expect(Object.isFrozen(key)).toBe(true);
      expect(p.getKey(rd)).toBe(key);
    });

    it('leaves data undefined when none is given', () => {
      const p = open();
      const [rd] = socketpair();
      expect(p.register(rd, EVENT_READ).data).toBeUndefined();
    });

    it('accepts an object with an fd property', () => {
      const p = open();
      const [rd, wr] = socketpair();
      const file = { fd: wr };
      const key = p.register(file, EVENT_WRITE, 42);
      expect(key.fileobj).toBe(file);
      expect(key.fd).toBe(wr);
      expect(key.events).toBe(EVENT_WRITE);
      expect(key.data).toBe(42);
      expect(p.getKey(file)).toBe(key);
      expect(p.getKey(wr)).toBe(key);
      expect(p.select(0)).toEqual([[key, EVENT_WRITE]]);
      expect(rd).not.toBe(wr);
    });

    it('accepts an object with a fileno() method', () => {
      const p = open();
      const [rd, wr] = socketpair();
      const file = { fileno: () => rd };
      const key = p.register(file, EVENT_READ);
      expect(key.fileobj).toBe(file);
      expect(key.fd).toBe(rd);
      send(wr);
      expect(p.select(0)).toEqual([[key, EVENT_READ]]);
      expect(p.unregister(file)).toBe(key);
    });

    it('rejects a fileobj of the wrong type with ERR_INVALID_ARG_TYPE', () => {
      const p = open();
      for (const bad of ['3', null, undefined, {}, { fd: '3' }, { fileno: () => '3' }, 3n, [3], () => 3]) {
        const err = thrown(() => p.register(bad as never, EVENT_READ));
        expect(err).toBeInstanceOf(TypeError);
        expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
      }
      expect(p.getMap().size).toBe(0);
    });

    it('rejects a negative or non-integer fd with ERR_OUT_OF_RANGE', () => {
      const p = open();
      for (const bad of [-1, -10, 1.5, NaN, Infinity, 2 ** 31, { fd: -10 }, { fileno: () => -1 }]) {
        const err = thrown(() => p.register(bad as never, EVENT_READ));
        expect(err).toBeInstanceOf(RangeError);
        expect(err.code).toBe('ERR_OUT_OF_RANGE');
      }
      expect(p.getMap().size).toBe(0);
    });

    it('rejects no event bit or unknown bits with ERR_LOOPLET_INVALID_EVENTS', () => {
      const p = open();
      const [rd] = socketpair();
      for (const bad of [0, 4, 999999, -1, 1.5, EVENT_READ | 0x400, ONESHOT, EDGE_TRIGGERED]) {
        const err = thrown(() => p.register(rd, bad));
        expect(err).toBeInstanceOf(RangeError);
        expect(err.code).toBe('ERR_LOOPLET_INVALID_EVENTS');
      }
      expect(thrown(() => p.register(rd, '1' as never)).code).toBe('ERR_INVALID_ARG_TYPE');
      expect(p.getMap().size).toBe(0);
      expect(p.register(rd, EVENT_READ).events).toBe(EVENT_READ);
    });

    it('rejects registering the same fd twice, through any fileobj, with ERR_LOOPLET_ALREADY_REGISTERED', () => {
      const p = open();
      const [rd] = socketpair();
      const key = p.register(rd, EVENT_READ, 'first');
      for (const again of [rd, { fd: rd }, { fileno: () => rd }]) {
        const err = thrown(() => p.register(again, EVENT_WRITE, 'second'));
        expect(err).toBeInstanceOf(Error);
        expect(err.code).toBe('ERR_LOOPLET_ALREADY_REGISTERED');
      }
      expect(p.getKey(rd)).toBe(key);
      expect(p.getMap().size).toBe(1);
    });

    it('rejects a closed fd with a system error (EBADF) and keeps no key', () => {
      const p = open();
      const [rd] = socketpair();
      closeFd(rd);
      const err = thrown(() => p.register(rd, EVENT_READ));
      expect(err.code).toBe('EBADF');
      expect(err.errno).toBe(-9);
      expect(typeof err.syscall).toBe('string');
      expect(err.syscall!.length).toBeGreaterThan(0);
      expect(err.fd).toBe(rd);
      expect(p.getMap().has(rd)).toBe(false);
      expect(thrown(() => p.getKey(rd)).code).toBe('ERR_LOOPLET_NOT_REGISTERED');
    });
  });

  describe('unregister', () => {
    it('returns the key and forgets the fd', () => {
      const p = open();
      const [rd, wr] = socketpair();
      const key = p.register(rd, EVENT_READ);
      expect(p.unregister(rd)).toBe(key);
      expect(p.getMap().size).toBe(0);
      expect(thrown(() => p.getKey(rd)).code).toBe('ERR_LOOPLET_NOT_REGISTERED');
      send(wr);
      expect(p.select(0)).toEqual([]);
    });

    it('rejects an unknown fd, and a second unregister, with ERR_LOOPLET_NOT_REGISTERED', () => {
      const p = open();
      const [rd] = socketpair();
      expect(thrown(() => p.unregister(999999)).code).toBe('ERR_LOOPLET_NOT_REGISTERED');
      p.register(rd, EVENT_READ);
      p.unregister(rd);
      expect(thrown(() => p.unregister(rd)).code).toBe('ERR_LOOPLET_NOT_REGISTERED');
    });

    it('succeeds after the fd was closed', () => {
      const p = open();
      const [rd, wr] = socketpair();
      const rkey = p.register(rd, EVENT_READ);
      const wkey = p.register(wr, EVENT_WRITE);
      closeFd(rd);
      closeFd(wr);
      expect(p.unregister(rd)).toBe(rkey);
      expect(p.unregister(wr)).toBe(wkey);
      expect(p.getMap().size).toBe(0);
      expect(p.select(0)).toEqual([]);
    });

    it('finds a closed file object whose fd became -1 by identity (test_unregister_after_socket_close)', () => {
      // Like a Python socket's fileno() or a Node FileHandle's fd, the object
      // reports -1 once closed; selectors then looks the object up in its map.
      const p = open();
      const [rd, wr] = socketpair();
      const rfile = { fd: rd };
      let wclosed = false;
      const wfile = { fileno: () => (wclosed ? -1 : wr) };
      const rkey = p.register(rfile, EVENT_READ);
      const wkey = p.register(wfile, EVENT_WRITE);
      closeFd(rd);
      rfile.fd = -1;
      closeFd(wr);
      wclosed = true;
      expect(p.getKey(rfile)).toBe(rkey);
      const modified = p.modify(wfile, EVENT_WRITE, 'data');
      expect(modified.fd).toBe(wr);
      expect(p.unregister(rfile)).toBe(rkey);
      expect(p.unregister(wfile)).toBe(modified);
      expect(p.getMap().size).toBe(0);
      expect(wkey.fd).toBe(wr);
      // An object that was never registered still gets the range error.
      const err = thrown(() => p.unregister({ fd: -1 }));
      expect(err).toBeInstanceOf(RangeError);
      expect(err.code).toBe('ERR_OUT_OF_RANGE');
    });

    it('succeeds after the fd was closed and its number reused (dup2); the new file is reported only once registered', () => {
      const p = open();
      const [rd, wr] = socketpair();
      p.register(rd, EVENT_READ);
      p.register(wr, EVENT_WRITE);
      const [rd2, wr2] = socketpair();
      closeFd(rd);
      closeFd(wr);
      expect(sys.dup2(rd2, rd)).toBe(rd);
      expect(sys.dup2(wr2, wr)).toBe(wr);
      track(rd);
      track(wr);
      p.unregister(rd);
      p.unregister(wr);
      expect(p.getMap().size).toBe(0);

      // rd (now rd2's file) readable, wr (now wr2's file) writable: neither
      // is registered, so nothing is reported for those numbers.
      send(wr2, 'new');
      expect(p.select(0)).toEqual([]);

      const rkey = p.register(rd, EVENT_READ, 'reused');
      expect(p.select(0)).toEqual([[rkey, EVENT_READ]]);
      const wkey = p.register(wr, EVENT_WRITE);
      expect(summary(p.select(0))).toEqual([
        [rd, EVENT_READ],
        [wr, EVENT_WRITE],
      ].sort((a, b) => a[0] - b[0]));
      expect(drain(rd)).toBe('new');
      expect(p.select(0)).toEqual([[wkey, EVENT_WRITE]]);
    });

    it('never reports a removed registration whose file stays open under another number', () => {
      // The registered file outlives its number: a second fd refers to it,
      // then dup2 puts another file at the registered number. epoll keeps
      // the old (fd, file) pair in its set, ready, after unregister.
      const p = open();
      const [a, aPeer] = socketpair();
      const [c, cPeer] = socketpair();
      const alias = track(sys.dup2(a, unusedFd(a + 500)));
      p.register(a, EVENT_READ, 'old');
      send(aPeer, 'old data');
      expect(sys.dup2(c, a)).toBe(a);
      p.unregister(a);
      expect(p.select(0)).toEqual([]);
      expect(p.select(20)).toEqual([]);

      const key = p.register(a, EVENT_READ, 'new');
      expect(p.select(0)).toEqual([]);
      send(cPeer, 'new data');
      expect(p.select(0)).toEqual([[key, EVENT_READ]]);
      expect(drain(a)).toBe('new data');
      expect(drain(alias)).toBe('old data');
    });
  });

  describe('modify', () => {
    it('changes the events; the new key is the registered one and select follows it', () => {
      const p = open();
      const [rd] = socketpair();
      const key = p.register(rd, EVENT_READ, 'd');
      expect(p.select(0)).toEqual([]);
      const key2 = p.modify(rd, EVENT_WRITE, 'd');
      expect(key2).not.toBe(key);
      expect(key2.events).toBe(EVENT_WRITE);
      expect(key2.data).toBe('d');
      expect(p.getKey(rd)).toBe(key2);
      expect(p.getMap().get(rd)).toBe(key2);
      expect(p.select(0)).toEqual([[key2, EVENT_WRITE]]);
      const key3 = p.modify({ fd: rd }, READ_WRITE);
      expect(key3.data).toBeUndefined();
      expect(p.select(0)).toEqual([[key3, EVENT_WRITE]]);
    });

    it('changes only the data', () => {
      const p = open();
      const [rd, wr] = socketpair();
      const d1 = {};
      const d2 = {};
      const key = p.register(rd, EVENT_READ, d1);
      const key2 = p.modify(rd, EVENT_READ, d2);
      expect(key2.events).toBe(key.events);
      expect(key2.data).toBe(d2);
      expect(key.data).toBe(d1);
      expect(p.getKey(rd)).toBe(key2);
      send(wr);
      expect(p.select(0)).toEqual([[key2, EVENT_READ]]);
    });

    it('rejects an unknown fd with ERR_LOOPLET_NOT_REGISTERED and bad events with ERR_LOOPLET_INVALID_EVENTS', () => {
      const p = open();
      const [rd] = socketpair();
      expect(thrown(() => p.modify(999999, EVENT_READ)).code).toBe('ERR_LOOPLET_NOT_REGISTERED');
      const key = p.register(rd, EVENT_READ);
      expect(thrown(() => p.modify(rd, 0)).code).toBe('ERR_LOOPLET_INVALID_EVENTS');
      expect(thrown(() => p.modify(rd, 8)).code).toBe('ERR_LOOPLET_INVALID_EVENTS');
      expect(p.getKey(rd)).toBe(key);
    });
  });

  describe('close', () => {
    it('is idempotent; afterwards every call fails with ERR_LOOPLET_POLLER_CLOSED and the map is empty', () => {
      const p = open();
      const map = p.getMap();
      const [rd, wr] = socketpair();
      p.register(rd, EVENT_READ);
      p.register(wr, EVENT_WRITE);
      expect(map.size).toBe(2);
      p.close();
      p.close();
      expect(p.closed).toBe(true);
      expect(p.fileno()).toBe(-1);
      expect(map.size).toBe(0);
      expect(map.get(rd)).toBeUndefined();
      expect(map.has(wr)).toBe(false);
      expect(p.getMap().size).toBe(0);
      const calls: Array<() => unknown> = [
        () => p.getKey(rd),
        () => p.register(rd, EVENT_READ),
        () => p.modify(rd, EVENT_WRITE),
        () => p.unregister(rd),
        () => p.select(0),
        () => p.watch(() => {}),
      ];
      for (const call of calls) {
        const err = thrown(call);
        expect(err).toBeInstanceOf(Error);
        expect(err.code).toBe('ERR_LOOPLET_POLLER_CLOSED');
      }
      expect(() => p.unwatch()).not.toThrow();
    });

    it('closes the backend fd', () => {
      const p = open();
      const fd = p.fileno();
      p.close();
      if (fd >= 0) expect(() => fs.fstatSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    });

    it('Symbol.dispose closes the poller', () => {
      const p = open();
      const [rd] = socketpair();
      p.register(rd, EVENT_READ);
      p[Symbol.dispose]();
      expect(p.closed).toBe(true);
      expect(p.getMap().size).toBe(0);
      expect(thrown(() => p.getKey(rd)).code).toBe('ERR_LOOPLET_POLLER_CLOSED');
      expect(() => p[Symbol.dispose]()).not.toThrow();
    });

    it('a `using` declaration closes the poller at the end of its block, also on a throw', () => {
      let kept: Poller | undefined;
      {
        using p = new Poller({ backend });
        kept = p;
        p.register(socketpair()[0], EVENT_READ);
        expect(p.closed).toBe(false);
      }
      expect(kept.closed).toBe(true);
      expect(() => {
        using p = new Poller({ backend });
        kept = p;
        throw new Error('inside');
      }).toThrow('inside');
      expect(kept.closed).toBe(true);
    });
  });

  describe('getKey and getMap', () => {
    it('getKey returns the registered key and rejects unknown fds', () => {
      const p = open();
      const [rd] = socketpair();
      const key = p.register(rd, EVENT_READ, 'data');
      expect(p.getKey(rd)).toBe(key);
      expect(p.getKey({ fd: rd })).toBe(key);
      expect(thrown(() => p.getKey(999999)).code).toBe('ERR_LOOPLET_NOT_REGISTERED');
      expect(thrown(() => p.getKey('x' as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    });

    it('getMap is a live, read-only view', () => {
      const p = open();
      const [rd, wr] = socketpair();
      const map = p.getMap();
      expect(p.getMap()).toBe(map);
      expect(map.size).toBe(0);
      expect([...map]).toEqual([]);

      const rkey = p.register(rd, EVENT_READ, 'r');
      const wkey = p.register(wr, EVENT_WRITE, 'w');
      expect(map.size).toBe(2);
      expect(map.has(rd)).toBe(true);
      expect(map.has(999999)).toBe(false);
      expect(map.get(rd)).toBe(rkey);
      expect(map.get(999999)).toBeUndefined();
      expect([...map.keys()]).toEqual([rd, wr]);
      expect([...map.values()]).toEqual([rkey, wkey]);
      expect([...map.entries()]).toEqual([
        [rd, rkey],
        [wr, wkey],
      ]);
      expect([...map]).toEqual([...map.entries()]);
      const seen: Array<[number, SelectorKey]> = [];
      map.forEach((key, fd, m) => {
        expect(m).toBe(map);
        seen.push([fd, key]);
      });
      expect(seen).toEqual([
        [rd, rkey],
        [wr, wkey],
      ]);

      const anyMap = map as unknown as Record<string, unknown>;
      for (const method of ['set', 'delete', 'clear']) expect(anyMap[method]).toBeUndefined();
      expect(() => Map.prototype.set.call(map as never, 5, rkey)).toThrow(TypeError);
      expect(map).not.toBeInstanceOf(Map);

      const mkey = p.modify(rd, READ_WRITE, 'm');
      expect(map.get(rd)).toBe(mkey);
      p.unregister(wr);
      expect(map.size).toBe(1);
      expect([...map.keys()]).toEqual([rd]);
    });
  });

  describe('select', () => {
    it('reports [key, events] pairs: only the writer of an idle pair (test_select)', () => {
      const p = open();
      const [rd, wr] = socketpair();
      p.register(rd, EVENT_READ);
      const wkey = p.register(wr, EVENT_WRITE);
      const result = p.select();
      for (const [key, events] of result) {
        expect(p.getKey(key.fd)).toBe(key);
        expect(events).not.toBe(0);
        expect(events & ~READ_WRITE).toBe(0);
      }
      expect(result).toEqual([[wkey, EVENT_WRITE]]);
    });

    it('an idle socket registered READ|WRITE reports WRITE; after the peer writes, READ|WRITE in one entry', () => {
      const p = open();
      const [a, b] = socketpair();
      const key = p.register(a, READ_WRITE);
      expect(p.select(0)).toEqual([[key, EVENT_WRITE]]);
      send(b, 'ping');
      const ready = p.select(0);
      expect(ready).toHaveLength(1);
      expect(ready[0][0]).toBe(key);
      expect(ready[0][1]).toBe(READ_WRITE);
      expect(drain(a)).toBe('ping');
      expect(p.select(0)).toEqual([[key, EVENT_WRITE]]);
    });

    it('masks readiness by the interest', () => {
      const p = open();
      const [a, b] = socketpair();
      const key = p.register(a, EVENT_READ);
      expect(p.select(0)).toEqual([]);
      send(b);
      expect(p.select(0)).toEqual([[key, EVENT_READ]]);
    });

    it('reports a hang-up of the peer as readable', () => {
      const p = open();
      const [a, b] = socketpair();
      const key = p.register(a, EVENT_READ);
      closeFd(b);
      expect(p.select(0)).toEqual([[key, EVENT_READ]]);
      expect(drain(a)).toBe('');
    });

    it('passes messages between 12 pairs, one writer at a time (test_selector)', () => {
      const p = open();
      const msg = ' This is a test.';
      const r2w = new Map<number, number>();
      const w2r = new Map<number, number>();
      const writers = new Set<number>();
      for (let i = 0; i < 12; i++) {
        const [rd, wr] = socketpair();
        p.register(rd, EVENT_READ);
        p.register(wr, EVENT_WRITE);
        r2w.set(rd, wr);
        w2r.set(wr, rd);
        writers.add(wr);
      }
      const bufs: string[] = [];
      while (writers.size > 0) {
        const readyWriters = p
          .select()
          .filter(([, ev]) => ev & EVENT_WRITE)
          .map(([key]) => key.fd);
        expect(readyWriters.length).toBeGreaterThan(0);
        const wr = readyWriters[Math.floor(Math.random() * readyWriters.length)];
        send(wr, msg);
        const readyReaders = p
          .select()
          .filter(([, ev]) => ev & EVENT_READ)
          .map(([key]) => key.fd);
        expect(readyReaders).toEqual([w2r.get(wr)]);
        const rd = readyReaders[0];
        bufs.push(drain(rd));
        p.unregister(r2w.get(rd)!);
        p.unregister(rd);
        writers.delete(r2w.get(rd)!);
      }
      expect(bufs).toEqual(Array(12).fill(msg));
      expect(p.getMap().size).toBe(0);
    });

    it('reports exactly the written sockets among 200 pairs, round after round', () => {
      const p = open();
      const readers: number[] = [];
      const peer = new Map<number, number>();
      for (let i = 0; i < 200; i++) {
        const [rd, wr] = socketpair();
        p.register(rd, EVENT_READ, i);
        readers.push(rd);
        peer.set(rd, wr);
      }
      let seed = 12345;
      const random = () => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed / 0x80000000;
      };
      for (let round = 0; round < 30; round++) {
        const chosen = new Set<number>();
        const count = 1 + Math.floor(random() * 20);
        while (chosen.size < count) chosen.add(readers[Math.floor(random() * readers.length)]);
        for (const rd of chosen) send(peer.get(rd)!, `r${round}`);
        const ready = p.select(0);
        expect(ready.every(([, ev]) => ev === EVENT_READ)).toBe(true);
        expect(ready.map(([key]) => key.fd).sort((x, y) => x - y)).toEqual([...chosen].sort((x, y) => x - y));
        for (const [key] of ready) {
          expect(key.data).toBe(readers.indexOf(key.fd));
          expect(drain(key.fd)).toBe(`r${round}`);
        }
        expect(p.select(0)).toEqual([]);
      }
    });

    it('select(0) with nothing registered returns [] (bpo-23009)', () => {
      const p = open();
      expect(p.select(0)).toEqual([]);
    });

    it('zero and negative timeouts return at once', async () => {
      const p = open();
      const [rd, wr] = socketpair();
      const wkey = p.register(wr, EVENT_WRITE);
      expect(p.select(0)).toEqual([[wkey, EVENT_WRITE]]);
      expect(p.select(-1)).toEqual([[wkey, EVENT_WRITE]]);
      p.unregister(wr);
      p.register(rd, EVENT_READ);
      // rd is idle: were a wait to block, the watchdog's byte would wake it
      // up and be reported, instead of [].
      const guard = watchdog(wr, 3000);
      try {
        expect(p.select(0)).toEqual([]);
        expect(p.select(-1)).toEqual([]);
        expect(p.select(-1000)).toEqual([]);
        expect(p.select(-Infinity)).toEqual([]);
        expect(p.select(-0.5)).toEqual([]);
      } finally {
        await guard.cancel();
      }
    });

    it('a 1000 ms timeout waits about a second', async () => {
      const p = open();
      const [rd, wr] = socketpair();
      p.register(rd, EVENT_READ);
      const guard = watchdog(wr, 5000);
      try {
        const t0 = performance.now();
        const ready = p.select(1000);
        const elapsed = performance.now() - t0;
        expect(ready).toEqual([]);
        expect(elapsed).toBeGreaterThanOrEqual(990);
        expect(elapsed).toBeLessThan(3000);
      } finally {
        await guard.cancel();
      }
    });

    it('a fractional timeout is accepted (rounded up to 1 ms)', async () => {
      const p = open();
      const [rd, wr] = socketpair();
      p.register(rd, EVENT_READ);
      const guard = watchdog(wr, 3000);
      try {
        expect(p.select(0.3)).toEqual([]);
        expect(p.select(1.5)).toEqual([]);
      } finally {
        await guard.cancel();
      }
      send(wr);
      expect(summary(p.select(0.3))).toEqual([[rd, EVENT_READ]]);
    });

    it('rejects a NaN timeout with RangeError and a string with TypeError', () => {
      const p = open();
      const nan = thrown(() => p.select(NaN));
      expect(nan).toBeInstanceOf(RangeError);
      expect(nan.code).toBe('ERR_OUT_OF_RANGE');
      const str = thrown(() => p.select('10' as never));
      expect(str).toBeInstanceOf(TypeError);
      expect(str.code).toBe('ERR_INVALID_ARG_TYPE');
      expect(thrown(() => p.select({} as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    });
  });

  it('a closed fd that is still registered: reported by poll/select, silently dropped by epoll', () => {
    const p = open();
    const [a] = socketpair();
    const [c, d] = socketpair();
    const akey = p.register(a, READ_WRITE, 'closed');
    const ckey = p.register(c, EVENT_READ);
    send(d);
    closeFd(a);
    const ready = p.select(0);
    if (kernelSet) {
      // epoll (and kqueue) drop a file from the set when its last fd is
      // closed: the closed fd is never reported, and the caller only learns
      // about it from its own bookkeeping.
      expect(ready).toEqual([[ckey, EVENT_READ]]);
    } else {
      // poll (POLLNVAL) and select (EBADF, then a scan and a second look
      // without it) report it ready for its whole interest, so that a caller
      // notices and unregisters it, and the other ready fds with it.
      expect(summary(ready)).toEqual(summary([[akey, READ_WRITE], [ckey, EVENT_READ]]));
    }
    expect(p.unregister(a)).toBe(akey);
    expect(p.select(0)).toEqual([[ckey, EVENT_READ]]);
  });

  describe.skipIf(!caps.oneshot)('ONESHOT', () => {
    it('reports once, then not again until modify() re-arms', () => {
      const p = open();
      const [rd, wr] = socketpair();
      const key = p.register(rd, EVENT_READ | ONESHOT, 'once');
      expect(key.events).toBe(EVENT_READ | ONESHOT);
      send(wr);
      expect(p.select(0)).toEqual([[key, EVENT_READ]]);
      expect(p.select(0)).toEqual([]);
      send(wr);
      expect(p.select(0)).toEqual([]);
      const rearmed = p.modify(rd, EVENT_READ | ONESHOT, 'again');
      expect(p.select(0)).toEqual([[rearmed, EVENT_READ]]);
      expect(p.select(0)).toEqual([]);
      // Re-arming with other events works the same way.
      const asWriter = p.modify(rd, EVENT_WRITE | ONESHOT);
      expect(p.select(0)).toEqual([[asWriter, EVENT_WRITE]]);
      expect(p.select(0)).toEqual([]);
      // Dropping the flag makes it level-triggered again.
      const level = p.modify(rd, EVENT_READ);
      expect(p.select(0)).toEqual([[level, EVENT_READ]]);
      expect(p.select(0)).toEqual([[level, EVENT_READ]]);
    });

    it('a one-shot fd stays disarmed among others that keep reporting', () => {
      const p = open();
      const [r1, w1] = socketpair();
      const [r2, w2] = socketpair();
      p.register(r1, EVENT_READ | ONESHOT);
      p.register(r2, EVENT_READ);
      send(w1);
      send(w2);
      expect(summary(p.select(0))).toEqual([
        [r1, EVENT_READ],
        [r2, EVENT_READ],
      ]);
      expect(summary(p.select(0))).toEqual([[r2, EVENT_READ]]);
    });
  });

  describe.skipIf(caps.oneshot)('ONESHOT unsupported', () => {
    it('is rejected with ERR_LOOPLET_UNSUPPORTED_FLAG', () => {
      const p = open();
      const [rd] = socketpair();
      const err = thrown(() => p.register(rd, EVENT_READ | ONESHOT));
      expect(err).toBeInstanceOf(RangeError);
      expect(err.code).toBe('ERR_LOOPLET_UNSUPPORTED_FLAG');
    });
  });

  describe.skipIf(!caps.edgeTriggered)('EDGE_TRIGGERED', () => {
    it('reports once per new arrival of data', () => {
      const p = open();
      const [rd, wr] = socketpair();
      const key = p.register(rd, EVENT_READ | EDGE_TRIGGERED);
      expect(p.select(0)).toEqual([]);
      send(wr, 'a');
      expect(p.select(0)).toEqual([[key, EVENT_READ]]);
      expect(p.select(0)).toEqual([]);
      send(wr, 'b');
      expect(p.select(0)).toEqual([[key, EVENT_READ]]);
      expect(p.select(0)).toEqual([]);
      expect(drain(rd)).toBe('ab');
      expect(p.select(0)).toEqual([]);
      send(wr, 'c');
      expect(p.select(0)).toEqual([[key, EVENT_READ]]);
    });
  });

  describe.skipIf(caps.edgeTriggered)('EDGE_TRIGGERED unsupported', () => {
    it('is rejected with ERR_LOOPLET_UNSUPPORTED_FLAG, by register and modify', () => {
      const p = open();
      const [rd] = socketpair();
      const err = thrown(() => p.register(rd, EVENT_READ | EDGE_TRIGGERED));
      expect(err).toBeInstanceOf(RangeError);
      expect(err.code).toBe('ERR_LOOPLET_UNSUPPORTED_FLAG');
      expect(p.getMap().size).toBe(0);
      const key = p.register(rd, EVENT_READ);
      expect(thrown(() => p.modify(rd, EVENT_READ | EDGE_TRIGGERED)).code).toBe('ERR_LOOPLET_UNSUPPORTED_FLAG');
      expect(p.getKey(rd)).toBe(key);
    });
  });

  describe.skipIf(!caps.anyFd)('more fds than FD_SETSIZE (ScalableSelectorMixIn)', () => {
    it('registers 1100 socketpairs and reports fds >= 1024', () => {
      const p = open();
      const pairs: Array<[number, number]> = [];
      for (let i = 0; i < 1100; i++) {
        const pair = socketpair();
        pairs.push(pair);
        p.register(pair[0], EVENT_READ);
        p.register(pair[1], EVENT_WRITE);
      }
      expect(p.getMap().size).toBe(2200);
      const ready = p.select();
      expect(ready).toHaveLength(1100);
      expect(ready.every(([, ev]) => ev === EVENT_WRITE)).toBe(true);
      expect(new Set(ready.map(([key]) => key.fd))).toEqual(new Set(pairs.map(([, wr]) => wr)));
      expect(ready.some(([key]) => key.fd >= FD_SETSIZE)).toBe(true);

      const [highRd, highWr] = pairs.find(([rd]) => rd >= FD_SETSIZE + 50)!;
      send(highWr);
      const again = p.select(0);
      expect(again).toHaveLength(1101);
      expect(again.find(([key]) => key.fd === highRd)?.[1]).toBe(EVENT_READ);
    });
  });

  describe.skipIf(caps.anyFd)('FD_SETSIZE limit', () => {
    it('accepts fd 1023 and rejects fds >= 1024 with ERR_LOOPLET_FD_SETSIZE', () => {
      const p = open();
      const fds: number[] = [];
      while (!fds.some((fd) => fd >= FD_SETSIZE)) fds.push(...socketpair());
      const below = fds.filter((fd) => fd < FD_SETSIZE);
      const above = fds.filter((fd) => fd >= FD_SETSIZE);
      // fds are allocated lowest first, so the highest one below the limit
      // is 1023 unless something else held that number already.
      const last = Math.max(...below);
      expect(p.register(last, EVENT_WRITE).fd).toBe(last);
      for (const fd of above) {
        const err = thrown(() => p.register(fd, EVENT_READ));
        expect(err).toBeInstanceOf(RangeError);
        expect(err.code).toBe('ERR_LOOPLET_FD_SETSIZE');
        expect(p.getMap().has(fd)).toBe(false);
      }
      expect(summary(p.select(0))).toEqual([[last, EVENT_WRITE]]);
    });
  });
});

// test_select_interrupt_noraise: a signal whose handler does not throw
// interrupts the wait (EINTR), which then resumes for the time left. Each
// backend runs in a child process, blocked in select(1000), while the parent
// signals it every 50 ms. The child loads the built package (dist/).
describe('a wait interrupted by signals', () => {
  beforeAll(() => ensureDist(), 120_000);

  it.concurrent.each(Poller.backends())('%s: select(1000) resumes after EINTR and still waits about a second', async (backend) => {
    const code = `
      const { Poller, sys, EVENT_READ } = require(${JSON.stringify(repoRoot)});
      let signals = 0;
      process.on('SIGUSR2', () => { signals++; });
      const p = new Poller({ backend: ${JSON.stringify(backend)} });
      const [a, b] = sys.socketpair();
      p.register(a, EVENT_READ);
      process.stdout.write('waiting\\n');
      const t0 = performance.now();
      let result;
      try {
        result = { ready: p.select(1000).length };
      } catch (err) {
        result = { error: err.code };
      }
      result.elapsed = performance.now() - t0;
      setImmediate(() => {
        result.signals = signals;
        console.log(JSON.stringify(result));
        p.close();
        // Stay (with the handler installed) until the parent stops signalling.
        process.stdin.resume().on('end', () => process.exit(0));
      });
    `;
    const child = spawn(process.execPath, ['-e', code], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let ticker: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (!ticker && stdout.includes('waiting\n')) ticker = setInterval(() => child.kill('SIGUSR2'), 50);
      if (stdout.split('\n').length > 2) {
        clearInterval(ticker);
        child.stdin.end();
      }
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [exitCode] = await once(child, 'close');
    clearInterval(ticker);
    clearTimeout(killer);
    expect(stderr).toBe('');
    expect(exitCode).toBe(0);
    const result = JSON.parse(stdout.split('\n')[1]);
    expect(result.signals).toBeGreaterThanOrEqual(5);
    expect(result.ready).toBe(0);
    expect(result.elapsed).toBeGreaterThanOrEqual(990);
    expect(result.elapsed).toBeLessThan(3000);
  });
});
