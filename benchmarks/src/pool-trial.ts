// One trial of `looplet bench pool`, in a fresh process:
//   node benchmarks/dist/pool-trial.js '<trial JSON>'  ->  one JSON object on stdout
// The implementations under test share the drivers below: serial round
// trips (submit, await, repeat) and saturated throughput (a fixed number of
// tasks in flight, a new one submitted as each completes), with the main
// thread's own CPU time and the event loop's delay measured meanwhile.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { ThreadPool, native } from '../../dist/cjs/pool';
import { benchAddon } from './native';

export type Impl = 'looplet' | 'looplet-native' | 'piscina' | 'tinypool' | 'postMessage' | 'napi-async-work';
export type TaskName = 'noop' | 'spin10' | 'spin100';
/** How a batch enters the pool: one submitMany() call, or submit() per task. */
export type BatchVia = 'submitMany' | 'submit';

export type PoolTrial =
  | { kind: 'serial'; impl: Impl; threads: number; n: number; spinUs?: number }
  | { kind: 'throughput'; impl: Impl; threads: number; task: TaskName; inflight: number; ms: number; warmupMs: number; spinUs?: number }
  | { kind: 'batched'; threads: number; batch: number; via: BatchVia; ms: number; warmupMs: number }
  | { kind: 'speedup'; impl: 'looplet' | 'looplet-native' | 'piscina'; threads: number; tasks: number; bytes: number };

export interface SerialOutcome {
  p50: number;
  p99: number;
  mean: number;
  n: number;
}

export interface ThroughputOutcome {
  tasksPerSec: number;
  /** Tasks completed in the timed part. */
  n: number;
  /** CPU time of the main thread (the one that submits and completes) per completed task, µs. */
  mainCpuUs: number;
  /** The event loop's delay meanwhile (monitorEventLoopDelay, 1 ms resolution, less the 1 ms), ms. */
  eldP99Ms: number;
  eldMaxMs: number;
}

export interface BatchedOutcome {
  tasksPerSec: number;
  n: number;
  mainCpuUs: number;
}

export interface SpeedupOutcome {
  ms: number;
}

const TASKS_FILE = path.join(__dirname, 'pool-tasks.js');

type Submit = () => PromiseLike<unknown>;

/** The peer packages live in benchmarks/node_modules (never looplet's dependencies). */
function peer<T>(name: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(require.resolve(name, { paths: [path.join(__dirname, '..')] })) as T;
}

interface Closable {
  submit(task: TaskFn, arg: number): PromiseLike<unknown>;
  close(): Promise<unknown>;
  /** Runs before timing starts (looplet-native: times native.hash to size its spin tasks). */
  prepare?(): Promise<void>;
}

/** The exports of pool-tasks.ts that the trials run. */
type TaskFn = 'noop' | 'spin' | 'fnv';

function taskArg(task: TaskName): [TaskFn, number] {
  return task === 'noop' ? ['noop', 0] : ['spin', task === 'spin10' ? 10 : 100];
}

/** A plain worker_threads pool: postMessage out, postMessage back, round robin. */
function postMessagePool(threads: number): Closable {
  const workers: Worker[] = [];
  const waiting = new Map<number, (value: unknown) => void>();
  let next = 0;
  let id = 0;
  for (let i = 0; i < threads; i++) {
    const w = new Worker(
      `const { parentPort } = require('node:worker_threads');
       const tasks = require(${JSON.stringify(TASKS_FILE)});
       parentPort.on('message', (m) => parentPort.postMessage({ id: m.id, value: tasks[m.name](m.arg) }));`,
      { eval: true },
    );
    w.on('message', (m: { id: number; value: unknown }) => {
      const resolve = waiting.get(m.id)!;
      waiting.delete(m.id);
      resolve(m.value);
    });
    workers.push(w);
  }
  return {
    submit(name, arg) {
      const msgId = id++;
      const w = workers[next++ % workers.length];
      return new Promise((resolve) => {
        waiting.set(msgId, resolve);
        w.postMessage({ id: msgId, name, arg });
      });
    },
    close: () => Promise.all(workers.map((w) => w.terminate())),
  };
}

