// Plain-fd helpers that Node.js core lacks, for use with the Poller: a
// non-blocking socketpair and non-blocking TCP sockets. Read and write the
// fds with fs.readSync / fs.writeSync (EAGAIN surfaces as an error with
// code 'EAGAIN') and close them with close() below.
import * as net from 'node:net';
import * as os from 'node:os';
import { binding, type NativeFailure } from './binding';
import { codedError, invalidArgType, outOfRange, systemError } from './errors';
import { fileobjToFd } from './poller';

const EAGAIN = -os.constants.errno.EAGAIN;

function check(result: number | NativeFailure, fd?: number): number {
  if (typeof result === 'number') return result;
  throw systemError(result.errno, result.syscall, fd);
}

function checkPort(port: unknown): number {
  if (typeof port !== 'number') throw invalidArgType('port', 'of type number', port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw outOfRange('port', '>= 0 and <= 65535', port);
  return port;
}

/**
 * A numeric IPv4 or IPv6 address (an IPv6 one may carry a %scope), or
 * 'localhost', which means 127.0.0.1: these calls never make a name lookup,
 * which could block the thread.
 */
function checkHost(host: unknown): string {
  if (typeof host !== 'string') throw invalidArgType('host', 'of type string', host);
  if (host.includes('\0')) {
    throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "host" argument must be a string without null bytes. Received ${JSON.stringify(host)}`);
  }
  if (host === 'localhost') return '127.0.0.1';
  if (net.isIP(host) === 0) {
    throw codedError(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      `The "host" argument must be an IPv4 or IPv6 address, or 'localhost'. Received ${JSON.stringify(host)}`,
    );
  }
  return host;
}

function checkBacklog(backlog: unknown): number {
  if (typeof backlog !== 'number') throw invalidArgType('backlog', 'of type number', backlog);
  if (!Number.isInteger(backlog) || backlog < 0 || backlog > 0x7fffffff) {
    throw outOfRange('backlog', 'an integer >= 0 and <= 2147483647', backlog);
  }
  return backlog;
}

/** A connected pair of non-blocking, close-on-exec AF_UNIX stream sockets. */
export function socketpair(): [number, number] {
  const result = binding().sys.socketpair();
  if (Array.isArray(result)) return result;
  throw systemError(result.errno, result.syscall);
}

/**
 * A non-blocking TCP socket listening on host: a numeric IPv4 or IPv6
 * address, or 'localhost' (127.0.0.1). Port 0 picks a free port (see
 * localPort).
 */
export function listen(host: string, port: number, backlog = 511): number {
  const address = checkHost(host);
  return check(binding().sys.listen(address, checkPort(port), checkBacklog(backlog)));
}

/**
 * Starts a non-blocking TCP connect to host (as for listen); the socket
 * becomes writable once connected.
 */
export function connect(host: string, port: number): number {
  const address = checkHost(host);
  return check(binding().sys.connect(address, checkPort(port)));
}

/** Accepts a pending connection as a non-blocking fd, or returns -1 when none is pending. */
export function accept(listenFd: number): number {
  const fd = fileobjToFd(listenFd, 'listenFd');
  const result = binding().sys.accept(fd);
  if (typeof result !== 'number' && result.errno === EAGAIN) return -1;
  return check(result, fd);
}

/** The local port of a bound IPv4 or IPv6 socket (EAFNOSUPPORT for other sockets). */
export function localPort(fd: number): number {
  const checked = fileobjToFd(fd, 'fd');
  return check(binding().sys.localPort(checked), checked);
}

/** dup2(oldFd, newFd): makes newFd refer to oldFd's file; returns newFd. */
export function dup2(oldFd: number, newFd: number): number {
  const from = fileobjToFd(oldFd, 'oldFd');
  return check(binding().sys.dup2(from, fileobjToFd(newFd, 'newFd')), from);
}

/**
 * Closes an fd. Use it for fds made by this module: in a worker thread,
 * fs.closeSync warns about fds that fs did not open.
 */
export function close(fd: number): void {
  const checked = fileobjToFd(fd, 'fd');
  check(binding().sys.close(checked), checked);
}
