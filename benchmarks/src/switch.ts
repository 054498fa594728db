// `looplet bench switch`: what a coroutine switch costs at each level, side
// by side in one run. The native figures come from one C++ program
// (benchmarks/native/switch_bench.cc, built with CMake into build-bench/): lp_coro's
// switch next to boost.context's jump_fcontext and swapcontext, coroutine
// create/destroy and memory per suspended coroutine. Two peers run in their
// own processes when present: python-greenlet (/usr/bin/python3) and this
// package's JS Greenlet (a thread handoff, see DESIGN.md). Prints a table,
// writes switch-*.json and switch-*.svg under the results folder.
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../../dist/cjs/binding';
import { machineInfo, machineLine, writeResults, type Machine, type Target } from './report';
import { fmt } from './stats';

export interface SwitchBenchOptions {
  quick: boolean;
  /** Results folder. */
  out: string;
}

/** One method's per-block means, summarized (nanoseconds). */
export interface NsSummary {
  median: number;
  p99: number;
  min: number;
  mean: number;
  blocks: number;
  /** Calls per block. */
  k: number;
}

export interface SwitchRow {
  key: string;
  label: string;
  /** 'native' figures come from the same process and run; peers from their own. */
  kind: 'native' | 'peer';
  status: 'ok' | 'n/a';
  ns?: NsSummary;
  note?: string;
}

export interface SwitchBenchResult {
  benchmark: 'looplet bench switch';
  mode: 'quick' | 'full';
  machine: Machine;
  program: string;
  buildType: string | null;
  impl: string;
  settings: Record<string, unknown>;
  switches: SwitchRow[];
  lifecycle: SwitchRow[];
  memory: { coroutines: number; stackSize: number; rssBytesPerCoroutine: number; addressSpaceBytesPerCoroutine: number };
  targets: Target[];
  notes: string[];
  durationSeconds: number;
}

/** The project's target: lp_coro's switch at most this many times boost.context's, same run. */
export const MAX_LP_OVER_BOOST = 1.2;

const PROGRAM = 'switch_bench';
/** The CMake build tree of benchmarks/native, under the package root (git ignores build-*). */
const BUILD_DIR = 'build-bench';
const RUN_TIMEOUT_MS = 300_000;

interface NativeOutput {
  impl: string;
  settings: Record<string, number>;
  results: Record<string, NsSummary>;
  boost: { available: boolean; note: string };
  memory: SwitchBenchResult['memory'];
}

const progress = (line: string): boolean => process.stderr.write(line + '\n');