function makePool(impl: Impl, threads: number, spinUs?: number): Closable {
  switch (impl) {
    case 'looplet':
    case 'looplet-native': {
      const pool = new ThreadPool({ minThreads: threads, maxThreads: threads, ...(spinUs === undefined ? {} : { spinUs }) });
      const tasks = new Map<string, { filename: string; name: string }>();
      const spec = (name: string) => {
        let s = tasks.get(name);
        if (s === undefined) tasks.set(name, (s = { filename: TASKS_FILE, name }));
        return s;
      };
      // Native tasks of a given run time: native.hash over as many bytes as
      // it hashes in that time on a pool thread (timed by prepare()).
      let bytesPerUs = 0;
      return {
        submit(name, arg) {
          if (impl === 'looplet') return pool.submit(spec(name), arg);
          if (name === 'noop') return pool.submit(native.noop);
          if (name === 'fnv') return pool.submit(native.hash, hashBuffer(arg));
          return pool.submit(native.hash, hashBuffer(Math.round(bytesPerUs * arg)));
        },
        close: () => pool.shutdown(),
        async prepare() {
          if (impl !== 'looplet-native') return;
          const data = hashBuffer(1 << 20);
          let best = Infinity;
          for (let i = 0; i < 5; i++) {
            const t0 = process.hrtime.bigint();
            await pool.submit(native.hash, data, 4);
            best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1000);
          }
          bytesPerUs = (4 * data.length) / best;
        },
      };
    }
    case 'piscina': {
      const { Piscina } = peer<{ Piscina: new (o: object) => { run(arg: unknown, o: { name: string }): Promise<unknown>; destroy(): Promise<void> } }>('piscina');
      const pool = new Piscina({ filename: TASKS_FILE, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
      return { submit: (name, arg) => pool.run(arg, { name }), close: () => pool.destroy() };
    }
    case 'tinypool': {
      const { Tinypool } = peer<{ Tinypool: new (o: object) => { run(arg: unknown, o: { name: string }): Promise<unknown>; destroy(): Promise<void> } }>('tinypool');
      const pool = new Tinypool({ filename: TASKS_FILE, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
      return { submit: (name, arg) => pool.run(arg, { name }), close: () => pool.destroy() };
    }
    case 'postMessage':
      return postMessagePool(threads);
    case 'napi-async-work': {
      const addon = benchAddon();
      return {
        submit: (name) => {
          if (name !== 'noop') throw new Error('napi-async-work runs no-op tasks only');
          return new Promise<void>((resolve) => addon.asyncNoop(resolve));
        },
        close: async () => undefined,
      };
    }
  }
}

const buffers = new Map<number, Uint8Array>();
function hashBuffer(bytes: number): Uint8Array {
  let b = buffers.get(bytes);
  if (b === undefined) buffers.set(bytes, (b = new Uint8Array(Math.max(1, bytes))));
  return b;
}

/**
 * CPU time of the main thread, µs: /proc/self/task/<pid>/schedstat (ns),
 * else utime + stime from .../stat (clock ticks of 10 ms).
 */
function mainThreadCpuUs(): number {
  try {
    return Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  } catch {
    // no schedstat (CONFIG_SCHED_INFO off)
  }
  const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function serial(submit: Submit, n: number): Promise<SerialOutcome> {
  for (let i = 0; i < Math.min(2000, n); i++) await submit();
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await submit();
    t[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const sorted = Array.from(t).sort((a, b) => a - b);
  return {
    p50: sorted[Math.floor(n / 2)],
    p99: sorted[Math.min(n - 1, Math.ceil(0.99 * n) - 1)],
    mean: sorted.reduce((s, v) => s + v, 0) / n,
    n,
  };
}

/**
 * Keeps `inflight` tasks in flight, submitting a new one as each completes:
 * warmupMs, then mark(done) and a measured
 * window of windowMs from the mark (the window is whole however long the
 * warm-up overran), then lets the last tasks finish; resolves to how many
 * completed in all.
 */
function saturate(submit: Submit, warmupMs: number, windowMs: number, inflight: number, mark: (done: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const markAt = performance.now() + warmupMs;
    let deadline = Infinity;
    let sent = 0;
    let done = 0;
    let open = true;
    const one = (): void => {
      sent++;
      submit().then(() => {
        done++;
        // performance.now() every 64 completions: cheap next to a task.
        if (open && (done & 63) === 0) {
          const now = performance.now();
          if (deadline === Infinity) {
            if (now >= markAt) {
              deadline = now + windowMs;
              mark(done);
            }
          } else if (now >= deadline) {
            open = false;
          }
        }
        if (open) one();
        else if (done === sent) resolve(done);
      }, reject);
    };
    for (let i = 0; i < inflight; i++) one();
  });
}

async function throughput(submit: Submit, ms: number, warmupMs: number, inflight: number): Promise<ThroughputOutcome> {
  // One saturated run: the warm-up, then the measured window, with no pause
  // between them and the same closures throughout. (A second saturate()
  // call for the window made fresh closures, which V8 compiled again on its
  // background threads at the window's start: on 2 vCPUs, both busy with
  // pool threads, those compiles took the loop's CPU for 2-4 ms and showed
  // as event-loop delay; benchmarks/RESULTS.md, "Thread pool".)
  const eld = monitorEventLoopDelay({ resolution: 1 });
  let cpu0 = 0;
  let t0 = 0;
  let done0 = 0;
  const total = await saturate(submit, warmupMs, ms, inflight, (done) => {
    eld.enable();
    cpu0 = mainThreadCpuUs();
    t0 = performance.now();
    done0 = done;
  });
  const elapsed = performance.now() - t0;
  const cpu = mainThreadCpuUs() - cpu0;
  eld.disable();
  const n = total - done0;
  return {
    tasksPerSec: (n / elapsed) * 1000,
    n,
    mainCpuUs: cpu / n,
    // The histogram holds the interval between ticks of a 1 ms timer (an
    // idle loop reads ~1.07 ms): the delay is what exceeds the 1 ms.
    eldP99Ms: Math.max(0, eld.percentile(99) / 1e6 - 1),
    eldMaxMs: Math.max(0, eld.max / 1e6 - 1),
  };
}

/**
 * Native no-ops submitted `batch` at a time from one synchronous loop (one
 * wakeup of this thread per batch of completions), a new batch once the last
 * one is done, for `ms`: by one submitMany() call per batch, or by submit()
 * per task.
 */
async function batched(threads: number, batch: number, via: BatchVia, ms: number, warmupMs: number): Promise<BatchedOutcome> {
  const pool = new ThreadPool({ minThreads: threads, maxThreads: threads });
  const lists: [][] = Array.from({ length: batch }, () => []);
  const round = () =>
    new Promise<void>((resolve) => {
      let left = batch;
      const done = (): void => {
        if (--left === 0) resolve();
      };
      if (via === 'submitMany') {
        for (const f of pool.submitMany(native.noop, lists)) f.addDoneCallback(done);
      } else {
        for (let i = 0; i < batch; i++) pool.submit(native.noop).addDoneCallback(done);
      }
    });
  const run = async (forMs: number): Promise<number> => {
    const deadline = performance.now() + forMs;
    let rounds = 0;
    do {
      await round();
      rounds++;
    } while (performance.now() < deadline);
    return rounds * batch;
  };
  await run(warmupMs);
  const cpu0 = mainThreadCpuUs();
  const t0 = performance.now();
  const n = await run(ms);
  const elapsed = performance.now() - t0;
  const cpu = mainThreadCpuUs() - cpu0;
  await pool.shutdown();
  return { tasksPerSec: (n / elapsed) * 1000, n, mainCpuUs: cpu / n };
}

async function speedup(trial: Extract<PoolTrial, { kind: 'speedup' }>): Promise<SpeedupOutcome> {
  const pool = makePool(trial.impl, trial.threads);
  const once = () => Promise.all(Array.from({ length: trial.tasks }, () => pool.submit('fnv', trial.bytes)));
  await once(); // warm: every thread started, the JIT done
  // The best of 3: on a shared machine, a run that another process slowed
  // says nothing about the pool.
  let ms = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await once();
    ms = Math.min(ms, performance.now() - t0);
  }
  await pool.close();
  return { ms };
}

async function main(): Promise<void> {
  const trial = JSON.parse(process.argv[2]) as PoolTrial;
  let out: unknown;
  if (trial.kind === 'batched') {
    out = await batched(trial.threads, trial.batch, trial.via, trial.ms, trial.warmupMs);
  } else if (trial.kind === 'speedup') {
    out = await speedup(trial);
  } else {
    const pool = makePool(trial.impl, trial.threads, trial.spinUs);
    await pool.prepare?.();
    if (trial.kind === 'serial') {
      out = await serial(() => pool.submit('noop', 0), trial.n);
    } else {
      const [name, arg] = taskArg(trial.task);
      out = await throughput(() => pool.submit(name, arg), trial.ms, trial.warmupMs, trial.inflight);
    }
    await pool.close();
  }
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
