// Cooperative sockets: TCP and Unix-domain stream sockets on non-blocking
// fds. A call that would block parks the calling greenlet on the hub's
// poller (lib/hub/io.ts) and the other greenlets run; the syscalls are the
// addon's (native/src/addon/net.cc), with no Node stream in the path.
//
// Every call tries its syscall first and parks only on EAGAIN, so a socket
// with data ready costs one syscall and no switch. recv() reads into a slab
// shared by the thread's sockets (see below); recvInto() straight into the
// caller's buffer.
import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import { binding, type NativeAddress, type NativeFailure, type NativeNet } from '../binding';
import { codedError, invalidArgType, outOfRange, systemError, type SystemError } from '../errors';
import { assertCanBlock, fairTurn, readyCall } from '../hub/core';
import { IO_READ, IO_WRITE, ioRegister, ioUnregister, ioWait, type IoEntry } from '../hub/io';
import { Timeout, checkMs, sleep, wait } from '../hub/timeout';

/** Where a socket is bound or connected. */
export type SocketAddress = { family: 'IPv4' | 'IPv6'; address: string; port: number } | { family: 'unix'; path: string };

export type TcpTarget = { host?: string; port: number };
export type UnixTarget = { path: string };

export interface ConnectOptions {
  /** Give up connecting after this many ms (Timeout, code ERR_LOOPLET_TIMEOUT); also becomes the socket's timeoutMs. */
  timeoutMs?: number;
}

export interface TcpListenOptions {
  /** A numeric IPv4 or IPv6 address, or 'localhost' (127.0.0.1). Default '0.0.0.0'. */
  host?: string;
  /** Default 0: a free port (see localAddress). */
  port?: number;
  /** Default 511. */
  backlog?: number;
  /** SO_REUSEPORT: several sockets (processes) listen on the same port and the kernel spreads the connections. */
  reusePort?: boolean;
}

export interface UnixListenOptions {
  /** A filesystem path (removed again when the socket is closed), or '\0name' for Linux's abstract namespace. */
  path: string;
  backlog?: number;
}

export type ShutdownHow = 'read' | 'write' | 'both';

const errno = os.constants.errno;
const EAGAIN = -errno.EAGAIN;
const EINVAL = -errno.EINVAL;
const EBADF = -errno.EBADF;
/** accept() failures that concern only the connection being accepted (Linux passes network errors through): skip it. */
const ACCEPT_SKIP = new Set(
  ['ECONNABORTED', 'EPROTO', 'ENOPROTOOPT', 'EHOSTDOWN', 'ENONET', 'EHOSTUNREACH', 'EOPNOTSUPP', 'ENETUNREACH', 'ENETDOWN', 'EPERM']
    .map((name) => (errno as Record<string, number | undefined>)[name])
    .filter((n): n is number => n !== undefined)
    .map((n) => -n),
);
const DEFAULT_RECV = 64 * 1024;
const MAX_RECV = 0x3fffffff;
const DEFAULT_BACKLOG = 511;
/** Delay between connect attempts to a Unix socket whose backlog is full (EAGAIN). */
const UNIX_RETRY_MS = 2;

let nativeNet: NativeNet | null = null;
function sys(): NativeNet {
  if (nativeNet === null) nativeNet = binding().net;
  return nativeNet;
}

// recv() reads straight into a slab shared by the thread's sockets and
// returns a view of the bytes read (as Node's own streams do with their
// pool): one small object per call, no copy. A slab is replaced once less
// room is left than the call may want; it lives as long as a view of it.
const SLAB_SIZE = 64 * 1024;
const SLAB_MIN_ROOM = 16 * 1024;
let slab: Buffer | null = null;
let slabUsed = 0;

function failed(result: unknown): result is NativeFailure {
  return typeof result === 'object' && result !== null && !Array.isArray(result) && typeof (result as NativeFailure).errno === 'number';
}

