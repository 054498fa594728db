// sys: the fd helpers (socketpair, TCP listen / connect / accept, localPort,
// dup2, close): what they accept, what they refuse and how, and that no call
// leaves an fd behind when it fails.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { EVENT_WRITE, Poller, sys } from '../lib/index';
import { countFds, installFdCleanup, socketpair, thrown, track } from './helpers';

installFdCleanup();

/** Whether this machine can bind ::1 (a container may have no IPv6). */
let ipv6 = false;
beforeAll(async () => {
  ipv6 = await new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
});

/** Listens on host, connects to it, accepts: returns [listener, client, server side]. */
function connectedPair(host: string): [number, number, number] {
  const listener = track(sys.listen(host, 0));
  const port = sys.localPort(listener);
  const client = track(sys.connect(host, port));
  const p = new Poller();
  try {
    p.register(client, EVENT_WRITE);
    expect(p.select(5000).map(([key]) => key.fd)).toEqual([client]);
  } finally {
    p.close();
  }
  let accepted = -1;
  for (let i = 0; i < 100 && accepted < 0; i++) accepted = sys.accept(listener);
  expect(accepted).toBeGreaterThanOrEqual(0);
  return [listener, client, track(accepted)];
}

describe('sys.localPort', () => {
  it('gives the port of IPv4 and IPv6 sockets, listening or connected', (ctx) => {
    const [listener, client, server] = connectedPair('127.0.0.1');
    const port = sys.localPort(listener);
    expect(port).toBeGreaterThan(0);
    expect(sys.localPort(server)).toBe(port);
    expect(sys.localPort(client)).not.toBe(port);
    if (!ipv6) return ctx.skip();
    const listener6 = track(sys.listen('::1', 0));
    expect(sys.localPort(listener6)).toBeGreaterThan(0);
  });

  it('refuses a socket that has no port (AF_UNIX) with EAFNOSUPPORT', () => {
    const [a] = socketpair();
    const err = thrown(() => sys.localPort(a));
    expect(err).toMatchObject({ code: 'EAFNOSUPPORT', syscall: 'getsockname', fd: a });
    expect(err.errno).toBeLessThan(0);
  });

  it('an fd that is not a socket: ENOTSOCK from getsockname', () => {
    const fd = track(fs.openSync('/dev/null', 'r'));
    const err = thrown(() => sys.localPort(fd));
    expect(err).toMatchObject({ code: 'ENOTSOCK', syscall: 'getsockname', fd });
  });
});

describe('sys.listen and sys.connect hosts', () => {
  it('IPv6 literals: listen, connect and accept over ::1', (ctx) => {
    if (!ipv6) return ctx.skip();
    const [, client, server] = connectedPair('::1');
    expect(sys.localPort(client)).toBeGreaterThan(0);
    expect(sys.localPort(server)).toBeGreaterThan(0);
  });

  it("'localhost' is 127.0.0.1, without a name lookup", () => {
    const listener = track(sys.listen('localhost', 0));
    const client = track(sys.connect('127.0.0.1', sys.localPort(listener)));
    const p = new Poller();
    try {
      p.register(client, EVENT_WRITE);
      expect(p.select(5000).map(([key]) => key.fd)).toEqual([client]);
    } finally {
      p.close();
    }
    const [, client2] = connectedPair('localhost');
    expect(client2).toBeGreaterThanOrEqual(0);
  });

  it('anything but an IP address or localhost: TypeError ERR_INVALID_ARG_VALUE, before any socket is made', () => {
    const before = countFds();
    for (const host of ['example.com', '', '1.2.3', '[::1]', '127.0.0.1 ', 'localhost.', '::1%']) {
      for (const call of [() => sys.listen(host, 0), () => sys.connect(host, 1)]) {
        const err = thrown(call);
        expect(err).toBeInstanceOf(TypeError);
        expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
        expect(err.message).toBe(
          `The "host" argument must be an IPv4 or IPv6 address, or 'localhost'. Received ${JSON.stringify(host)}`,
        );
      }
    }
    expect(countFds()).toBe(before);
  });

  it('a host with a NUL byte is refused, not cut at the NUL', () => {
    const before = countFds();
    for (const host of ['127.0.0.1\0evil', '\0', '::1\0']) {
      for (const call of [() => sys.listen(host, 0), () => sys.connect(host, 1)]) {
        const err = thrown(call);
        expect(err).toBeInstanceOf(TypeError);
        expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
        expect(err.message).toBe(
          `The "host" argument must be a string without null bytes. Received ${JSON.stringify(host)}`,
        );
      }
    }
    expect(countFds()).toBe(before);
  });

  it('a port in use: EADDRINUSE from bind, and no fd is left', () => {
    const listener = track(sys.listen('127.0.0.1', 0));
    const port = sys.localPort(listener);
    const before = countFds();
    const err = thrown(() => sys.listen('127.0.0.1', port));
    expect(err).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    expect(countFds()).toBe(before);
  });
});

describe('sys.listen backlog', () => {
  it('a backlog that is not a number: TypeError ERR_INVALID_ARG_TYPE, and no fd is left', () => {
    const before = countFds();
    for (const [bad, shown] of [
      ['x', 'type string ("x")'],
      [null, 'null'],
      [{}, 'an instance of Object'],
      [10n, 'type bigint (10)'],
    ] as Array<[unknown, string]>) {
      const err = thrown(() => sys.listen('127.0.0.1', 0, bad as never));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
      expect(err.message).toBe(`The "backlog" argument must be of type number. Received ${shown}`);
    }
    expect(countFds()).toBe(before);
  });

  it('a backlog out of range: RangeError ERR_OUT_OF_RANGE', () => {
    const before = countFds();
    for (const bad of [-1, 1.5, NaN, 2 ** 31]) {
      const err = thrown(() => sys.listen('127.0.0.1', 0, bad));
      expect(err).toBeInstanceOf(RangeError);
      expect(err.code).toBe('ERR_OUT_OF_RANGE');
      expect(err.message).toBe(
        `The value of "backlog" is out of range. It must be an integer >= 0 and <= 2147483647. Received ${bad}`,
      );
    }
    expect(countFds()).toBe(before);
  });

  it('0 and the default are accepted', () => {
    expect(sys.localPort(track(sys.listen('127.0.0.1', 0, 0)))).toBeGreaterThan(0);
    expect(sys.localPort(track(sys.listen('127.0.0.1', 0)))).toBeGreaterThan(0);
  });
});
