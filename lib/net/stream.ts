// Bridges between looplet sockets and Node streams, so that existing Node
// protocol code (tls, http, a parser written for streams) can be reused:
//   - makeStream(socket): a Node Duplex over a looplet Socket, driven by
//     the hub's poller from event-loop callbacks (no greenlet needed);
//   - DuplexSocket: the other way round, a Node Duplex (a TLSSocket made
//     over makeStream(), say) seen from a greenlet as a socket whose
//     recv() and sendAll() block only the calling greenlet.
import { Duplex, type DuplexOptions } from 'node:stream';
import { codedError, invalidArgType } from '../errors';
import { TIMED_OUT, assertCanBlock, parkFor, wake, wakeWithError, type Waiter } from '../hub/core';
import { IO_READ, IO_WRITE, setCallback, type IoEntry } from '../hub/io';
import { Timeout, checkMs } from '../hub/timeout';
import { Socket, entryOf, recvNow, sendNow, type SocketAddress } from './socket';

const READ_SIZE = 64 * 1024;

function toBytes(data: unknown, name = 'data'): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw invalidArgType(name, 'of type string or an instance of Buffer, TypedArray, or DataView', data);
}

/**
 * A Node Duplex over a looplet Socket. The stream owns the socket from now
 * on (destroying it closes the socket); it reads when the consumer wants
 * data and writes as the socket takes it, from event-loop callbacks.
 */
class SocketStream extends Duplex {
  readonly #socket: Socket;
  readonly #entry: IoEntry;
  #wantData = false;
  #pulling = false;
  #pending: { bytes: Uint8Array; offset: number; callback: (error?: Error | null) => void } | null = null;

  constructor(socket: Socket, options: DuplexOptions) {
    super(options);
    this.#socket = socket;
    this.#entry = entryOf(socket)!;
  }

  /** The looplet socket underneath. */
  get socket(): Socket {
    return this.#socket;
  }