function closedError(syscall: string): SystemError {
  const err = systemError(EBADF, syscall);
  err.message += ' (the socket is closed)';
  return err;
}

/** Bytes to send: a Uint8Array (Buffer), another ArrayBufferView, or a string (UTF-8). */
function toBytes(data: unknown, name = 'data'): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw invalidArgType(name, 'of type string or an instance of Buffer, TypedArray, or DataView', data);
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  return value;
}

function checkObject<T>(name: string, value: unknown): T {
  if (typeof value !== 'object' || value === null) throw invalidArgType(name, 'of type object', value);
  return value as T;
}

function checkPath(name: string, path: unknown): string {
  if (typeof path !== 'string') throw invalidArgType(name, 'of type string', path);
  if (path.length === 0 || path.indexOf('\0', 1) !== -1) {
    throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "${name}" argument must be a non-empty string without null bytes (but a leading one). Received ${JSON.stringify(path)}`);
  }
  return path;
}

/** A numeric address, or 'localhost' (127.0.0.1): listen() never resolves names, which could block. */
function numericHost(name: string, host: unknown, fallback: string): string {
  if (host === undefined) return fallback;
  if (typeof host !== 'string') throw invalidArgType(name, 'of type string', host);
  if (host === 'localhost') return '127.0.0.1';
  if (net.isIP(host) === 0) {
    throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "${name}" argument must be an IPv4 or IPv6 address, or 'localhost'. Received ${JSON.stringify(host)}`);
  }
  return host;
}

function toAddress(result: NativeAddress | NativeFailure, fd: number): SocketAddress {
  if (failed(result)) throw systemError(result.errno, result.syscall, fd);
  if (typeof result.family !== 'string') throw systemError(-errno.EAFNOSUPPORT, 'getsockname', fd);
  return Object.freeze(result) as SocketAddress;
}

/** One recv() into the slab: the bytes, an empty Buffer at end of stream, or null (EAGAIN). */
function recvOnce(fd: number, maxBytes: number): Buffer | null {
  let target: Buffer;
  let offset = 0;
  let length = maxBytes;
  if (maxBytes > SLAB_SIZE) {
    target = Buffer.allocUnsafeSlow(maxBytes);
  } else {
    if (slab === null || slab.length - slabUsed < Math.min(maxBytes, SLAB_MIN_ROOM)) {
      slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      slabUsed = 0;
    }
    target = slab;
    offset = slabUsed;
    length = Math.min(maxBytes, slab.length - slabUsed);
  }
  const n = sys().recv(fd, target, offset, length);
  if (n > 0) {
    if (target === slab) slabUsed = Math.min(slab.length, (offset + n + 7) & ~7);
    return target.subarray(offset, offset + n);
  }
  if (n === 0) return Buffer.alloc(0);
  if (n === EAGAIN) return null;
  throw systemError(n, 'recv', fd);
}

/**
 * Package-internal, for code on the hub (makeStream): one recv() that never
 * waits. The bytes (at most maxBytes), an empty Buffer at end of stream, or
 * null when nothing is there now.
 */
export function recvNow(socket: Socket, maxBytes: number): Buffer | null {
  const fd = socket.fileno();
  if (fd < 0) throw closedError('recv');
  return recvOnce(fd, maxBytes);
}

/** Package-internal: one send() that never waits; the count sent, 0 when the socket takes nothing now. */
export function sendNow(socket: Socket, bytes: Uint8Array, offset: number): number {
  const fd = socket.fileno();
  if (fd < 0) throw closedError('send');
  const n = sys().send(fd, bytes, offset, bytes.length - offset);
  if (n >= 0) return n;
  if (n === EAGAIN) return 0;
  throw systemError(n, 'send', fd);
}

/** Closes the fds of sockets that were dropped without close() (as Python does). */
const dropped = new FinalizationRegistry<{ fd: number; entry: IoEntry }>(({ fd, entry }) => {
  ioUnregister(entry, closedError('close'));
  sys().close(fd);
});

