// BufferedReader: line- and length-oriented reads over anything with
// recv(maxBytes) (a Socket, a DuplexSocket), for protocols written as
// sequential greenlet code: readLine(), readExactly(), read(), and
// iteration over lines. Bytes it has taken from the source but not handed
// out yet stay in its buffer: read through the reader once you use it.
import { codedError, invalidArgType, outOfRange } from '../errors';

/** What a BufferedReader reads from: recv() returns up to maxBytes, an empty Buffer at end of stream. */
export interface Receiver {
  recv(maxBytes: number): Buffer;
}

export interface BufferedReaderOptions {
  /** Bytes asked of the source per recv() (default 65536). */
  bufferSize?: number;
}

const NEWLINE = 0x0a;

/** Thrown by readExactly() when the stream ends first; `partial` holds what came. */
export interface IncompleteReadError extends Error {
  code: 'ERR_LOOPLET_INCOMPLETE_READ';
  partial: Buffer;
  expected: number;
}

export class BufferedReader implements Iterable<Buffer> {
  readonly #source: Receiver;
  readonly #bufferSize: number;
  // Unread bytes: chunks[0] from offset on, then the other chunks whole.
  #chunks: Buffer[] = [];
  #offset = 0;
  #buffered = 0;
  #eof = false;

  constructor(source: Receiver, options: BufferedReaderOptions = {}) {
    if (source === null || typeof source !== 'object' || typeof source.recv !== 'function') {
      throw invalidArgType('source', 'an object with a recv() method (a Socket)', source);
    }
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    const size = options.bufferSize ?? 65536;
    if (typeof size !== 'number') throw invalidArgType('options.bufferSize', 'of type number', size);
    if (!Number.isInteger(size) || size < 1 || size > 0x3fffffff) throw outOfRange('options.bufferSize', 'an integer >= 1 and <= 1073741823', size);
    this.#source = source;
    this.#bufferSize = size;
  }

  /** Bytes received but not read yet. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * The next line, with its '\n'; at end of stream the rest (without one),
   * then an empty Buffer. With limit, at most limit bytes: a longer line
   * comes in pieces (as Python's readline(limit)).
   */
  readLine(limit?: number): Buffer {
    const max = limit === undefined ? Infinity : checkCount('limit', limit);
    if (max === 0) return Buffer.alloc(0);
    let scanned = 0; // bytes already searched for a newline
    for (;;) {
      const end = this.#find(scanned, max);
      if (end >= 0) return this.#take(end);
      scanned = this.#buffered;
      if (this.#buffered >= max) return this.#take(max);
      if (!this.#fill()) return this.#take(this.#buffered);
    }
  }

  /** Exactly n bytes; throws ERR_LOOPLET_INCOMPLETE_READ (with `partial`) if the stream ends first. */
  readExactly(n: number): Buffer {
    const count = checkCount('n', n);
    while (this.#buffered < count) {
      if (!this.#fill()) {
        const partial = this.#take(this.#buffered);
        const err = codedError(Error, 'ERR_LOOPLET_INCOMPLETE_READ', `The stream ended after ${partial.length} of ${count} bytes`) as IncompleteReadError;
        err.partial = partial;
        err.expected = count;
        throw err;
      }
    }
    return this.#take(count);
  }

  /**
   * Up to maxBytes (default: what is buffered, or one recv's worth): buffered
   * bytes first, without waiting; else one recv() from the source. An empty
   * Buffer at end of stream.
   */
  read(maxBytes?: number): Buffer {
    const max = maxBytes === undefined ? Infinity : checkCount('maxBytes', maxBytes);
    if (max === 0) return Buffer.alloc(0);
    if (this.#buffered === 0 && !this.#fill()) return Buffer.alloc(0);
    return this.#take(Math.min(max, this.#buffered));
  }

  /** Lines until end of stream (each with its '\n', the last maybe without). */
  *[Symbol.iterator](): Generator<Buffer> {
    for (let line = this.readLine(); line.length > 0; line = this.readLine()) yield line;
  }

  /** Receives one more chunk into the buffer; false at end of stream. */
  #fill(): boolean {
    if (this.#eof) return false;
    const chunk = this.#source.recv(this.#bufferSize);
    if (!(chunk instanceof Uint8Array)) throw invalidArgType('recv()', 'to return a Buffer', chunk);
    if (chunk.length === 0) {
      this.#eof = true;
      return false;
    }
    this.#chunks.push(chunk as Buffer);
    this.#buffered += chunk.length;
    return true;
  }

  /** The length up to and with the first '\n' at or after byte `from` (within max), or -1. */
  #find(from: number, max: number): number {
    let base = 0; // bytes before chunk i
    for (let i = 0; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i];
      const start = i === 0 ? this.#offset : 0;
      const size = chunk.length - start;
      if (base + size > from) {
        const at = chunk.indexOf(NEWLINE, start + Math.max(0, from - base));
        if (at >= 0) {
          const length = base + (at - start) + 1;
          return length <= max ? length : -1;
        }
      }
      base += size;
      if (base >= max) return -1;
    }
    return -1;
  }

  /** Removes and returns the first n buffered bytes (n <= buffered). */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.#chunks[0];
    let out: Buffer;
    if (first.length - this.#offset >= n) {
      out = first.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const chunk = this.#chunks[0];
        const take = Math.min(chunk.length - this.#offset, n - filled);
        chunk.copy(out, filled, this.#offset, this.#offset + take);
        filled += take;
        this.#offset += take;
        if (this.#offset === chunk.length) {
          this.#chunks.shift();
          this.#offset = 0;
        }
      }
    }
    if (this.#chunks.length > 0 && this.#offset === this.#chunks[0].length) {
      this.#chunks.shift();
      this.#offset = 0;
    }
    this.#buffered -= n;
    return out;
  }
}

function checkCount(name: string, value: unknown): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < 0 || value > 0x3fffffff) throw outOfRange(name, 'an integer >= 0 and <= 1073741823', value);
  return value;
}