  get remoteAddress(): string | undefined {
    return addressOf(() => this.#socket.remoteAddress);
  }

  get remotePort(): number | undefined {
    return portOf(() => this.#socket.remoteAddress);
  }

  get localAddress(): string | undefined {
    return addressOf(() => this.#socket.localAddress);
  }

  get localPort(): number | undefined {
    return portOf(() => this.#socket.localAddress);
  }

  override _read(): void {
    this.#wantData = true;
    this.#pull();
  }

  // Reads until the socket is empty (then waits for the poller) or the
  // consumer has enough. Not re-entered from push().
  #pull(): void {
    if (this.#pulling) return;
    this.#pulling = true;
    try {
      while (this.#wantData) {
        let data: Buffer | null;
        try {
          data = recvNow(this.#socket, READ_SIZE);
        } catch (err) {
          this.#wantData = false;
          setCallback(this.#entry, IO_READ, null);
          this.destroy(err as Error);
          return;
        }
        if (data === null) {
          setCallback(this.#entry, IO_READ, this.#onReadable);
          return;
        }
        if (data.length === 0) {
          this.#wantData = false;
          setCallback(this.#entry, IO_READ, null);
          this.push(null);
          return;
        }
        if (!this.push(data)) this.#wantData = false;
      }
      setCallback(this.#entry, IO_READ, null);
    } finally {
      this.#pulling = false;
    }
  }

  readonly #onReadable = (): void => {
    this.#pull();
  };

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#pending = { bytes: chunk, offset: 0, callback };
    this.#flush();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this._write(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk)), 'binary', callback);
  }

  #flush(): void {
    const pending = this.#pending;
    if (pending === null) return;
    try {
      while (pending.offset < pending.bytes.length) {
        const n = sendNow(this.#socket, pending.bytes, pending.offset);
        if (n === 0) {
          setCallback(this.#entry, IO_WRITE, this.#onWritable);
          return;
        }
        pending.offset += n;
      }
    } catch (err) {
      this.#pending = null;
      setCallback(this.#entry, IO_WRITE, null);
      pending.callback(err as Error);
      return;
    }
    this.#pending = null;
    setCallback(this.#entry, IO_WRITE, null);
    pending.callback();
  }

  readonly #onWritable = (): void => {
    this.#flush();
  };

  override _final(callback: (error?: Error | null) => void): void {
    try {
      if (!this.#socket.closed) this.#socket.shutdown('write');
    } catch (err) {
      // ENOTCONN: the peer is gone already; there is nothing left to shut down.
      if ((err as { code?: string }).code !== 'ENOTCONN') {
        callback(err as Error);
        return;
      }
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#wantData = false;
    const pending = this.#pending;
    this.#pending = null;
    setCallback(this.#entry, IO_READ, null);
    setCallback(this.#entry, IO_WRITE, null);
    try {
      this.#socket.close();
    } catch (err) {
      error ??= err as Error;
    }
    pending?.callback(codedError(Error, 'ERR_STREAM_DESTROYED', 'Cannot call write after a stream was destroyed'));
    callback(error);
  }
}

function addressOf(get: () => SocketAddress): string | undefined {
  try {
    const a = get();
    return a.family === 'unix' ? a.path : a.address;
  } catch {
    return undefined;
  }
}

function portOf(get: () => SocketAddress): number | undefined {
  try {
    const a = get();
    return a.family === 'unix' ? undefined : a.port;
  } catch {
    return undefined;
  }
}

/**
 * A Node Duplex over a looplet socket, for Node code that speaks streams
 * (tls.connect({ socket }), new tls.TLSSocket(stream, { isServer }), an
 * http.Server's 'connection' event). The stream owns the socket from now on:
 * destroying the stream closes it; do not use the socket directly while
 * the stream is in use. Works on the hub: it needs no greenlet.
 */
export function makeStream(socket: Socket, options: DuplexOptions = {}): Duplex {
  if (!(socket instanceof Socket)) throw invalidArgType('socket', 'an instance of Socket', socket);
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
  if (socket.closed) throw codedError(Error, 'ERR_LOOPLET_SOCKET_CLOSED', 'The socket is closed');
  return new SocketStream(socket, options);
}

/**
 * A Node Duplex (a TLSSocket, a stream from makeStream()) used from a
 * greenlet like a looplet Socket: recv() and sendAll() block only the
 * calling greenlet. It reads the stream in paused mode ('readable'); an
 * error of the stream is thrown by the next recv() or sendAll().
 */
export class DuplexSocket {
  readonly stream: Duplex;
  #timeoutMs: number | undefined = undefined;
  #error: Error | null = null;
  #ended = false;
  #closed = false;
  #reader: Waiter | null = null;

  constructor(stream: Duplex) {
    if (stream === null || typeof stream !== 'object' || typeof (stream as Duplex).read !== 'function' || typeof (stream as Duplex).write !== 'function') {
      throw invalidArgType('stream', 'a Duplex stream', stream);
    }
    this.stream = stream;
    stream.on('error', (err: Error) => {
      this.#error ??= err;
      this.#notify(err);
    });
    stream.on('end', () => {
      this.#ended = true;
      this.#notify(null);
    });
    stream.on('close', () => this.#notify(null));
    stream.on('readable', () => this.#notify(null));
  }

  /** As Socket#timeoutMs: the limit of each blocking call, in ms. */
  get timeoutMs(): number | undefined {
    return this.#timeoutMs;
  }

  set timeoutMs(value: number | undefined) {
    this.#timeoutMs = checkMs('timeoutMs', value, true);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Up to maxBytes (default 65536) of what the stream has, waiting for some; an empty Buffer at its end. */
  recv(maxBytes = READ_SIZE): Buffer {
    if (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes < 0) {
      throw invalidArgType('maxBytes', 'a non-negative integer', maxBytes);
    }
    for (;;) {
      this.#check('recv');
      if (maxBytes === 0) return Buffer.alloc(0);
      let chunk: unknown = this.stream.read();
      if (chunk !== null) {
        let bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
        if (bytes.length > maxBytes) {
          this.stream.unshift(bytes.subarray(maxBytes));
          bytes = bytes.subarray(0, maxBytes);
        }
        return bytes;
      }
      if (this.#ended || this.stream.readableEnded || this.stream.destroyed) return Buffer.alloc(0);
      this.#waitFor('recv');
    }
  }

  /** Writes all of data and waits until the stream has taken it (its write callback). */
  sendAll(data: Uint8Array | ArrayBufferView | string): void {
    const bytes = toBytes(data);
    this.#check('send');
    assertCanBlock('DuplexSocket#sendAll()');
    const result = parkFor(this.#timeoutMs, (waiter) => {
      this.stream.write(bytes, (err) => {
        if (err) wakeWithError(waiter, err);
        else wake(waiter, undefined);
      });
      return null;
    });
    if (result === TIMED_OUT) throw new Timeout(this.#timeoutMs);
  }

  /** Ends the writable side (the peer reads end of stream) and waits until it is flushed. */
  shutdown(how: 'write' = 'write'): void {
    if (how !== 'write') throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `A DuplexSocket can only shut down 'write'. Received ${JSON.stringify(how)}`);
    this.#check('shutdown');
    if (this.stream.writableFinished) return;
    assertCanBlock('DuplexSocket#shutdown()');
    const result = parkFor(this.#timeoutMs, (waiter) => {
      const onError = (err: Error) => wakeWithError(waiter, err);
      const onFinish = () => wake(waiter, undefined);
      this.stream.once('finish', onFinish);
      this.stream.once('error', onError);
      this.stream.end();
      return () => {
        this.stream.off('finish', onFinish);
        this.stream.off('error', onError);
      };
    });
    if (result === TIMED_OUT) throw new Timeout(this.#timeoutMs);
  }

  /** Destroys the stream (and so the socket under it). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stream.destroy();
    this.#notify(null);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #check(syscall: string): void {
    if (this.#error !== null) throw this.#error;
    if (this.#closed) throw codedError(Error, 'ERR_LOOPLET_SOCKET_CLOSED', `Cannot ${syscall}: the socket is closed`);
  }

  #notify(error: Error | null): void {
    const reader = this.#reader;
    if (reader === null) return;
    if (error !== null) wakeWithError(reader, error);
    else wake(reader, undefined);
  }

  #waitFor(what: string): void {
    if (this.#reader !== null) {
      throw codedError(Error, 'ERR_LOOPLET_SOCKET_BUSY', 'Another greenlet is already waiting to read from this stream');
    }
    assertCanBlock(`DuplexSocket#${what}()`);
    const result = parkFor(this.#timeoutMs, (waiter) => {
      this.#reader = waiter;
      return () => {
        this.#reader = null;
      };
    });
    if (result === TIMED_OUT) throw new Timeout(this.#timeoutMs);
  }
}
