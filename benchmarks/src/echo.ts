// `looplet bench echo`: echo servers side by side in one run, loaded by one
// native load generator (benchmarks/native/echo_load.c) that holds C
// connections doing ping-pong with S-byte messages for a fixed time and
// checks every byte. Each server, and the load generator, runs in its own
// process:
//   looplet StreamServer     one greenlet per connection (echo-server.ts)
//   looplet StreamServer xN  the same in N processes sharing the port (reusePort)
//   looplet Poller           a callback server on the Poller, same syscalls, no greenlets
//   Node net                 net.createServer, 'data' -> write
//   C epoll                  benchmarks/native/echo_epoll_server.c: the floor
//   gevent StreamServer      benchmarks/echo_gevent.py, where /usr/bin/python3 has gevent
// For each (connections, size) the servers take turns, in an order that
// rotates from case to case, so that drift on a shared machine hits them
// alike: the ratios within a run are the figures that count.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../../dist/cjs/binding';
import { machineInfo, machineLine, table, targetLines, writeResults, type Machine, type Target } from './report';
import { benchAddon } from './native';
import { fmt, median } from './stats';
import { logBarChart, type BarGroup } from './svg';

export type EchoServer = 'looplet' | 'looplet-multi' | 'poller' | 'net' | 'c' | 'gevent';
export const ECHO_SERVERS: readonly EchoServer[] = ['looplet', 'looplet-multi', 'poller', 'net', 'c', 'gevent'];

export interface EchoBenchOptions {
  quick: boolean;
  out: string;
  conns?: number[];
  sizes?: number[];
  /** The timed window of each trial, and the warm-up before it. */
  seconds?: number;
  warmup?: number;
  rounds?: number;
  servers?: EchoServer[];
  /** Processes of the multi-process row (default: the CPUs this process may use). */
  workers?: number;
  /** Python for gevent; null: skip it; undefined: /usr/bin/python3 if present. */
  python: string | null | undefined;
  command: string;
}

export interface EchoTrial {
  server: EchoServer;
  conns: number;
  size: number;
  round: number;
  status: 'ok' | 'n/a' | 'error';
  note?: string;
  /** Round trips per second in the timed window. */
  rate?: number;
  roundTrips?: number;
  p50us?: number;
  p99us?: number;
  /** Server CPU time (all its processes and threads) per round trip, µs. */
  cpuUs?: number;
  /** Greenlet switches per round trip (looplet's greenlet servers). */
  switches?: number;
  /** Server resident memory at the end of the window, all its processes. */
  rssMiB?: number;
  connected?: number;
  errors?: number;
  mismatches?: number;
  firstError?: string | null;
}

export interface EchoRow {
  server: EchoServer;
  label: string;
  conns: number;
  size: number;
  status: 'ok' | 'n/a' | 'error';
  note?: string;
  /** Medians over the rounds. */
  rate?: number;
  p50us?: number;
  p99us?: number;
  cpuUs?: number;
  switches?: number;
  rssMiB?: number;
  /** Summed over the rounds. */
  errors?: number;
  mismatches?: number;
  /** The fewest connections established in a round. */
  connected?: number;
}

export interface EchoBenchResult {
  benchmark: 'looplet bench echo';
  mode: 'quick' | 'full';
  command: string;
  machine: Machine;
  settings: { conns: number[]; sizes: number[]; seconds: number; warmup: number; rounds: number; servers: EchoServer[]; workers: number };
  gevent: string | null;
  trials: EchoTrial[];
  rows: EchoRow[];
  targets: Target[];
  notes: string[];
  durationSeconds: number;
}

/** The issue's targets (issue 10). */
export const TARGET_CONNS = [50, 2000];
export const TARGET_SIZE = 64;
export const MIN_OVER_NET = 1.0;
export const MIN_OVER_GEVENT = 2.0;
export const MAX_SWITCHES_PER_RT = 1.2;
export const SWITCH_TARGET_CONNS = 2000;
export const HELD_CONNS = 10_000;

const BUILD_DIR = 'build-bench';
const START_TIMEOUT_MS = 30_000;
const progress = (line: string): boolean => process.stderr.write(line + '\n');