/** The argument that lets only this module construct sockets. */
const internal: unique symbol = Symbol('looplet.net.internal');
// Package-internal access to Socket, set by its static block.
let makeSocket: (fd: number, remote: SocketAddress | null) => Socket;
/** The socket's entry in the hub's poller (StreamServer, makeStream), or null once closed. */
export let entryOf: (socket: Socket) => IoEntry | null;
let unlinkOnClose: (socket: Socket, path: string) => void;

/**
 * A stream socket (TCP or Unix-domain) for greenlets: recv(), send(),
 * accept() and connect() block only the calling greenlet. Made by
 * connect(), listen(), accept(), socketpair() or Socket.fromFd().
 */
export class Socket {
  #fd: number;
  #entry: IoEntry | null;
  #timeoutMs: number | undefined = undefined;
  #local: SocketAddress | null = null;
  #remote: SocketAddress | null;
  /** A listening Unix socket's filesystem path: unlinked on close. */
  #unlink: string | null = null;

  static {
    makeSocket = (fd, remote) => new Socket(internal, fd, remote);
    entryOf = (socket) => socket.#entry;
    unlinkOnClose = (socket, path) => {
      socket.#unlink = path;
    };
  }

  private constructor(token: typeof internal, fd: number, remote: SocketAddress | null) {
    if (token !== internal) throw codedError(TypeError, 'ERR_ILLEGAL_CONSTRUCTOR', 'Illegal constructor: use connect(), listen(), socketpair() or Socket.fromFd()');
    let entry: IoEntry;
    try {
      entry = ioRegister(fd);
    } catch (err) {
      sys().close(fd);
      throw err;
    }
    this.#fd = fd;
    this.#entry = entry;
    this.#remote = remote;
    dropped.register(this, { fd, entry }, this);
  }

  /**
   * Takes over a stream socket made elsewhere (an inherited listener, a
   * socketpair from `sys`): it is made non-blocking and from now on this
   * Socket owns it (close() closes it).
   */
  static fromFd(fd: number): Socket {
    checkInteger('fd', fd, 0, 0x7fffffff);
    const rc = sys().adopt(fd);
    if (failed(rc)) throw systemError(rc.errno, rc.syscall, fd);
    return new Socket(internal, fd, null);
  }

  /** The fd, or -1 once closed. */
  fileno(): number {
    return this.#entry === null ? -1 : this.#fd;
  }

  get closed(): boolean {
    return this.#entry === null;
  }

  /**
   * The limit in ms for each blocking call (sendAll: for the whole call);
   * past it the call throws a Timeout (code ERR_LOOPLET_TIMEOUT). undefined
   * (the default): no limit; 0: never wait.
   */
  get timeoutMs(): number | undefined {
    return this.#timeoutMs;
  }

  set timeoutMs(value: number | undefined) {
    this.#timeoutMs = checkMs('timeoutMs', value, true);
  }

