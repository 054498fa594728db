// `looplet bench poller`: Poller.select(0) (and selectInto) per backend, size
// and active count, against the C floor (a core poller, same fds), the bare
// syscall and Python's selectors, as the median of short blocks and as the
// mean over long batches; plus registration churn. Every trial runs in a fresh
// process (worker.ts, benchmarks/poller_selectors.py); this parent only
// plans, collects, reports and writes bench-results/poller-*.{json,svg}.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../../dist/cjs/binding';
import { benchAddon } from './native';
import { Poller, type Backend } from '../../dist/cjs/poller';
import type { ChurnOutcome, ChurnTrial, Phases, SelectOutcome, SelectTrial, Trial } from './protocol';
import {
  chart,
  computeTargets,
  machineInfo,
  textReport,
  writeResults,
  type ChurnRow,
  type LongMethod,
  type PhaseSummaries,
  type PollerBenchResult,
  type SelectRow,
} from './report';
import { runProcess } from './process';
import { fmt, summarize, summarizeLong, type LongSummary } from './stats';

export interface PollerBenchOptions {
  quick: boolean;
  /** Results folder. */
  out: string;
  backends?: Backend[];
  sizes?: number[];
  /** Python interpreter for the selectors peer; null skips it; undefined: /usr/bin/python3 if present. */
  python?: string | null;
  churn: boolean;
  /** The command line, recorded in the JSON. */
  command: string;
}

interface Mode {
  sizes: number[];
  actives: Array<'1' | '10%' | '100%'>;
  blocks: number;
  rounds: number;
  blockUs: number;
  warmupMs: number;
  /** Calls per long batch (fewer where they would take longer than longMaxMs). */
  longCalls: number;
  /** Long batches per method. */
  longBatches: number;
  longMaxMs: number;
  churnSamples: number;
  churnMinOps: number;
}

const MODES: Record<'quick' | 'full', Mode> = {
  quick: {
    sizes: [10, 100, 1000, 5000],
    actives: ['1', '100%'],
    blocks: 100,
    rounds: 2,
    blockUs: 300,
    warmupMs: 30,
    longCalls: 5_000,
    longBatches: 2,
    longMaxMs: 20,
    churnSamples: 12,
    churnMinOps: 200,
  },
  full: {
    sizes: [10, 100, 300, 1000, 5000, 10000],
    actives: ['1', '10%', '100%'],
    blocks: 600,
    rounds: 6,
    blockUs: 500,
    warmupMs: 150,
    longCalls: 20_000,
    longBatches: 6,
    longMaxMs: 50,
    churnSamples: 60,
    churnMinOps: 500,
  },
};

const FD_SETSIZE = 1024;
/** fds a trial process needs besides its socketpairs (stdio, V8/libuv, Python's own). */
const SPARE_FDS = 64;

const progress = (line: string): boolean => process.stderr.write(line + '\n');

function activeCount(label: '1' | '10%' | '100%', n: number): number {
  if (label === '1') return 1;
  return label === '100%' ? n : Math.max(1, Math.round(n / 10));
}

/** Raises this process's RLIMIT_NOFILE soft limit to the hard one (trials inherit it); returns [soft, hard]. */
function nofileLimit(): [number, number] | null {
  const r = benchAddon().nofileLimit();
  return Array.isArray(r) ? r : null;
}

/** The Python interpreter and its version, or a note why the peer is skipped. */
function findPython(opt: string | null | undefined): { exe: string; version: string; script: string } | { note: string } {
  if (opt === null) return { note: 'Python peer skipped (--no-python)' };
  const exe = opt ?? '/usr/bin/python3';
  if (opt === undefined && !fs.existsSync(exe)) return { note: 'Python peer skipped: /usr/bin/python3 not found (use --python PATH)' };
  const script = path.join(packageRoot(), 'benchmarks', 'poller_selectors.py');
  if (!fs.existsSync(script)) return { note: `Python peer skipped: ${script} not found (it is not part of the npm package)` };
  const r = spawnSync(exe, ['-c', 'import platform, selectors; print(platform.python_version())'], { encoding: 'utf8' });
  if (r.status !== 0) return { note: `Python peer skipped: ${exe} does not run (${(r.error?.message ?? r.stderr).trim()})` };
  return { exe, version: r.stdout.trim(), script };
}

