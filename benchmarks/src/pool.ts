// `looplet bench pool`: looplet/pool's ThreadPool (JS tasks on worker
// threads, native tasks on the core pool) side by side with piscina,
// tinypool, a plain worker_threads postMessage pool, napi_create_async_work
// (the benchmarks' own addon), Python's ThreadPoolExecutor and gevent's
// threadpool. Every trial runs in a fresh process (src/pool-trial.ts, or
// pool_peer.py for Python) with a time limit; the parent plans, collects and
// reports.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { machineInfo, machineLine, table, targetLines, writeResults, type Machine, type Target } from './report';
import type { BatchVia, BatchedOutcome, Impl, PoolTrial, SerialOutcome, SpeedupOutcome, TaskName, ThroughputOutcome } from './pool-trial';
import { fmt } from './stats';
import { logBarChart, stackCharts, type BarGroup } from './svg';

export type PeerImpl = Impl | 'python-tpe' | 'gevent';

export interface PoolBenchOptions {
  quick: boolean;
  out: string;
  /** Python for the peers; null skips them; undefined: /usr/bin/python3 when present. */
  python?: string | null;
  command: string;
}

const LABELS: Record<PeerImpl, string> = {
  looplet: 'looplet JS task',
  'looplet-native': 'looplet native task',
  piscina: 'piscina',
  tinypool: 'tinypool',
  postMessage: 'worker_threads postMessage',
  'napi-async-work': 'napi_create_async_work',
  'python-tpe': 'Python ThreadPoolExecutor',
  gevent: 'gevent threadpool',
};
const COLORS: Record<PeerImpl, string> = {
  looplet: '#1f6fb4',
  'looplet-native': '#0b3d6b',
  piscina: '#e0700a',
  tinypool: '#c9a227',
  postMessage: '#7b3fb0',
  'napi-async-work': '#555555',
  'python-tpe': '#2a9d3a',
  gevent: '#8fc98f',
};
const IMPLS: PeerImpl[] = ['looplet', 'looplet-native', 'piscina', 'tinypool', 'postMessage', 'napi-async-work', 'python-tpe', 'gevent'];
const TASKS: TaskName[] = ['noop', 'spin10', 'spin100'];
const TASK_LABELS: Record<TaskName, string> = { noop: 'no-op', spin10: '10 µs', spin100: '100 µs' };
const INFLIGHT = [1, 2, 64];
/** The spinUs of the serial rows shown beside the default (adaptive spinning): none. */
const SPIN_US = 0;
/** One trial process may run this long before it is killed. */
const TRIAL_TIMEOUT_MS = 60_000;

export interface Row<T> {
  impl: PeerImpl;
  status: 'ok' | 'error' | 'skipped';
  error?: string;
  out?: T;
}

export interface PoolBenchResult {
  benchmark: 'pool';
  mode: 'full' | 'quick';
  command: string;
  machine: Machine;
  /** Threads of each pool in the serial and throughput trials. */
  threads: number;
  /** spinUs: null for the library's default. */
  serial: Array<Row<SerialOutcome> & { spinUs: number | null }>;
  throughput: Array<Row<ThroughputOutcome> & { task: TaskName; inflight: number }>;
  /** Each throughput and batched trial: measured for windowMs after warmupMs of the same saturated stretch. */
  windowMs: number;
  warmupMs: number;
  /** 64 in flight on spareThreads (the CPUs less one): the event loop keeps a CPU. */
  spare: Array<Row<ThroughputOutcome> & { task: TaskName; inflight: number }>;
  spareThreads: number;
  /** With 1 pool thread and with `threads`. */
  batched: Array<Row<BatchedOutcome> & { batch: number; threads: number; via?: BatchVia }>;
  speedup: Array<Row<SpeedupOutcome> & { threads: number; tasks: number; bytes: number; speedup?: number }>;
  targets: Target[];
  notes: string[];
  durationSeconds: number;
}

interface Runner {
  run<T>(impl: PeerImpl, trial: Record<string, unknown>): Row<T>;
}

/** Whether a peer package is in benchmarks/node_modules (installed by `npm install` in a clone). */
function peerInstalled(name: string): boolean {
  try {
    require.resolve(name, { paths: [path.join(__dirname, '..')] });
    return true;
  } catch {
    return false;
  }
}

