// Shared by the net suites (test/net-*.test.ts): the hub checks of the hub
// suites plus "every socket closed" after each test, a TCP echo server to
// talk to, and byte patterns that show a lost, repeated or reordered byte.
import { afterEach, beforeAll, expect } from 'vitest';
import { openSocketCount, socketpair, StreamServer, type Socket } from '../lib/net';
import { installHubChecks, turns } from './hub-helpers';

export { ExpectedError, SMALL, FOREVER, turns, collectWarnings, thrown, type ThrownError } from './hub-helpers';

/**
 * installHubChecks(), with the hub's poller made first (it keeps two fds
 * open for the life of the thread, which are no leak), and after each test:
 * no socket of looplet/net left open.
 */
export function installNetChecks(): void {
  beforeAll(() => {
    const [a, b] = socketpair();
    a.close();
    b.close();
  });
  installHubChecks();
  afterEach(async () => {
    await turns();
    expect(openSocketCount(), 'sockets left open').toBe(0);
  });
}

/** `n` bytes of a pattern particular to `seed`: any lost, repeated or swapped byte changes them. */
export function pattern(seed: number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Receives exactly n bytes (throws at an early end of stream). */
export function recvExactly(socket: Socket, n: number): Buffer {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const chunk = socket.recv(n - got);
    if (chunk.length === 0) throw new Error(`end of stream after ${got} of ${n} bytes`);
    parts.push(chunk);
    got += chunk.length;
  }
  return Buffer.concat(parts);
}

/** Receives until end of stream. */
export function recvAll(socket: Socket): Buffer {
  const parts: Buffer[] = [];
  for (let chunk = socket.recv(); chunk.length > 0; chunk = socket.recv()) parts.push(chunk);
  return Buffer.concat(parts);
}

/** A started StreamServer on 127.0.0.1 that echoes every byte back until end of stream. */
export function echoServer(options: ConstructorParameters<typeof StreamServer>[2] = {}): StreamServer {
  const server = new StreamServer(
    { host: '127.0.0.1', port: 0 },
    (socket) => {
      for (let data = socket.recv(); data.length > 0; data = socket.recv()) socket.sendAll(data);
    },
    options,
  );
  server.start();
  return server;
}

/** The TCP port of a server or listening socket's address. */
export function portOf(address: { family: string; port?: number }): number {
  if (address.port === undefined) throw new Error(`not a TCP address: ${JSON.stringify(address)}`);
  return address.port;
}
