// looplet/pool's worker threads and lifecycle: a task that exits its worker
// or exceeds resourceLimits (the pool recovers), a worker that cannot
// start, idle workers whose own timers fire, pools made in worker threads,
// no threads or fds left after shutdown, greenlets blocking on futures
// while others run, runInExecutor, and processes that exit with pools
// pending or idle (unref, exit during a blocking native task).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { getHub, run, sleep, spawn } from '../lib/hub';
import { ThreadPool, getDefaultPool, native, runInExecutor, type Future } from '../lib/pool';
import { ensureDist, openFds, repoRoot, thrown, waitFor, withTimeout } from './helpers';
import { makePool } from './pool-helpers';

const cjs = path.join(__dirname, 'fixtures', 'pool', 'tasks.cjs');
const task = (name: string) => ({ filename: cjs, name });
const distPool = path.join(repoRoot, 'dist', 'cjs', 'pool.js');

beforeAll(() => ensureDist());


function threads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);
}

async function failure(f: PromiseLike<unknown>): Promise<Error & { code?: string; exitCode?: number; cause?: unknown }> {
  try {
    await f;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected the future to fail');
}

/** Runs a script in a fresh Node process (bounded); its status, output and wall time. */
function runScript(source: string, timeout = 20_000) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['-e', source], { encoding: 'utf8', timeout, cwd: repoRoot });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

describe('workers that die', () => {
  it('a task that calls process.exit fails with ERR_LOOPLET_POOL_WORKER_EXITED; the pool runs the next task', async () => {
    const pool = makePool({ maxThreads: 1 });
    const err = await failure(pool.submit(task('exit'), 3));
    expect(err.code).toBe('ERR_LOOPLET_POOL_WORKER_EXITED');
    expect(err.exitCode).toBe(3);
    expect(await pool.submit(task('add'), 1, 2)).toBe(3);
    // Tasks queued behind the one that exited still run, on the replacement.
    const behind = [pool.submit(task('exit'), 4), pool.submit(task('add'), 2, 2), pool.submit(task('add'), 3, 3)];
    const settled = await Promise.allSettled(behind);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(pool.stats().failed).toBe(2);
  });

  it('a task that exceeds resourceLimits fails; the pool recovers', async () => {
    const pool = makePool({ maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 } });
    const err = await failure(pool.submit(task('exhaustHeap')));
    expect(err.code).toBe('ERR_LOOPLET_POOL_WORKER_EXITED');
    expect((err.cause as { code?: string }).code).toBe('ERR_WORKER_OUT_OF_MEMORY');
    expect(await pool.submit(task('add'), 20, 22)).toBe(42);
  });

  it('a worker that cannot start fails the queued tasks instead of restarting forever', async () => {
    const pool = makePool({ execArgv: ['--import', path.join(repoRoot, 'no-such-loader.mjs')] });
    const futures = [pool.submit(task('add'), 1, 1), pool.submit(task('add'), 2, 2)];
    for (const f of futures) {
      const err = await withTimeout(failure(f), 15_000, 'the tasks to fail');
      expect(err.code).toBe('ERR_LOOPLET_POOL_WORKER_EXITED');
    }
    await waitFor(() => pool.stats().jsThreads === 0, 10_000, 'the workers to go');
  });
});