export function labelOf(server: EchoServer, workers: number): string {
  switch (server) {
    case 'looplet':
      return 'looplet StreamServer';
    case 'looplet-multi':
      return `looplet StreamServer x${workers}`;
    case 'poller':
      return 'looplet Poller (callbacks)';
    case 'net':
      return 'Node net';
    case 'c':
      return 'C epoll (floor)';
    case 'gevent':
      return 'gevent StreamServer';
  }
}

/** Compiles a single-file C program of benchmarks/native into build-bench/echo/ unless it is current. */
function compile(name: string): string {
  const root = packageRoot();
  const source = path.join(root, 'benchmarks', 'native', `${name}.c`);
  const dir = path.join(root, BUILD_DIR, 'echo');
  const program = path.join(dir, name);
  if (!fs.existsSync(source)) throw new Error(`looplet bench echo: ${source} is missing (a source checkout or the package's benchmarks/native/)`);
  if (fs.existsSync(program) && fs.statSync(program).mtimeMs >= fs.statSync(source).mtimeMs) return program;
  fs.mkdirSync(dir, { recursive: true });
  const cc = process.env.CC || 'cc';
  const r = spawnSync(cc, ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-o', program, source], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`looplet bench echo: ${cc} ${name}.c failed: ${r.error?.message ?? r.stderr.trim()}`);
  progress(`looplet bench echo: built ${path.relative(root, program)}`);
  return program;
}

function geventVersion(python: string): string | null {
  const r = spawnSync(python, ['-c', 'import gevent; print(gevent.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A server process that printed "listening <port>"; its later stdout is kept. */
interface Running {
  children: ChildProcess[];
  port: number;
  output: string[];
}

// Every child this run started and that has not exited yet: whatever way the
// run ends (an error, Ctrl-C, SIGTERM), they are killed. The children also
// end on their own when this process dies (the Node servers when their stdin
// pipe closes, the C programs and gevent by PR_SET_PDEATHSIG).
const live = new Set<ChildProcess>();
let exitHooks = false;

function track(child: ChildProcess): void {
  live.add(child);
  child.on('exit', () => live.delete(child));
  if (exitHooks) return;
  exitHooks = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.stderr.write(`looplet bench echo: ${signal}, children stopped\n`);
      process.exit(128 + os.constants.signals[signal]);
    });
  }
}

function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

function startProcess(cmd: string, args: string[]): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    track(child);
    let out = '';
    let err = '';
    let resolved = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(cmd)} did not start within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => (err = (err + c).slice(-2000)));
    child.stdout!.on('data', (c: string) => {
      out += c;
      const m = /^listening (\d+)$/m.exec(out);
      if (m && !resolved) {
        resolved = true;
        clearTimeout(timer);
        out = out.slice(m.index + m[0].length);
        resolve({ child, port: Number(m[1]), output: () => out });
      }
    });
    child.stdin!.on('error', () => {}); // EPIPE once it has exited: its exit says what happened
    child.on('error', (error) => {
      if (resolved) return;
      resolved = true;
      clearTimeout(timer);
      reject(new Error(`${path.basename(cmd)} could not start: ${error.message}`));
    });
    child.on('exit', (code, signal) => {
      if (resolved) return;
      resolved = true;
      clearTimeout(timer);
      reject(new Error(`${path.basename(cmd)} exited (${code ?? signal}) before listening: ${err.trim().split('\n').slice(-2).join(' / ')}`));
    });
  });
}

async function startServer(server: EchoServer, programs: { epoll: string }, python: string, workers: number): Promise<Running & { outputs: Array<() => string> }> {
  const node = process.execPath;
  const script = path.join(__dirname, 'echo-server.js');
  if (server === 'looplet-multi') {
    const first = await startProcess(node, [script, 'streamserver', '--reuse-port']);
    const procs = [first];
    try {
      for (let i = 1; i < workers; i++) procs.push(await startProcess(node, [script, 'streamserver', '--reuse-port', '--port', String(first.port)]));
    } catch (err) {
      for (const p of procs) p.child.kill('SIGKILL');
      throw err;
    }
    return { children: procs.map((p) => p.child), port: first.port, output: [], outputs: procs.map((p) => p.output) };
  }
  let started: { child: ChildProcess; port: number; output: () => string };
  if (server === 'c') started = await startProcess(programs.epoll, ['--host', '127.0.0.1', '--port', '0']);
  else if (server === 'gevent') started = await startProcess(python, [path.join(packageRoot(), 'benchmarks', 'echo_gevent.py')]);
  else started = await startProcess(node, [script, server === 'looplet' ? 'streamserver' : server]);
  return { children: [started.child], port: started.port, output: [], outputs: [started.output] };
}

