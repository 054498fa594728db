// looplet/pool: ThreadPool and Future with JS tasks on worker threads —
// results and ordering under concurrency, 100,000 tasks, cancellation,
// shutdown, backpressure, errors, the task kinds (source, CommonJS, ESM,
// TypeScript), map / asCompleted, AbortSignal, transfer, stats.
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, Future, ThreadPool, asCompleted, native } from '../lib/pool';
import { ensureDist, thrown, waitFor, withTimeout } from './helpers';
import { makePool } from './pool-helpers';

const fixtures = path.join(__dirname, 'fixtures', 'pool');
const cjs = path.join(fixtures, 'tasks.cjs');
const task = (name: string) => ({ filename: cjs, name });

beforeAll(() => ensureDist());


/** Returns once two of the pool's workers have each taken a task at the same time. */
async function twoWorkersUp(pool: ThreadPool): Promise<void> {
  const blockThenThreadId = (ms: number) => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    return require('node:worker_threads').threadId as number;
  };
  for (let tries = 0; ; tries++) {
    const [a, b] = await Promise.all([pool.submit(blockThenThreadId, 30), pool.submit(blockThenThreadId, 30)]);
    if (a !== b) return;
    if (tries === 200) throw new Error('the second worker never took a task');
  }
}

async function rejection(promise: PromiseLike<unknown>): Promise<Error & { code?: string; [k: string]: unknown }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('results', () => {
  it('runs a function sent by source, with its arguments, and returns its value', async () => {
    const pool = makePool();
    expect(await pool.submit((a: number, b: number) => a * b, 6, 7)).toBe(42);
    expect(await pool.submit(() => ({ nested: [1, 'two', new Map([[3, 4]])] }))).toEqual({ nested: [1, 'two', new Map([[3, 4]])] });
    // Only globals and require() are visible to a function sent by source.
    expect(await pool.submit(() => require('node:worker_threads').isMainThread)).toBe(false);
    expect(await pool.submit(() => undefined)).toBeUndefined();
  });

  it('runs CommonJS and ES module exports, by descriptor and by name', async () => {
    const pool = makePool({ filename: cjs });
    expect(await pool.submit(task('add'), 2, 3)).toBe(5);
    expect(await pool.submit('add', 10, 20)).toBe(30);
    const esm = path.join(fixtures, 'tasks.mjs');
    expect(await pool.submit({ filename: esm, name: 'square' }, 9)).toBe(81);
    expect(await pool.submit({ filename: pathToFileURL(esm) }, 21)).toBe(42); // the default export
    expect(await pool.submit({ filename: pathToFileURL(esm).href, name: 'square' }, 3)).toBe(9);
  });

  it('a descriptor reused and then changed runs the export it names now', async () => {
    const pool = makePool();
    const spec: { filename: string; name?: string } = { filename: cjs, name: 'add' };
    expect(await pool.submit(spec, 1, 2)).toBe(3);
    expect(await pool.submit(spec, 3, 4)).toBe(7);
    spec.name = 'identity';
    expect(await pool.submit(spec, 'same object')).toBe('same object');
    spec.filename = path.join(fixtures, 'tasks.mjs');
    spec.name = 'square';
    expect(await pool.submit(spec, 5)).toBe(25);
    delete spec.name; // the default export
    expect(await pool.submit(spec, 5)).toBe(10);
  });

  it('keeps results apart under concurrency: every future gets its own task value', async () => {
    const pool = makePool({ maxThreads: 3 });
    const futures = Array.from({ length: 2000 }, (_, i) => pool.submit((x: number) => x * 3 + 1, i));
    const values = await Promise.all(futures);
    expect(values).toEqual(Array.from({ length: 2000 }, (_, i) => i * 3 + 1));
  });

  it('100,000 tiny tasks: no result lost or duplicated', async () => {
    const pool = makePool();
    const N = 100_000;
    const seen = new Uint8Array(N);
    let done = 0;
    let sum = 0;
    await new Promise<void>((resolve, reject) => {
      for (let i = 0; i < N; i++) {
        pool.submit((x: number) => x, i).addDoneCallback((f) => {
          try {
            const v = f.result() as number;
            seen[v]++;
            sum += v;
            if (++done === N) resolve();
          } catch (err) {
            reject(err);
          }
        });
      }
    });
    expect(seen.every((n) => n === 1)).toBe(true);
    expect(sum).toBe((N * (N - 1)) / 2);
    const stats = pool.stats();
    expect(stats.completed).toBeGreaterThanOrEqual(N);
    expect(stats.failed).toBe(0);
    expect(stats.queued).toBe(0);
    expect(stats.running).toBe(0);
  });

  it('cancels racing the workers for queued tasks: each future settles once, cancelled or with its value', async () => {
    const pool = makePool();
    // Both workers are held by gate tasks first, so the first half of the
    // cancels below meets tasks surely queued (they must all succeed); the
    // gates are then released and the second half races the workers.
    const gates = [pool.submit(task('untilCancelled'), 20_000), pool.submit(task('untilCancelled'), 20_000)];
    await waitFor(() => gates.every((g) => g.running()), 10_000, 'both gate tasks to start');
    const N = 20_000;
    const futures = Array.from({ length: N }, (_, i) => pool.submit((x: number) => x, i));
    let withdrawn = 0;
    // Cancel every third from the back while the workers take from the front.
    for (let i = N - 1; i >= 0; i -= 3) {
      if (i < N / 2 && gates[0].running()) gates.forEach((g) => g.cancel());
      const ok = futures[i].cancel();
      if (i >= N / 2) expect(ok).toBe(true);
      if (ok) withdrawn++;
      if (i < N / 2 && i % 300 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(await Promise.all(gates)).toEqual(['aborted: ERR_LOOPLET_POOL_CANCELLED', 'aborted: ERR_LOOPLET_POOL_CANCELLED']);
    const outcomes = await Promise.allSettled(futures);
    let values = 0;
    outcomes.forEach((o, i) => {
      if (o.status === 'fulfilled') {
        expect(o.value).toBe(i);
        expect(futures[i].cancelled()).toBe(false);
        values++;
      } else {
        expect(o.reason).toBeInstanceOf(CancelledError);
        expect(futures[i].cancelled()).toBe(true);
      }
    });
    expect(withdrawn).toBeGreaterThanOrEqual(Math.ceil(N / 6));
    expect(values + withdrawn).toBe(N);
    expect(pool.stats().cancelled).toBe(withdrawn);
    const stats = pool.stats();
    expect(stats.queued).toBe(0);
    expect(stats.running).toBe(0);
    // The queue still works, and tokens freed by cancel() are reused.
    expect(await Promise.all([1, 2, 3].map((x) => pool.submit((y: number) => y * 2, x)))).toEqual([2, 4, 6]);
  });

  it('a batch of results larger than the loop thread\'s buffer all arrive, with no completion after them', async () => {
    const pool = makePool({ spinUs: 0 }); // no prepare-phase delivery either
    const futures = Array.from({ length: 12 }, (_, i) => pool.submit((n: number, c: string) => c.repeat(n), 60_000, String.fromCharCode(97 + i)));
    // Hold this thread until every task has finished: one wake-up, one batch.
    const until = Date.now() + 5000;
    while (pool.stats().running + pool.stats().queued > 0 && Date.now() < until);
    const values = (await Promise.all(futures)) as string[];
    values.forEach((v, i) => expect(v === String.fromCharCode(97 + i).repeat(60_000)).toBe(true));
  });

  it('primitives, short and long strings, and argument lists of any length cross intact', async () => {
    // Covers both encodings: the fast one (numbers, booleans, null,
    // undefined, ASCII strings up to 64 chars, up to 32 arguments) and V8's.
    const pool = makePool();
    const values: unknown[] = [0, -0, NaN, -Infinity, 1.5, 2 ** 53 + 2, -(2 ** 31), true, false, null, undefined, '', 'ascii', 'x'.repeat(64), 'y'.repeat(65), 'é ☃ \u0000', 10n, { a: [1] }, [1, 'two']];
    for (const v of values) {
      const back = await pool.submit(task('identity'), v);
      if (typeof v === 'object' && v !== null) expect(back).toEqual(v);
      else expect(Object.is(back, v)).toBe(true);
    }
    // The argument list as the task sees it, returned as an array (V8's encoding back).
    const echo = (...a: unknown[]) => [a.length, ...a];
    expect(await pool.submit(echo, 1, 'b', null, undefined, false, -0)).toEqual([6, 1, 'b', null, undefined, false, -0]);
    const many = Array.from({ length: 40 }, (_, i) => i);
    expect(await pool.submit(echo, ...many)).toEqual([40, ...many]);
    expect(await pool.submit(echo, 1, { x: 1 }, 'é')).toEqual([3, 1, { x: 1 }, 'é']);
    // Small lists and results share one reused buffer each way: a long one
    // then shorter ones must not see its tail.
    const sizes = [32, 3, 1, 0, 2];
    const lists = sizes.map((n) => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'z'.repeat(64) : i)));
    const backs = await Promise.all(lists.map((args) => pool.submit(echo, ...args)));
    expect(backs).toEqual(lists.map((args) => [args.length, ...args]));
    const ids = await Promise.all(['w'.repeat(64), 'v', 7, ''].map((v) => pool.submit(task('identity'), v)));
    expect(ids).toEqual(['w'.repeat(64), 'v', 7, '']);
  });

  it('large arguments and results cross intact', async () => {
    const pool = makePool();
    const big = Buffer.alloc(1 << 20, 7);
    const out = (await pool.submit((b: Uint8Array) => Buffer.from(b).reverse(), big)) as Uint8Array;
    expect(out.byteLength).toBe(1 << 20);
    expect(out[0]).toBe(7);
    const text = (await pool.submit((n: number) => 'x'.repeat(n), 300_000)) as string;
    expect(text.length).toBe(300_000);
  });

  it('Buffers and typed arrays in results and arguments keep their bytes when later tasks run', async () => {
    // Small values travel through buffers the pool reuses for every task;
    // v8.deserialize would make views of them.
    const pool = makePool({ maxThreads: 1 });
    const first = (await pool.submit(() => Buffer.from('first'))) as Buffer;
    const floats = (await pool.submit(() => new Float64Array([1.5, 2.5]))) as Float64Array;
    await Promise.all(Array.from({ length: 8 }, (_, i) => pool.submit((n: number) => Buffer.alloc(64, n), i)));
    expect(Buffer.from(first).toString()).toBe('first');
    expect([...floats]).toEqual([1.5, 2.5]);
    const failed = (await pool
      .submit(() => {
        throw Object.assign(new Error('with bytes'), { bytes: Buffer.from('kept') });
      })
      .catch((e: unknown) => e)) as Error & { bytes: Uint8Array };
    await pool.submit(() => Buffer.alloc(8192, 9)); // over every byte the error had
    expect(Buffer.from(failed.bytes).toString()).toBe('kept');
    // In the worker: an argument kept past its task is not overwritten by the next one's.
    const keep = (b: Uint8Array) => {
      const g = globalThis as { keptArg?: Uint8Array };
      g.keptArg ??= b;
      return String.fromCharCode(...g.keptArg);
    };
    expect(await pool.submit(keep, Buffer.from('AAAA'))).toBe('AAAA');
    expect(await pool.submit(keep, Buffer.from('BBBB'))).toBe('AAAA');
  });

  it('moves transferred ArrayBuffers: detached here, whole in the task', async () => {
    const pool = makePool();
    const ab = new ArrayBuffer(1024);
    new Uint8Array(ab)[0] = 9;
    const f = pool.submitWith({ transfer: [ab] }, task('echoBytes'), ab);
    expect(ab.byteLength).toBe(0);
    expect(await f).toEqual({ length: 1024, first: 9 });
  });

  it('a value that cannot be cloned fails the submit, or the task that returns it', async () => {
    const pool = makePool();
    expect(() => pool.submit((f: unknown) => f, () => 1)).toThrow(/could not be cloned/);
    const err = await rejection(pool.submit(task('returnFunction')));
    expect(err.message).toMatch(/could not be cloned/);
  });
});

