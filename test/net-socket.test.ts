// looplet/net's Socket: connect / listen / accept, recv / send, addresses,
// Unix-domain sockets, timeouts (gevent's test__socket_timeout.py), EOF and
// ECONNRESET, partial writes under a full send buffer, closing a socket
// another greenlet waits on, argument and system errors.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Timeout, getHub, joinall, run, sleep, spawn } from '../lib/hub';
import { Socket, connect, listen, openSocketCount, socketpair } from '../lib/net';
import { sys } from '../lib/index';
import { ExpectedError, SMALL, installNetChecks, pattern, portOf, recvAll, recvExactly, thrown } from './net-helpers';
import { ensureDist, repoRoot } from './helpers';

installNetChecks();

/** A listener on 127.0.0.1 and its port. */
function tcpListener(options: { backlog?: number } = {}): [Socket, number] {
  const l = listen({ host: '127.0.0.1', port: 0, ...options });
  return [l, portOf(l.localAddress)];
}

/** A connected TCP pair: [client, server side]. In a job. */
function tcpPair(): [Socket, Socket] {
  const [l, port] = tcpListener();
  try {
    const acceptor = spawn(() => l.accept()[0]);
    const client = connect({ host: '127.0.0.1', port });
    return [client, acceptor.get() as Socket];
  } finally {
    l.close();
  }
}

function tmpPath(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'looplet-net-')), name);
}

