// StreamServer: gevent's StreamServer on looplet's hub. One job per
// connection runs handler(socket, address) as plain sequential code; the
// socket is closed when the handler returns (or throws, or is killed).
//
// Accepting happens on the hub, in the listener's event-loop callback (as
// gevent does), not in a greenlet: a burst of connections costs no switch
// until their handlers run. The listener is edge-triggered, so the callback
// accepts until EAGAIN; it stops early (and comes back on the next turn of
// the event loop) after MAX_ACCEPT connections, so that a flood of
// connections cannot starve the handlers, and when the pool is full (and
// comes back when a slot is given back: the connections wait in the
// kernel's backlog meanwhile).
import { codedError, invalidArgType, outOfRange, type SystemError } from '../errors';
import { onHub } from '../hub/core';
import { Event } from '../hub/event';
import { IO_READ, setCallback } from '../hub/io';
import { Job, spawn } from '../hub/job';
import { Group, Pool, onSlotFree, tryAdd } from '../hub/pool';
import { checkMs } from '../hub/timeout';
import { Socket, entryOf, listen, tryAccept, type SocketAddress, type TcpListenOptions, type UnixListenOptions } from './socket';

export type Handler = (socket: Socket, address: SocketAddress) => unknown;

export interface StreamServerOptions {
  /** The listen backlog (only with an address; default 511). */
  backlog?: number;
  /** At most this many connections handled at once (a Pool of that size), or the Pool or Group to run handlers in. */
  pool?: number | Group;
  /** SO_REUSEPORT (only with a TCP address): processes that each listen on the same port share its connections. */
  reusePort?: boolean;
}

/** Connections accepted per event-loop callback before the accept loop lets the loop turn. */
const MAX_ACCEPT = 100;
/** After a failure of accept() itself (EMFILE: out of fds), retry after this long. */
const ACCEPT_RETRY_MS = 100;
const DEFAULT_STOP_MS = 1000;

type ListenTarget = TcpListenOptions | UnixListenOptions;

export class StreamServer {
  readonly #handler: Handler;
  readonly #target: ListenTarget | null;
  readonly #group: Group;
  #listener: Socket | null;
  #started = false;
  #accepting = false;
  #waitingForSlot = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #stopped = new Event();
  #warned = false;

  /**
   * listener: { host, port } or { path } to listen on when started, or a
   * listening Socket (from listen(); the server closes it on stop()).
   */
  constructor(listener: TcpListenOptions | UnixListenOptions | Socket, handler: Handler, options: StreamServerOptions = {}) {
    if (typeof handler !== 'function') throw invalidArgType('handler', 'of type function', handler);
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    const { backlog, pool, reusePort } = options;
    if (listener instanceof Socket) {
      if (backlog !== undefined || reusePort !== undefined) {
        throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', 'options.backlog and options.reusePort apply to an address, not to a listening Socket');
      }
      if (listener.closed) throw codedError(Error, 'ERR_LOOPLET_SOCKET_CLOSED', 'The listening socket is closed');
      this.#listener = listener;
      this.#target = null;
    } else {
      if (typeof listener !== 'object' || listener === null) throw invalidArgType('listener', 'an address object or an instance of Socket', listener);
      this.#target = { ...listener, ...(backlog !== undefined ? { backlog } : {}), ...(reusePort !== undefined ? { reusePort } : {}) } as ListenTarget;
      if ('path' in this.#target && reusePort !== undefined) {
        throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', 'options.reusePort applies to a TCP address, not to a Unix path');
      }
      this.#listener = null;
    }
    if (pool === undefined) this.#group = new Group();
    else if (pool instanceof Group) this.#group = pool;
    else if (typeof pool === 'number') {
      if (!Number.isInteger(pool) || pool < 1) throw outOfRange('options.pool', 'an integer >= 1', pool);
      this.#group = new Pool(pool);
    } else throw invalidArgType('options.pool', 'of type number or an instance of Pool or Group', pool);
    this.#handler = handler;
  }

  /** Whether start() (or serveForever()) ran and stop() has not. */
  get started(): boolean {
    return this.#started;
  }

