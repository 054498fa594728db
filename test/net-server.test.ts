// StreamServer: the behaviours of gevent's src/gevent/tests/test__server.py
// (a pre-bound listener, serve_forever before and after start, a server
// that was stopped refuses connections, a full Pool stops accepting, the
// socket is closed when the handler returns), plus stop()'s grace period,
// handler failures, Unix paths and bursts of connections.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Group, Pool, joinall, run, sleep, spawn, type Job } from '../lib/hub';
import { BufferedReader, Socket, StreamServer, connect, listen, type SocketAddress } from '../lib/net';
import { SMALL, collectWarnings, installNetChecks, pattern, portOf, recvAll, recvExactly, thrown, turns } from './net-helpers';

installNetChecks();

/** gevent's SimpleStreamServer.handle: one request line; /ping answers, /long and /short hold the connection until the client closes. */
function simpleHandler(socket: Socket): void {
  const reader = new BufferedReader(socket);
  const line = reader.readLine().toString('latin1');
  if (line === '') return;
  const [, requestPath] = line.split(' ');
  if (requestPath === '/ping') {
    socket.sendAll('HTTP/1.0 200 OK\r\n\r\nPONG');
  } else if (requestPath === '/long' || requestPath === '/short') {
    socket.sendAll('hello');
    while (socket.recv(1).length > 0);
  } else {
    socket.sendAll('HTTP/1.0 404 WTF?\r\n\r\n');
  }
}

/** Connects to the server (TCP or Unix) with a read timeout, as gevent's makefile() helper does. */
function open(address: SocketAddress, timeoutMs = 2000): Socket {
  const target = address.family === 'unix' ? { path: address.path } : { host: '127.0.0.1', port: address.port };
  const socket = connect(target, { timeoutMs });
  socket.timeoutMs = timeoutMs;
  return socket;
}

/** gevent's assertRequestSucceeded: GET /ping answers PONG. */
function assertRequestSucceeded(address: SocketAddress, timeoutMs = 2000): void {
  const socket = open(address, timeoutMs);
  try {
    socket.sendAll('GET /ping HTTP/1.0\r\n\r\n');
    const result = recvAll(socket).toString();
    expect(result.endsWith('\r\n\r\nPONG'), result).toBe(true);
  } finally {
    socket.close();
  }
}

/** gevent's assertConnectionRefused. */
function assertConnectionRefused(address: SocketAddress): void {
  const err = thrown(() => open(address).close());
  expect(['ECONNREFUSED', 'ENOENT']).toContain(err.code);
}

/** gevent's assertNotAccepted: the kernel takes the connection, but nothing answers a request. */
function assertNotAccepted(address: SocketAddress): void {
  const socket = open(address, 100);
  try {
    socket.sendAll('GET / HTTP/1.0\r\n\r\n');
    const err = thrown(() => socket.recv(1));
    expect(err.code).toBe('ERR_LOOPLET_TIMEOUT');
  } finally {
    socket.close();
  }
}

