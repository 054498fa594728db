// The results of `looplet bench poller`: their shape (also the JSON file's),
// the targets computed from them, the text tables and the chart; plus the
// pieces every benchmark shares (machine info, tables, target lines).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Backend } from '../../dist/cjs/poller';
import { fmt, slope, type LongSummary, type Summary } from './stats';
import { logLogChart, type Series } from './svg';

export type Status = 'ok' | 'n/a' | 'error';

/** The methods timed over long batches: select(0), selectInto(out, 0), the C floor, the syscall, Python. */
export type LongMethod = 'js' | 'into' | 'c' | 'raw' | 'python';

export interface SelectRow {
  backend: Backend;
  n: number;
  /** Ready fds; 0 on an n/a row that stands for every active count. */
  active: number;
  /** '1', '10%' or '100%'. */
  activeLabel: string;
  status: Status;
  note?: string;
  /** Poller.select(0) from JS. */
  js?: Summary;
  /** poller.selectInto(out, 0) from JS, one `out` reused. */
  into?: Summary;
  /** lp_poller_wait in C on a core poller with the same fds. */
  c?: Summary;
  /** The bare syscall on the same fds, in C. */
  raw?: Summary;
  /** Python's selectors, same backend, same method. */
  python?: Summary;
  pythonNote?: string;
  /** Calls per block, per method. */
  k?: Record<string, number>;
  /** Each method over long batches (GC inside): the mean µs per call over all of them. */
  long?: Partial<Record<LongMethod, LongSummary>>;
}

export interface PhaseSummaries {
  register: Summary;
  modify: Summary;
  unregister: Summary;
}

export interface ChurnRow {
  backend: Backend;
  n: number;
  status: Status;
  note?: string;
  js?: PhaseSummaries;
  c?: PhaseSummaries;
  python?: PhaseSummaries;
  pythonNote?: string;
  roundsPerSample?: number;
}

export interface Target {
  name: string;
  /** null: could not be evaluated in this run. */
  pass: boolean | null;
  detail: string;
}

export interface Machine {
  cpu: string;
  cpus: number;
  totalMemoryGiB: number;
  os: string;
  kernel: string;
  arch: string;
  node: string;
  python: string | null;
  nofileLimit: [soft: number, hard: number] | null;
  /** os.loadavg() when the run started: other work on the machine skews absolute times. */
  loadAverage: number[];
  date: string;
}

/** The machine a run happens on; nofile: RLIMIT_NOFILE when the run raised it, python: the peer's version. */
export function machineInfo(nofile: [number, number] | null, python: string | null): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cpus: cpus.length,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    kernel: os.release(),
    arch: os.arch(),
    node: process.version,
    python,
    nofileLimit: nofile,
    loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100),
    date: new Date().toISOString(),
  };
}

export interface PollerBenchResult {
  benchmark: 'looplet bench poller';
  command: string;
  mode: 'quick' | 'full';
  machine: Machine;
  settings: Record<string, unknown>;
  notes: string[];
  /** Sizes left out because their fds do not fit RLIMIT_NOFILE. */
  skippedSizes: number[];
  select: SelectRow[];
  churn: ChurnRow[];
  targets: Target[];
  durationSeconds: number;
}

/** The project's targets for the JS epoll overhead over the C floor. */
export const EPOLL_MAX_JS_OVER_C = 1.8;
/** Issue 12: epoll select(0), 1 ready of LONG_TARGET_N, mean over long batches, at most this times the bare epoll_wait's. */
export const EPOLL_MAX_JS_OVER_RAW_LONG = 1.8;
/** ... and at most this times Python's EpollSelector.select(0)'s. */
export const EPOLL_MAX_JS_OVER_PYTHON_LONG = 0.7;
export const LONG_TARGET_N = 5000;
/** "Flat": cost(N_max)/cost(N_min) below this. */
export const FLAT_MAX_RATIO = 2;
/** "Grows with N": log-log slope of cost against N at least this. */
export const GROWS_MIN_SLOPE = 0.5;

