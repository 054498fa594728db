// looplet/pool's native tasks (no isolate, on the core's lp_pool_t): sleep,
// waitFd, pread / pwrite, hash; their errors; cancellation before and after
// start; maxQueue; closing a pool while blocking tasks run.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_READ, EVENT_WRITE } from '../lib/index';
import { run } from '../lib/hub';
import { CancelledError, type Future, ThreadPool, native } from '../lib/pool';
import { ensureDist, installFdCleanup, socketpair, thrown, track, waitFor, withTimeout } from './helpers';
import { makePool } from './pool-helpers';

installFdCleanup();

/**
 * A native task that holds a pool thread until open() is called (a wait for
 * readability on one end of a socketpair), so that what is queued behind it
 * stays queued however slow the test's own thread is.
 */
function gate(pool: ThreadPool): { task: Future<number>; open: () => void } {
  const [a, b] = socketpair();
  return { task: pool.submit(native.waitFd, a, EVENT_READ), open: () => fs.writeSync(b, 'x') };
}
beforeAll(() => ensureDist());


const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'looplet-pool-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** FNV-1a 64 of data, `rounds` times chained: what native.hash computes. */
function fnv1a64(data: Uint8Array, rounds = 1): bigint {
  let h = 0xcbf29ce484222325n;
  for (let r = 0; r < rounds; r++) {
    for (const byte of data) {
      h ^= BigInt(byte);
      h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
    }
  }
  return h;
}