function run(file: string, args: string[], opts: { cwd?: string; timeout?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: opts.cwd, timeout: opts.timeout ?? RUN_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const tail = `${stderr}`.trim().split('\n').slice(-5).join('\n');
        reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}${tail ? `\n${tail}` : ''}`));
      } else {
        resolve({ stdout: `${stdout}`, stderr: `${stderr}` });
      }
    });
  });
}

const onPath = (cmd: string): boolean => !spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error;

function cachedBuildType(buildDir: string): string | null {
  try {
    const m = /^CMAKE_BUILD_TYPE:STRING=(.*)$/m.exec(fs.readFileSync(path.join(buildDir, 'CMakeCache.txt'), 'utf8'));
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

/**
 * The native program, built (or brought up to date) with CMake from
 * benchmarks/native/CMakeLists.txt, which pulls in the core from native/,
 * into build-bench/. Without CMake an existing program is used as it is.
 */
async function locateProgram(notes: string[]): Promise<{ program: string; buildType: string | null }> {
  const root = packageRoot();
  const buildDir = path.join(root, BUILD_DIR);
  const program = path.join(buildDir, PROGRAM);
  const source = path.join(root, 'benchmarks', 'native');
  const canBuild = [path.join(source, 'CMakeLists.txt'), path.join(source, 'switch_bench.cc'), path.join(root, 'native', 'CMakeLists.txt')].every((f) => fs.existsSync(f));
  if (canBuild && onPath('cmake')) {
    if (!fs.existsSync(path.join(buildDir, 'CMakeCache.txt'))) {
      progress(`looplet bench switch: configuring ${buildDir} (cmake, Release)`);
      await run('cmake', ['-S', source, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release', '-DLOOPLET_WARNINGS_AS_ERRORS=ON']);
    }
    progress(`looplet bench switch: building ${PROGRAM}`);
    const jobs = String(Math.max(2, Math.min(8, os.availableParallelism?.() ?? os.cpus().length)));
    await run('cmake', ['--build', buildDir, '--target', PROGRAM, '--parallel', jobs]);
  } else if (!fs.existsSync(program)) {
    throw new Error(
      canBuild
        ? `looplet bench switch: ${program} is missing and cmake is not on PATH (cmake >= 3.19 builds it from benchmarks/native/CMakeLists.txt)`
        : `looplet bench switch: needs benchmarks/native/ and native/ with their CMakeLists.txt (a source checkout); not found under ${root}`,
    );
  } else {
    notes.push(`cmake not on PATH: ran the existing ${BUILD_DIR}/ program without rebuilding it`);
  }
  if (!fs.existsSync(program)) throw new Error(`looplet bench switch: the build did not produce ${program}`);
  const buildType = cachedBuildType(buildDir);
  if (buildType !== null && buildType !== 'Release' && buildType !== 'RelWithDebInfo') {
    notes.push(`${BUILD_DIR}/ is a ${buildType || 'no-type'} build: native figures are not optimized (configure it with -DCMAKE_BUILD_TYPE=Release)`);
  }
  return { program, buildType };
}

/** Ping-pong timed in blocks; prints {"median":..,"p99":..,..} in ns per switch. */
const PY_GREENLET = `
import json, sys, time
import greenlet
blocks, k = int(sys.argv[1]), int(sys.argv[2])
main = greenlet.getcurrent()
def peer():
    while True:
        main.switch()
g = greenlet.greenlet(peer)
g.switch()
for _ in range(2000): g.switch()
samples = []
for _ in range(blocks):
    t0 = time.perf_counter_ns()
    for _ in range(k): g.switch()
    samples.append((time.perf_counter_ns() - t0) / (2 * k))
samples.sort()
n = len(samples)
print(json.dumps({"version": greenlet.__version__, "samples": samples}))
`;

const JS_GREENLET = `
const { Greenlet, getcurrent } = require(process.argv[1]);
const blocks = Number(process.argv[2]), k = Number(process.argv[3]);
const main = getcurrent();
const g = new Greenlet(() => { for (;;) main.switch(); });
g.switch();
for (let i = 0; i < 200; i++) g.switch();
const samples = [];
for (let b = 0; b < blocks; b++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < k; i++) g.switch();
  samples.push(Number(process.hrtime.bigint() - t0) / (2 * k));
}
process.stdout.write(JSON.stringify({ samples }) + '\\n');
process.exit(0); // a suspended greenlet is released by the runtime at exit
`;

function summarizeNs(samples: number[], k: number): NsSummary {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[n >> 1] : (s[(n >> 1) - 1] + s[n >> 1]) / 2;
  return { median, p99: s[Math.max(1, Math.ceil(0.99 * n)) - 1], min: s[0], mean: s.reduce((a, b) => a + b, 0) / n, blocks: n, k };
}

async function pythonGreenlet(quick: boolean): Promise<{ row: SwitchRow; version: string | null }> {
  const key = 'python_greenlet';
  const exe = '/usr/bin/python3';
  const label = 'python-greenlet switch';
  if (!fs.existsSync(exe)) return { row: { key, label, kind: 'peer', status: 'n/a', note: `${exe} not found` }, version: null };
  const probe = spawnSync(exe, ['-c', 'import greenlet, platform; print(platform.python_version())'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    return { row: { key, label, kind: 'peer', status: 'n/a', note: 'greenlet not importable by /usr/bin/python3 (Debian: python3-greenlet)' }, version: null };
  }
  const blocks = quick ? 50 : 200;
  const k = 2000;
  try {
    const { stdout } = await run(exe, ['-c', PY_GREENLET, String(blocks), String(k)], { timeout: 120_000 });
    const out = JSON.parse(stdout) as { version: string; samples: number[] };
    return { row: { key, label: `python-greenlet ${out.version} switch`, kind: 'peer', status: 'ok', ns: summarizeNs(out.samples, k) }, version: probe.stdout.trim() };
  } catch (err) {
    return { row: { key, label, kind: 'peer', status: 'n/a', note: (err as Error).message.split('\n')[0] }, version: probe.stdout.trim() };
  }
}

async function jsGreenlet(quick: boolean): Promise<SwitchRow> {
  const key = 'js_greenlet';
  const label = 'looplet JS Greenlet switch (thread handoff)';
  const module = path.join(packageRoot(), 'dist', 'cjs', 'greenlet.js');
  if (!fs.existsSync(module)) return { key, label, kind: 'peer', status: 'n/a', note: `${module} not found (run npm run build)` };
  const blocks = quick ? 20 : 60;
  const k = 100;
  try {
    const { stdout } = await run(process.execPath, ['-e', JS_GREENLET, module, String(blocks), String(k)], { timeout: 120_000 });
    const out = JSON.parse(stdout.trim().split('\n').pop() ?? '') as { samples: number[] };
    return { key, label, kind: 'peer', status: 'ok', ns: summarizeNs(out.samples, k) };
  } catch (err) {
    return { key, label, kind: 'peer', status: 'n/a', note: (err as Error).message.split('\n')[0] };
  }
}

function targetsOf(rows: SwitchRow[]): Target[] {
  const lp = rows.find((r) => r.key === 'lp_coro');
  const boost = rows.find((r) => r.key === 'boost_fcontext');
  const name = `native switch (lp_coro_switch) at most ${MAX_LP_OVER_BOOST}x boost.context jump_fcontext, same run`;
  if (!lp?.ns || !boost?.ns) return [{ name, pass: null, detail: `not measured: ${boost?.note ?? 'boost.context missing'}` }];
  const ratio = lp.ns.median / boost.ns.median;
  return [{ name, pass: ratio <= MAX_LP_OVER_BOOST, detail: `${fmt(lp.ns.median)} ns vs ${fmt(boost.ns.median)} ns per switch (median): ${ratio.toFixed(2)}x` }];
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function switchTextReport(r: SwitchBenchResult): string {
  const boost = r.switches.find((x) => x.key === 'boost_fcontext')?.ns;
  const switchRows = r.switches.map((x) =>
    x.status === 'ok' && x.ns
      ? [x.label, fmt(x.ns.median), fmt(x.ns.p99), boost ? `${fmt(x.ns.median / boost.median)}x` : '-']
      : [x.label, 'n/a', '', x.note ?? ''],
  );
  const lifeRows = r.lifecycle.map((x) => (x.ns ? [x.label, fmt(x.ns.median), fmt(x.ns.p99)] : [x.label, 'n/a', '']));
  const m = r.memory;
  const parts = [
    `looplet bench switch (${r.mode}) - ${machineLine(r.machine)} - ${r.machine.date}`,
    '',
    `Switch cost: ns per switch (median and p99 of per-block means; ping-pong, each direction is one switch).`,
    `lp_coro uses the ${r.impl} switch; native rows ran in one process, taking turns.`,
    '',
    table(['what', 'median ns', 'p99 ns', 'vs boost'], switchRows),
    '',
    'Coroutine lifecycle: ns per operation (median, p99)',
    '',
    table(['what', 'median ns', 'p99 ns'], lifeRows),
    '',
    m.rssBytesPerCoroutine >= 0
      ? `Memory: ${m.coroutines} suspended coroutines with ${m.stackSize / 1024} KiB stacks: ${fmt(m.rssBytesPerCoroutine / 1024)} KiB resident and ${fmt(m.addressSpaceBytesPerCoroutine / 1024)} KiB of address space each`
      : 'Memory: not measured (no /proc/self/statm)',
  ];
  if (r.notes.length > 0) parts.push('', 'Notes', ...r.notes.map((n) => `  - ${n}`));
  parts.push('', 'Targets (computed from this run)', ...r.targets.map((t) => `  ${t.pass === null ? 'n/a ' : t.pass ? 'PASS' : 'FAIL'}  ${t.name}: ${t.detail}`));
  return parts.join('\n') + '\n';
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** Horizontal bars on a logarithmic ns axis: switches, then lifecycle. */
export function switchChart(r: SwitchBenchResult): string {
  const bars = [...r.switches, ...r.lifecycle].filter((x) => x.ns && x.ns.median > 0);
  const W = 900;
  const left = 330;
  const plotW = 500;
  const top = 80;
  const rowH = 30;
  const H = top + bars.length * rowH + 70;
  const values = bars.map((b) => b.ns!.median);
  const lo = Math.floor(Math.log10(Math.min(...values, 1)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...values, 10))));
  const sx = (v: number): number => left + ((Math.log10(v) - lo) / (hi - lo)) * plotW;
  const colour = (b: SwitchRow): string =>
    b.key === 'lp_coro' ? '#1f6fb4' : b.key === 'boost_fcontext' ? '#7b3fb0' : b.kind === 'peer' ? '#e0700a' : r.lifecycle.includes(b) ? '#2a9d3a' : '#777777';
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${W / 2}" y="30" text-anchor="middle" font-size="17" font-weight="bold">looplet: cost of a coroutine switch, and of creating one (ns, log scale)</text>`);
  const m = r.machine;
  out.push(`<text x="${W / 2}" y="52" text-anchor="middle" font-size="12" fill="#444">${escapeXml(`${m.cpu}, ${m.cpus} CPUs, ${m.os}, ${r.impl}, ${m.date.slice(0, 10)} (median of block means)`)}</text>`);
  for (let e = lo; e <= hi; e++) {
    const x = sx(10 ** e).toFixed(1);
    out.push(`<line x1="${x}" y1="${top - 8}" x2="${x}" y2="${top + bars.length * rowH}" stroke="#cccccc"/>`);
    out.push(`<text x="${x}" y="${top + bars.length * rowH + 18}" text-anchor="middle" font-size="12">${10 ** e >= 1000 ? `${10 ** e / 1000}k` : 10 ** e}</text>`);
  }
  out.push(`<text x="${left + plotW / 2}" y="${top + bars.length * rowH + 42}" text-anchor="middle" font-size="13">ns per switch / per operation</text>`);
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const x0 = sx(10 ** lo);
    const x1 = sx(b.ns!.median);
    out.push(`<text x="${left - 10}" y="${y + 17}" text-anchor="end" font-size="12">${escapeXml(b.label)}</text>`);
    out.push(`<rect x="${x0.toFixed(1)}" y="${y + 5}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${rowH - 10}" fill="${colour(b)}"/>`);
    out.push(`<text x="${(x1 + 6).toFixed(1)}" y="${y + 17}" font-size="11" fill="#333">${escapeXml(fmt(b.ns!.median))}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}


const NATIVE_LABELS: Record<string, string> = {
  lp_coro: 'lp_coro_switch',
  boost_fcontext: 'boost.context jump_fcontext',
  swapcontext: 'swapcontext (ucontext)',
  handoff_futex: 'C thread hand-off, futex',
  handoff_spin: 'C thread hand-off, spin <= 20 us',
  create_free: 'lp_coro_new + lp_coro_free',
  spawn_finish: 'new + run to the end + free',
};

/** Runs the benchmark, prints the report, writes JSON + SVG under opts.out. */
export async function runSwitchBench(opts: SwitchBenchOptions): Promise<void> {
  const started = Date.now();
  const notes: string[] = [];
  const { program, buildType } = await locateProgram(notes);
  progress(`looplet bench switch: running ${path.relative(process.cwd(), program) || program}${opts.quick ? ' --quick' : ''}`);
  const { stdout } = await run(program, opts.quick ? ['--quick'] : []);
  const native = JSON.parse(stdout) as NativeOutput;
  progress('looplet bench switch: python-greenlet and JS Greenlet peers');
  const py = await pythonGreenlet(opts.quick);
  const js = await jsGreenlet(opts.quick);

  const nativeRow = (key: string): SwitchRow => {
    const ns = native.results[key];
    const label = key === 'lp_coro' ? `${NATIVE_LABELS[key]} (${native.impl})` : NATIVE_LABELS[key] ?? key;
    if (ns) return { key, label, kind: 'native', status: 'ok', ns };
    return { key, label, kind: 'native', status: 'n/a', note: key === 'boost_fcontext' ? native.boost.note : 'not measured' };
  };
  const handoffs = ['handoff_futex', 'handoff_spin'].filter((k) => native.results[k]).map(nativeRow);
  const switches = [nativeRow('lp_coro'), nativeRow('boost_fcontext'), nativeRow('swapcontext'), ...handoffs, py.row, js];
  const lifecycle = [nativeRow('create_free'), nativeRow('spawn_finish')];
  if (!native.boost.available) notes.push(native.boost.note);
  for (const r of [py.row, js]) if (r.status !== 'ok') notes.push(`${r.label}: ${r.note}`);
  notes.push('peers (python-greenlet, JS Greenlet) run in their own processes after the native rows; compare them as orders of magnitude');

  const result: SwitchBenchResult = {
    benchmark: 'looplet bench switch',
    mode: opts.quick ? 'quick' : 'full',
    machine: machineInfo(null, py.version),
    program,
    buildType,
    impl: native.impl,
    settings: native.settings,
    switches,
    lifecycle,
    memory: native.memory,
    targets: targetsOf(switches),
    notes,
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
  };
  process.stdout.write(switchTextReport(result));
  const files = writeResults(opts.out, 'switch', result, switchChart(result));
  process.stdout.write(`\nResults (${result.durationSeconds} s): ${files.join(', ')}\n`);
}