const EXPECTED: Record<Backend, 'flat' | 'grows'> = { epoll: 'flat', kqueue: 'flat', poll: 'grows', select: 'grows' };

function oneActive(rows: SelectRow[], backend: Backend): SelectRow[] {
  return rows.filter((r) => r.backend === backend && r.active === 1 && r.status === 'ok' && r.js && r.c).sort((a, b) => a.n - b.n);
}

export function computeTargets(rows: SelectRow[], backends: Backend[]): Target[] {
  const targets: Target[] = [];
  const epoll = oneActive(rows, 'epoll');
  const name = `epoll JS select(0), 1 active, at most ${EPOLL_MAX_JS_OVER_C}x the C floor at every N`;
  if (epoll.length === 0) {
    targets.push({ name, pass: null, detail: 'not measured (no epoll rows in this run)' });
  } else {
    const ratios = epoll.map((r) => ({ n: r.n, ratio: r.js!.median / r.c!.median }));
    const worst = ratios.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    targets.push({
      name,
      pass: ratios.every((r) => r.ratio <= EPOLL_MAX_JS_OVER_C),
      detail: `JS/C ${ratios.map((r) => `${fmt(r.ratio)} (N=${r.n})`).join(', ')}; worst ${fmt(worst.ratio)}x at N=${worst.n}`,
    });
  }
  targets.push(...longMeanTargets(rows));
  for (const backend of backends) {
    const expected = EXPECTED[backend];
    const name = expected === 'flat' ? `${backend} stays flat as N grows` : `${backend} cost grows with N`;
    const series = oneActive(rows, backend);
    if (series.length < 2) {
      targets.push({ name, pass: null, detail: 'needs two sizes with 1 active fd' });
      continue;
    }
    const lo = series[0];
    const hi = series[series.length - 1];
    const ratioJs = hi.js!.median / lo.js!.median;
    const ratioC = hi.c!.median / lo.c!.median;
    const s = slope(lo.n, lo.js!.median, hi.n, hi.js!.median);
    const pass = expected === 'flat' ? ratioJs < FLAT_MAX_RATIO : s >= GROWS_MIN_SLOPE;
    const rule = expected === 'flat' ? `flat means < ${FLAT_MAX_RATIO}x` : `grows means slope >= ${GROWS_MIN_SLOPE}`;
    targets.push({
      name,
      pass,
      detail: `cost(N=${hi.n})/cost(N=${lo.n}) = ${fmt(ratioJs)}x JS, ${fmt(ratioC)}x C; log-log slope ${s.toFixed(2)} (${rule})`,
    });
  }
  return targets;
}

/**
 * The long-batch targets (issue 12): epoll select(0) with 1 ready of
 * LONG_TARGET_N, mean µs per call over the long batches, against the bare
 * epoll_wait's and Python's EpollSelector.select(0)'s means in the same run.
 * selectInto's ratio is shown beside, not judged.
 */
function longMeanTargets(rows: SelectRow[]): Target[] {
  const row = rows.find((r) => r.backend === 'epoll' && r.n === LONG_TARGET_N && r.active === 1 && r.status === 'ok');
  const js = row?.long?.js;
  const into = row?.long?.into;
  const head = `epoll JS select(0), 1 of ${LONG_TARGET_N} ready, mean over long batches`;
  const judge = (name: string, limit: number, floor: LongSummary | undefined, missing: string): Target => {
    if (!row) return { name, pass: null, detail: `not measured (needs epoll at N=${LONG_TARGET_N} with 1 active fd in --backend and --sizes)` };
    if (!js || !floor) return { name, pass: null, detail: missing };
    const ratio = js.mean / floor.mean;
    const intoRatio = into ? `; selectInto ${fmt(into.mean)} us = ${fmt(into.mean / floor.mean)}x` : '';
    return {
      name,
      pass: ratio <= limit,
      detail: `JS ${fmt(js.mean)} us / ${fmt(floor.mean)} us = ${fmt(ratio)}x (${js.batches} x ${js.calls} calls each)${intoRatio}`,
    };
  };
  return [
    judge(`${head}, at most ${EPOLL_MAX_JS_OVER_RAW_LONG}x the bare epoll_wait's`, EPOLL_MAX_JS_OVER_RAW_LONG, row?.long?.raw, 'no syscall-floor long batches in this run'),
    judge(
      `${head}, at most ${EPOLL_MAX_JS_OVER_PYTHON_LONG}x Python's EpollSelector.select(0)'s`,
      EPOLL_MAX_JS_OVER_PYTHON_LONG,
      row?.long?.python,
      `no Python long batches in this run${row?.pythonNote ? ` (${row.pythonNote})` : ' (Python peer skipped)'}`,
    ),
  ];
}