describe('errors from JS tasks', () => {
  it('keep their class, message, code, own properties and stack', async () => {
    const pool = makePool();
    const err = await rejection(pool.submit(task('throwCustom'), 'boom'));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.constructor.name).toBe('TaskError');
    expect(err.name).toBe('TaskError');
    expect(err.message).toBe('boom');
    expect(err.code).toBe('E_TASK');
    expect(err.detail).toEqual({ retry: false });
    expect(err.stack).toContain('TaskError: boom');
    expect(err.stack).toContain('tasks.cjs');
    // The same stand-in class for every error of that class.
    const again = await rejection(pool.submit(task('throwCustom'), 'again'));
    expect(again.constructor).toBe(err.constructor);
  });

  it('built-in classes come back as themselves, with their cause', async () => {
    const pool = makePool();
    const err = await rejection(pool.submit(task('throwWithCause')));
    expect(Object.getPrototypeOf(err)).toBe(Error.prototype);
    expect(err.cause).toBeInstanceOf(TypeError);
    expect((err.cause as Error).message).toBe('inner');
    const type = await rejection(pool.submit(() => null!.x));
    expect(Object.getPrototypeOf(type)).toBe(TypeError.prototype);
  });

  it('a thrown value that is not an error, and a rejected promise', async () => {
    const pool = makePool();
    await expect(pool.submit(task('throwValue'))).rejects.toBe(42);
    const err = await rejection(pool.submit(task('rejectLater'), 5));
    expect(err.message).toBe('rejected later');
    expect(err.code).toBe('E_LATER');
    expect(await pool.submit(task('resolveLater'), 5, 'later')).toBe('later');
  });

  it('a failing task never takes the pool down', async () => {
    const pool = makePool({ maxThreads: 1 });
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 ? pool.submit(task('throwCustom'), 'x') : pool.submit(task('add'), i, 1))));
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual(
      Array.from({ length: 10 }, (_, k) => 2 * k + 1),
    );
    expect(pool.stats().failed).toBe(10);
    expect(pool.stats().jsThreads).toBe(1);
  });

  it('unknown exports and missing modules are reported', async () => {
    const pool = makePool();
    const err = await rejection(pool.submit(task('nope')));
    expect(err.code).toBe('ERR_LOOPLET_POOL_TASK_NOT_FOUND');
    expect(err).toBeInstanceOf(TypeError);
    expect(thrown(() => pool.submit({ filename: path.join(fixtures, 'missing.cjs') })).code).toBe('ERR_LOOPLET_POOL_TASK_NOT_FOUND');
  });
});