/** The switch counts a greenlet server printed ("mark <n>") since it started listening. */
function marksOf(output: () => string): number[] {
  return [...output().matchAll(/^mark (\d+)$/gm)].map((m) => Number(m[1]));
}

/** Waits (at most timeoutMs) until every server has printed `count` marks. */
async function awaitMarks(running: Running & { outputs: Array<() => string> }, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (running.outputs.some((o, i) => marksOf(o).length < count && running.children[i].exitCode === null) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Stops the server's processes (SIGTERM, then SIGKILL after 10 s); resolves once all have exited. */
async function stopServer(running: Running & { outputs: Array<() => string> }): Promise<void> {
  await Promise.all(
    running.children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve(); // it died during the trial
            return;
          }
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.on('close', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

interface LoadOutput {
  conns: number;
  connected: number;
  alive: number;
  roundTrips: number;
  rate: number;
  p50us: number;
  p99us: number;
  errors: number;
  mismatches: number;
  firstError: string | null;
  servers: Array<{ pid: number; cpuSeconds: number; rssKiB: number }>;
}

function runLoad(program: string, args: string[], timeoutMs: number): Promise<LoadOutput> {
  return new Promise((resolve, reject) => {
    const child = execFile(program, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const text = `${stdout}`.trim();
      if (text.startsWith('{')) {
        resolve(JSON.parse(text) as LoadOutput); // status 1 still reports: errors are part of the result
        return;
      }
      reject(new Error(`echo_load failed: ${err?.message ?? ''} ${`${stderr}`.trim()}`));
    });
    track(child);
  });
}

async function trial(
  server: EchoServer,
  conns: number,
  size: number,
  round: number,
  ctx: { programs: { load: string; epoll: string }; python: string; workers: number; seconds: number; warmup: number },
): Promise<EchoTrial> {
  const base: EchoTrial = { server, conns, size, round, status: 'error' };
  let running: Awaited<ReturnType<typeof startServer>>;
  try {
    running = await startServer(server, ctx.programs, ctx.python, ctx.workers);
  } catch (err) {
    return { ...base, note: (err as Error).message };
  }
  const pids = running.children.map((c) => String(c.pid));
  const greenlets = server === 'looplet' || server === 'looplet-multi';
  const args = [
    '--port', String(running.port), '--conns', String(conns), '--size', String(size),
    '--seconds', String(ctx.seconds), '--warmup', String(ctx.warmup),
    ...pids.flatMap((p) => ['--watch-pid', p]),
    ...(greenlets ? pids.flatMap((p) => ['--notify-pid', p]) : []),
  ];
  let load: LoadOutput;
  try {
    load = await runLoad(ctx.programs.load, args, (ctx.seconds + ctx.warmup + 90) * 1000);
  } catch (err) {
    await stopServer(running);
    return { ...base, note: (err as Error).message };
  }
  if (greenlets) await awaitMarks(running, 2, 5000);
  const marks = running.outputs.map(marksOf);
  await stopServer(running);
  let switches: number | undefined;
  if (greenlets) {
    const deltas = marks.map((m) => (m.length >= 2 ? m[1] - m[0] : NaN));
    const total = deltas.reduce((a, b) => a + b, 0);
    if (Number.isFinite(total) && load.roundTrips > 0) switches = total / load.roundTrips;
  }
  const cpu = load.servers.reduce((a, s) => a + s.cpuSeconds, 0);
  const rss = load.servers.reduce((a, s) => a + s.rssKiB, 0);
  return {
    ...base,
    status: 'ok',
    rate: load.rate,
    roundTrips: load.roundTrips,
    p50us: load.p50us,
    p99us: load.p99us,
    cpuUs: load.roundTrips > 0 ? (cpu * 1e6) / load.roundTrips : undefined,
    switches,
    rssMiB: rss / 1024,
    connected: load.connected,
    errors: load.errors,
    mismatches: load.mismatches,
    firstError: load.firstError,
  };
}

function summarizeRows(trials: EchoTrial[], servers: EchoServer[], conns: number[], sizes: number[], workers: number, skipped: Map<EchoServer, string>): EchoRow[] {
  const rows: EchoRow[] = [];
  const med = (xs: Array<number | undefined>): number | undefined => {
    const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
    return v.length ? median(v) : undefined;
  };
  for (const c of conns) {
    for (const s of sizes) {
      for (const server of servers) {
        const label = labelOf(server, workers);
        const mine = trials.filter((t) => t.server === server && t.conns === c && t.size === s);
        const ok = mine.filter((t) => t.status === 'ok');
        if (skipped.has(server)) {
          rows.push({ server, label, conns: c, size: s, status: 'n/a', note: skipped.get(server) });
          continue;
        }
        if (ok.length === 0) {
          rows.push({ server, label, conns: c, size: s, status: 'error', note: mine.find((t) => t.note)?.note });
          continue;
        }
        rows.push({
          server,
          label,
          conns: c,
          size: s,
          status: 'ok',
          rate: med(ok.map((t) => t.rate)),
          p50us: med(ok.map((t) => t.p50us)),
          p99us: med(ok.map((t) => t.p99us)),
          cpuUs: med(ok.map((t) => t.cpuUs)),
          switches: med(ok.map((t) => t.switches)),
          rssMiB: med(ok.map((t) => t.rssMiB)),
          errors: ok.reduce((a, t) => a + (t.errors ?? 0), 0) + (mine.length - ok.length),
          mismatches: ok.reduce((a, t) => a + (t.mismatches ?? 0), 0),
          connected: Math.min(...ok.map((t) => t.connected ?? 0)),
          note: ok.find((t) => t.firstError)?.firstError ?? undefined,
        });
      }
    }
  }
  return rows;
}

function find(rows: EchoRow[], server: EchoServer, conns: number, size: number): EchoRow | undefined {
  return rows.find((r) => r.server === server && r.conns === conns && r.size === size && r.status === 'ok');
}

export function computeEchoTargets(rows: EchoRow[]): Target[] {
  const targets: Target[] = [];
  for (const c of TARGET_CONNS) {
    const me = find(rows, 'looplet', c, TARGET_SIZE);
    const net = find(rows, 'net', c, TARGET_SIZE);
    const gevent = find(rows, 'gevent', c, TARGET_SIZE);
    const over = (other: EchoRow | undefined, min: number, name: string): Target => {
      const label = `StreamServer >= ${min}x ${name}, ${c} connections, ${TARGET_SIZE} B`;
      if (!me?.rate || !other?.rate) return { name: label, pass: null, detail: `needs both in the run (${c} connections, ${TARGET_SIZE} B)` };
      const r = me.rate / other.rate;
      return { name: label, pass: r >= min, detail: `${fmt(me.rate / 1000)}k vs ${fmt(other.rate / 1000)}k round trips/s: ${r.toFixed(2)}x` };
    };
    targets.push(over(net, MIN_OVER_NET, 'Node net'));
    targets.push(over(gevent, MIN_OVER_GEVENT, 'gevent'));
  }
  const sw = find(rows, 'looplet', SWITCH_TARGET_CONNS, TARGET_SIZE);
  targets.push(
    sw?.switches === undefined
      ? { name: `greenlet switches per round trip <= ${MAX_SWITCHES_PER_RT} at ${SWITCH_TARGET_CONNS} connections`, pass: null, detail: `needs StreamServer at ${SWITCH_TARGET_CONNS} connections, ${TARGET_SIZE} B` }
      : { name: `greenlet switches per round trip <= ${MAX_SWITCHES_PER_RT} at ${SWITCH_TARGET_CONNS} connections`, pass: sw.switches <= MAX_SWITCHES_PER_RT, detail: `${sw.switches.toFixed(3)}` },
  );
  const held = rows.filter((r) => r.conns === HELD_CONNS && (r.server === 'looplet' || r.server === 'looplet-multi'));
  const name = `${HELD_CONNS.toLocaleString('en-US')} connections held by StreamServer, no error, no byte lost or reordered`;
  if (held.length === 0) targets.push({ name, pass: null, detail: `no ${HELD_CONNS} connections case in this run` });
  else {
    const bad = held.filter((r) => r.status !== 'ok' || (r.errors ?? 0) > 0 || (r.mismatches ?? 0) > 0 || r.connected !== HELD_CONNS);
    targets.push({
      name,
      pass: bad.length === 0,
      detail: bad.length === 0 ? `${held.length} trials (sizes ${[...new Set(held.map((r) => r.size))].join(', ')} B), every byte checked` : bad.map((r) => `${r.label} ${r.size} B: ${r.status}, ${r.connected ?? 0} connected, ${r.errors ?? '?'} errors, ${r.mismatches ?? '?'} mismatches${r.note ? ` (${r.note})` : ''}`).join('; '),
    });
  }
  return targets;
}

export function echoTable(rows: EchoRow[]): string {
  const header = ['conns', 'size', 'server', 'rt/s', 'p50 us', 'p99 us', 'CPU us/rt', 'sw/rt', 'RSS MiB', 'vs net', 'errors'];
  const body = rows.map((r) => {
    if (r.status !== 'ok') return [String(r.conns), String(r.size), r.label, r.status, '', '', '', '', '', '', r.note ?? ''];
    const net = find(rows, 'net', r.conns, r.size);
    return [
      String(r.conns),
      String(r.size),
      r.label,
      r.rate === undefined ? '-' : `${fmt(r.rate / 1000)}k`,
      fmt(r.p50us),
      fmt(r.p99us),
      fmt(r.cpuUs),
      r.switches === undefined ? '-' : r.switches.toFixed(2),
      fmt(r.rssMiB),
      net?.rate && r.rate ? (r.rate / net.rate).toFixed(2) : '-',
      (r.errors ?? 0) + (r.mismatches ?? 0) > 0 || (r.connected ?? 0) < r.conns ? `${r.errors} err, ${r.mismatches} bad, ${r.connected} conn` : '0',
    ];
  });
  return table(header, body, 3);
}

const COLORS: Record<EchoServer, string> = {
  looplet: '#1f6fb4',
  'looplet-multi': '#6aa7dc',
  poller: '#2a9d8f',
  net: '#e07a1f',
  c: '#555555',
  gevent: '#b23a48',
};

export function echoChart(result: EchoBenchResult): string {
  const servers = result.settings.servers;
  const groups: BarGroup[] = [];
  for (const c of result.settings.conns) {
    for (const s of result.settings.sizes) {
      const bars = servers.flatMap((server, i) => {
        const r = find(result.rows, server, c, s);
        return r?.rate ? [{ series: i, value: r.rate / 1000 }] : [];
      });
      const net = find(result.rows, 'net', c, s);
      groups.push({ label: `${c} conns`, sublabel: `${s} B`, bars, ...(net?.rate ? { target: { value: net.rate / 1000, label: 'Node net' } } : {}) });
    }
  }
  return logBarChart({
    title: 'looplet bench echo: round trips per second (thousands)',
    subtitle: `${machineLine(result.machine)} - ${result.machine.date}`,
    yLabel: 'k round trips/s (log)',
    series: servers.map((server) => ({ label: labelOf(server, result.settings.workers), color: COLORS[server] })),
    groups,
    notes: ['Each server in its own process, one native load generator; the servers take turns. Dashed: Node net.'],
  });
}

export function echoReport(result: EchoBenchResult): string {
  const s = result.settings;
  return [
    `looplet bench echo (${result.mode}) - ${machineLine(result.machine)} - ${result.machine.date}`,
    '',
    `Ping-pong echo: C connections, one S-byte message in flight on each, ${s.seconds} s timed after ${s.warmup} s of warm-up, ${s.rounds} round(s), medians;`,
    'rt/s: round trips per second; p50/p99: latency of one round trip; CPU us/rt: server CPU time per round trip (all its',
    "processes and threads); sw/rt: greenlet switches per round trip; RSS: server memory at the window's end; vs net: rt/s over Node net's.",
    '',
    echoTable(result.rows),
    '',
    'Targets (issue 10):',
    targetLines(result.targets),
    ...(result.notes.length ? ['', 'Notes:', ...result.notes.map((n) => `  - ${n}`)] : []),
  ].join('\n');
}

export async function echoBenchCommand(options: EchoBenchOptions): Promise<EchoBenchResult> {
  const started = Date.now();
  const conns = options.conns ?? (options.quick ? [50, 2000] : [50, 2000, 10_000]);
  const sizes = options.sizes ?? (options.quick ? [64] : [64, 1024, 16384]);
  const seconds = options.seconds ?? (options.quick ? 0.5 : 2);
  const warmup = options.warmup ?? (options.quick ? 0.5 : 1);
  const rounds = options.rounds ?? 1;
  const workers = options.workers ?? Math.max(2, Math.min(8, os.availableParallelism?.() ?? os.cpus().length));
  const notes: string[] = [];
  const skipped = new Map<EchoServer, string>();
  const servers = [...(options.servers ?? ECHO_SERVERS)];

  const nofile = benchAddon().nofileLimit();
  const limits: [number, number] | null = Array.isArray(nofile) ? nofile : null;
  const soft = limits ? (limits[0] < 0 ? Infinity : limits[0]) : 1024;
  const tooMany = conns.filter((c) => c + 256 > soft);
  if (tooMany.length) notes.push(`RLIMIT_NOFILE is ${soft}: ${tooMany.join(', ')} connections may not fit (raise the hard limit: ulimit -Hn)`);

  const python = options.python === null ? null : options.python ?? (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : null);
  let gevent: string | null = null;
  if (servers.includes('gevent')) {
    if (python === null) skipped.set('gevent', options.python === null ? 'skipped (--no-python)' : 'no /usr/bin/python3');
    else if ((gevent = geventVersion(python)) === null) skipped.set('gevent', `gevent not importable by ${python} (Debian: python3-gevent)`);
  }
  const programs = { load: compile('echo_load'), epoll: compile('echo_epoll_server') };
  const machine = machineInfo(limits, null);
  const ctx = { programs, python: python ?? '', workers, seconds, warmup };
  const runnable = servers.filter((s) => !skipped.has(s));

  const trials: EchoTrial[] = [];
  const cases: Array<[number, number]> = [];
  for (const c of conns) for (const s of sizes) cases.push([c, s]);
  let k = 0;
  const total = cases.length * runnable.length * rounds;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const [c, s] = cases[i];
      const shift = (i + round) % runnable.length;
      const order = [...runnable.slice(shift), ...runnable.slice(0, shift)];
      for (const server of order) {
        k++;
        progress(`looplet bench echo: [${k}/${total}] ${labelOf(server, workers)}, ${c} connections, ${s} B`);
        const t = await trial(server, c, s, round, ctx);
        if (t.status !== 'ok') progress(`  failed: ${t.note}`);
        else if ((t.errors ?? 0) > 0) progress(`  ${t.errors} errors (${t.firstError})`);
        trials.push(t);
      }
    }
  }
  const rows = summarizeRows(trials, servers, conns, sizes, workers, skipped);
  const result: EchoBenchResult = {
    benchmark: 'looplet bench echo',
    mode: options.quick ? 'quick' : 'full',
    command: options.command,
    machine,
    settings: { conns, sizes, seconds, warmup, rounds, servers, workers },
    gevent,
    trials,
    rows,
    targets: computeEchoTargets(rows),
    notes,
    durationSeconds: (Date.now() - started) / 1000,
  };
  process.stdout.write(echoReport(result) + '\n');
  const files = writeResults(options.out, 'echo', result, echoChart(result));
  process.stdout.write(`\nWrote ${files.slice(0, 2).join(', ')} (and echo-latest.*)\n`);
  return result;
}