/** Left-aligns the first `textCols` columns, right-aligns the rest. */
export function table(header: string[], rows: string[][], textCols: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i < textCols ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const ratio = (a?: Summary, b?: Summary): string => (a && b ? fmt(a.median / b.median) : '-');

export function selectTable(rows: SelectRow[]): string {
  const header = [
    'backend',
    'N',
    'active',
    'JS med',
    'JS p99',
    'JS mean',
    'JS into',
    'into mean',
    'C med',
    'C p99',
    'C mean',
    'JS/C',
    'syscall',
    'syscall mean',
    'Py med',
    'Py mean',
    'Py/JS',
  ];
  const body = rows.map((r) => {
    const active = r.active === 0 ? '-' : r.activeLabel === '1' ? '1' : `${r.active} (${r.activeLabel})`;
    if (r.status !== 'ok') return [r.backend, String(r.n), active, r.status === 'n/a' ? 'n/a' : 'error', ...header.slice(4).map(() => '')];
    return [
      r.backend,
      String(r.n),
      active,
      fmt(r.js?.median),
      fmt(r.js?.p99),
      fmt(r.long?.js?.mean),
      fmt(r.into?.median),
      fmt(r.long?.into?.mean),
      fmt(r.c?.median),
      fmt(r.c?.p99),
      fmt(r.long?.c?.mean),
      ratio(r.js, r.c),
      fmt(r.raw?.median),
      fmt(r.long?.raw?.mean),
      fmt(r.python?.median),
      fmt(r.long?.python?.mean),
      ratio(r.python, r.js),
    ];
  });
  return table(header, body, 1);
}

export function churnTable(rows: ChurnRow[]): string {
  const header = ['backend', 'N', 'JS reg', 'JS mod', 'JS unreg', 'C reg', 'C mod', 'C unreg', 'Py reg', 'Py mod', 'Py unreg'];
  const phases = (p?: PhaseSummaries): string[] => [fmt(p?.register.median), fmt(p?.modify.median), fmt(p?.unregister.median)];
  const body = rows.map((r) =>
    r.status === 'ok'
      ? [r.backend, String(r.n), ...phases(r.js), ...phases(r.c), ...phases(r.python)]
      : [r.backend, String(r.n), r.status, '', '', '', '', '', '', '', ''],
  );
  return table(header, body, 1);
}

export function targetLines(targets: Target[]): string {
  return targets.map((t) => `  ${t.pass === null ? 'n/a ' : t.pass ? 'PASS' : 'FAIL'}  ${t.name}: ${t.detail}`).join('\n');
}

/**
 * Writes <dir>/<name>-<date>.{json,svg} and <name>-latest.{json,svg} for a
 * benchmark result; returns the paths written.
 */
export function writeResults(dir: string, name: string, result: { machine: Machine }, svg: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = result.machine.date.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const json = JSON.stringify(result, null, 2) + '\n';
  const files: string[] = [];
  for (const [file, body] of [
    [`${name}-${stamp}.json`, json],
    [`${name}-${stamp}.svg`, svg],
    [`${name}-latest.json`, json],
    [`${name}-latest.svg`, svg],
  ]) {
    fs.writeFileSync(path.join(dir, file), body);
    files.push(path.join(dir, file));
  }
  return files;
}

export function machineLine(m: Machine): string {
  const load = m.loadAverage.map((v) => v.toFixed(2)).join(' ');
  return `${m.cpu}, ${m.cpus} CPUs, ${m.totalMemoryGiB} GiB, ${m.os}, Node ${m.node}${m.python ? `, Python ${m.python}` : ''}, load ${load}`;
}

export function textReport(result: PollerBenchResult): string {
  const parts = [
    `looplet bench poller (${result.mode}) - ${machineLine(result.machine)} - ${result.machine.date}`,
    '',
    'Poller.select(0): microseconds per call; med, p99: median and p99 of short-block means (GC pauses mostly left out);',
    '  mean: the mean over long batches (GC inside: what a loop of calls pays)',
    '  JS = Poller.select(0) from JavaScript; JS into = poller.selectInto(out, 0), one out array reused;',
    '  C = lp_poller_wait in C on a core poller with the same fds;',
    '  syscall = the bare epoll_wait/poll/select on the same fds, in C; Py = Python selectors, same backend.',
    '',
    selectTable(result.select),
  ];
  if (result.churn.length > 0) {
    parts.push('', 'Registration churn: microseconds per op (median), register N fds, modify all, unregister all', '', churnTable(result.churn));
  }
  if (result.notes.length > 0) parts.push('', 'Notes', ...result.notes.map((n) => `  - ${n}`));
  parts.push('', 'Targets (computed from this run)', targetLines(result.targets));
  return parts.join('\n') + '\n';
}

const COLORS: Record<Backend, string> = { epoll: '#1f6fb4', kqueue: '#7b3fb0', poll: '#e0700a', select: '#2a9d3a' };

export function chart(result: PollerBenchResult, backends: Backend[]): string {
  const series: Series[] = [];
  const styles = [
    { label: 'JS Poller.select(0)', dash: undefined, marker: 3.5, value: (r: SelectRow) => r.js?.median },
    { label: 'JS mean, long batches', dash: '10 3 2 3', marker: 2, value: (r: SelectRow) => r.long?.js?.mean },
    { label: 'C floor (lp_poller_wait)', dash: '7 4', marker: 0, value: (r: SelectRow) => r.c?.median },
    { label: 'Python selectors', dash: '2 3', marker: 0, value: (r: SelectRow) => r.python?.median },
  ] as const;
  for (const backend of backends) {
    const rows = oneActive(result.select, backend);
    for (const st of styles) {
      const points = rows.flatMap((r): Array<[number, number]> => {
        const v = st.value(r);
        return v === undefined ? [] : [[r.n, v]];
      });
      if (points.length > 0) series.push({ label: `${backend}: ${st.label}`, color: COLORS[backend], dash: st.dash, marker: st.marker, points });
    }
  }
  const notes: string[] = [];
  for (const backend of backends) {
    const na = result.select.filter((r) => r.backend === backend && r.status === 'n/a').map((r) => r.n);
    if (na.length > 0) notes.push(`${backend}: n/a from N=${Math.min(...na)}`, '  (fds not below FD_SETSIZE)');
  }
  if (result.skippedSizes.length > 0) notes.push(`N=${result.skippedSizes.join(', ')} skipped:`, '  too few fds (RLIMIT_NOFILE)');
  const m = result.machine;
  return logLogChart({
    notes,
    title: 'looplet Poller.select(0) with 1 ready fd: cost per call vs registered fds',
    subtitle: `${m.cpu}, ${m.cpus} CPUs, ${m.os}, Node ${m.node}, ${m.date.slice(0, 10)} (median of short blocks; long-batch mean: GC inside)`,
    xLabel: 'registered fds (socketpair ends, N)',
    yLabel: 'µs per select(0) call',
    series,
  });
}