describe('TypeScript task files', () => {
  const ts = { filename: path.join(fixtures, 'tasks.ts'), name: 'sum' };

  it('run with a loader in execArgv', async () => {
    const pool = makePool({ execArgv: ['--import', pathToFileURL(path.join(fixtures, 'ts-loader.mjs')).href] });
    expect(await pool.submit(ts, { a: 2, b: 40 })).toBe(42);
  });

  it('without one, fail with a message that says so (or run, where Node strips types itself)', async () => {
    const pool = makePool();
    const f = pool.submit(ts, { a: 1, b: 2 });
    const stripsTypes = Boolean((process.features as { typescript?: unknown }).typescript);
    if (stripsTypes) {
      expect(await f).toBe(3);
    } else {
      const err = await rejection(f);
      expect(err.code).toBe('ERR_LOOPLET_POOL_TYPESCRIPT');
      expect(err.message).toMatch(/execArgv: \['--import', 'tsx'\]/);
      expect(err.message).toContain('tasks.ts');
    }
  });
});

describe('cancellation', () => {
  it('cancels a task not started; a running one is told through currentTask().signal', async () => {
    const pool = makePool({ maxThreads: 1 });
    const running = pool.submit(task('untilCancelled'), 10_000);
    const queued = pool.submit(task('add'), 1, 2);
    await waitFor(() => running.running(), 10_000, 'the first task to start');
    expect(queued.running()).toBe(false);
    expect(queued.cancel()).toBe(true);
    expect(queued.cancelled()).toBe(true);
    expect(queued.done()).toBe(true);
    expect(queued.cancel()).toBe(true);
    const err = await rejection(queued);
    expect(err).toBeInstanceOf(CancelledError);
    expect(err.code).toBe('ERR_LOOPLET_POOL_CANCELLED');
    expect(running.cancel()).toBe(false);
    expect(running.cancelled()).toBe(false);
    expect(await running).toBe('aborted: ERR_LOOPLET_POOL_CANCELLED');
    expect(running.cancel()).toBe(false); // done
    expect(await pool.submit(task('add'), 3, 4)).toBe(7);
    expect(pool.stats().cancelled).toBe(1);
  });

  it('an async task gets the abort event while it awaits', async () => {
    const pool = makePool({ maxThreads: 1 });
    const f = pool.submit(task('untilAbortEvent'), 10_000);
    await waitFor(() => f.running(), 10_000, 'the task to start');
    expect(f.cancel()).toBe(false);
    expect(await f).toBe('abort event: ERR_LOOPLET_POOL_CANCELLED');
  });

  it('an AbortSignal given to submitWith cancels before start and signals after', async () => {
    const pool = makePool({ maxThreads: 1 });
    const aborted = pool.submitWith({ signal: AbortSignal.abort() }, task('add'), 1, 1);
    expect(aborted.cancelled()).toBe(true);
    await expect(aborted).rejects.toMatchObject({ code: 'ERR_LOOPLET_POOL_CANCELLED' });
    // An already-aborted signal: never queued, so a warm thread spinning
    // for work cannot take the task before the cancel.
    const ran: number[] = [];
    for (let i = 0; i < 20; i++) {
      await pool.submit(native.noop);
      const f = pool.submitWith({ signal: AbortSignal.abort() }, native.sleep, 200);
      if (!f.cancelled()) ran.push(i);
      f.cancel();
    }
    expect(ran).toEqual([]);
    const batch = pool.submitMany(native.noop, [[], []], { signal: AbortSignal.abort() });
    expect(batch.map((f) => f.cancelled())).toEqual([true, true]);
    expect(() => pool.submitWith({ signal: AbortSignal.abort() }, native.sleep, -1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    const c1 = new AbortController();
    const c2 = new AbortController();
    const running = pool.submitWith({ signal: c1.signal }, task('untilCancelled'), 10_000);
    const queued = pool.submitWith({ signal: c2.signal }, task('add'), 1, 1);
    await waitFor(() => running.running(), 10_000, 'the first task to start');
    c2.abort();
    expect(queued.cancelled()).toBe(true);
    c1.abort();
    expect(await running).toBe('aborted: ERR_LOOPLET_POOL_CANCELLED');
    expect(thrown(() => pool.submitWith({ signal: 'no' as never }, task('add'))).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('currentTask() is undefined outside a task', async () => {
    const pool = makePool();
    expect(await pool.submit(task('inTask'))).toBe(true);
    const { currentTask } = await import('../lib/pool');
    expect(currentTask()).toBeUndefined();
  });
});

describe('Future', () => {
  it('addDoneCallback runs once done (at once when done already); exception()', async () => {
    const pool = makePool();
    const f = pool.submit(task('add'), 1, 2);
    const calls: Future[] = [];
    f.addDoneCallback((x) => calls.push(x));
    expect(f.done()).toBe(false);
    await f;
    expect(calls).toEqual([f]);
    f.addDoneCallback((x) => calls.push(x));
    expect(calls).toEqual([f, f]);
    expect(f.result()).toBe(3);
    expect(f.exception()).toBeUndefined();
    const bad = pool.submit(task('throwCustom'), 'e');
    await bad.catch(() => {});
    expect((bad.exception() as Error).message).toBe('e');
    expect(() => bad.result()).toThrow('e');
    expect(thrown(() => f.addDoneCallback(5 as never)).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('result() of a pending future on the event loop thread throws ERR_LOOPLET_BLOCKING_ON_HUB', async () => {
    const pool = makePool();
    const f = pool.submit(task('block'), 50);
    expect(thrown(() => f.result()).code).toBe('ERR_LOOPLET_BLOCKING_ON_HUB');
    expect(thrown(() => f.exception()).code).toBe('ERR_LOOPLET_BLOCKING_ON_HUB');
    expect(thrown(() => f.result({ timeoutMs: -1 })).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => f.result({ timeoutMs: 2 ** 31 })).code).toBe('ERR_OUT_OF_RANGE');
    expect(await f).toBe(50);
    expect(() => new (Future as unknown as new (p: null, k: symbol) => Future)(null, Symbol('x'))).toThrow(TypeError);
  });
});

describe('shutdown', () => {
  it('with wait: pending tasks finish, then submit throws ERR_LOOPLET_POOL_SHUTDOWN', async () => {
    const pool = new ThreadPool({ maxThreads: 1 });
    const futures = [pool.submit(task('block'), 30), pool.submit(task('add'), 1, 1), pool.submit(task('add'), 2, 2)];
    await pool.shutdown();
    expect(futures.every((f) => f.done() && !f.cancelled())).toBe(true);
    expect(await Promise.all(futures)).toEqual([30, 2, 4]);
    expect(thrown(() => pool.submit(task('add'), 1, 1)).code).toBe('ERR_LOOPLET_POOL_SHUTDOWN');
    expect(pool.stats().jsThreads).toBe(0);
    await pool.shutdown(); // again: resolves
  });

  it('with cancelPending: tasks not started are cancelled, the running one finishes', async () => {
    const pool = new ThreadPool({ maxThreads: 1 });
    const running = pool.submit(task('untilCancelled'), 20_000); // held until told through its signal
    const queued = [pool.submit(task('add'), 1, 1), pool.submit(task('add'), 2, 2)];
    await waitFor(() => running.running(), 10_000, 'the first task to start');
    const closed = pool.shutdown({ cancelPending: true });
    expect(queued.every((f) => f.cancelled())).toBe(true);
    // The running task was not told (its signal would end it at once).
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(running.done()).toBe(false);
    expect(running.cancel()).toBe(false); // signals it: it returns
    await closed;
    expect(await running).toBe('aborted: ERR_LOOPLET_POOL_CANCELLED');
  });

  it('without wait: resolves at once; the pool still finishes its work', async () => {
    const pool = new ThreadPool({ maxThreads: 1 });
    const f = pool.submit(task('block'), 50);
    await pool.shutdown({ wait: false });
    expect(f.done()).toBe(false);
    expect(await f).toBe(50);
  });

  it('a worker kept alive by what a task left behind is ended after terminateTimeoutMs', async () => {
    // startTicking leaves a referenced setInterval on the worker: its loop
    // would never end on its own, so only the terminate timeout closes it.
    const pool = new ThreadPool({ maxThreads: 1, terminateTimeoutMs: 100 });
    expect(await pool.submit(task('startTicking'))).toBe(true);
    const t0 = performance.now();
    await pool.shutdown();
    expect(performance.now() - t0).toBeLessThan(4000);
    expect(pool.stats().threads).toBe(0);
  });

  it('Symbol.asyncDispose shuts down', async () => {
    let f: Future | undefined;
    {
      await using pool = new ThreadPool({ maxThreads: 1 });
      f = pool.submit(task('add'), 5, 5);
    }
    expect(f.done()).toBe(true);
    expect(await f).toBe(10);
  });
});

describe('maxQueue', () => {
  it("'reject' throws ERR_LOOPLET_POOL_QUEUE_FULL once maxQueue tasks wait", async () => {
    const pool = makePool({ maxThreads: 1, maxQueue: 2 });
    const running = pool.submit(task('untilCancelled'), 20_000);
    await waitFor(() => running.running(), 10_000, 'the first task to start');
    const queued = [pool.submit(task('add'), 1, 0), pool.submit(task('add'), 2, 0)];
    const err = thrown(() => pool.submit(task('add'), 3, 0));
    expect(err.code).toBe('ERR_LOOPLET_POOL_QUEUE_FULL');
    expect(err.message).toContain('maxQueue 2');
    running.cancel(); // lets it return
    expect(await Promise.all([running, ...queued])).toEqual(['aborted: ERR_LOOPLET_POOL_CANCELLED', 1, 2]);
    expect(await pool.submit(task('add'), 3, 0)).toBe(3); // room again
  });

  it("'wait' holds the futures and queues them, in order, as room frees", async () => {
    const pool = makePool({ maxThreads: 1, maxQueue: 1, onQueueFull: 'wait' });
    const running = pool.submit(task('untilCancelled'), 20_000);
    await waitFor(() => running.running(), 10_000, 'the first task to start');
    const futures = Array.from({ length: 6 }, (_, i) => pool.submit(task('add'), i, 100));
    expect(pool.stats().queued).toBe(6);
    expect(futures[5].cancel()).toBe(true); // a held one can be cancelled
    running.cancel(); // lets it return
    expect(await Promise.all(futures.slice(0, 5))).toEqual([100, 101, 102, 103, 104]);
    expect(await running).toBe('aborted: ERR_LOOPLET_POOL_CANCELLED');
  });

  it("'wait' queues a held task when a worker takes one, not only when one finishes", async () => {
    // The second task is held while the first waits for the first worker;
    // once that worker takes the first (a long one), there is room, and a
    // second worker runs the held one.
    const pool = makePool({ maxThreads: 2, maxQueue: 1, onQueueFull: 'wait' });
    const long = pool.submit(task('untilCancelled'), 20_000);
    const held = pool.submit(task('add'), 1, 2);
    expect(await withTimeout(held, 10_000, 'the held task')).toBe(3);
    expect(long.done()).toBe(false);
    long.cancel();
    expect(await long).toBe('aborted: ERR_LOOPLET_POOL_CANCELLED');
  });
});

describe('submitMany with JS tasks', () => {
  it('runs one task per argument list, futures in order', async () => {
    const pool = makePool();
    const add = (a: number, b: number) => a + b;
    const futures = pool.submitMany(add, Array.from({ length: 500 }, (_, i) => [i, 1] as [number, number]));
    expect(await Promise.all(futures)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(await Promise.all(pool.submitMany(task('add'), [[1, 2], [3, 4]]))).toEqual([3, 7]);
  });

  it('serializes every argument list before it queues any; a batch over maxQueue is refused whole', async () => {
    const pool = makePool({ maxThreads: 1, maxQueue: 2 });
    const before = pool.stats().completed;
    expect(() => pool.submitMany(task('add'), [[1, 2], [() => 1, 2]])).toThrow();
    const running = pool.submit(task('block'), 50);
    await waitFor(() => running.running(), 10_000, 'the first task to start');
    expect(thrown(() => pool.submitMany(task('add'), [[1, 0], [2, 0], [3, 0]])).code).toBe('ERR_LOOPLET_POOL_QUEUE_FULL');
    expect(pool.stats().queued).toBe(0);
    expect(await Promise.all(pool.submitMany(task('add'), [[1, 0], [2, 0]]))).toEqual([1, 2]);
    await running;
    expect(pool.stats().completed).toBe(before + 3);
  });
});

describe('map and asCompleted', () => {
  it('map() yields results in input order, with bounded concurrency', async () => {
    const pool = makePool({ maxThreads: 2 });
    const out: number[] = [];
    for await (const v of pool.map((x: number) => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, (x % 3) * 5);
      return x * 10;
    }, [1, 2, 3, 4, 5, 6, 7], { concurrency: 3 })) {
      out.push(v as number);
    }
    expect(out).toEqual([10, 20, 30, 40, 50, 60, 70]);
  });

  it('map({ ordered: false }) yields every result in completion order', async () => {
    // Both workers up first (a worker that starts late on a loaded machine
    // would run 10 and 20 after 800 on the same thread), then a long task
    // on one while the short ones pass it on the other.
    const pool = makePool({ minThreads: 2, maxThreads: 2 });
    await twoWorkersUp(pool);
    const out: number[] = [];
    for await (const v of pool.map(task('block'), [800, 10, 20], { ordered: false })) out.push(v as number);
    expect(out).toEqual([10, 20, 800]);
  });

  it('map() throws the first failure where its result would be and cancels the rest', async () => {
    const pool = makePool({ maxThreads: 1 });
    const seen: number[] = [];
    const iterate = async () => {
      for await (const v of pool.map((x: number) => {
        if (x === 2) throw new Error('two');
        return x;
      }, [0, 1, 2, 3, 4, 5], { concurrency: 2 })) {
        seen.push(v as number);
      }
    };
    await expect(iterate()).rejects.toThrow('two');
    expect(seen).toEqual([0, 1]);
    expect(thrown(() => pool.map(task('add'), 5 as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => pool.map(task('add'), [], { concurrency: 0 })).code).toBe('ERR_OUT_OF_RANGE');
  });

  it('asCompleted() yields futures as they finish, done ones first', async () => {
    const pool = makePool({ minThreads: 2, maxThreads: 3 });
    await twoWorkersUp(pool); // a second worker starting late would finish fast after slow
    const done = pool.submit(task('add'), 0, 0);
    await done;
    const slow = pool.submit(task('block'), 500);
    const fast = pool.submit(task('block'), 10);
    const order: Future[] = [];
    for await (const f of asCompleted([slow, fast, done])) order.push(f);
    expect(order).toEqual([done, fast, slow]);
    await expect(async () => {
      for await (const f of asCompleted([pool.submit(task('block'), 300)], { timeoutMs: 20 })) void f;
    }).rejects.toMatchObject({ code: 'ERR_LOOPLET_TIMEOUT' });
    expect(thrown(() => asCompleted([1 as never])).code).toBe('ERR_INVALID_ARG_TYPE');
  });
});

describe('threads', () => {
  it('scale up to maxThreads and back down to minThreads after idleTimeoutMs', async () => {
    const pool = makePool({ minThreads: 1, maxThreads: 3, idleTimeoutMs: 1000 });
    const ids = new Set(await Promise.all(Array.from({ length: 6 }, () => pool.submit(task('block'), 60).then(() => 0))));
    expect(ids.size).toBe(1);
    expect(pool.stats().jsThreads).toBe(3);
    await waitFor(() => pool.stats().jsThreads === 1, 10_000, 'the extra workers to leave');
    expect(await pool.submit(task('add'), 1, 1)).toBe(2);
  });

  it('recycleAfterTasks replaces a worker after that many tasks, losing nothing', async () => {
    const pool = makePool({ maxThreads: 1, recycleAfterTasks: 2 });
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push((await pool.submit(task('threadId'))) as number);
    expect(new Set(ids).size).toBe(3);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[1]).not.toBe(ids[2]);
    expect(pool.stats().failed).toBe(0);
  });

  it('stats() counts, times and utilization', async () => {
    const pool = makePool({ maxThreads: 2 });
    await Promise.all([pool.submit(task('block'), 30), pool.submit(task('block'), 30), pool.submit(task('throwValue')).catch(() => {})]);
    const s = pool.stats();
    expect(s.completed).toBe(2);
    expect(s.failed).toBe(1);
    expect(s.runTime.max).toBeGreaterThanOrEqual(25);
    expect(s.runTime.p50).toBeGreaterThanOrEqual(0);
    expect(s.waitTime.max).toBeGreaterThan(0);
    expect(s.utilization).toBeGreaterThan(0);
    expect(s.utilization).toBeLessThanOrEqual(1);
    expect(s.threads).toBe(s.jsThreads + s.nativeThreads);
  });
});

// Spinning (adaptive, docs/pool.md "Spinning") changes who notices work and
// completions first, never what arrives: serial round trips (where spins
// catch), gaps longer than the budget (where they run out and back off) and
// bursts, with spinning off, at the default and at the most allowed.
describe('spinning', () => {
  for (const spinUs of [0, undefined, 10_000]) {
    it(`spinUs ${spinUs ?? 'default'}: serial, gapped and burst JS and native tasks all complete, in order`, async () => {
      const { native } = await import('../lib/pool');
      const pool = makePool({ maxThreads: 2, ...(spinUs === undefined ? {} : { spinUs }) });
      for (let i = 0; i < 300; i++) expect(await pool.submit((x: number) => x * 2, i)).toBe(i * 2);
      for (let i = 0; i < 300; i++) expect(await pool.submit(native.noop)).toBeUndefined();
      for (let i = 0; i < 6; i++) {
        await new Promise((resolve) => setTimeout(resolve, 12)); // longer than any budget but the largest
        expect(await pool.submit((x: number) => -x, i)).toBe(-i);
        expect(await pool.submit(native.noop)).toBeUndefined();
      }
      const burst = await Promise.all(Array.from({ length: 2000 }, (_, i) => (i % 2 ? pool.submit(native.noop) : pool.submit((x: number) => x + 1, i))));
      burst.forEach((v, i) => expect(v).toBe(i % 2 ? undefined : i + 1));
      expect(pool.stats()).toMatchObject({ completed: 2612, failed: 0, cancelled: 0 });
    });
  }
});

describe('bad input', () => {
  it('options are validated with Node-style codes', () => {
    expect(thrown(() => new ThreadPool(5 as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => new ThreadPool({ maxThreads: 0 })).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new ThreadPool({ minThreads: 3, maxThreads: 2 })).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new ThreadPool({ maxQueue: 1.5 })).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new ThreadPool({ idleTimeoutMs: -1 })).code).toBe('ERR_OUT_OF_RANGE');
    // Times past what a Node timer takes (2^31 - 1 ms), which setTimeout would fire after 1 ms.
    expect(thrown(() => new ThreadPool({ idleTimeoutMs: 2 ** 31 })).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new ThreadPool({ terminateTimeoutMs: 3e9 })).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new ThreadPool({ onQueueFull: 'drop' as never })).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => new ThreadPool({ execArgv: [1] as never })).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => new ThreadPool({ filename: 7 as never })).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => new ThreadPool({ recycleAfterTasks: 0 })).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new ThreadPool({ spinUs: '20' as never })).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => new ThreadPool({ spinUs: -1 })).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new ThreadPool({ spinUs: 10_001 })).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new ThreadPool({ spinUs: 2.5 })).code).toBe('ERR_OUT_OF_RANGE');
  });

  it('tasks are validated', () => {
    const pool = makePool();
    expect(thrown(() => pool.submit(42 as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => pool.submit('add')).code).toBe('ERR_INVALID_ARG_VALUE'); // no filename option
    expect(thrown(() => pool.submit(class X {} as never)).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => pool.submit(Math.max as never)).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => pool.submit({ filename: cjs, name: 5 as never })).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => pool.submitWith(null as never, task('add'))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => pool.submitWith({ transfer: [new Uint8Array(1)] as never }, task('add'))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => pool.shutdown({ wait: 'yes' as never })).code).toBe('ERR_INVALID_ARG_TYPE');
  });
});
