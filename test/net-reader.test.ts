// BufferedReader: lines and exact counts over a socket whose data arrives
// in arbitrary pieces.
import { describe, expect, it } from 'vitest';
import { run, sleep, spawn } from '../lib/hub';
import { BufferedReader, socketpair, type IncompleteReadError, type Socket } from '../lib/net';
import { installNetChecks, thrown } from './net-helpers';

installNetChecks();

/** A reader over a socketpair whose other end sends `pieces` one at a time (with pauses), then ends. */
function readerOver(pieces: Array<string | Buffer>, options?: { bufferSize?: number }): [BufferedReader, () => void] {
  const [a, b] = socketpair();
  const writer = spawn(() => {
    for (const piece of pieces) {
      a.sendAll(piece);
      sleep(1);
    }
    a.shutdown('write');
  });
  return [
    new BufferedReader(b, options),
    () => {
      writer.join();
      a.close();
      b.close();
    },
  ];
}

describe('BufferedReader', () => {
  it('readLine() joins lines cut across chunks, keeps "\\n", returns the unterminated rest, then empty', async () => {
    await run(() => {
      const [reader, done] = readerOver(['GET / HT', 'TP/1.0\r', '\n\r\nfirst\nsec', 'ond\n', 'no newline'], { bufferSize: 5 });
      expect(reader.readLine().toString()).toBe('GET / HTTP/1.0\r\n');
      expect(reader.readLine().toString()).toBe('\r\n');
      expect(reader.readLine().toString()).toBe('first\n');
      expect(reader.readLine().toString()).toBe('second\n');
      expect(reader.readLine().toString()).toBe('no newline');
      expect(reader.readLine().length).toBe(0);
      expect(reader.readLine().length).toBe(0);
      done();
    });
  });

  it('readLine(limit) hands a long line out in pieces, as Python does', async () => {
    await run(() => {
      const [reader, done] = readerOver(['abcdefgh', 'ij\nxy\n']);
      expect(reader.readLine(4).toString()).toBe('abcd');
      expect(reader.readLine(4).toString()).toBe('efgh');
      expect(reader.readLine(4).toString()).toBe('ij\n');
      expect(reader.readLine(3).toString()).toBe('xy\n');
      expect(reader.readLine(0).length).toBe(0);
      done();
    });
  });

  it('readExactly() waits for the count across chunks; an early end throws ERR_LOOPLET_INCOMPLETE_READ with what came', async () => {
    await run(() => {
      const [reader, done] = readerOver([Buffer.from([0, 0, 0, 5]), 'he', 'llo', 'tr']);
      const header = reader.readExactly(4);
      expect(header.readUInt32BE(0)).toBe(5);
      expect(reader.readExactly(5).toString()).toBe('hello');
      const err = thrown(() => reader.readExactly(4)) as unknown as IncompleteReadError;
      expect(err.code).toBe('ERR_LOOPLET_INCOMPLETE_READ');
      expect(err.partial.toString()).toBe('tr');
      expect(err.expected).toBe(4);
      expect(err.message).toBe('The stream ended after 2 of 4 bytes');
      done();
    });
  });

  it('read() hands out what is buffered before receiving more; iteration yields lines until the end', async () => {
    await run(() => {
      const [reader, done] = readerOver(['one\ntwo\nthr', 'ee\n']);
      expect(reader.readLine().toString()).toBe('one\n');
      expect(reader.buffered).toBeGreaterThan(0);
      expect(reader.read(2).toString()).toBe('tw');
      expect([...reader].map(String)).toEqual(['o\n', 'three\n']);
      expect(reader.read().length).toBe(0);
      done();
    });
  });

  it('validates its source and options', () => {
    expect(thrown(() => new BufferedReader({} as Socket))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    const fake = { recv: () => Buffer.from('x') };
    expect(thrown(() => new BufferedReader(fake, { bufferSize: 0 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => new BufferedReader(fake).readLine(-1))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => new BufferedReader({ recv: () => 'text' as unknown as Buffer }).read())).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });
});