describe('idle workers', () => {
  it("run their own timers while idle (they sleep in their event loop, not in Atomics.wait)", async () => {
    const pool = makePool({ maxThreads: 1 });
    expect(await pool.submit(task('startTicking'))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const ticks = (await pool.submit(task('stopTicking'))) as number;
    expect(ticks).toBeGreaterThanOrEqual(5); // 500 ms of 5 ms ticks, with room for a loaded machine
  });
});

describe('pools in worker threads', () => {
  it('a worker thread makes a pool, runs JS and native tasks, and exits cleanly', async () => {
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       const { ThreadPool, native } = require(${JSON.stringify(distPool)});
       (async () => {
         const pool = new ThreadPool({ maxThreads: 2 });
         const js = await pool.submit((a, b) => a + b, 40, 2);
         const hash = await pool.submit(native.hash, Buffer.from('x'));
         const nested = await pool.submit(() => require('node:worker_threads').isMainThread);
         await pool.shutdown();
         parentPort.postMessage({ js, hash: String(hash), nested });
       })();`,
      { eval: true },
    );
    // Listening for 'exit' from the start: a worker that ends right after its
    // message gets both events in one go, before an await could add a listener.
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const message = await withTimeout(new Promise((resolve) => worker.once('message', resolve)), 15_000, 'the worker');
    // FNV-1a 64 of the one byte 'x'.
    const hash = ((0xcbf29ce484222325n ^ 0x78n) * 0x100000001b3n) & 0xffffffffffffffffn;
    expect(message).toEqual({ js: 42, hash: String(hash), nested: false });
    expect(await withTimeout(exited, 15_000, 'the worker to exit')).toBe(0);
  });

  it('a worker thread that exits with its pool busy takes nothing down', async () => {
    const worker = new Worker(
      `const { ThreadPool, native } = require(${JSON.stringify(distPool)});
       const pool = new ThreadPool({ maxThreads: 2 });
       pool.submit(native.sleep, 30000);
       pool.submit(() => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000); });
       setTimeout(() => process.exit(0), 100);`,
      { eval: true },
    );
    const t0 = performance.now();
    expect(await withTimeout(new Promise((resolve) => worker.once('exit', resolve)), 15_000, 'the worker to exit')).toBe(0);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});

describe('cleanup', () => {
  it('leaves no threads or fds behind after shutdown', async () => {
    // Warm up whatever the first pool starts once per process (libuv's own pool, the addon).
    const warm = new ThreadPool({ maxThreads: 1 });
    await Promise.all([warm.submit(native.noop), warm.submit(() => 1)]);
    await warm.shutdown();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = { threads: threads(), fds: openFds() };
    const pool = new ThreadPool({ minThreads: 2, maxThreads: 3 });
    await Promise.all([
      ...Array.from({ length: 6 }, () => pool.submit(task('block'), 20)),
      ...Array.from({ length: 6 }, () => pool.submit(native.sleep, 20)),
    ]);
    expect(threads()).toBeGreaterThanOrEqual(before.threads + 4);
    await pool.shutdown();
    await waitFor(() => threads() === before.threads, 5000, `the thread count to return to ${before.threads}`);
    // No fd open now that was not open before (a count would also move
    // when one of Node's own fds closes meanwhile).
    expect([...openFds()].filter((fd) => !before.fds.has(fd))).toEqual([]);
  });
});

describe('greenlets and futures', () => {
  it('a greenlet blocks on a future while other greenlets run', async () => {
    const pool = makePool();
    const log: string[] = [];
    await run(() => {
      let ticks = 0;
      // The task runs until told through its signal, which the ticker does
      // after its fifth tick: the waiter's result comes after all five.
      const f = pool.submit(task('untilCancelled'), 20_000);
      const ticker = spawn(() => {
        for (let i = 0; i < 5; i++) {
          sleep(10);
          ticks++;
        }
        for (let i = 0; !f.running() && i < 2000; i++) sleep(5);
        expect(f.cancel()).toBe(false); // running: it is signalled
      });
      const waiter = spawn(() => {
        const value = f.result();
        log.push(`result ${value} after ${ticks} ticks`);
        return value;
      });
      ticker.join();
      waiter.join();
      expect(waiter.value).toBe('aborted: ERR_LOOPLET_POOL_CANCELLED');
    });
    expect(log).toEqual(['result aborted: ERR_LOOPLET_POOL_CANCELLED after 5 ticks']);
  });

  it('result({ timeoutMs }) throws a Timeout in the greenlet; the task goes on', async () => {
    const pool = makePool();
    const f = pool.submit(task('block'), 150) as Future<number>;
    const err = await run(() => thrown(() => f.result({ timeoutMs: 20 })));
    expect(err.code).toBe('ERR_LOOPLET_TIMEOUT');
    expect(await run(() => f.result())).toBe(150);
    expect(await run(() => f.exception())).toBeUndefined();
  });

  it('many greenlets wait on futures at once; each gets its own result', async () => {
    const pool = makePool({ maxThreads: 2 });
    const values = await run(() => {
      const jobs = Array.from({ length: 50 }, (_, i) => spawn(() => pool.submit(task('add'), i, 1000).result()));
      return jobs.map((j) => j.get());
    });
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i + 1000));
    expect(getHub().stats().parked).toBe(0);
  });

  it('asCompleted() and map() are plain iterables inside a greenlet', async () => {
    const pool = makePool({ maxThreads: 2 });
    const { asCompleted } = await import('../lib/pool');
    const out = await run(() => {
      const slow = pool.submit(task('untilCancelled'), 20_000); // returns when signalled
      const fast = pool.submit(task('block'), 5);
      const order: unknown[] = [];
      for (const f of asCompleted([slow, fast])) {
        order.push(f.result());
        if (f === fast) slow.cancel();
      }
      const mapped = [...pool.map((x: number) => x * x, [1, 2, 3])];
      return { order, mapped };
    });
    expect(out).toEqual({ order: [5, 'aborted: ERR_LOOPLET_POOL_CANCELLED'], mapped: [1, 4, 9] });
    expect(thrown(() => [...pool.map((x: number) => x, [1])]).code).toBe('ERR_LOOPLET_BLOCKING_ON_HUB');
  });
});

describe('runInExecutor', () => {
  it('returns a future to await in async code, and the result itself in a greenlet', async () => {
    const pool = makePool();
    const f = runInExecutor(pool, (a: number, b: number) => a - b, 10, 3);
    expect(typeof (f as PromiseLike<number>).then).toBe('function');
    expect(await f).toBe(7);
    expect(await run(() => runInExecutor(pool, native.hash, Buffer.from('')))).toBe(0xcbf29ce484222325n);
    expect(await run(() => runInExecutor(pool, task('add'), 1, 1))).toBe(2);
    // The error of a failed task is thrown in the greenlet.
    const err = await run(() => thrown(() => runInExecutor(pool, task('throwCustom'), 'in greenlet')));
    expect(err.message).toBe('in greenlet');
    expect(thrown(() => runInExecutor({} as never, () => 1)).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('runs on the default pool when given null', async () => {
    expect(await runInExecutor(null, () => 'default')).toBe('default');
    expect(await run(() => runInExecutor(undefined, native.noop))).toBeUndefined();
    expect(getDefaultPool()).toBe(getDefaultPool());
  });
});

describe('process exit', () => {
  const prelude = `const { ThreadPool, native, runInExecutor } = require(${JSON.stringify(distPool)});`;

  it('an idle pool does not keep the process alive; pending tasks do, unless unref()', () => {
    const idle = runScript(`${prelude}
      const pool = new ThreadPool({ minThreads: 1 });
      pool.submit((x) => x, 1).then((v) => console.log('done', v));`);
    expect(idle.stderr).toBe('');
    expect(idle.stdout).toBe('done 1\n');
    expect(idle.status).toBe(0);

    const pending = runScript(`${prelude}
      const pool = new ThreadPool();
      pool.submit(native.sleep, 300).then(() => console.log('slept'));`);
    expect(pending.stdout).toBe('slept\n');
    expect(pending.ms).toBeGreaterThanOrEqual(300);

    const unrefed = runScript(`${prelude}
      const pool = new ThreadPool().unref();
      pool.submit(native.sleep, 20000).then(() => console.log('slept'));
      pool.submit(() => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000); });`);
    expect(unrefed.stdout).toBe('');
    expect(unrefed.status).toBe(0);
    expect(unrefed.ms).toBeLessThan(10_000);
  });

  it('native tasks: the pool keeps the process alive while they are out, and ref()/unref() apply to those already out', () => {
    const idle = runScript(`${prelude}
      const pool = new ThreadPool({ minThreads: 1 });
      pool.submit(native.noop).then(() => pool.submit(native.sleep, 50)).then(() => console.log('done'));`);
    expect(idle.stderr).toBe('');
    expect(idle.stdout).toBe('done\n');
    expect(idle.status).toBe(0);
    expect(idle.ms).toBeLessThan(10_000);

    const unrefLater = runScript(`${prelude}
      const pool = new ThreadPool();
      pool.submit(native.sleep, 20000).then(() => console.log('slept'));
      setTimeout(() => pool.unref(), 50);`);
    expect(unrefLater.stdout).toBe('');
    expect(unrefLater.status).toBe(0);
    expect(unrefLater.ms).toBeLessThan(10_000);

    const refAgain = runScript(`${prelude}
      const pool = new ThreadPool().unref();
      pool.submit(native.sleep, 300).then(() => console.log('slept'));
      pool.ref();`);
    expect(refAgain.stdout).toBe('slept\n');
    expect(refAgain.ms).toBeGreaterThanOrEqual(300);
  });

  it('process.exit() during blocking native tasks ends them and exits at once', () => {
    const r = runScript(`${prelude}
      const pool = new ThreadPool({ maxThreads: 2 });
      const [a, b] = require(${JSON.stringify(path.join(repoRoot, 'dist', 'cjs', 'sys.js'))}).socketpair();
      pool.submit(native.sleep, 60000);
      pool.submit(native.waitFd, a, 1);
      setTimeout(() => { console.log('exiting'); process.exit(7); }, 100);`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('exiting\n');
    expect(r.status).toBe(7);
    expect(r.ms).toBeLessThan(10_000);
  });
});