describe('StreamServer (gevent test__server.py)', () => {
  it('a backlog with a listening socket is refused; with an address it is accepted', async () => {
    const l = listen({ host: '127.0.0.1', port: 0 });
    expect(thrown(() => new StreamServer(l, simpleHandler, { backlog: 25 }))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    l.close();
    await run(() => {
      const server = new StreamServer({ host: '127.0.0.1', port: 0 }, simpleHandler, { backlog: 25 });
      assertConnectionRefused(server.address); // not listening before start()
      server.start();
      assertRequestSucceeded(server.address);
      assertRequestSucceeded(server.address);
      const address = server.address;
      server.stop();
      assertConnectionRefused(address);
    });
  });

  it('a server made from a pre-bound listener leaves connections in the backlog until started; stop/start accepting', async () => {
    await run(() => {
      const l = listen({ host: '127.0.0.1', port: 0, backlog: 5 });
      const server = new StreamServer(l, simpleHandler);
      const address = server.address;
      expect(address).toEqual(l.localAddress);
      assertNotAccepted(address); // connected by the kernel, not handled
      server.start();
      assertRequestSucceeded(address);
      server.stopAccepting();
      assertNotAccepted(address);
      server.startAccepting();
      assertRequestSucceeded(address);
      server.stop();
      expect(l.closed).toBe(true);
      assertConnectionRefused(address);
      expect(thrown(() => server.start())).toMatchObject({ code: 'ERR_LOOPLET_SOCKET_CLOSED' });
    });
  });

  it('serveForever() starts the server and blocks until stop(); afterwards connections are refused', async () => {
    await run(() => {
      const server = new StreamServer({ host: '127.0.0.1', port: 0 }, simpleHandler);
      expect(server.started).toBe(false);
      const serving = spawn(() => server.serveForever());
      sleep(0);
      expect(server.started).toBe(true);
      const address = server.address;
      assertRequestSucceeded(address);
      expect(serving.ready()).toBe(false);
      server.stop();
      expect(server.started).toBe(false);
      assertConnectionRefused(address);
      serving.join();
      expect(serving.successful()).toBe(true);
    });
  });

  it('serveForever() after start() serves the same socket; killing it stops the server', async () => {
    await run(() => {
      const server = new StreamServer({ host: '127.0.0.1', port: 0 }, simpleHandler);
      server.start();
      expect(server.started).toBe(true);
      const address = server.address;
      const serving = spawn(() => server.serveForever());
      sleep(0);
      assertRequestSucceeded(address);
      serving.kill();
      expect(server.started).toBe(false); // gevent stops a server whose serve_forever is killed
      assertConnectionRefused(address);
    });
  });

  it('the server closes the client socket when the handler returns', async () => {
    await run(() => {
      const server = new StreamServer({ host: '127.0.0.1', port: 0 }, () => []);
      server.start();
      const socket = open(server.address);
      socket.sendAll('GET / HTTP/1.0\r\n\r\n');
      try {
        expect(recvAll(socket).length).toBe(0); // end of stream
      } catch (err) {
        expect((err as { code?: string }).code).toBe('ECONNRESET'); // or a reset, with the request unread
      }
      socket.close();
      server.stop();
    });
  });

  it('a full Pool stops accepting until a slot is free; the waiting connection is then served', async () => {
    await run(() => {
      const server = new StreamServer({ host: '127.0.0.1', port: 0 }, simpleHandler, { pool: 2 });
      server.start();
      expect(server.group).toBeInstanceOf(Pool);
      const address = server.address;
      const long = open(address);
      const short = open(address);
      short.sendAll('GET /short HTTP/1.0\r\n\r\n');
      long.sendAll('GET /long HTTP/1.0\r\n\r\n');
      expect(recvExactly(short, 5).toString()).toBe('hello');
      expect(recvExactly(long, 5).toString()).toBe('hello');
      expect(server.group.freeCount()).toBe(0);
      // gevent's assertPoolFull: a request times out, twice.
      for (let i = 0; i < 2; i++) expect(thrown(() => assertRequestSucceeded(address, 50)).code).toBe('ERR_LOOPLET_TIMEOUT');
      const queued = open(address);
      queued.sendAll('GET /ping HTTP/1.0\r\n\r\n');
      short.close(); // its handler reads end of stream and returns: a slot is free
      expect(recvAll(queued).toString()).toBe('HTTP/1.0 200 OK\r\n\r\nPONG');
      assertRequestSucceeded(address);
      for (const s of [queued, long]) s.close();
      server.stop();
    });
  });

  it('handlers run in a given Pool or Group; an invalid handler or pool is refused', async () => {
    expect(thrown(() => new StreamServer({ port: 0 }, 'nope' as unknown as () => void))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => new StreamServer({ port: 0 }, simpleHandler, { pool: 0 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => new StreamServer({ port: 0 }, simpleHandler, { pool: {} as Group }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => new StreamServer({ path: '/tmp/x' }, simpleHandler, { reusePort: true }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await run(() => {
      const group = new Group();
      const server = new StreamServer({ host: '127.0.0.1', port: 0 }, simpleHandler, { pool: group });
      server.start();
      expect(server.group).toBe(group);
      const s = open(server.address);
      s.sendAll('GET /long HTTP/1.0\r\n\r\n');
      recvExactly(s, 5);
      expect(group.size).toBe(1);
      s.close();
      server.stop();
      expect(group.size).toBe(0);
      expect(thrown(() => server.stop(-1))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    });
  });
});

describe('stop() and handler lifetimes', () => {
  it('stop(timeoutMs) lets handlers finish within the grace period and kills the rest (their finally blocks run)', async () => {
    await run(() => {
      const finished: string[] = [];
      const server = new StreamServer({ host: '127.0.0.1', port: 0 }, (socket) => {
        const what = recvExactly(socket, 4).toString();
        try {
          if (what === 'slow') sleep(20);
          else socket.recv(); // 'hang': waits for a request that never comes
          socket.sendAll('done');
        } finally {
          finished.push(what);
        }
      });
      server.start();
      const slow = open(server.address);
      const hang = open(server.address);
      slow.sendAll('slow');
      hang.sendAll('hang');
      sleep(SMALL / 2);
      const t0 = performance.now();
      server.stop(200);
      const took = performance.now() - t0;
      expect(took).toBeGreaterThanOrEqual(190);
      expect(finished.sort()).toEqual(['hang', 'slow']);
      expect(recvAll(slow).toString()).toBe('done');
      expect(recvAll(hang).toString()).toBe(''); // killed: closed without an answer
      slow.close();
      hang.close();
    });
  });

  it('stop() on the hub returns at once; the grace period and the kill happen in a job', async () => {
    let server!: StreamServer;
    const client = run(() => {
      server = new StreamServer({ host: '127.0.0.1', port: 0 }, (socket) => {
        while (socket.recv().length > 0); // until the client closes: it never does
      });
      server.start();
      const s = open(server.address);
      s.sendAll('x');
      return s;
    });
    const s = await client;
    await turns();
    expect(server.group.size).toBe(1);
    server.stop(30); // on the hub
    expect(server.started).toBe(false);
    expect(server.group.size).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await turns();
    expect(server.group.size).toBe(0);
    s.close();
  });

  it('a handler that throws is reported (LOOPLET_JOB_FAILED), its socket is closed, the server goes on', async () => {
    const seen = collectWarnings('LOOPLET_JOB_FAILED');
    try {
      await run(() => {
        const server = new StreamServer({ host: '127.0.0.1', port: 0 }, (socket) => {
          const line = new BufferedReader(socket).readLine().toString();
          if (line.startsWith('boom')) throw new Error('handler exploded');
          socket.sendAll(line);
        });
        server.start();
        const bad = open(server.address);
        bad.sendAll('boom\n');
        expect(recvAll(bad).length).toBe(0);
        bad.close();
        const good = open(server.address);
        good.sendAll('fine\n');
        expect(recvAll(good).toString()).toBe('fine\n');
        good.close();
        server.stop();
      });
      await turns(3);
      expect(seen.warnings.map((w) => w.message).join('\n')).toContain('handler exploded');
    } finally {
      seen.stop();
    }
  });

  it('start() twice is refused; a server made from an address can start again after stop()', async () => {
    await run(() => {
      const server = new StreamServer({ host: '127.0.0.1', port: 0 }, simpleHandler);
      server.start();
      expect(thrown(() => server.start())).toMatchObject({ code: 'ERR_LOOPLET_SERVER_STARTED' });
      server.stop();
      server.start();
      assertRequestSucceeded(server.address);
      server.stop();
    });
  });
});

describe('addresses and load', () => {
  it('serves a Unix-domain path', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'looplet-server-'));
    const file = path.join(dir, 'server.sock');
    await run(() => {
      const server = new StreamServer({ path: file }, simpleHandler);
      expect(server.address).toEqual({ family: 'unix', path: file });
      server.start();
      assertRequestSucceeded(server.address);
      server.stop();
      expect(fs.existsSync(file)).toBe(false);
    });
    fs.rmdirSync(dir);
  });

  it('address: the one asked for before start(), the bound port after', () => {
    const server = new StreamServer({ host: '127.0.0.1', port: 0 }, simpleHandler);
    expect(server.address).toEqual({ family: 'IPv4', address: '127.0.0.1', port: 0 });
    server.start();
    expect(portOf(server.address)).toBeGreaterThan(0);
    server.stop();
    expect(new StreamServer({ port: 0 }, simpleHandler).address).toEqual({ family: 'IPv4', address: '0.0.0.0', port: 0 });
  });

  it('a burst of 600 connections (more than one accept batch) is served, every byte checked', async () => {
    await run(() => {
      const server = new StreamServer({ host: '127.0.0.1', port: 0, backlog: 1024 }, (socket) => {
        for (let data = socket.recv(); data.length > 0; data = socket.recv()) socket.sendAll(data);
      });
      server.start();
      const port = portOf(server.address);
      const jobs: Job[] = [];
      for (let i = 0; i < 600; i++) {
        jobs.push(
          spawn(() => {
            const s = connect({ host: '127.0.0.1', port });
            try {
              const msg = pattern(i, 100 + (i % 900));
              s.sendAll(msg);
              expect(recvExactly(s, msg.length).equals(msg)).toBe(true);
            } finally {
              s.close();
            }
          }),
        );
      }
      joinall(jobs, { raiseError: true });
      server.stop();
    });
  });
});