const summarizePhases = (p: Phases): PhaseSummaries => ({ register: summarize(p[0]), modify: summarize(p[1]), unregister: summarize(p[2]) });


export function runPollerBench(opts: PollerBenchOptions): PollerBenchResult {
  const started = Date.now();
  const mode = MODES[opts.quick ? 'quick' : 'full'];
  const backends = opts.backends ?? Poller.backends();
  const sizes = opts.sizes ?? mode.sizes;
  const notes: string[] = [];
  const nofile = nofileLimit();
  const fdBudget = nofile === null || nofile[0] < 0 ? Infinity : nofile[0];
  const worker = path.join(__dirname, 'worker.js');
  const py = findPython(opts.python);
  if ('note' in py) notes.push(py.note);
  const machine = machineInfo(nofile, 'note' in py ? null : py.version);

  const fits = sizes.filter((n) => 2 * n + SPARE_FDS <= fdBudget);
  for (const n of sizes.filter((n) => !fits.includes(n))) {
    notes.push(`N=${n} skipped for every backend: it needs ${2 * n} fds for its socketpairs plus ~${SPARE_FDS} spare, RLIMIT_NOFILE allows ${fdBudget}`);
  }
  // select can only watch fds below FD_SETSIZE; N socketpairs use at least 2N fds.
  const selectable = (b: Backend, n: number): boolean => b !== 'select' || 2 * n + 3 <= FD_SETSIZE;

  const selectPlan: SelectTrial[] = [];
  const naRows: SelectRow[] = [];
  for (const backend of backends) {
    for (const n of fits) {
      if (!selectable(backend, n)) {
        naRows.push({ backend, n, active: 0, activeLabel: '-', status: 'n/a', note: `${2 * n} fds do not fit below FD_SETSIZE (${FD_SETSIZE})` });
        continue;
      }
      const seen = new Set<number>();
      for (const label of mode.actives) {
        const active = activeCount(label, n);
        if (seen.has(active)) continue;
        seen.add(active);
        selectPlan.push({
          kind: 'select',
          backend,
          n,
          active,
          blocks: mode.blocks,
          rounds: mode.rounds,
          blockUs: mode.blockUs,
          warmupMs: mode.warmupMs,
          longCalls: mode.longCalls,
          longBatches: mode.longBatches,
          longMaxMs: mode.longMaxMs,
        });
      }
    }
  }
  if (mode.actives.includes('10%') && fits.some((n) => Math.round(n / 10) <= 1)) {
    notes.push('where 10% of N is 1 fd (N=10), the 10% row is the 1-active row, measured once');
  }
  const churnPlan: ChurnTrial[] = !opts.churn
    ? []
    : backends.flatMap((backend) =>
        fits
          .filter((n) => selectable(backend, n))
          .map((n): ChurnTrial => ({ kind: 'churn', backend, n, samples: mode.churnSamples, minOpsPerSample: mode.churnMinOps, warmupMs: mode.warmupMs })),
      );

  const total = selectPlan.length + churnPlan.length;
  let done = 0;
  const label = (t: Trial): string => `[${String(++done).padStart(String(total).length)}/${total}] ${t.kind} ${t.backend} N=${t.n}`;
  progress(`looplet bench poller: ${total} trials (${backends.join(', ')}; N = ${fits.join(', ')})${'note' in py ? '' : `, Python ${py.version} alongside`}`);

  const selectRows: SelectRow[] = [...naRows];
  for (const trial of selectPlan) {
    const t0 = Date.now();
    const labelText = mode.actives.find((l) => activeCount(l, trial.n) === trial.active) ?? String(trial.active);
    const row: SelectRow = { backend: trial.backend, n: trial.n, active: trial.active, activeLabel: labelText, status: 'ok' };
    const head = `${label(trial)} active=${trial.active}`;
    try {
      const out = runProcess<SelectOutcome>(process.execPath, [worker], trial);
      if (!out.ok) {
        Object.assign(row, { status: 'n/a', note: out.reason });
      } else {
        const long: Partial<Record<LongMethod, LongSummary>> = {};
        for (const [method, b] of Object.entries(out.long)) long[method as LongMethod] = summarizeLong(b.calls, b.ns);
        Object.assign(row, {
          js: summarize(out.js),
          into: out.into && summarize(out.into),
          c: out.c && summarize(out.c),
          raw: out.raw && summarize(out.raw),
          k: out.k,
          long,
        });
        if (!('note' in py)) {
          try {
            const p = runProcess<SelectOutcome>(py.exe, [py.script], trial);
            if (p.ok) {
              row.python = summarize(p.js);
              if (p.long?.js) long.python = summarizeLong(p.long.js.calls, p.long.js.ns);
            } else {
              row.pythonNote = p.reason;
            }
          } catch (err) {
            row.pythonNote = `failed: ${(err as Error).message}`;
          }
        }
      }
    } catch (err) {
      Object.assign(row, { status: 'error', note: (err as Error).message });
    }
    selectRows.push(row);
    const figures =
      row.status === 'ok'
        ? `JS ${fmt(row.js?.median)} us (mean ${fmt(row.long?.js?.mean)}), C ${fmt(row.c?.median)} us (mean ${fmt(row.long?.c?.mean)}), ` +
          `Python ${fmt(row.python?.median)} us (mean ${fmt(row.long?.python?.mean)})`
        : `${row.status}: ${row.note}`;
    progress(`${head}: ${figures} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }

  const churnRows: ChurnRow[] = [];
  for (const trial of churnPlan) {
    const t0 = Date.now();
    const row: ChurnRow = { backend: trial.backend, n: trial.n, status: 'ok' };
    try {
      const out = runProcess<ChurnOutcome>(process.execPath, [worker], trial);
      if (!out.ok) {
        Object.assign(row, { status: 'n/a', note: out.reason });
      } else {
        Object.assign(row, { js: summarizePhases(out.js), c: out.c && summarizePhases(out.c), roundsPerSample: out.roundsPerSample });
        if (!('note' in py)) {
          try {
            const p = runProcess<ChurnOutcome>(py.exe, [py.script], trial);
            if (p.ok) row.python = summarizePhases(p.js);
            else row.pythonNote = p.reason;
          } catch (err) {
            row.pythonNote = `failed: ${(err as Error).message}`;
          }
        }
      }
    } catch (err) {
      Object.assign(row, { status: 'error', note: (err as Error).message });
    }
    churnRows.push(row);
    const figures = row.status === 'ok' ? `register ${fmt(row.js?.register.median)} us/op, C ${fmt(row.c?.register.median)} us/op` : `${row.status}: ${row.note}`;
    progress(`${label(trial)}: ${figures} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }

  const order = (b: Backend): number => backends.indexOf(b);
  selectRows.sort((a, b) => order(a.backend) - order(b.backend) || a.n - b.n || a.active - b.active);
  for (const r of selectRows.filter((r) => r.status === 'error')) notes.push(`${r.backend} N=${r.n} active=${r.active} failed: ${r.note}`);
  for (const r of churnRows.filter((r) => r.status === 'error')) notes.push(`churn ${r.backend} N=${r.n} failed: ${r.note}`);
  const pyNotes = new Set([...selectRows, ...churnRows].map((r) => r.pythonNote).filter((n): n is string => n !== undefined));
  for (const n of pyNotes) notes.push(`Python peer: ${n}`);

  return {
    benchmark: 'looplet bench poller',
    command: opts.command,
    mode: opts.quick ? 'quick' : 'full',
    machine,
    settings: { ...mode, sizes, backends, spareFds: SPARE_FDS, fdSetSize: FD_SETSIZE },
    notes,
    skippedSizes: sizes.filter((n) => !fits.includes(n)),
    select: selectRows,
    churn: churnRows,
    targets: computeTargets(selectRows, backends),
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

/** Runs the benchmark, prints the report, writes the files; returns the result. */
export function pollerBenchCommand(opts: PollerBenchOptions): PollerBenchResult {
  const result = runPollerBench(opts);
  const backends = opts.backends ?? Poller.backends();
  process.stdout.write(textReport(result));
  const files = writeResults(opts.out, 'poller', result, chart(result, backends));
  process.stdout.write(`\nResults (${result.durationSeconds} s): ${files.join(', ')}\n`);
  return result;
}