describe('native tasks', () => {
  it('sleep(ms) blocks a pool thread, not the event loop', async () => {
    const pool = makePool();
    const t0 = performance.now();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await pool.submit(native.sleep, 200);
    clearInterval(timer);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(199);
    expect(ticks).toBeGreaterThan(3); // 40 ticks' time: room for a loaded machine
  });

  it('noop() completes with undefined', async () => {
    const pool = makePool();
    expect(await pool.submit(native.noop)).toBeUndefined();
    const futures = Array.from({ length: 5000 }, () => pool.submit(native.noop));
    await Promise.all(futures);
    expect(pool.stats().completed).toBeGreaterThanOrEqual(5001);
  });

  it('waitFd() reports readiness, 0 on timeout, and EBADF for a closed fd', async () => {
    const pool = makePool();
    const [a, b] = socketpair();
    expect(await pool.submit(native.waitFd, a, EVENT_WRITE, 1000)).toBe(EVENT_WRITE);
    expect(await pool.submit(native.waitFd, a, EVENT_READ, 30)).toBe(0);
    const ready = pool.submit(native.waitFd, a, EVENT_READ);
    setTimeout(() => fs.writeSync(b, 'x'), 20);
    expect(await ready).toBe(EVENT_READ);
    expect(await pool.submit(native.waitFd, a, EVENT_READ | EVENT_WRITE, 0)).toBe(EVENT_READ | EVENT_WRITE);
    const closed = fs.openSync('/dev/null', 'r');
    fs.closeSync(closed);
    const err = (await pool.submit(native.waitFd, closed, EVENT_READ, 100).then(
      () => null,
      (e: unknown) => e,
    )) as NodeJS.ErrnoException;
    expect(err.code).toBe('EBADF');
    expect(err.syscall).toBe('poll');
    expect(err.errno).toBe(-os.constants.errno.EBADF);
  });

  it('pread() and pwrite() take any ArrayBufferView: DataViews and views of a SharedArrayBuffer', async () => {
    const pool = makePool();
    const fd = track(fs.openSync(path.join(tmp, 'views.bin'), 'w+'));
    const ab = new ArrayBuffer(12);
    new Uint8Array(ab).set(Buffer.from('..abcdefgh..'));
    expect(await pool.submit(native.pwrite, fd, new DataView(ab, 2, 8), 1, 4, 0)).toBe(4);
    const sab = new SharedArrayBuffer(8);
    expect(await pool.submit(native.pread, fd, new DataView(sab, 2), 1, 4, 0)).toBe(4);
    expect(Buffer.from(new Uint8Array(sab)).toString('latin1')).toBe('\0\0\0bcde\0');
    const shared = new Uint16Array(new SharedArrayBuffer(8));
    expect(await pool.submit(native.pread, fd, shared)).toBe(4);
    expect(Buffer.from(shared.buffer).subarray(0, 4).toString()).toBe('bcde');
  });

  it('pread() and pwrite() work at an offset, and report system errors', async () => {
    const pool = makePool();
    const file = path.join(tmp, 'data.bin');
    const fd = track(fs.openSync(file, 'w+'));
    const payload = Buffer.from('0123456789abcdef');
    expect(await pool.submit(native.pwrite, fd, payload, 0, payload.length, 100)).toBe(16);
    expect(await pool.submit(native.pwrite, fd, payload, 10, 6, 0)).toBe(6);
    expect(fs.statSync(file).size).toBe(116);
    const out = Buffer.alloc(32, 0);
    expect(await pool.submit(native.pread, fd, out, 4, 8, 102)).toBe(8);
    expect(out.toString('latin1', 4, 12)).toBe('23456789');
    expect(await pool.submit(native.pread, fd, out, 0, 6)).toBe(6);
    expect(out.toString('latin1', 0, 6)).toBe('abcdef');
    expect(await pool.submit(native.pread, fd, out, 0, 32, 1000)).toBe(0); // past the end
    const ro = track(fs.openSync(file, 'r'));
    const err = (await pool.submit(native.pwrite, ro, payload).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.code).toBe('EBADF');
    expect(err.syscall).toBe('pwrite');
    const [s] = socketpair();
    const spipe = (await pool.submit(native.pread, s, out).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(spipe.code).toBe('ESPIPE');
  });

  it('hash() computes FNV-1a 64 off the event loop', async () => {
    const pool = makePool();
    const data = Buffer.from('looplet thread pool');
    expect(await pool.submit(native.hash, data)).toBe(fnv1a64(data));
    expect(await pool.submit(native.hash, data, 3)).toBe(fnv1a64(data, 3));
    const view = new Uint16Array([1, 2, 3]);
    expect(await pool.submit(native.hash, view)).toBe(fnv1a64(new Uint8Array(view.buffer)));
    expect(await pool.submit(native.hash, new Uint8Array(0))).toBe(0xcbf29ce484222325n);
    // Every kind of view: a DataView, and views of a SharedArrayBuffer.
    const bytes = Buffer.from('any ArrayBufferView');
    const ab = new ArrayBuffer(bytes.length + 3);
    new Uint8Array(ab, 3).set(bytes);
    expect(await pool.submit(native.hash, new DataView(ab, 3))).toBe(fnv1a64(bytes));
    const sab = new SharedArrayBuffer(bytes.length + 3);
    new Uint8Array(sab, 3).set(bytes);
    expect(await pool.submit(native.hash, new Uint8Array(sab, 3))).toBe(fnv1a64(bytes));
    expect(await pool.submit(native.hash, new DataView(sab, 3))).toBe(fnv1a64(bytes));
  });

  it('validates arguments with Node-style errors', () => {
    const pool = makePool();
    expect(thrown(() => pool.submit(native.sleep, -1)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => pool.submit(native.sleep, 'x' as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => pool.submit(native.waitFd, -1, EVENT_READ)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => pool.submit(native.waitFd, 0, 4)).code).toBe('ERR_LOOPLET_INVALID_EVENTS');
    expect(thrown(() => pool.submit(native.waitFd, 0, EVENT_READ, -5)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => pool.submit(native.pread, 0, 'buf' as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => pool.submit(native.pread, 0, Buffer.alloc(4), 5)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => pool.submit(native.pread, 0, Buffer.alloc(4), 1, 4)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => pool.submit(native.pwrite, 0, Buffer.alloc(4), 0, 4, -1)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => pool.submit(native.hash, Buffer.alloc(1), 0)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => pool.submit(native.hash, [1] as never)).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('cancel() withdraws a task not started; a running one runs on', async () => {
    const pool = makePool({ maxThreads: 1 });
    const { task: running, open } = gate(pool);
    const queued = pool.submit(native.noop);
    await waitFor(() => running.running(), 10_000, 'the gate task to start');
    expect(queued.running()).toBe(false);
    expect(queued.cancel()).toBe(true);
    expect(queued.cancelled()).toBe(true);
    await expect(queued).rejects.toBeInstanceOf(CancelledError);
    expect(running.cancel()).toBe(false);
    open();
    expect(await running).toBe(EVENT_READ);
    expect(pool.stats().cancelled).toBe(1);
  });

  it('maxQueue applies to native tasks too, in both modes', async () => {
    const reject = makePool({ maxThreads: 1, maxQueue: 1 });
    const r1 = gate(reject);
    await waitFor(() => r1.task.running(), 10_000, 'the gate task to start');
    const r2 = reject.submit(native.noop);
    expect(thrown(() => reject.submit(native.noop)).code).toBe('ERR_LOOPLET_POOL_QUEUE_FULL');
    r1.open();
    await Promise.all([r1.task, r2]);

    const hold = makePool({ maxThreads: 1, maxQueue: 1, onQueueFull: 'wait' });
    const h1 = gate(hold);
    await waitFor(() => h1.task.running(), 10_000, 'the gate task to start');
    const held = Array.from({ length: 4 }, (_, i) => hold.submit(native.hash, Buffer.from([i])));
    expect(hold.stats().queued).toBe(4);
    h1.open();
    expect(await Promise.all(held)).toEqual([0, 1, 2, 3].map((i) => fnv1a64(Buffer.from([i]))));
  });

  it('shutdown() with cancelPending cancels queued native tasks and waits for the running one', async () => {
    const pool = new ThreadPool({ maxThreads: 1 });
    const { task: running, open } = gate(pool);
    const queued = pool.submit(native.sleep, 10_000);
    await waitFor(() => running.running(), 10_000, 'the gate task to start');
    const closed = pool.shutdown({ cancelPending: true });
    expect(queued.cancelled()).toBe(true);
    let done = false;
    void closed.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false); // it waits for the running task
    open();
    await closed;
    expect(await running).toBe(EVENT_READ);
  });
});

describe('completions while the loop thread is busy', () => {
  // While the loop's thread runs, finishing native tasks do not write the
  // pool's fd (lp_pool_set_awake); the loop's prepare phase must deliver
  // them, or announce them on the fd before it blocks. A lost wake-up would
  // hang these awaits.
  const busy = (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };

  for (const spinUs of [0, 20]) {
    it(`a task that finishes during synchronous work is delivered (spinUs ${spinUs})`, async () => {
      const pool = makePool({ spinUs });
      for (let i = 0; i < 20; i++) {
        const f = pool.submit(native.noop);
        busy(i % 4 === 0 ? 20 : 1);
        expect(f.done()).toBe(false); // delivered by the loop, never inside submit's caller
        await f;
      }
      // Serial round trips, with turns of the loop in between.
      for (let i = 0; i < 3000; i++) {
        await pool.submit(native.noop);
        if (i % 500 === 0) await new Promise((r) => setImmediate(r));
      }
      expect(pool.stats().completed).toBe(3020);
    });
  }

  it('inside a greenlet that blocks on the future', async () => {
    const pool = makePool();
    const got = await run(() => {
      const out: unknown[] = [];
      for (let i = 0; i < 10; i++) {
        const f = pool.submit(native.hash, Buffer.from([i]));
        busy(5);
        out.push(f.result());
      }
      return out;
    });
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => fnv1a64(Buffer.from([i]))));
  });
});

describe('submitMany', () => {
  it('submits a batch in one call: futures in order, no result lost or duplicated', async () => {
    const pool = makePool();
    const bufs = Array.from({ length: 20_000 }, (_, i) => Buffer.from(String(i)));
    const futures = pool.submitMany(native.hash, bufs.map((b) => [b] as [Buffer]));
    expect(futures).toHaveLength(bufs.length);
    const got = await Promise.all(futures);
    const want = bufs.map((b) => fnv1a64(b));
    expect(got).toEqual(want);
    expect(pool.stats().completed).toBe(bufs.length);
    expect(pool.submitMany(native.noop, [])).toEqual([]);
    // A batch with its own views and numbers per task.
    const file = path.join(tmp, 'many.bin');
    const fd = fs.openSync(file, 'w+');
    try {
      const parts = ['alpha', 'beta', 'gamma'].map((w) => Buffer.from(w));
      const offsets = [0, 5, 9];
      const written = await Promise.all(pool.submitMany(native.pwrite, parts.map((b, i) => [fd, b, 0, b.length, offsets[i]] as [number, Buffer, number, number, number])));
      expect(written).toEqual([5, 4, 5]);
      expect(fs.readFileSync(file, 'latin1')).toBe('alphabetagamma');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a batch submitted from an argument getter while another batch is read keeps both intact', async () => {
    const pool = makePool();
    await Promise.all(pool.submitMany(native.noop, Array.from({ length: 8 }, () => []))); // the pool's scratch arrays now exist
    const data = [Buffer.from('one'), Buffer.from('second'), Buffer.from('the third')];
    let inner: Future<bigint>[] = [];
    const innerData = [Buffer.from('inner, longer than the others'), Buffer.from('i2')];
    const middle: unknown[] = [data[1]];
    Object.defineProperty(middle, 1, {
      get() {
        inner = pool.submitMany(native.hash, innerData.map((b, i) => [b, 5 + i] as [Buffer, number]));
        return 2;
      },
    });
    const outer = pool.submitMany(native.hash, [[data[0], 1], middle as [Buffer, number], [data[2], 3]]);
    expect(inner).toHaveLength(2);
    expect(await Promise.all(outer)).toEqual([fnv1a64(data[0], 1), fnv1a64(data[1], 2), fnv1a64(data[2], 3)]);
    expect(await Promise.all(inner)).toEqual([fnv1a64(innerData[0], 5), fnv1a64(innerData[1], 6)]);
  });

  it('checks every argument list before it queues any', async () => {
    const pool = makePool();
    const before = pool.stats();
    expect(thrown(() => pool.submitMany(native.sleep, [[1], [-1]])).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => pool.submitMany(native.sleep, [[1], 5 as never])).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => pool.submitMany(native.noop, 3 as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => pool.submitMany(native.noop, [[]], null as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => pool.submitMany(native.noop, [[]], { signal: {} as never })).code).toBe('ERR_INVALID_ARG_TYPE');
    const after = pool.stats();
    expect(after.completed + after.queued + after.running).toBe(before.completed + before.queued + before.running);
  });

  it("maxQueue: 'reject' refuses a batch that does not fit whole; 'wait' holds the rest in order", async () => {
    const reject = makePool({ maxThreads: 1, maxQueue: 3 });
    const r1 = gate(reject);
    await waitFor(() => r1.task.running(), 10_000, 'the gate task to start');
    expect(thrown(() => reject.submitMany(native.noop, [[], [], [], []])).code).toBe('ERR_LOOPLET_POOL_QUEUE_FULL');
    expect(reject.stats().queued).toBe(0);
    const fit = reject.submitMany(native.noop, [[], [], []]);
    expect(reject.stats().queued).toBe(3);
    r1.open();
    await Promise.all([r1.task, ...fit]);

    // A pool with no thread yet (the core answers -EAGAIN alike when it
    // cannot start one): still a full queue, not a failed pthread_create.
    const cold = makePool({ maxThreads: 2, maxQueue: 2 });
    expect(thrown(() => cold.submitMany(native.noop, [[], [], []])).code).toBe('ERR_LOOPLET_POOL_QUEUE_FULL');
    expect(cold.stats().threads).toBe(0);
    await Promise.all(cold.submitMany(native.noop, [[], []]));

    const hold = makePool({ maxThreads: 1, maxQueue: 2, onQueueFull: 'wait' });
    const h1 = gate(hold);
    await waitFor(() => h1.task.running(), 10_000, 'the gate task to start');
    const held = hold.submitMany(native.hash, [0, 1, 2, 3, 4, 5].map((i) => [Buffer.from([i])] as [Buffer]));
    expect(hold.stats().queued).toBe(6);
    expect(held[5].cancel()).toBe(true);
    h1.open();
    expect(await Promise.all(held.slice(0, 5))).toEqual([0, 1, 2, 3, 4].map((i) => fnv1a64(Buffer.from([i]))));
    await expect(held[5]).rejects.toBeInstanceOf(CancelledError);
  });

  it("'wait' queues a held task when a thread takes one, not only when one finishes", async () => {
    // The batch fills the queue with its first task and holds the second;
    // once a thread takes the first (which then blocks), there is room, and
    // a second thread runs the held one.
    const pool = makePool({ maxThreads: 2, maxQueue: 1, onQueueFull: 'wait' });
    const [a, a2] = socketpair();
    const [b, b2] = socketpair();
    const [first, second] = pool.submitMany(native.waitFd, [
      [a, EVENT_READ, 20_000],
      [b, EVENT_READ, 20_000],
    ]);
    fs.writeSync(b2, 'x');
    expect(await withTimeout(second, 10_000, 'the held task')).toBe(EVENT_READ);
    expect(first.done()).toBe(false);
    fs.writeSync(a2, 'x');
    expect(await first).toBe(EVENT_READ);
  });

  it('an AbortSignal cancels the tasks of the batch not started; after shutdown it throws', async () => {
    const pool = new ThreadPool({ maxThreads: 1 });
    const ac = new AbortController();
    const [a, b] = socketpair();
    const [first, ...rest] = pool.submitMany(native.waitFd, [[a, EVENT_READ], [a, EVENT_READ], [a, EVENT_READ]], { signal: ac.signal });
    await waitFor(() => first.running(), 10_000, 'the first task to start');
    ac.abort();
    expect(rest.every((f) => f.cancelled())).toBe(true);
    expect(first.cancelled()).toBe(false);
    fs.writeSync(b, 'x');
    expect(await first).toBe(EVENT_READ);
    await pool.shutdown();
    expect(thrown(() => pool.submitMany(native.noop, [[]])).code).toBe('ERR_LOOPLET_POOL_SHUTDOWN');
  });
});

describe('native and JS tasks side by side', () => {
  it('a pool runs both kinds at once; stats count both', async () => {
    const pool = makePool({ maxThreads: 2 });
    const [a, b, c] = await Promise.all([pool.submit(native.sleep, 30), pool.submit((x: number) => x + 1, 1), pool.submit(native.hash, Buffer.from('a'))]);
    expect(a).toBeUndefined();
    expect(b).toBe(2);
    expect(c).toBe(fnv1a64(Buffer.from('a')));
    const s = pool.stats();
    expect(s.completed).toBe(3);
    expect(s.jsThreads).toBe(1);
    expect(s.nativeThreads).toBeGreaterThanOrEqual(1);
  });
});