  /** Where the server listens; before start(), with an address, the address asked for. */
  get address(): SocketAddress {
    if (this.#listener !== null && !this.#listener.closed) return this.#listener.localAddress;
    const target = this.#target;
    if (target === null) throw codedError(Error, 'ERR_LOOPLET_SOCKET_CLOSED', 'The listening socket is closed');
    if ('path' in target) return { family: 'unix', path: target.path };
    const host = target.host === undefined || target.host === 'localhost' ? (target.host === undefined ? '0.0.0.0' : '127.0.0.1') : target.host;
    return { family: host.includes(':') ? 'IPv6' : 'IPv4', address: host, port: target.port ?? 0 };
  }

  /** The Group (or Pool) the handlers run in. */
  get group(): Group {
    return this.#group;
  }

  /**
   * Starts listening (with an address) and accepting; returns at once. Works
   * on the hub as well as in a greenlet.
   */
  start(): void {
    if (this.#started) throw codedError(Error, 'ERR_LOOPLET_SERVER_STARTED', 'The server is already started');
    if (this.#listener === null || this.#listener.closed) {
      if (this.#target === null) throw codedError(Error, 'ERR_LOOPLET_SOCKET_CLOSED', 'The listening socket is closed');
      this.#listener = listen(this.#target);
    }
    this.#started = true;
    this.#stopped = new Event();
    this.startAccepting();
  }

  /** Starts the server if it is not started, then blocks the calling greenlet until stop(); if interrupted, stops the server. */
  serveForever(): void {
    if (!this.#started) this.start();
    const stopped = this.#stopped;
    try {
      stopped.wait();
    } finally {
      if (!stopped.isSet() && this.#started) this.stop();
    }
  }

  /** Stops taking new connections (they wait in the backlog) without closing the listener. */
  stopAccepting(): void {
    this.#accepting = false;
    this.#waitingForSlot = false;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const entry = this.#listener === null ? null : entryOf(this.#listener);
    if (entry !== null) setCallback(entry, IO_READ, null);
  }

  /** Takes connections again after stopAccepting(). */
  startAccepting(): void {
    if (!this.#started || this.#accepting) return;
    const entry = entryOf(this.#listener!);
    if (entry === null) throw codedError(Error, 'ERR_LOOPLET_SOCKET_CLOSED', 'The listening socket is closed');
    this.#accepting = true;
    setCallback(entry, IO_READ, this.#onAcceptable);
    this.#acceptSome();
  }

  /**
   * Stops accepting and closes the listener, then gives the handlers
   * timeoutMs (default 1000) to finish and kills those still running. In a
   * greenlet it returns once they have all ended; on the hub it returns at
   * once and the rest happens in a job.
   */
  stop(timeoutMs: number = DEFAULT_STOP_MS): void {
    const limit = checkMs('timeoutMs', timeoutMs, true);
    this.stopAccepting();
    if (this.#listener !== null) this.#listener.close();
    this.#started = false;
    this.#stopped.set();
    if (this.#group.size === 0) return;
    if (onHub()) spawn(() => this.#finishHandlers(limit));
    else this.#finishHandlers(limit);
  }

  #finishHandlers(limitMs: number | undefined): void {
    if (!this.#group.join(limitMs)) this.#group.kill();
  }

  readonly #onAcceptable = (): void => {
    this.#acceptSome();
  };

  readonly #onSlotFree = (): void => {
    if (!this.#waitingForSlot) return;
    this.#waitingForSlot = false;
    // Given back in the finishing handler's greenlet: accept from the hub.
    setImmediate(() => this.#acceptSome());
  };

  /** On the hub (or wherever nothing may block): accepts until EAGAIN, a full pool, or MAX_ACCEPT. */
  #acceptSome(): void {
    const listener = this.#listener;
    for (let n = 0; this.#accepting && listener !== null && !listener.closed; n++) {
      if (this.#group.full()) {
        this.#waitingForSlot = true;
        this.#group[onSlotFree](this.#onSlotFree);
        return;
      }
      if (n === MAX_ACCEPT) {
        setImmediate(() => this.#acceptSome());
        return;
      }
      let accepted: [Socket, SocketAddress] | null;
      try {
        accepted = tryAccept(listener);
      } catch (err) {
        this.#acceptFailed(err as SystemError);
        return;
      }
      if (accepted === null) return;
      const [socket, address] = accepted;
      const job = new Job(this.#handle, socket, address);
      if (!this.#group[tryAdd](job)) {
        // Taken by someone else since full() said no (cannot happen on the hub; kept safe).
        socket.close();
        job.kill({ block: false });
        continue;
      }
      job.start();
    }
  }

  #acceptFailed(err: SystemError): void {
    if (!this.#warned) {
      this.#warned = true;
      process.emitWarning(`StreamServer: accept() failed, retrying every ${ACCEPT_RETRY_MS} ms: ${err.message}`, {
        type: 'LoopletServerWarning',
        code: 'LOOPLET_ACCEPT_FAILED',
      });
    }
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#acceptSome();
    }, ACCEPT_RETRY_MS);
  }

  readonly #handle = (socket: Socket, address: SocketAddress): unknown => {
    try {
      return this.#handler(socket, address);
    } finally {
      socket.close();
    }
  };
}
