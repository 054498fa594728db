// Plain-fd helpers that Node.js core lacks, for use with the Poller: a
// non-blocking socketpair and non-blocking TCP sockets. Read and write the
// fds with fs.readSync / fs.writeSync (EAGAIN surfaces as an error with
// code 'EAGAIN') and close them with close() below.
import * as os from 'node:os';
import { binding } from './binding';
import { invalidArgType, outOfRange, systemError } from './errors';
import { fileobjToFd } from './poller';

function check(rc: number, syscall: string): number {
  if (rc < 0) throw systemError(rc, syscall);
  return rc;
}

function checkPort(port: unknown): number {
  if (typeof port !== 'number') throw invalidArgType('port', 'of type number', port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw outOfRange('port', '>= 0 and <= 65535', port);
  return port;
}

function checkHost(host: unknown): string {
  if (typeof host !== 'string') throw invalidArgType('host', 'of type string', host);
  return host;
}

/** A connected pair of non-blocking, close-on-exec AF_UNIX stream sockets. */
export function socketpair(): [number, number] {
  const rc = binding().sys.socketpair();
  if (typeof rc === 'number') throw systemError(rc, 'socketpair');
  return rc;
}

/** A non-blocking TCP socket listening on an IPv4 address (port 0 picks one; see localPort). */
export function listen(host: string, port: number, backlog = 511): number {
  return check(binding().sys.listen(checkHost(host), checkPort(port), backlog), 'listen');
}

/** Starts a non-blocking TCP connect; the socket becomes writable once connected. */
export function connect(host: string, port: number): number {
  return check(binding().sys.connect(checkHost(host), checkPort(port)), 'connect');
}

/** Accepts a pending connection as a non-blocking fd, or returns -1 when none is pending. */
export function accept(listenFd: number): number {
  const rc = binding().sys.accept(fileobjToFd(listenFd, 'listenFd'));
  if (rc === -os.constants.errno.EAGAIN) return -1;
  return check(rc, 'accept');
}

/** The local port of a bound socket. */
export function localPort(fd: number): number {
  return check(binding().sys.localPort(fileobjToFd(fd, 'fd')), 'getsockname');
}

/** dup2(oldFd, newFd): makes newFd refer to oldFd's file; returns newFd. */
export function dup2(oldFd: number, newFd: number): number {
  return check(binding().sys.dup2(fileobjToFd(oldFd, 'oldFd'), fileobjToFd(newFd, 'newFd')), 'dup2');
}

/**
 * Closes an fd. Use it for fds made by this module: in a worker thread,
 * fs.closeSync warns about fds that fs did not open.
 */
export function close(fd: number): void {
  check(binding().sys.close(fileobjToFd(fd, 'fd')), 'close');
}
