// Exact error classes, codes and messages of the Poller's argument checks,
// and the code / errno / syscall of errors from failed system calls.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EDGE_TRIGGERED, EVENT_READ, EVENT_WRITE, ONESHOT, Poller } from '../lib/index';
import { capabilitiesOf, closeFd, installFdCleanup, pollerFactory, socketpair, thrown, track } from './helpers';

installFdCleanup();

const FILEOBJ_EXPECTED =
  'The "fileobj" argument must be a file descriptor (number) or an object with an fd property or fileno() method.';

function expectError(
  fn: () => unknown,
  Ctor: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor,
  code: string,
  message: string,
): void {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(Ctor);
  expect(err.constructor).toBe(Ctor);
  expect(err.code).toBe(code);
  expect(err.message).toBe(message);
}

/** A regular file, open for reading, closed after the test. */
function regularFile(): number {
  const file = path.join(os.tmpdir(), `looplet-regular-${process.pid}-${Date.now()}`);
  fs.writeFileSync(file, 'data');
  const fd = track(fs.openSync(file, 'r'));
  fs.unlinkSync(file);
  return fd;
}

describe('Poller constructor', () => {
  it('rejects an unknown backend name', () => {
    expectError(
      () => new Poller({ backend: 'iocp' as never }),
      RangeError,
      'ERR_INVALID_ARG_VALUE',
      `The "options.backend" must be one of 'epoll', 'kqueue', 'poll', 'select'. Received "iocp"`,
    );
  });

  it('rejects a backend this platform lacks', () => {
    const missing = (['epoll', 'kqueue', 'poll', 'select'] as const).find((b) => !Poller.backends().includes(b));
    if (missing === undefined) return;
    expectError(
      () => new Poller({ backend: missing }),
      Error,
      'ERR_LOOPLET_BACKEND_UNAVAILABLE',
      `The ${missing} backend is not available on this platform (available: ${Poller.backends().join(', ')})`,
    );
  });

  it('rejects names of Object.prototype members as unknown backends (no prototype lookup)', () => {
    for (const name of ['toString', '__proto__', 'constructor', 'valueOf', 'hasOwnProperty']) {
      expectError(
        () => new Poller({ backend: name as never }),
        RangeError,
        'ERR_INVALID_ARG_VALUE',
        `The "options.backend" must be one of 'epoll', 'kqueue', 'poll', 'select'. Received "${name}"`,
      );
    }
  });

  it('rejects options and backend of the wrong type', () => {
    expectError(
      () => new Poller('epoll' as never),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'The "options" argument must be of type object. Received type string ("epoll")',
    );
    expectError(
      () => new Poller(null as never),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'The "options" argument must be of type object. Received null',
    );
    expectError(
      () => new Poller({ backend: 3 as never }),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'The "options.backend" argument must be of type string. Received type number (3)',
    );
  });
});

