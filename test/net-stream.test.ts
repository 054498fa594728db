// Node protocol code over looplet sockets: makeStream() (a Node Duplex over
// a Socket) with Node's net, http and tls, DuplexSocket (a Node Duplex seen
// from a greenlet), and a greenlet-per-connection TLS echo server with a
// self-signed certificate made at test time (openssl).
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Duplex } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { Timeout, joinall, run, sleep, spawn, wait } from '../lib/hub';
import { BufferedReader, DuplexSocket, StreamServer, connect, makeStream, socketpair, type Socket } from '../lib/net';
import { SMALL, installNetChecks, pattern, portOf, thrown } from './net-helpers';

installNetChecks();

/** Collects what a Node socket receives until it ends. */
function collect(socket: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => parts.push(chunk));
  return once(socket, 'end').then(() => Buffer.concat(parts));
}

describe('makeStream(): a Node Duplex over a looplet socket', () => {
  it('pipes to itself as an echo: 4 MiB from a Node net client come back intact, with backpressure both ways', async () => {
    const server = new StreamServer({ host: '127.0.0.1', port: 0 }, (socket) => {
      const stream = makeStream(socket);
      wait(pipeline(stream, new PassThrough({ highWaterMark: 1024 }), stream));
    });
    server.start();
    try {
      const data = pattern(1, 4 * 1024 * 1024);
      const client = net.connect(portOf(server.address), '127.0.0.1');
      const echoed = collect(client);
      client.end(data);
      expect((await echoed).equals(data)).toBe(true);
      client.destroy();
      await run(() => server.stop());
    } finally {
      if (server.started) server.stop();
    }
  });

  it("Node's http client over a socket that a greenlet connected", async () => {
    const httpServer = http.createServer((req, res) => res.end(`you asked for ${req.url}`));
    httpServer.listen(0, '127.0.0.1');
    await once(httpServer, 'listening');
    const port = (httpServer.address() as net.AddressInfo).port;
    try {
      const bodies = await run(() => {
        const jobs = [1, 2, 3].map((i) =>
          spawn(() => {
            const socket = connect({ host: '127.0.0.1', port });
            const response = wait(
              new Promise<http.IncomingMessage>((resolve, reject) => {
                http.get({ path: `/page/${i}`, createConnection: () => makeStream(socket) as net.Socket }, resolve).on('error', reject);
              }),
            );
            const parts: Buffer[] = [];
            response.on('data', (c: Buffer) => parts.push(c));
            wait(finished(response));
            return `${response.statusCode} ${Buffer.concat(parts).toString()}`;
          }),
        );
        joinall(jobs, { raiseError: true });
        return jobs.map((j) => j.value);
      });
      expect(bodies).toEqual(['200 you asked for /page/1', '200 you asked for /page/2', '200 you asked for /page/3']);
    } finally {
      httpServer.close();
    }
  });

  it("Node's http.Server over connections a StreamServer accepted", async () => {
    const httpServer = http.createServer((req, res) => res.end(`hello ${req.method} ${req.url}`));
    const server = new StreamServer({ host: '127.0.0.1', port: 0 }, (socket) => {
      const stream = makeStream(socket);
      httpServer.emit('connection', stream);
      wait(once(stream, 'close'));
    });
    server.start();
    try {
      const port = portOf(server.address);
      for (const url of ['/a', '/b']) {
        const body = await new Promise<string>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port, path: url, agent: false }, (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (text += c));
              res.on('end', () => resolve(text));
            })
            .on('error', reject);
        });
        expect(body).toBe(`hello GET ${url}`);
      }
    } finally {
      await run(() => server.stop());
      httpServer.close();
    }
  });

  it('a paused consumer stops the reading; the bytes wait in the socket and arrive in order later', async () => {
    const [a, b] = socketpair();
    const stream = makeStream(b);
    const data = pattern(9, 2 * 1024 * 1024);
    const writer = run(() => {
      a.sendAll(data);
      a.shutdown('write');
    });
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer) => {
      parts.push(c);
      stream.pause();
      setTimeout(() => stream.resume(), 1);
    });
    await once(stream, 'end');
    await writer;
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    stream.destroy();
    a.close();
    await once(stream, 'close');
    expect(b.closed).toBe(true);
  });

  it('refuses what is not an open Socket; writes after the peer is gone fail with the system error', async () => {
    expect(thrown(() => makeStream({} as Socket))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    const [a, b] = socketpair();
    b.close();
    expect(thrown(() => makeStream(b))).toMatchObject({ code: 'ERR_LOOPLET_SOCKET_CLOSED' });
    const [c, d] = socketpair();
    const stream = makeStream(c);
    d.close();
    const error = once(stream, 'error');
    const closed = new Promise((resolve) => stream.on('close', resolve));
    stream.write(Buffer.alloc(1 << 20));
    const [err] = await error;
    expect(['EPIPE', 'ECONNRESET']).toContain((err as { code?: string }).code);
    await closed;
    expect(c.closed).toBe(true);
    expect((stream as Duplex & { remotePort?: number }).remotePort).toBeUndefined();
    a.close();
  });
});