function makeRunner(python: string | null): Runner {
  const trialJs = path.join(__dirname, 'pool-trial.js');
  const peerPy = path.join(__dirname, '..', 'pool_peer.py');
  return {
    run<T>(impl: PeerImpl, trial: Record<string, unknown>): Row<T> {
      const isPy = impl === 'python-tpe' || impl === 'gevent';
      if (isPy && python === null) return { impl, status: 'skipped', error: 'Python peers skipped' };
      if ((impl === 'piscina' || impl === 'tinypool') && !peerInstalled(impl))
        return { impl, status: 'skipped', error: `${impl} is not installed (npm install in benchmarks/)` };
      const [exe, args] = isPy ? [python!, [peerPy]] : [process.execPath, [trialJs]];
      // SIGKILL on timeout: the trial's workers and threads go with it.
      const r = spawnSync(exe, [...args, JSON.stringify({ ...trial, impl })], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: TRIAL_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      });
      if (r.status !== 0) {
        const why = r.error?.message ?? (r.signal ? `killed by ${r.signal}` : '');
        const err = why || r.stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${r.status}`;
        return { impl, status: 'error', error: err };
      }
      try {
        const out = JSON.parse(r.stdout) as T & { ok?: boolean; reason?: string };
        if (out.ok === false) return { impl, status: 'skipped', error: out.reason };
        return { impl, status: 'ok', out };
      } catch {
        return { impl, status: 'error', error: `bad output: ${r.stdout.slice(0, 200)}` };
      }
    },
  };
}

function pythonFor(opt: string | null | undefined, notes: string[]): string | null {
  if (opt === null) {
    notes.push('Python peers skipped (--no-python)');
    return null;
  }
  const exe = opt ?? '/usr/bin/python3';
  const r = spawnSync(exe, ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) {
    notes.push(`Python peers skipped: ${exe} does not run`);
    return null;
  }
  return exe;
}

const ok = <T>(row: Row<T> | undefined): T | undefined => (row?.status === 'ok' ? row.out : undefined);

export function runPoolBench(opts: PoolBenchOptions): PoolBenchResult {
  const started = Date.now();
  const notes: string[] = [];
  const python = pythonFor(opts.python, notes);
  const pyVersion = python ? spawnSync(python, ['-c', 'import platform; print(platform.python_version())'], { encoding: 'utf8' }).stdout.trim() : null;
  const machine = machineInfo(null, pyVersion);
  const runner = makeRunner(python);
  const cpus = os.availableParallelism();
  const threads = Math.max(2, cpus);
  const q = opts.quick;
  const log = (s: string): void => void process.stderr.write(s);

  // Serial round trips: one thread per pool, a no-op each time.
  const serialN = q ? 3000 : 20_000;
  log(`serial round trips (${serialN} each):`);
  const serial: PoolBenchResult['serial'] = IMPLS.map((impl) => {
    log(` ${impl}`);
    return { spinUs: null, ...runner.run<SerialOutcome>(impl, { kind: 'serial', threads: 1, n: serialN }) };
  });
  // looplet with spinning off (spinUs 0), beside the default (adaptive
  // spinning of up to 20 us, docs/pool.md).
  for (const impl of ['looplet', 'looplet-native'] as const) {
    log(` ${impl}(spinUs ${SPIN_US})`);
    serial.push({ spinUs: SPIN_US, ...runner.run<SerialOutcome>(impl, { kind: 'serial', threads: 1, n: serialN, spinUs: SPIN_US }) });
  }
  log('\n');

  // Saturated throughput: `threads` threads, 1, 2 or 64 tasks in flight.
  // Each trial measures `ms` of one saturated stretch after `warmupMs` of
  // it. A full run warms up 1 s: on a 2-vCPU VM V8's concurrent compiles of
  // the hot functions (the owner's and, for JS tasks, the workers': 154 ms
  // of compile time on V8's platform threads in one trial of the JS 100 us
  // row) ran into the first 100 ms of a window that began after 300 ms, each
  // holding the loop's CPU for a time slice or more; the event-loop delay
  // measured that start-up, not the saturated steady state (docs/pool.md,
  // "Keeping the loop responsive"). The same for every implementation.
  const ms = q ? 300 : 1000;
  const warmupMs = q ? 150 : 1000;
  const throughput: PoolBenchResult['throughput'] = [];
  for (const task of TASKS) {
    for (const inflight of INFLIGHT) {
      log(`throughput ${task} x${inflight}:`);
      for (const impl of IMPLS) {
        if (impl === 'napi-async-work' && task !== 'noop') continue; // its addon has a no-op only
        log(` ${impl}`);
        throughput.push({ task, inflight, ...runner.run<ThroughputOutcome>(impl, { kind: 'throughput', threads, task, inflight, ms, warmupMs }) });
      }
      log('\n');
    }
  }

  // The same saturation with one CPU left to the event loop: N - 1 threads.
  const spare: PoolBenchResult['spare'] = [];
  const spareThreads = Math.max(1, cpus - 1);
  log(`saturated with ${spareThreads} thread(s):`);
  for (const task of TASKS) {
    for (const impl of ['looplet', 'looplet-native', 'piscina'] as const) {
      log(` ${impl}/${task}`);
      spare.push({ task, inflight: 64, ...runner.run<ThroughputOutcome>(impl, { kind: 'throughput', threads: spareThreads, task, inflight: 64, ms, warmupMs }) });
    }
  }
  log('\n');

  // Batched native no-ops.
  const batch = 1024;
  log('batched native no-ops\n');
  const batched = (['submitMany', 'submit'] as const).flatMap((via) =>
    [1, threads].map((t) => ({ batch, threads: t, via, ...runner.run<BatchedOutcome>('looplet-native', { kind: 'batched', threads: t, batch, via, ms, warmupMs }) })),
  );

  // Speed-up of a CPU-bound task over 1..N threads (N: the CPUs, and twice that).
  const threadCounts = [...new Set([1, ...Array.from({ length: cpus }, (_, i) => i + 1), 2 * cpus])].sort((a, b) => a - b);
  const bytes = 4 << 20;
  const tasks = q ? 8 : 16;
  const speedup: PoolBenchResult['speedup'] = [];
  const speedImpls: PeerImpl[] = ['looplet', 'looplet-native', 'piscina', 'python-tpe', 'gevent'];
  log('speed-up:');
  for (const impl of speedImpls) {
    log(` ${impl}`);
    for (const t of threadCounts) speedup.push({ threads: t, tasks, bytes, ...runner.run<SpeedupOutcome>(impl, { kind: 'speedup', threads: t, tasks, bytes }) });
    const base = ok(speedup.find((r) => r.impl === impl && r.threads === 1));
    for (const r of speedup) if (r.impl === impl && base && r.out) r.speedup = base.ms / r.out.ms;
  }
  log('\n');

  for (const row of [...serial, ...throughput, ...spare, ...batched, ...speedup]) {
    if (row.status === 'error') notes.push(`${LABELS[row.impl]}: a trial failed: ${row.error}`);
  }
  const skipped = new Set([...serial, ...throughput, ...speedup].filter((r) => r.status === 'skipped').map((r) => `${LABELS[r.impl]}: ${r.error}`));
  notes.push(...skipped);
  if (cpus <= 2) notes.push(`this machine has ${cpus} CPUs: the speed-up cannot exceed ${cpus}x, and with 64 in flight the pool threads compete with the main thread for them`);

  const result: PoolBenchResult = {
    benchmark: 'pool',
    mode: q ? 'quick' : 'full',
    command: opts.command,
    machine,
    threads,
    serial,
    throughput,
    windowMs: ms,
    warmupMs,
    spare,
    spareThreads,
    batched,
    speedup,
    targets: [],
    notes,
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
  };
  result.targets = poolTargets(result);
  return result;
}

/** Issue 11's targets, from one run. */
export function poolTargets(r: PoolBenchResult): Target[] {
  const s = (impl: PeerImpl, spinUs: number | null = null) => ok(r.serial.find((x) => x.impl === impl && x.spinUs === spinUs));
  const t = (impl: PeerImpl, task: TaskName, inflight: number) => ok(r.throughput.find((x) => x.impl === impl && x.task === task && x.inflight === inflight));
  const js = s('looplet');
  const pis = s('piscina');
  const nat = s('looplet-native');
  const js64 = t('looplet', 'noop', 64);
  const pis64 = t('piscina', 'noop', 64);
  const batchedRows = r.batched.filter((x) => x.out);
  const best = batchedRows.reduce<(typeof batchedRows)[number] | undefined>((w, x) => (w === undefined || x.out!.tasksPerSec > w.out!.tasksPerSec ? x : w), undefined);
  const batchedDetail = batchedRows.map((x) => `${rate(x.out!.tasksPerSec)} tasks/s with ${x.threads} thread${x.threads === 1 ? '' : 's'} by ${x.via ?? 'submit'}()`).join(', ');
  const jsSpin = s('looplet', SPIN_US);
  const natSpin = s('looplet-native', SPIN_US);
  const spinNote = (o: SerialOutcome | undefined) => (o ? `; with spinUs ${SPIN_US}: ${fmt(o.p50)} us` : '');
  const saturated = r.throughput.filter((x) => (x.impl === 'looplet' || x.impl === 'looplet-native') && x.inflight === 64 && x.out);
  const worst = saturated.reduce<(typeof saturated)[number] | undefined>((w, x) => (w === undefined || x.out!.eldP99Ms > w.out!.eldP99Ms ? x : w), undefined);
  const spareRows = r.spare.filter((x) => (x.impl === 'looplet' || x.impl === 'looplet-native') && x.out);
  const spareWorst = spareRows.reduce((w, x) => Math.max(w, x.out!.eldP99Ms), 0);
  const spareNote = spareRows.length > 0 ? `; with ${r.spareThreads} pool thread${r.spareThreads === 1 ? '' : 's'} (a CPU left to the loop): worst ${fmt(spareWorst)} ms` : '';
  const target = (name: string, pass: boolean | undefined, detail: string): Target => ({ name, pass: pass ?? null, detail });
  return [
    target('JS-task serial round trip p50 <= 15 us', js && js.p50 <= 15, js ? `${fmt(js.p50)} us (default options)${spinNote(jsSpin)}` : 'no result'),
    target('JS-task serial round trip >= 2x faster than piscina', js && pis && pis.p50 / js.p50 >= 2, js && pis ? `piscina ${fmt(pis.p50)} us / looplet ${fmt(js.p50)} us = ${fmt(pis.p50 / js.p50)}x` : 'no result'),
    target('JS no-op throughput at 64 in flight >= 2x piscina', js64 && pis64 && js64.tasksPerSec / pis64.tasksPerSec >= 2, js64 && pis64 ? `${rate(js64.tasksPerSec)} vs ${rate(pis64.tasksPerSec)} tasks/s = ${fmt(js64.tasksPerSec / pis64.tasksPerSec)}x` : 'no result'),
    target('native no-op serial round trip p50 <= 5 us', nat && nat.p50 <= 5, nat ? `${fmt(nat.p50)} us (default options)${spinNote(natSpin)}` : 'no result'),
    target('batched native no-op throughput >= 1M tasks/s', best && best.out!.tasksPerSec >= 1e6, best ? `${batchedDetail} (batches of ${best.batch})` : 'no result'),
    target(
      'event-loop delay p99 while saturated <= 1 ms',
      saturated.length > 0 ? saturated.every((x) => x.out!.eldP99Ms <= 1) : undefined,
      worst ? `worst with ${r.threads} pool threads: ${fmt(worst.out!.eldP99Ms)} ms (${LABELS[worst.impl]}, ${TASK_LABELS[worst.task]}, 64 in flight)${spareNote}` : 'no result',
    ),
  ];
}

function rate(v: number | undefined): string {
  if (v === undefined) return '-';
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(0);
}

export function poolTextReport(r: PoolBenchResult): string {
  const cell = <T>(row: Row<T> | undefined, f: (o: T) => string): string => (row === undefined ? '' : row.status === 'ok' ? f(row.out!) : row.status);
  const serial = table(
    ['implementation', 'p50 us', 'p99 us', 'mean us'],
    r.serial.map((x) => [LABELS[x.impl] + (x.spinUs !== null ? ` (spinUs ${x.spinUs})` : ''), cell(x, (o) => fmt(o.p50)), cell(x, (o) => fmt(o.p99)), cell(x, (o) => fmt(o.mean))]),
    1,
  );
  const heads = TASKS.flatMap((task) => INFLIGHT.map((n) => `${TASK_LABELS[task]} x${n}`));
  const tput = table(
    ['implementation', ...heads],
    IMPLS.map((impl) => [
      LABELS[impl],
      ...TASKS.flatMap((task) => INFLIGHT.map((n) => cell(r.throughput.find((x) => x.impl === impl && x.task === task && x.inflight === n), (o) => rate(o.tasksPerSec)))),
    ]),
    1,
  );
  const main = table(
    ['implementation', ...TASKS.map((task) => `CPU us/task ${TASK_LABELS[task]}`), ...TASKS.map((task) => `ELD p99 ms ${TASK_LABELS[task]}`)],
    IMPLS.map((impl) => {
      const at = (task: TaskName) => r.throughput.find((x) => x.impl === impl && x.task === task && x.inflight === 64);
      return [LABELS[impl], ...TASKS.map((task) => cell(at(task), (o) => fmt(o.mainCpuUs))), ...TASKS.map((task) => cell(at(task), (o) => (o.eldP99Ms === undefined ? 'n/a' : fmt(o.eldP99Ms))))];
    }),
    1,
  );
  const spareTable = table(
    ['implementation', ...TASKS.map((task) => `tasks/s ${TASK_LABELS[task]}`), ...TASKS.map((task) => `CPU us/task ${TASK_LABELS[task]}`), ...TASKS.map((task) => `ELD p99 ms ${TASK_LABELS[task]}`)],
    [...new Set(r.spare.map((x) => x.impl))].map((impl) => {
      const at = (task: TaskName) => r.spare.find((x) => x.impl === impl && x.task === task);
      return [
        LABELS[impl],
        ...TASKS.map((task) => cell(at(task), (o) => rate(o.tasksPerSec))),
        ...TASKS.map((task) => cell(at(task), (o) => fmt(o.mainCpuUs))),
        ...TASKS.map((task) => cell(at(task), (o) => fmt(o.eldP99Ms))),
      ];
    }),
    1,
  );
  const counts = [...new Set(r.speedup.map((x) => x.threads))];
  const impls = [...new Set(r.speedup.map((x) => x.impl))];
  const speed = table(
    ['implementation', ...counts.map((c) => `${c} thr ms`), ...counts.slice(1).map((c) => `x @${c}`)],
    impls.map((impl) => {
      const at = (c: number) => r.speedup.find((x) => x.impl === impl && x.threads === c);
      return [LABELS[impl], ...counts.map((c) => cell(at(c), (o) => fmt(o.ms))), ...counts.slice(1).map((c) => (at(c)?.speedup === undefined ? '' : `${fmt(at(c)!.speedup)}x`))];
    }),
    1,
  );
  const s0 = r.speedup[0];
  const parts = [
    `looplet bench pool (${r.mode}) - ${machineLine(r.machine)} - ${r.machine.date}`,
    '',
    'Serial round trip: submit one no-op task, await its result, repeat (one thread per pool); microseconds',
    '',
    serial,
    '',
    `Saturated throughput, tasks/s: ${r.threads} threads per pool, 1, 2 or 64 tasks kept in flight, a new one submitted as each completes`,
    `  (each trial measures ${r.windowMs} ms of one saturated stretch, after its first ${r.warmupMs} ms: the warm-up, V8's compiles of the hot functions)`,
    '  (10 us / 100 us: busy-waiting JS tasks; looplet native: native.hash sized to that time; Python: busy-waiting Python, GIL held)',
    '',
    tput,
    '',
    'The main thread while saturated (64 in flight): its CPU time per completed task (us; Python: the main thread only, callbacks',
    '  run on the pool threads) and the event loop delay p99 (monitorEventLoopDelay, 1 ms resolution, less that 1 ms; n/a for Python)',
    '',
    main,
    '',
    `The same with ${r.spareThreads} pool thread${r.spareThreads === 1 ? '' : 's'} (the CPUs less one, left to the event loop), 64 in flight`,
    '',
    spareTable,
    '',
    `Batched native no-ops: ${r.batched[0]?.batch} submitted at once from one loop (one submitMany() call, or submit() per task), the next batch when all are done`,
    ...r.batched.map((b) => `  ${`${b.via ?? 'submit'}(),`.padEnd(14)}${b.threads} pool thread${b.threads === 1 ? ': ' : 's:'} ${cell(b, (o) => `${rate(o.tasksPerSec)} tasks/s, main thread ${fmt(o.mainCpuUs)} us CPU per task`)}`),
    '',
    `Speed-up of a CPU-bound task (${s0?.tasks ?? '?'} tasks at once, each a hash of ${((s0?.bytes ?? 0) / 2 ** 20).toFixed(0)} MiB: FNV-1a in JS, native.hash, sha256 in Python), wall ms (best of 3) and speed-up over 1 thread`,
    `  (${r.machine.cpus} CPUs on this machine)`,
    '',
    speed,
  ];
  if (r.notes.length > 0) parts.push('', 'Notes', ...r.notes.map((n) => `  - ${n}`));
  parts.push('', 'Targets (computed from this run)', targetLines(r.targets));
  return parts.join('\n') + '\n';
}

export function poolChart(r: PoolBenchResult): string {
  const series = IMPLS.map((impl) => ({ label: LABELS[impl], color: COLORS[impl] }));
  const sub = `${r.machine.cpu}, ${r.machine.cpus} CPUs, Node ${r.machine.node}, ${r.machine.date.slice(0, 10)}`;
  const serialGroups: BarGroup[] = [
    {
      label: 'no-op round trip',
      sublabel: 'p50, whisker p99',
      bars: r.serial.flatMap((x) => (x.out && x.spinUs === null ? [{ series: IMPLS.indexOf(x.impl), value: x.out.p50, p99: x.out.p99 }] : [])),
      target: { value: 15, label: 'JS target 15 µs' },
    },
  ];
  const serial = logBarChart({ title: 'looplet/pool: serial round trip of a no-op task', subtitle: sub, yLabel: 'µs (log scale)', series, groups: serialGroups });
  // 64 in flight only: the other columns are in the table and the JSON.
  const tputGroups: BarGroup[] = TASKS.flatMap((task) =>
    [64].map((n) => ({
      label: `${TASK_LABELS[task]} task, ${n} in flight`,
      bars: r.throughput.filter((x) => x.task === task && x.inflight === n && x.out).map((x) => ({ series: IMPLS.indexOf(x.impl), value: x.out!.tasksPerSec })),
    })),
  );
  const tput = logBarChart({ title: `looplet/pool: saturated throughput (${r.threads} threads per pool, 64 tasks in flight)`, subtitle: sub, yLabel: 'tasks/s (log scale)', series, groups: tputGroups });
  const counts = [...new Set(r.speedup.map((x) => x.threads))];
  const speedGroups: BarGroup[] = counts.map((c) => ({
    label: `${c} thread${c === 1 ? '' : 's'}`,
    bars: r.speedup.filter((x) => x.threads === c && x.speedup !== undefined).map((x) => ({ series: IMPLS.indexOf(x.impl), value: x.speedup! })),
  }));
  const speed = logBarChart({
    title: 'looplet/pool: speed-up of a CPU-bound task over 1 thread',
    subtitle: sub,
    yLabel: 'speed-up (log scale)',
    series,
    groups: speedGroups,
    notes: [`${r.machine.cpus} CPUs on this machine`],
  });
  return stackCharts([serial, tput, speed]);
}

export function poolBenchCommand(opts: PoolBenchOptions): PoolBenchResult {
  fs.mkdirSync(opts.out, { recursive: true });
  const result = runPoolBench(opts);
  process.stdout.write(poolTextReport(result));
  const files = writeResults(opts.out, 'pool', result, poolChart(result));
  process.stdout.write(`\nResults (${result.durationSeconds} s): ${files.join(', ')}\n`);
  return result;
}