describe.each(Poller.backends())('argument errors with the %s backend', (backend) => {
  const open = pollerFactory(backend);
  const caps = capabilitiesOf(backend);

  it('fileobj of the wrong type: TypeError ERR_INVALID_ARG_TYPE', () => {
    const p = open();
    const cases: Array<[unknown, string]> = [
      ['3', 'type string ("3")'],
      ['a very long string that is cut short', 'type string ("a very long string that i...")'],
      [null, 'null'],
      [undefined, 'type undefined (undefined)'],
      [true, 'type boolean (true)'],
      [{}, 'an instance of Object'],
      [[3], 'an instance of Array'],
      [{ fd: '3' }, 'an instance of Object'],
      [{ fileno: () => null }, 'an instance of Object'],
      [function named() {}, 'function named'],
    ];
    for (const [bad, received] of cases) {
      expectError(() => p.register(bad as never, EVENT_READ), TypeError, 'ERR_INVALID_ARG_TYPE', `${FILEOBJ_EXPECTED} Received ${received}`);
    }
  });

  it('fd out of range: RangeError ERR_OUT_OF_RANGE', () => {
    const p = open();
    for (const [bad, shown] of [
      [-1, '-1'],
      [-10, '-10'],
      [1.5, '1.5'],
      [NaN, 'NaN'],
      [2 ** 31, '2147483648'],
      [{ fd: -10 }, '-10'],
      [{ fileno: () => 0.5 }, '0.5'],
    ] as Array<[unknown, string]>) {
      expectError(
        () => p.register(bad as never, EVENT_READ),
        RangeError,
        'ERR_OUT_OF_RANGE',
        `The value of "fd" is out of range. It must be an integer >= 0 and <= 2147483647. Received ${shown}`,
      );
    }
  });

  it('invalid events: RangeError ERR_LOOPLET_INVALID_EVENTS, or TypeError for a non-number', () => {
    const p = open();
    const [rd] = socketpair();
    for (const bad of [0, 4, 999999, 1.5, -1, ONESHOT, EDGE_TRIGGERED | ONESHOT, EVENT_READ | 0x1000]) {
      expectError(
        () => p.register(rd, bad),
        RangeError,
        'ERR_LOOPLET_INVALID_EVENTS',
        `Invalid events: ${bad}. Use EVENT_READ and/or EVENT_WRITE, optionally with EDGE_TRIGGERED or ONESHOT`,
      );
    }
    expectError(
      () => p.register(rd, '1' as never),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'The "events" argument must be of type number. Received type string ("1")',
    );
    p.register(rd, EVENT_READ);
    expectError(
      () => p.modify(rd, 0),
      RangeError,
      'ERR_LOOPLET_INVALID_EVENTS',
      'Invalid events: 0. Use EVENT_READ and/or EVENT_WRITE, optionally with EDGE_TRIGGERED or ONESHOT',
    );
  });

  it('events beyond 32 bits: RangeError ERR_LOOPLET_INVALID_EVENTS (not truncated to valid bits)', () => {
    const p = open();
    const [rd] = socketpair();
    for (const bad of [2 ** 32 + 1, -(2 ** 32) + 1, 2 ** 32 + EVENT_READ + EVENT_WRITE, 2 ** 53 + 2]) {
      expectError(
        () => p.register(rd, bad),
        RangeError,
        'ERR_LOOPLET_INVALID_EVENTS',
        `Invalid events: ${bad}. Use EVENT_READ and/or EVENT_WRITE, optionally with EDGE_TRIGGERED or ONESHOT`,
      );
    }
    expect(p.getMap().size).toBe(0);
    p.register(rd, EVENT_READ);
    expectError(
      () => p.modify(rd, 2 ** 32 + EVENT_WRITE),
      RangeError,
      'ERR_LOOPLET_INVALID_EVENTS',
      `Invalid events: ${2 ** 32 + EVENT_WRITE}. Use EVENT_READ and/or EVENT_WRITE, optionally with EDGE_TRIGGERED or ONESHOT`,
    );
    expect(p.getKey(rd).events).toBe(EVENT_READ);
  });

  it('the fd is validated before the events', () => {
    const p = open();
    expect(thrown(() => p.register(-1, 0)).code).toBe('ERR_OUT_OF_RANGE');
  });

  it('registered twice: ERR_LOOPLET_ALREADY_REGISTERED', () => {
    const p = open();
    const [rd] = socketpair();
    p.register(rd, EVENT_READ);
    expectError(() => p.register({ fd: rd }, EVENT_WRITE), Error, 'ERR_LOOPLET_ALREADY_REGISTERED', `fd ${rd} is already registered`);
  });

  it('unknown fd: ERR_LOOPLET_NOT_REGISTERED from unregister, modify and getKey', () => {
    const p = open();
    for (const call of [() => p.unregister(999999), () => p.modify(999999, EVENT_READ), () => p.getKey(999999)]) {
      expectError(call, Error, 'ERR_LOOPLET_NOT_REGISTERED', 'fd 999999 is not registered');
    }
  });

  it('closed poller: ERR_LOOPLET_POLLER_CLOSED', () => {
    const p = open();
    p.close();
    expectError(() => p.register(0, EVENT_READ), Error, 'ERR_LOOPLET_POLLER_CLOSED', 'The poller is closed');
    expectError(() => p.select(), Error, 'ERR_LOOPLET_POLLER_CLOSED', 'The poller is closed');
  });

  it('a fileno() that closes the poller: ERR_LOOPLET_POLLER_CLOSED from register, modify, unregister and getKey', () => {
    const [rd] = socketpair();
    const closing = (p: Poller) => ({
      fileno: () => {
        p.close();
        return rd;
      },
    });
    let p = open();
    expectError(() => p.register(closing(p), EVENT_READ), Error, 'ERR_LOOPLET_POLLER_CLOSED', 'The poller is closed');
    for (const call of [
      (q: Poller) => q.modify(closing(q), EVENT_WRITE),
      (q: Poller) => q.unregister(closing(q)),
      (q: Poller) => q.getKey(closing(q)),
    ]) {
      p = open();
      p.register(rd, EVENT_READ);
      expectError(() => call(p), Error, 'ERR_LOOPLET_POLLER_CLOSED', 'The poller is closed');
      expect(p.closed).toBe(true);
    }
  });

  it('timeout: RangeError for NaN, TypeError for other types', () => {
    const p = open();
    expectError(
      () => p.select(NaN),
      RangeError,
      'ERR_OUT_OF_RANGE',
      'The value of "timeoutMs" is out of range. It must be a number (NaN given). Received NaN',
    );
    expectError(
      () => p.select('10' as never),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'The "timeoutMs" argument must be of type number. Received type string ("10")',
    );
    expectError(
      () => p.select(10n as never),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'The "timeoutMs" argument must be of type number. Received type bigint (10)',
    );
  });

  it('watch: TypeError for a non-function, ERR_LOOPLET_ALREADY_WATCHING when watched twice', () => {
    const p = open();
    expectError(
      () => p.watch('cb' as never),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'The "callback" argument must be of type function. Received type string ("cb")',
    );
    expect(p.watching).toBe(false);
    p.watch(() => {});
    expectError(
      () => p.watch(() => {}),
      Error,
      'ERR_LOOPLET_ALREADY_WATCHING',
      'This poller is already being watched; call unwatch() first',
    );
    p.unwatch();
  });

  it.skipIf(caps.edgeTriggered)('EDGE_TRIGGERED unsupported: ERR_LOOPLET_UNSUPPORTED_FLAG', () => {
    const p = open();
    const [rd] = socketpair();
    expectError(
      () => p.register(rd, EVENT_READ | EDGE_TRIGGERED),
      RangeError,
      'ERR_LOOPLET_UNSUPPORTED_FLAG',
      `The ${backend} backend does not support EDGE_TRIGGERED`,
    );
  });

  it('a closed fd: system error EBADF with errno, syscall and fd', () => {
    const p = open();
    const [rd] = socketpair();
    closeFd(rd);
    const err = thrown(() => p.register(rd, EVENT_READ));
    expect(err).toBeInstanceOf(Error);
    const syscall = { epoll: 'epoll_ctl', kqueue: 'kevent', poll: 'poll', select: 'select' }[backend];
    expect(err).toMatchObject({ code: 'EBADF', errno: -9, syscall, fd: rd });
    expect(err.message).toBe(`EBADF: bad file descriptor, ${syscall}`);
  });

  if (backend === 'select') {
    it('an fd >= FD_SETSIZE: RangeError ERR_LOOPLET_FD_SETSIZE', () => {
      const p = open();
      const fds: number[] = [];
      while (!fds.some((fd) => fd >= 1024)) fds.push(...socketpair());
      const high = fds.find((fd) => fd >= 1024)!;
      expectError(
        () => p.register(high, EVENT_READ),
        RangeError,
        'ERR_LOOPLET_FD_SETSIZE',
        `fd ${high} is not below FD_SETSIZE (1024): the select backend cannot watch it; use epoll, kqueue or poll`,
      );
    });
  }

  if (backend === 'epoll') {
    it('a regular file: EPERM from epoll_ctl, and no key is kept (test_register_file)', () => {
      const p = open();
      const fd = regularFile();
      const err = thrown(() => p.register(fd, EVENT_READ));
      expect(err).toBeInstanceOf(Error);
      expect(err).toMatchObject({ code: 'EPERM', errno: -1, syscall: 'epoll_ctl', fd });
      expect(err.message).toBe('EPERM: operation not permitted, epoll_ctl');
      expect(p.getMap().has(fd)).toBe(false);
      expect(thrown(() => p.getKey(fd)).code).toBe('ERR_LOOPLET_NOT_REGISTERED');
    });
  } else if (backend === 'poll' || backend === 'select') {
    it('a regular file is accepted and always ready', () => {
      const p = open();
      const fd = regularFile();
      const key = p.register(fd, EVENT_READ | EVENT_WRITE);
      expect(p.select(0)).toEqual([[key, EVENT_READ | EVENT_WRITE]]);
    });
  }
});