describe('connect, listen, accept', () => {
  it('a TCP round trip: accept gives the peer address, both ends agree on the addresses', async () => {
    await run(() => {
      const [l, port] = tcpListener();
      const server = spawn(() => {
        const [conn, address] = l.accept();
        try {
          expect(address).toEqual(conn.remoteAddress);
          const data = recvExactly(conn, 5);
          conn.sendAll(Buffer.concat([Buffer.from('echo:'), data]));
          return address;
        } finally {
          conn.close();
        }
      });
      const client = connect({ host: '127.0.0.1', port });
      client.sendAll('hello');
      expect(recvAll(client).toString()).toBe('echo:hello');
      const peer = server.get() as { family: string; address: string; port: number };
      expect(peer).toEqual({ family: 'IPv4', address: '127.0.0.1', port: portOf(client.localAddress) });
      expect(client.remoteAddress).toEqual({ family: 'IPv4', address: '127.0.0.1', port });
      expect(Object.isFrozen(client.remoteAddress)).toBe(true);
      client.close();
      l.close();
    });
  });

  it('connects to localhost, to a name through dns.lookup, and over IPv6 where ::1 exists', async () => {
    await run(() => {
      const [l, port] = tcpListener();
      const a = connect({ host: 'localhost', port });
      expect(a.remoteAddress).toMatchObject({ address: '127.0.0.1', port });
      const conn = l.accept()[0];
      a.close();
      conn.close();
      l.close();
      // A name that no resolver knows: the lookup runs (in libuv's pool) and fails.
      const err = thrown(() => connect({ host: 'no-such-host.invalid', port }));
      expect(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL']).toContain(err.code);
      let v6: Socket;
      try {
        v6 = listen({ host: '::1', port: 0 });
      } catch (e) {
        expect(['EADDRNOTAVAIL', 'EAFNOSUPPORT']).toContain((e as { code?: string }).code);
        return;
      }
      const client = connect({ host: '::1', port: portOf(v6.localAddress) });
      expect(client.remoteAddress).toMatchObject({ family: 'IPv6', address: '::1' });
      const [peer, address] = v6.accept();
      expect(address).toMatchObject({ family: 'IPv6', address: '::1', port: portOf(client.localAddress) });
      peer.close();
      client.close();
      v6.close();
    });
  });

  it('a refused connection is a system error with code, errno, syscall and the address', async () => {
    await run(() => {
      const [l, port] = tcpListener();
      l.close();
      const err = thrown(() => connect({ host: '127.0.0.1', port })) as Error & { errno?: number; address?: string; port?: number };
      expect(err.code).toBe('ECONNREFUSED');
      expect(err.errno).toBe(-os.constants.errno.ECONNREFUSED);
      expect(err.syscall).toBe('connect');
      expect(err.address).toBe('127.0.0.1');
      expect(err.port).toBe(port);
      expect(err.message).toBe(`ECONNREFUSED: connection refused, connect 127.0.0.1:${port}`);
    });
  });

  it('listening twice on a port is EADDRINUSE, unless both sockets ask for reusePort', () => {
    const [a, port] = tcpListener();
    const err = thrown(() => listen({ host: '127.0.0.1', port }));
    expect(err).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    a.close();
    const r1 = listen({ host: '127.0.0.1', port: 0, reusePort: true });
    const r2 = listen({ host: '127.0.0.1', port: portOf(r1.localAddress), reusePort: true });
    expect(r2.localAddress).toEqual(r1.localAddress);
    r1.close();
    r2.close();
  });

  it('connect gives up after timeoutMs when the listener never answers (a full backlog)', async () => {
    await run(() => {
      // backlog 0: one connection waits in the accept queue; later SYNs are dropped.
      const [l, port] = tcpListener({ backlog: 0 });
      const held: Socket[] = [];
      let timedOut: ThrownLike | null = null;
      for (let i = 0; i < 8 && timedOut === null; i++) {
        try {
          held.push(connect({ host: '127.0.0.1', port }, { timeoutMs: 100 }));
        } catch (err) {
          timedOut = err as ThrownLike;
        }
      }
      for (const s of held) s.close();
      l.close();
      expect(timedOut).toBeInstanceOf(Timeout);
      expect(timedOut!.code).toBe('ERR_LOOPLET_TIMEOUT');
    });
  });

  it('the socket made by connect keeps timeoutMs', async () => {
    await run(() => {
      const [l, port] = tcpListener();
      const s = connect({ host: '127.0.0.1', port }, { timeoutMs: 2000 });
      expect(s.timeoutMs).toBe(2000);
      s.close();
      l.accept()[0].close();
      l.close();
    });
  });

  it('Unix-domain sockets: a path (removed on close) and the abstract namespace', async () => {
    await run(() => {
      const file = tmpPath('echo.sock');
      const l = listen({ path: file });
      expect(fs.statSync(file).isSocket()).toBe(true);
      expect(l.localAddress).toEqual({ family: 'unix', path: file });
      const server = spawn(() => {
        const [conn, address] = l.accept();
        expect(address.family).toBe('unix');
        conn.sendAll(recvExactly(conn, 3));
        conn.close();
      });
      const c = connect({ path: file });
      expect(c.remoteAddress).toEqual({ family: 'unix', path: file });
      c.sendAll('abc');
      expect(recvAll(c).toString()).toBe('abc');
      server.join();
      c.close();
      l.close();
      expect(fs.existsSync(file)).toBe(false);

      const name = `\0looplet-test-${process.pid}`;
      const abstract = listen({ path: name });
      expect(abstract.localAddress).toEqual({ family: 'unix', path: name });
      const c2 = connect({ path: name });
      const [peer] = abstract.accept();
      c2.sendAll('x');
      expect(peer.recv().toString()).toBe('x');
      for (const s of [c2, peer, abstract]) s.close();

      expect(thrown(() => connect({ path: tmpPath('none.sock') }))).toMatchObject({ code: 'ENOENT', syscall: 'connect' });
      expect(thrown(() => listen({ path: '/tmp/' + 'x'.repeat(200) }))).toMatchObject({ code: 'ENAMETOOLONG' });
    });
  });

  it('socketpair() and Socket.fromFd() over fds made elsewhere', async () => {
    await run(() => {
      const [a, b] = socketpair();
      a.sendAll('ping');
      expect(b.recv().toString()).toBe('ping');
      a.close();
      b.close();
      const [x, y] = sys.socketpair();
      const sx = Socket.fromFd(x);
      const sy = Socket.fromFd(y);
      sx.sendAll('pong');
      expect(sy.recv().toString()).toBe('pong');
      expect(sx.fileno()).toBe(x);
      sx.close();
      sy.close();
      expect(sx.fileno()).toBe(-1);
      const file = fs.openSync(__filename, 'r');
      try {
        expect(thrown(() => Socket.fromFd(file))).toMatchObject({ code: 'ENOTSOCK', syscall: 'getsockopt' });
      } finally {
        fs.closeSync(file);
      }
    });
  });
});

type ThrownLike = Error & { code?: string };

describe('data', () => {
  it('recv(maxBytes), recvInto(buffer, offset, length) and recv(0)', async () => {
    await run(() => {
      const [a, b] = socketpair();
      a.sendAll('abcdefgh');
      expect(b.recv(3).toString()).toBe('abc');
      const into = Buffer.alloc(8, '.');
      expect(b.recvInto(into, 2, 3)).toBe(3);
      expect(into.toString()).toBe('..def...');
      expect(b.recv(0).length).toBe(0);
      const u16 = new Uint16Array(4);
      expect(b.recvInto(u16)).toBe(2);
      expect(Buffer.from(u16.buffer, 0, 2).toString()).toBe('gh');
      a.sendAll(new Uint8Array([1, 2, 3]));
      a.sendAll(new DataView(new Uint8Array([4, 5]).buffer));
      expect([...recvExactly(b, 5)]).toEqual([1, 2, 3, 4, 5]);
      a.close();
      b.close();
    });
  });

  it('views returned by recv() stay intact while later recvs fill the shared slab', async () => {
    await run(() => {
      const [a, b] = socketpair();
      const kept: Buffer[] = [];
      for (let i = 0; i < 3000; i++) {
        a.sendAll(pattern(i, 37));
        kept.push(recvExactly(b, 37));
      }
      for (let i = 0; i < 3000; i++) expect(kept[i].equals(pattern(i, 37))).toBe(true);
      a.close();
      b.close();
    });
  });

  it('partial writes under a full send buffer: send() takes part, sendAll() waits, every byte arrives', async () => {
    await run(() => {
      const [a, b] = socketpair();
      const big = pattern(7, 8 * 1024 * 1024);
      const n = a.send(big);
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThan(big.length); // the socket buffer cannot take 8 MiB at once
      const reader = spawn(() => {
        const parts: Buffer[] = [];
        let got = 0;
        while (got < big.length) {
          const chunk = b.recv(100_000);
          parts.push(chunk);
          got += chunk.length;
          if (parts.length % 16 === 0) sleep(1); // a slow reader: the writer must wait often
        }
        return Buffer.concat(parts);
      });
      a.sendAll(big.subarray(n));
      expect((reader.get() as Buffer).equals(big)).toBe(true);
      a.close();
      b.close();
    });
  });

  it('EOF: recv() returns an empty Buffer after the peer shuts down writing; the other direction still works', async () => {
    await run(() => {
      const [client, server] = tcpPair();
      client.sendAll('last words');
      client.shutdown('write');
      expect(recvAll(server).toString()).toBe('last words');
      expect(server.recv().length).toBe(0); // and again
      server.sendAll('reply');
      server.close();
      expect(recvAll(client).toString()).toBe('reply');
      client.close();
    });
  });

  it('ECONNRESET mid-stream: a peer that closes with unread data resets; recv throws with code, errno, syscall', async () => {
    await run(() => {
      const [client, server] = tcpPair();
      client.sendAll('never read');
      sleep(SMALL);
      server.close(); // unread data: the kernel answers with RST
      const err = thrown(() => {
        for (;;) client.recv();
      }) as ThrownLike & { errno?: number; syscall?: string };
      expect(err.code).toBe('ECONNRESET');
      expect(err.errno).toBe(-os.constants.errno.ECONNRESET);
      expect(err.syscall).toBe('recv');
      client.close();
    });
  });

  it('sending to a peer that is gone fails with EPIPE or ECONNRESET, no SIGPIPE', async () => {
    await run(() => {
      const [client, server] = tcpPair();
      server.close();
      const err = thrown(() => {
        for (let i = 0; i < 100; i++) {
          client.sendAll(Buffer.alloc(65536));
          sleep(1);
        }
      });
      expect(['EPIPE', 'ECONNRESET']).toContain(err.code);
      expect(err.syscall).toBe('send');
      client.close();
    });
  });
});

describe('fairness', () => {
  it('a greenlet whose socket is always ready gives the others and the event loop a turn after 256 calls in a row', async () => {
    await run(() => {
      const [a, b] = socketpair();
      a.sendAll(Buffer.alloc(64 * 1024, 7)); // 1024 recv(64) calls' worth, all there at once
      let readsWhenOtherRan = -1;
      let readsWhenLoopRan = -1;
      let reads = 0;
      spawn(() => {
        readsWhenOtherRan = reads;
      });
      setImmediate(() => {
        readsWhenLoopRan = reads;
      });
      for (let got = 0; got < 64 * 1024; reads++) got += b.recv(64).length;
      expect(reads).toBe(1024);
      // Without the budget both would have run only once all 1024 reads were done.
      expect(readsWhenOtherRan).toBeGreaterThanOrEqual(1);
      expect(readsWhenOtherRan).toBeLessThanOrEqual(256);
      expect(readsWhenLoopRan).toBeGreaterThanOrEqual(1);
      expect(readsWhenLoopRan).toBeLessThanOrEqual(256);
      // sendAll and recvInto count too: 2 calls a round, so a job runs within 128 rounds.
      let rounds = 0;
      let roundsWhenOtherRan = -1;
      spawn(() => {
        roundsWhenOtherRan = rounds;
      });
      const one = Buffer.alloc(1);
      for (; rounds < 300; rounds++) {
        a.sendAll('x');
        expect(b.recvInto(one)).toBe(1);
      }
      expect(roundsWhenOtherRan).toBeGreaterThanOrEqual(1);
      expect(roundsWhenOtherRan).toBeLessThanOrEqual(128);
      a.close();
      b.close();
    });
  });

  it('a socket in non-blocking mode (timeoutMs 0) never yields', async () => {
    await run(() => {
      const [a, b] = socketpair();
      b.timeoutMs = 0;
      a.sendAll(Buffer.alloc(32 * 1024, 1));
      let ran = false;
      spawn(() => {
        ran = true;
      });
      for (let got = 0; got < 32 * 1024; ) got += b.recv(64).length; // 512 calls
      expect(ran).toBe(false);
      a.close();
      b.close();
    });
  });
});

describe('timeouts (gevent test__socket_timeout.py)', () => {
  it('recv past timeoutMs throws a Timeout (ERR_LOOPLET_TIMEOUT) and the socket stays usable', async () => {
    await run(() => {
      const [l, port] = tcpListener();
      const acceptor = spawn(() => l.accept()[0]);
      const sock = connect({ host: '127.0.0.1', port });
      sock.timeoutMs = 100;
      const t0 = performance.now();
      const err = thrown(() => sock.recv(1024));
      const took = performance.now() - t0;
      expect(err).toBeInstanceOf(Timeout);
      expect(err.code).toBe('ERR_LOOPLET_TIMEOUT');
      expect(err.message).toBe('Timed out after 100 ms');
      expect(took).toBeGreaterThanOrEqual(95);
      const peer = acceptor.get() as Socket;
      peer.sendAll('late');
      expect(sock.recv().toString()).toBe('late');
      for (const s of [peer, sock, l]) s.close();
    });
  });

  it('timeoutMs 0 never waits; accept and sendAll honour timeoutMs too (sendAll: for the whole call)', async () => {
    await run(() => {
      const [a, b] = socketpair();
      a.timeoutMs = 0;
      expect(thrown(() => a.recv())).toBeInstanceOf(Timeout);
      b.sendAll('x');
      expect(a.recv().toString()).toBe('x');
      const [l] = tcpListener();
      l.timeoutMs = 30;
      expect(thrown(() => l.accept())).toBeInstanceOf(Timeout);
      b.timeoutMs = 60;
      const t0 = performance.now();
      expect(thrown(() => b.sendAll(Buffer.alloc(32 * 1024 * 1024)))).toBeInstanceOf(Timeout);
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(thrown(() => (a.timeoutMs = -1))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      for (const s of [a, b, l]) s.close();
    });
  });

  it('an outer Timeout or a kill interrupts a recv without losing the bytes that come later', async () => {
    await run(() => {
      const [a, b] = socketpair();
      const timeout = Timeout.startNew(30);
      try {
        b.recv();
        throw new Error('recv returned');
      } catch (err) {
        expect(err).toBe(timeout);
      } finally {
        timeout.cancel();
      }
      const waiter = spawn(() => b.recv());
      sleep(SMALL);
      waiter.kill();
      a.sendAll('kept');
      expect(b.recv().toString()).toBe('kept');
      a.close();
      b.close();
    });
  });
});

describe('closing and sharing', () => {
  it('closing a socket that other greenlets wait on wakes them with EBADF; calls on it throw EBADF', async () => {
    await run(() => {
      const [r1, r2] = socketpair(); // a reader waits on r2: nothing is ever sent
      const [w1, w2] = socketpair(); // a writer waits on w1: nothing is ever read
      const reader = spawn(() => thrown(() => r2.recv()));
      w1.timeoutMs = 0;
      expect(
        thrown(() => {
          for (;;) w1.send(Buffer.alloc(65536));
        }),
      ).toBeInstanceOf(Timeout);
      w1.timeoutMs = undefined;
      const writer = spawn(() => thrown(() => w1.sendAll(Buffer.alloc(1 << 20))));
      const acceptor = listen({ host: '127.0.0.1', port: 0 });
      const accepting = spawn(() => thrown(() => acceptor.accept()));
      sleep(SMALL);
      const parked = getHub().stats().parked;
      expect(parked).toBeGreaterThanOrEqual(3);
      r2.close();
      w1.close();
      acceptor.close();
      for (const job of [reader, writer, accepting]) {
        const err = job.get() as ThrownLike & { errno?: number; syscall?: string };
        expect(err.code).toBe('EBADF');
        expect(err.errno).toBe(-os.constants.errno.EBADF);
        expect(err.message).toBe('EBADF: bad file descriptor, close (the socket is closed)');
      }
      expect(thrown(() => r2.recv())).toMatchObject({ code: 'EBADF', syscall: 'recv' });
      expect(thrown(() => w1.send('x'))).toMatchObject({ code: 'EBADF', syscall: 'send' });
      expect(thrown(() => r2.localAddress)).toMatchObject({ code: 'EBADF' });
      r2.close(); // idempotent
      expect(r2.closed).toBe(true);
      r1.close();
      w2.close();
    });
  });

  it('a second greenlet reading the same socket is refused (ERR_LOOPLET_SOCKET_BUSY), as in gevent', async () => {
    await run(() => {
      const [a, b] = socketpair();
      const first = spawn(() => b.recv());
      sleep(SMALL);
      const second = spawn(() => thrown(() => b.recv()));
      expect((second.get() as ThrownLike).code).toBe('ERR_LOOPLET_SOCKET_BUSY');
      a.sendAll('one');
      expect((first.get() as Buffer).toString()).toBe('one');
      a.close();
      b.close();
    });
  });

  it('a recv with data ready works on the hub; one that would wait throws ERR_LOOPLET_BLOCKING_ON_HUB', () => {
    const [a, b] = socketpair();
    try {
      a.sendAll('ready');
      expect(b.recv().toString()).toBe('ready');
      expect(thrown(() => b.recv())).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
      expect(thrown(() => connect({ host: '127.0.0.1', port: 1 }))).toMatchObject({ code: 'ERR_LOOPLET_BLOCKING_ON_HUB' });
    } finally {
      a.close();
      b.close();
    }
  });

  it('many greenlets, each with its own socketpair, exchange data at once', async () => {
    await run(() => {
      const pairs = Array.from({ length: 200 }, () => socketpair());
      const jobs = pairs.map(([a, b], i) =>
        spawn(() => {
          for (let m = 0; m < 20; m++) {
            const msg = pattern(i * 100 + m, 1 + ((i * 7 + m) % 300));
            a.sendAll(msg);
            expect(recvExactly(b, msg.length).equals(msg)).toBe(true);
            b.sendAll(msg);
            expect(recvExactly(a, msg.length).equals(msg)).toBe(true);
          }
        }),
      );
      joinall(jobs, { raiseError: true });
      for (const [a, b] of pairs) {
        a.close();
        b.close();
      }
    });
  });
});

describe('argument errors', () => {
  it('bad arguments are TypeError / RangeError with Node-style codes', async () => {
    const [a, b] = socketpair();
    try {
      expect(thrown(() => new (Socket as unknown as new (...args: unknown[]) => Socket)(Symbol(), 3))).toMatchObject({ code: 'ERR_ILLEGAL_CONSTRUCTOR' });
      expect(thrown(() => a.recv(-1))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => a.recv(1.5))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => a.recv('10' as unknown as number))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => a.send(42 as unknown as string))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => a.recvInto([] as unknown as Buffer))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => a.recvInto(Buffer.alloc(4), 5))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => a.recvInto(Buffer.alloc(4), 1, 4))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => a.shutdown('sideways' as 'read'))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      expect(thrown(() => Socket.fromFd(-1))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => listen(null as unknown as { port: number }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => listen({ host: 'example.com', port: 0 }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      expect(thrown(() => listen({ host: '127.0.0.1', port: 65536 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => listen({ host: '127.0.0.1', port: 0, backlog: -1 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      expect(thrown(() => listen({ host: '127.0.0.1', reusePort: 'yes' as unknown as boolean }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => listen({ path: 'a\0b' }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      expect(thrown(() => listen({ path: '' }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      await run(() => {
        expect(thrown(() => connect({ host: '127.0.0.1', port: -1 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
        expect(thrown(() => connect({ host: 7 as unknown as string, port: 80 }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
        expect(thrown(() => connect({ host: '127.0.0.1', port: 80 }, { timeoutMs: NaN }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      });
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('resources', () => {
  it('every fd is closed again: openSocketCount() and the process fd table', async () => {
    await run(() => {
      const before = openSocketCount();
      const [l, port] = tcpListener();
      const sockets = Array.from({ length: 50 }, () => connect({ host: '127.0.0.1', port }));
      const accepted = sockets.map(() => l.accept()[0]);
      expect(openSocketCount()).toBe(before + 101);
      for (const s of [...sockets, ...accepted, l]) s.close();
      expect(openSocketCount()).toBe(before);
    });
  });

  it('a dropped socket is closed when collected; a worker that exits with sockets open leaks no fd', () => {
    ensureDist();
    const net = JSON.stringify(path.join(repoRoot, 'dist/cjs/net.js'));
    const script = `
      const { once } = require('node:events');
      const { Worker } = require('node:worker_threads');
      const { socketpair, openSocketCount } = require(${net});
      const fds = () => require('node:fs').readdirSync('/proc/self/fd').length;
      (async () => {
        (() => { socketpair(); socketpair(); })();
        const held = socketpair();
        const beforeGc = openSocketCount();
        gc();
        await new Promise((resolve) => setTimeout(resolve, 50));
        const afterGc = openSocketCount();
        // A first worker makes Node open what it keeps for every later one.
        await once(new Worker('0', { eval: true }), 'exit');
        const before = fds();
        const w = new Worker(${JSON.stringify(`
          const { listen, socketpair } = require(${net});
          globalThis.keep = [listen({ host: '127.0.0.1', port: 0 }), ...socketpair()];
        `)}, { eval: true });
        const [code] = await once(w, 'exit');
        await new Promise((resolve) => setTimeout(resolve, 50));
        const after = fds();
        held[0].close();
        held[1].close();
        console.log(JSON.stringify({ beforeGc, afterGc, code, before, after }));
      })();
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 20_000 }));
    expect(out.beforeGc).toBe(6);
    expect(out.afterGc).toBe(2); // only the pair still held
    expect(out.code).toBe(0);
    expect(out.after).toBe(out.before); // the worker's listener, pair and hub poller are all closed
  });
});

describe('the hub poller without edge triggering', () => {
  it.each(['poll', 'select'])('LOOPLET_HUB_BACKEND=%s: the one-shot path moves every byte both ways', (backend) => {
    ensureDist();
    const script = `
      const { run, spawn, joinall } = require(${JSON.stringify(path.join(repoRoot, 'dist/cjs/hub.js'))});
      const { socketpair } = require(${JSON.stringify(path.join(repoRoot, 'dist/cjs/net.js'))});
      const { ioStats } = require(${JSON.stringify(path.join(repoRoot, 'dist/cjs/hub/io.js'))});
      run(() => {
        const pairs = Array.from({ length: 20 }, () => socketpair());
        const jobs = pairs.flatMap(([a, b], i) => {
          const data = Buffer.alloc(300000 + i, i);
          return [spawn(() => { a.sendAll(data); a.shutdown('write'); }), spawn(() => {
            let got = 0; for (let c = b.recv(); c.length; c = b.recv()) { if (c.some((x) => x !== (i & 255))) throw new Error('bad byte'); got += c.length; }
            if (got !== data.length) throw new Error('short: ' + got);
          })];
        });
        joinall(jobs, { raiseError: true });
        for (const [a, b] of pairs) { a.close(); b.close(); }
        return ioStats();
      }).then((stats) => console.log(JSON.stringify(stats)), (err) => { console.error(err); process.exit(1); });
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, LOOPLET_HUB_BACKEND: backend } }));
    expect(out).toMatchObject({ backend, edgeTriggered: false, registered: 0 });
  });

  it('an unknown LOOPLET_HUB_BACKEND is refused with a clear error', () => {
    ensureDist();
    const script = `
      const { socketpair } = require(${JSON.stringify(path.join(repoRoot, 'dist/cjs/net.js'))});
      try { socketpair(); } catch (err) { console.log(err.code + ': ' + err.message); }
    `;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, LOOPLET_HUB_BACKEND: 'carrier-pigeon' } });
    expect(out.trim()).toBe('ERR_LOOPLET_BACKEND_UNAVAILABLE: LOOPLET_HUB_BACKEND names no backend of this platform: "carrier-pigeon"');
  });
});

// Keep ExpectedError referenced for symmetry with the other suites' imports.
void ExpectedError;