  /** Where this socket is bound (getsockname). */
  get localAddress(): SocketAddress {
    if (this.#local === null) this.#local = toAddress(sys().address(this.#open('getsockname'), false), this.#fd);
    return this.#local;
  }

  /** The peer (getpeername); throws ENOTCONN for a socket that is not connected. */
  get remoteAddress(): SocketAddress {
    if (this.#remote === null) this.#remote = toAddress(sys().address(this.#open('getpeername'), true), this.#fd);
    return this.#remote;
  }

  /** Waits for a connection; returns it with the peer's address. */
  accept(): [Socket, SocketAddress] {
    this.#fairTurn();
    const fd = this.#open('accept');
    const native = sys();
    for (;;) {
      const conn = native.accept(fd);
      if (conn >= 0) {
        const accepted = adopt(native, conn);
        if (accepted === null) continue;
        readyCall();
        return accepted;
      }
      if (conn === EAGAIN) this.#wait(IO_READ, 'accept', this.#timeoutMs);
      else if (!ACCEPT_SKIP.has(conn)) throw systemError(conn, 'accept', fd);
    }
  }

  /**
   * Receives up to maxBytes (default 65536): the bytes available, waiting
   * for some if there are none; an empty Buffer at end of stream.
   */
  recv(maxBytes: number = DEFAULT_RECV): Buffer {
    if (maxBytes !== DEFAULT_RECV) checkInteger('maxBytes', maxBytes, 0, MAX_RECV);
    this.#fairTurn();
    const fd = this.#open('recv');
    if (maxBytes === 0) return Buffer.alloc(0);
    for (;;) {
      const data = recvOnce(fd, maxBytes);
      if (data !== null) {
        readyCall();
        return data;
      }
      this.#wait(IO_READ, 'recv', this.#timeoutMs);
    }
  }

  /**
   * Receives into buffer[offset, offset + length) (default: the rest of
   * it); returns the count, 0 at end of stream.
   */
  recvInto(buffer: ArrayBufferView, offset = 0, length?: number): number {
    if (!ArrayBuffer.isView(buffer)) throw invalidArgType('buffer', 'an instance of Buffer, TypedArray, or DataView', buffer);
    const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    checkInteger('offset', offset, 0, bytes.length);
    const count = length === undefined ? bytes.length - offset : checkInteger('length', length, 0, bytes.length - offset);
    this.#fairTurn();
    const fd = this.#open('recv');
    if (count === 0) return 0;
    const native = sys();
    for (;;) {
      const n = native.recv(fd, bytes, offset, count);
      if (n >= 0) {
        readyCall();
        return n;
      }
      if (n !== EAGAIN) throw systemError(n, 'recv', fd);
      this.#wait(IO_READ, 'recv', this.#timeoutMs);
    }
  }

  /** Sends what the socket takes of data at once (waiting until it takes some); returns the count. */
  send(data: Uint8Array | ArrayBufferView | string): number {
    const bytes = toBytes(data);
    this.#fairTurn();
    const fd = this.#open('send');
    if (bytes.length === 0) return 0;
    const native = sys();
    for (;;) {
      const n = native.send(fd, bytes, 0, bytes.length);
      if (n >= 0) {
        readyCall();
        return n;
      }
      if (n !== EAGAIN) throw systemError(n, 'send', fd);
      this.#wait(IO_WRITE, 'send', this.#timeoutMs);
    }
  }

  /**
   * Sends all of data, waiting whenever the send buffer is full. With
   * timeoutMs, the limit is for the whole call; a Timeout (or an error)
   * leaves an unknown part sent.
   */
  sendAll(data: Uint8Array | ArrayBufferView | string): void {
    const bytes = toBytes(data);
    this.#fairTurn();
    const fd = this.#open('send');
    const native = sys();
    let offset = 0;
    let deadline = -1;
    while (offset < bytes.length) {
      const n = native.send(fd, bytes, offset, bytes.length - offset);
      if (n >= 0) {
        offset += n;
        continue;
      }
      if (n !== EAGAIN) throw systemError(n, 'send', fd);
      let limit = this.#timeoutMs;
      if (limit !== undefined && limit > 0) {
        if (deadline < 0) deadline = performance.now() + limit;
        limit = Math.max(0, deadline - performance.now());
      }
      this.#wait(IO_WRITE, 'send', limit);
    }
    readyCall();
  }

  /** Shuts down one or both directions ('read', 'write', 'both'). */
  shutdown(how: ShutdownHow): void {
    const modes = sys().shutdownModes;
    if (typeof how !== 'string') throw invalidArgType('how', "one of 'read', 'write', 'both'", how);
    if (!Object.hasOwn(modes, how)) {
      throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "how" argument must be one of 'read', 'write', 'both'. Received ${JSON.stringify(how)}`);
    }
    const fd = this.#open('shutdown');
    const rc = sys().shutdown(fd, modes[how]);
    if (rc < 0) throw systemError(rc, 'shutdown', fd);
  }

  /**
   * Closes the socket: greenlets waiting on it get an EBADF error; a
   * listening Unix socket's path is removed. Idempotent.
   */
  close(): void {
    const entry = this.#entry;
    if (entry === null) return;
    this.#entry = null;
    dropped.unregister(this);
    ioUnregister(entry, closedError('close'));
    const rc = sys().close(this.#fd);
    if (this.#unlink !== null) {
      try {
        fs.unlinkSync(this.#unlink);
      } catch {
        // already gone, or replaced by something that is not ours to remove
      }
      this.#unlink = null;
    }
    if (rc < 0) throw systemError(rc, 'close', this.#fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * A call that may block first gives the others a turn when a run of calls
   * that did not block has used up the budget (see fairTurn); not in
   * non-blocking mode (timeoutMs 0), where a call never waits.
   */
  #fairTurn(): void {
    if (this.#timeoutMs !== 0) fairTurn();
  }

  #open(syscall: string): number {
    if (this.#entry === null) throw closedError(syscall);
    return this.#fd;
  }

  /** Parks until the fd may be ready; a Timeout past limitMs. */
  #wait(direction: number, syscall: string, limitMs: number | undefined): void {
    if (limitMs === 0) throw new Timeout(0);
    assertCanBlock(`Socket#${syscall}()`);
    if (!ioWait(this.#entry!, direction, limitMs, () => closedError(syscall))) throw new Timeout(limitMs);
  }
}

/** The fd of a new socket as connectTcp/connectUnix report it: [fd, pending] or a failure. */
function connectError(result: NativeFailure, what: string, extra: Record<string, unknown>): SystemError {
  const err = systemError(result.errno, result.syscall);
  err.message += ` ${what}`;
  Object.assign(err, extra);
  return err;
}

/** Resolves a host name to an address in a greenlet (Node's dns.lookup, which runs in libuv's thread pool). */
function resolve(host: string): string {
  if (host === 'localhost') return '127.0.0.1';
  if (net.isIP(host) !== 0) return host;
  return wait(dns.promises.lookup(host)).address;
}

/**
 * Connects to { host, port } (host: an address or a name, resolved with
 * dns.lookup; default 'localhost') or to a Unix socket { path }. Blocks the
 * calling greenlet; options.timeoutMs bounds the connect and becomes the
 * socket's timeoutMs.
 */
export function connect(target: TcpTarget | UnixTarget, options: ConnectOptions = {}): Socket {
  checkObject('target', target);
  checkObject('options', options);
  const timeoutMs = checkMs('options.timeoutMs', options.timeoutMs, true);
  const native = sys();
  let start: () => [number, boolean] | NativeFailure;
  let where: string;
  let extra: Record<string, unknown>;
  if ('path' in target && target.path !== undefined) {
    const path = checkPath('target.path', target.path);
    start = () => native.connectUnix(path);
    where = path;
    extra = { address: path };
  } else {
    const t = target as TcpTarget;
    const port = checkInteger('target.port', t.port, 0, 65535);
    const host = t.host === undefined ? 'localhost' : t.host;
    if (typeof host !== 'string') throw invalidArgType('target.host', 'of type string', host);
    assertCanBlock('connect()');
    const address = resolve(host);
    start = () => native.connectTcp(address, port);
    where = `${address}:${port}`;
    extra = { address, port };
  }
  assertCanBlock('connect()');
  const deadline = timeoutMs === undefined ? Infinity : performance.now() + timeoutMs;
  for (;;) {
    const result = start();
    if (failed(result)) {
      // A Unix listener with a full backlog: try again shortly, within the limit.
      if (result.errno === EAGAIN && 'path' in target) {
        if (performance.now() + UNIX_RETRY_MS > deadline) throw new Timeout(timeoutMs);
        sleep(UNIX_RETRY_MS);
        continue;
      }
      if (result.errno === EINVAL && result.syscall === 'getaddrinfo') throw outOfRange('target', 'a numeric address', where);
      throw connectError(result, where, extra);
    }
    const [fd, pending] = result;
    const socket = makeSocket(fd, null);
    socket.timeoutMs = timeoutMs;
    if (!pending) return socket;
    try {
      const entry = entryOf(socket)!;
      const limit = timeoutMs === undefined ? undefined : Math.max(0, deadline - performance.now());
      if (!ioWait(entry, IO_WRITE, limit, () => closedError('connect'))) throw new Timeout(timeoutMs);
      const rc = native.connectError(fd);
      if (rc < 0) throw connectError({ errno: rc, syscall: 'connect' }, where, extra);
    } catch (err) {
      socket.close();
      throw err;
    }
    return socket;
  }
}

/**
 * A listening socket: TCP on { host, port, backlog, reusePort } or
 * Unix-domain on { path, backlog }. Does not block (usable on the hub).
 */
export function listen(options: TcpListenOptions | UnixListenOptions): Socket {
  checkObject('options', options);
  const backlog = (options as { backlog?: unknown }).backlog === undefined ? DEFAULT_BACKLOG : checkInteger('options.backlog', options.backlog, 0, 0x7fffffff);
  const native = sys();
  if ('path' in options && options.path !== undefined) {
    const path = checkPath('options.path', options.path);
    const fd = native.listenUnix(path, backlog);
    if (failed(fd)) throw connectError(fd, path, { address: path });
    const socket = makeSocket(fd, null);
    if (path[0] !== '\0') unlinkOnClose(socket, path);
    return socket;
  }
  const o = options as TcpListenOptions;
  const host = numericHost('options.host', o.host, '0.0.0.0');
  const port = o.port === undefined ? 0 : checkInteger('options.port', o.port, 0, 65535);
  if (o.reusePort !== undefined && typeof o.reusePort !== 'boolean') throw invalidArgType('options.reusePort', 'of type boolean', o.reusePort);
  const fd = native.listenTcp(host, port, backlog, o.reusePort === true);
  if (failed(fd)) throw connectError(fd, `${host}:${port}`, { address: host, port });
  return makeSocket(fd, null);
}

/**
 * Package-internal, for StreamServer's accept on the hub: one accept()
 * that never waits. Returns the connection, or null when none is pending;
 * throws the system error of a failure that concerns the listener
 * (EMFILE and the like), skipping those that concern only one connection.
 */
export function tryAccept(listener: Socket): [Socket, SocketAddress] | null {
  const fd = listener.fileno();
  if (fd < 0) throw closedError('accept');
  const native = sys();
  for (;;) {
    const conn = native.accept(fd);
    if (conn === EAGAIN) return null;
    if (conn < 0) {
      if (ACCEPT_SKIP.has(conn)) continue;
      throw systemError(conn, 'accept', fd);
    }
    const accepted = adopt(native, conn);
    if (accepted !== null) return accepted;
  }
}

/** An accepted fd as a Socket with its peer's address; null (fd closed) when the peer is already gone. */
function adopt(native: NativeNet, fd: number): [Socket, SocketAddress] | null {
  const remote = native.address(fd, true);
  if (failed(remote) || typeof remote.family !== 'string') {
    native.close(fd);
    return null;
  }
  const address = Object.freeze(remote) as SocketAddress;
  return [makeSocket(fd, address), address];
}

/** A connected pair of Unix-domain stream sockets (for tests and in-process plumbing). */
export function socketpair(): [Socket, Socket] {
  const result = sys().socketpair();
  if (failed(result)) throw systemError(result.errno, result.syscall);
  const a = makeSocket(result[0], null);
  let b: Socket;
  try {
    b = makeSocket(result[1], null);
  } catch (err) {
    a.close();
    throw err;
  }
  return [a, b];
}

/** How many fds looplet/net holds open in this thread (for leak checks). */
export function openSocketCount(): number {
  return sys().openCount();
}
