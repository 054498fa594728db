// Registered fds that are closed, kept open by a dup, or whose number is
// reused: the "Closed fds" contract of the README on every backend. Left-over
// kernel entries (epoll keeps an (fd, file) pair while a dup holds the file)
// must never hide a ready fd, keep the poller's own fd readable, or have their
// events reported under a later registration.
import { describe, expect, it } from 'vitest';
import { EVENT_READ, EVENT_WRITE, ONESHOT, Poller, sys } from '../lib/index';
import { closeFd, drain, installFdCleanup, pollerFactory, send, socketpair, summary, track, unusedFd } from './helpers';

const READ_WRITE = EVENT_READ | EVENT_WRITE;

installFdCleanup();

describe.each(Poller.backends())('closed and reused fds with the %s backend', (backend) => {
  const open = pollerFactory(backend);
  const byNumber = backend === 'poll' || backend === 'select';

  /**
   * Registers `count` readable fds, then for each: keeps its file open under
   * another number, closes it and unregisters it. On epoll each leaves an
   * entry in the kernel set that stays ready (the dup holds the file, with
   * unread data) and that EPOLL_CTL_DEL cannot reach any more. Socketpairs
   * reuse the number just closed, so every entry sits under one or two
   * numbers while the poller has at most two registrations.
   */
  function leaveStaleEntries(p: Poller, count: number): void {
    for (let i = 0; i < count; i++) {
      const [a, peer] = socketpair();
      p.register(a, EVENT_READ);
      send(peer);
      track(sys.dup2(a, unusedFd(a + 1000)));
      closeFd(a);
      p.unregister(a);
    }
  }

  it('left-over entries of closed fds never hide a ready fd (100 stale entries, 6 selects)', () => {
    const p = open();
    const [r, w] = socketpair();
    const key = p.register(r, EVENT_READ, 'live');
    send(w);
    leaveStaleEntries(p, 100);
    for (let i = 0; i < 6; i++) expect(p.select(0)).toEqual([[key, EVENT_READ]]);
    expect(p.select(50)).toEqual([[key, EVENT_READ]]);
  });

  it('left-over entries do not keep the poller readable once nothing registered is ready', () => {
    const p = open();
    const [r] = socketpair();
    p.register(r, EVENT_READ);
    leaveStaleEntries(p, 3);
    expect(p.select(0)).toEqual([]);
    if (p.fileno() < 0) return;
    // Another loop that watches fileno() (uv_poll in watch()) must not be
    // woken, again and again, by events nobody will ever be told about.
    const outer = new Poller({ backend: 'poll' });
    try {
      outer.register(p.fileno(), EVENT_READ);
      expect(outer.select(0)).toEqual([]);
    } finally {
      outer.close();
    }
  });

  it('modify() after the number was reused watches the new file only (no merge with the old one)', () => {
    const p = open();
    const [a, aPeer] = socketpair();
    const [c, cPeer] = socketpair();
    p.register(a, EVENT_READ, 'old');
    const alias = track(sys.dup2(a, unusedFd(a + 1000)));
    send(aPeer, 'old data'); // the old file is readable, the new one is not
    expect(sys.dup2(c, a)).toBe(a);
    const key = p.modify(a, READ_WRITE, 'new');
    expect(p.select(0)).toEqual([[key, EVENT_WRITE]]);
    expect(p.select(0)).toEqual([[key, EVENT_WRITE]]);
    send(cPeer, 'new data');
    expect(p.select(0)).toEqual([[key, READ_WRITE]]);
    expect(drain(a)).toBe('new data');
    expect(p.select(0)).toEqual([[key, EVENT_WRITE]]);
    expect(drain(alias)).toBe('old data');
  });

  it('a registered fd closed while a dup keeps its file open', () => {
    const p = open();
    const [a, aPeer] = socketpair();
    const [c, cPeer] = socketpair();
    const akey = p.register(a, READ_WRITE, 'closed');
    const ckey = p.register(c, EVENT_READ);
    track(sys.dup2(a, unusedFd(a + 1000)));
    closeFd(a);
    send(cPeer);
    const ready = summary(p.select(0));
    if (byNumber) {
      // POLLNVAL / EBADF: the closed number is reported for its whole
      // interest, and the other ready fd in the same call.
      expect(ready).toEqual(summary([[akey, READ_WRITE], [ckey, EVENT_READ]]));
    } else if (backend === 'epoll') {
      // The kernel still watches the open file under the old number: its
      // readiness (writable) is reported there until unregister().
      expect(ready).toEqual(summary([[akey, EVENT_WRITE], [ckey, EVENT_READ]]));
    } else {
      expect(ready).toEqual([[c, EVENT_READ]]);
    }
    send(aPeer);
    expect(p.unregister(a)).toBe(akey);
    for (let i = 0; i < 3; i++) expect(p.select(0)).toEqual([[ckey, EVENT_READ]]);
  });

  it('a number reused by dup2 while registered: unregister, register again, only the new file counts', () => {
    const p = open();
    const [a, aPeer] = socketpair();
    const [c, cPeer] = socketpair();
    p.register(a, EVENT_READ | ONESHOT, 'old');
    track(sys.dup2(a, unusedFd(a + 1000)));
    expect(sys.dup2(c, a)).toBe(a);
    send(aPeer);
    p.unregister(a);
    expect(p.select(0)).toEqual([]);
    const key = p.register(a, EVENT_READ, 'new');
    expect(p.select(0)).toEqual([]);
    send(aPeer);
    expect(p.select(0)).toEqual([]);
    send(cPeer);
    expect(p.select(0)).toEqual([[key, EVENT_READ]]);
  });
});