describe('DuplexSocket: a Node stream from a greenlet', () => {
  it('recv() waits for data, splits at maxBytes, returns empty at the end; sendAll() and shutdown() wait for the stream', async () => {
    await run(() => {
      const stream = new PassThrough();
      const s = new DuplexSocket(stream);
      const later = spawn(() => {
        sleep(SMALL);
        s.sendAll('abcdef');
        s.shutdown();
      });
      expect(s.recv(4).toString()).toBe('abcd');
      expect(s.recv().toString()).toBe('ef');
      expect(s.recv().length).toBe(0);
      later.join();
      s.close();
      expect(thrown(() => s.recv())).toMatchObject({ code: 'ERR_LOOPLET_SOCKET_CLOSED' });
    });
  });

  it("recv() past timeoutMs throws a Timeout; the stream's error is thrown where a greenlet waits", async () => {
    await run(() => {
      const stream = new PassThrough();
      const s = new DuplexSocket(stream);
      s.timeoutMs = 30;
      expect(thrown(() => s.recv())).toBeInstanceOf(Timeout);
      s.timeoutMs = undefined;
      const waiting = spawn(() => thrown(() => s.recv()));
      sleep(SMALL);
      const busy = thrown(() => s.recv());
      expect(busy.code).toBe('ERR_LOOPLET_SOCKET_BUSY');
      stream.destroy(Object.assign(new Error('broken pipe'), { code: 'EPIPE' }));
      expect((waiting.get() as Error).message).toBe('broken pipe');
      expect(thrown(() => s.sendAll('x')).message).toBe('broken pipe');
    });
    expect(thrown(() => new DuplexSocket({} as Duplex))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });
});

/** A self-signed certificate for localhost / 127.0.0.1, made with the openssl command; null without it. */
function selfSigned(): { key: Buffer; cert: Buffer } | null {
  if (spawnSync('openssl', ['version']).status !== 0) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'looplet-tls-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    return { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const credentials = selfSigned();

describe.skipIf(credentials === null)('TLS: a greenlet-per-connection echo over Node tls', () => {
  /** Each connection: TLS over makeStream(), then line by line, sequential code. */
  function tlsEchoServer(): StreamServer {
    const secureContext = tls.createSecureContext({ key: credentials!.key, cert: credentials!.cert });
    const server = new StreamServer({ host: '127.0.0.1', port: 0 }, (socket) => {
      const conn = new DuplexSocket(new tls.TLSSocket(makeStream(socket), { isServer: true, secureContext }));
      try {
        for (const line of new BufferedReader(conn)) conn.sendAll(line);
        conn.shutdown();
      } finally {
        conn.close();
      }
    });
    server.start();
    return server;
  }

  it("Node's tls client: every line comes back, the certificate checks out", async () => {
    const server = tlsEchoServer();
    try {
      const client = tls.connect({ host: '127.0.0.1', port: portOf(server.address), ca: credentials!.cert, servername: 'localhost' });
      await once(client, 'secureConnect');
      expect(client.authorized).toBe(true);
      const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ${pattern(i, 40).toString('hex')}\n`).join('');
      const echoed = collect(client);
      client.end(lines);
      expect((await echoed).toString()).toBe(lines);
      client.destroy();
    } finally {
      await run(() => server.stop());
    }
  });

  it('20 greenlet clients at once, each TLS over its own looplet socket, every byte checked', async () => {
    const server = tlsEchoServer();
    try {
      const port = portOf(server.address);
      // The client context (its CA) is made here, on the hub's thread: Node 24 aborted
      // (CleanupQueue::Add, from SecureContext::SetCACert) when tls.connect({ ca }) made one
      // in each greenlet, each on its own OS thread (docs/net.md).
      const secureContext = tls.createSecureContext({ ca: credentials!.cert });
      await run(() => {
        const jobs = Array.from({ length: 20 }, (_, c) =>
          spawn(() => {
            const raw = connect({ host: '127.0.0.1', port });
            const conn = new DuplexSocket(tls.connect({ socket: makeStream(raw) as net.Socket, secureContext, servername: 'localhost' }));
            try {
              const reader = new BufferedReader(conn);
              for (let i = 0; i < 20; i++) {
                const line = `client ${c} line ${i} ${pattern(c * 100 + i, 1 + ((c * 31 + i) % 2000)).toString('base64')}\n`;
                conn.sendAll(line);
                expect(reader.readLine().toString()).toBe(line);
              }
              conn.shutdown();
              expect(reader.readLine().length).toBe(0);
            } finally {
              conn.close();
            }
          }),
        );
        joinall(jobs, { raiseError: true });
      });
    } finally {
      await run(() => server.stop());
    }
  });
});
