// `looplet bench greenlet`: looplet's Greenlet against python-greenlet and
// gevent, side by side in one run: ping-pong switch, spawn + run + finish,
// RSS per suspended greenlet. Every trial runs in a fresh process
// (greenlet-worker.ts, benchmarks/greenlet_peer.py), the implementations
// taking turns round by round; this parent plans, collects, reports and
// writes bench-results/greenlet-*.{json,svg}.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../binding';
import { runProcess } from './process';
import { RING_SIZE, type GreenletRssOutcome, type GreenletRssSamples, type GreenletTimedOutcome, type GreenletTimedTrial } from './protocol';
import { machineInfo, machineLine, table, targetLines, writeResults, type Machine, type Status, type Target } from './report';
import { fmt, median, summarize, type Summary } from './stats';
import { logBarChart, type BarGroup } from './svg';

export interface GreenletBenchOptions {
  quick: boolean;
  /** Results folder. */
  out: string;
  /** Python interpreter for the peers; null skips them; undefined: /usr/bin/python3. */
  python?: string | null;
  /** apt-get install python3-greenlet python3-gevent when they are missing (root only). */
  installPeers: boolean;
  /** Also measure looplet pinned to one CPU with taskset (Linux, more than one CPU allowed). */
  pinned: boolean;
  /** Busy-looping processes kept running during the run (CPU contention); default 0. */
  load?: number;
  /** The command line, recorded in the JSON. */
  command: string;
}

/** The project's targets (issue 3), checked against the figures of the run. */
export const SWITCH_MAX_US = 1.0;
export const SPAWN_MAX_US = 10;
export const RSS_MAX_KIB = 20;
/** Greenlets suspended at once for the RSS figure. */
export const RSS_GREENLETS = 10_000;
export const SMALL_STACK = 131_072;

interface Mode {
  /** Each implementation's blocks are measured in this many processes, the implementations taking turns. */
  rounds: number;
  /** Blocks per implementation and operation, in total. */
  blocks: number;
  blockUs: number;
  warmupMs: number;
  /** Processes per RSS figure (the median is reported). */
  rssRuns: number;
}

const MODES: Record<'quick' | 'full', Mode> = {
  quick: { rounds: 1, blocks: 100, blockUs: 300, warmupMs: 30, rssRuns: 1 },
  full: { rounds: 3, blocks: 600, blockUs: 500, warmupMs: 150, rssRuns: 3 },
};

/**
 * Diagnostics beside looplet's defaults: looplet-nospin with
 * setSwitchSpin(0) (every wait sleeps in the kernel), and looplet-1cpu with
 * its process pinned to one CPU (taskset), where nothing can spin and a
 * switch is a futex hand-off on one CPU.
 */
export type Impl = 'looplet' | 'looplet-nospin' | 'looplet-1cpu' | 'greenlet' | 'gevent';
const IMPLS: Impl[] = ['looplet', 'looplet-nospin', 'looplet-1cpu', 'greenlet', 'gevent'];
const VARIANTS: Impl[] = ['looplet', 'looplet-nospin', 'looplet-1cpu'];
const PEERS: Impl[] = ['greenlet', 'gevent'];
const IMPL_LABELS: Record<Impl, string> = {
  looplet: 'looplet Greenlet',
  'looplet-nospin': 'looplet Greenlet (spin off)',
  'looplet-1cpu': 'looplet Greenlet (1 CPU)',
  greenlet: 'python-greenlet',
  gevent: 'gevent',
};

/** One implementation's figure for one operation. */
export interface TimedCell {
  status: Status;
  /** µs per operation: median and p99 of the per-block means, over all rounds. */
  summary?: Summary;
  /** What this implementation ran, where it differs from the row's operation. */
  op: string;
  /** Operations per block, per round. */
  k?: number[];
  /** looplet: the runtime's OS threads after warm-up and after the timed blocks, per round. */
  threads?: Array<{ afterWarmup: number; afterRun: number }>;
  /** CPU time per operation (all threads), µs, per round. */
  cpu?: number[];
  /** looplet: how the waits behind the timed switches ended, summed over the rounds. */
  waits?: { spins: number; spinTimeouts: number; sleeps: number };
  note?: string;
}

export interface TimedRow {
  key: 'switch' | 'roundtrip' | 'ring' | 'spawn';
  label: string;
  unit: string;
  cells: Partial<Record<Impl, TimedCell>>;
}

export interface RssCell {
  status: Status;
  /** Median over the runs of (VmRSS after - VmRSS before) / count, KiB. */
  kibPerGreenlet?: number;
  runs?: Array<Omit<GreenletRssSamples, 'ok'> & { kibPerGreenlet: number }>;
  note?: string;
}

export interface RssRow {
  key: 'rss-default' | 'rss-small-stack';
  label: string;
  unit: string;
  stackSize: number | null;
  cells: Partial<Record<'looplet' | 'greenlet', RssCell>>;
}

export interface Peers {
  python: string | null;
  pythonVersion: string | null;
  greenlet: string | null;
  gevent: string | null;
  script: string | null;
}

export interface GreenletBenchResult {
  benchmark: 'looplet bench greenlet';
  command: string;
  mode: 'quick' | 'full';
  machine: Machine;
  peers: Peers;
  settings: Record<string, unknown>;
  notes: string[];
  timed: TimedRow[];
  rss: RssRow[];
  targets: Target[];
  durationSeconds: number;
}

const progress = (line: string): boolean => process.stderr.write(line + '\n');

function probe(exe: string, code: string): string | null {
  const r = spawnSync(exe, ['-c', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return r.status === 0 ? r.stdout.trim() : null;
}

function probePeers(exe: string): Omit<Peers, 'script'> {
  return {
    python: exe,
    pythonVersion: probe(exe, 'import platform; print(platform.python_version())'),
    greenlet: probe(exe, 'import greenlet; print(greenlet.__version__)'),
    gevent: probe(exe, 'import gevent; print(gevent.__version__)'),
  };
}

const APT_PACKAGES = ['python3-greenlet', 'python3-gevent'];

/** apt-get install of the peers; apt-get update first only if the plain install fails. Returns a note. */
function installPeers(): string {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return '--install-peers: not running as root, nothing installed';
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).error) return '--install-peers: apt-get not found, nothing installed';
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]): boolean => {
    progress(`looplet bench greenlet: apt-get ${args.join(' ')}`);
    return spawnSync('apt-get', args, { stdio: ['ignore', 2, 2], env }).status === 0;
  };
  const install = ['install', '-y', ...APT_PACKAGES];
  if (apt(install) || (apt(['update']) && apt(install))) return `--install-peers: apt-get install -y ${APT_PACKAGES.join(' ')} succeeded`;
  return `--install-peers: apt-get install ${APT_PACKAGES.join(' ')} failed`;
}

/** The Python peers that can run, installing them first when asked to. */
function findPeers(opts: GreenletBenchOptions, notes: string[]): Peers {
  const none: Peers = { python: null, pythonVersion: null, greenlet: null, gevent: null, script: null };
  if (opts.python === null) {
    notes.push('Python peers skipped (--no-python)');
    return none;
  }
  const exe = opts.python ?? '/usr/bin/python3';
  if (!fs.existsSync(exe) && opts.python === undefined) {
    notes.push(`Python peers skipped: ${exe} not found (use --python PATH)`);
    return none;
  }
  const script = path.join(packageRoot(), 'benchmarks', 'greenlet_peer.py');
  if (!fs.existsSync(script)) {
    notes.push(`Python peers skipped: ${script} not found (it is not part of the npm package)`);
    return none;
  }
  let found = probePeers(exe);
  if (found.pythonVersion === null) {
    notes.push(`Python peers skipped: ${exe} does not run`);
    return none;
  }
  if ((found.greenlet === null || found.gevent === null) && opts.installPeers) {
    notes.push(installPeers());
    found = probePeers(exe);
  }
  const hint = !opts.installPeers
    ? ' (Debian: apt-get install python3-greenlet python3-gevent, or run with --install-peers as root)'
    : exe !== '/usr/bin/python3'
      ? " (Debian's packages serve /usr/bin/python3)"
      : '';
  if (found.greenlet === null) notes.push(`python-greenlet columns skipped: ${exe} -c 'import greenlet' fails${hint}`);
  if (found.gevent === null) notes.push(`gevent column skipped: ${exe} -c 'import gevent' fails${hint}`);
  return { ...found, script: found.greenlet === null && found.gevent === null ? null : script };
}

type Op = 'switch' | 'ring' | 'spawn';
const loopletKinds = (kind: GreenletTimedTrial['kind']): Partial<Record<Impl, GreenletTimedTrial['kind']>> => ({
  looplet: kind,
  'looplet-nospin': kind,
  'looplet-1cpu': kind,
});
/** The trial kind each implementation runs for an operation (none: not measured). */
const TIMED_KINDS: Record<Op, Partial<Record<Impl, GreenletTimedTrial['kind']>>> = {
  switch: { ...loopletKinds('switch'), greenlet: 'switch', gevent: 'gevent-sleep' },
  ring: { ...loopletKinds('ring'), greenlet: 'ring' },
  spawn: { ...loopletKinds('spawn'), greenlet: 'spawn', gevent: 'gevent-spawn' },
};

/** The first CPU this process may run on, for `taskset -c`; or a note why looplet is not pinned. */
function pinCpu(opts: GreenletBenchOptions): number | { note: string } {
  if (!opts.pinned) return { note: 'looplet on one CPU skipped (--no-pinned)' };
  if (process.platform !== 'linux') return { note: 'looplet on one CPU skipped: needs Linux (taskset)' };
  if (spawnSync('taskset', ['--version'], { stdio: 'ignore' }).error) return { note: 'looplet on one CPU skipped: taskset not found (util-linux)' };
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  const list = m?.[1] ?? '';
  if (!/[-,]/.test(list)) return { note: `looplet on one CPU skipped: this process may only run on CPU ${list || '?'} anyway` };
  return Number.parseInt(list, 10);
}
const OPS: Record<GreenletTimedTrial['kind'], string> = {
  switch: 'ping-pong switch',
  ring: `main switches to each of ${RING_SIZE} greenlets in turn, each switches straight back`,
  spawn: 'new greenlet, switch, run to the end',
  'gevent-spawn': 'gevent.spawn(f).join()',
  'gevent-sleep': 'gevent.sleep(0)',
};


function threadLimits(): Record<string, number | null> {
  const read = (file: string): number | null => {
    try {
      return Number(fs.readFileSync(file, 'utf8').trim());
    } catch {
      return null;
    }
  };
  return { threadsMax: read('/proc/sys/kernel/threads-max'), maxMapCount: read('/proc/sys/vm/max_map_count') };
}

/** Starts `count` processes that spin until stop() (or until this process exits). */
function backgroundLoad(count: number): { stop(): void } {
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }),
  );
  const stop = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.once('exit', stop);
  return {
    stop() {
      stop();
      process.removeListener('exit', stop);
    },
  };
}

export function runGreenletBench(opts: GreenletBenchOptions): GreenletBenchResult {
  const load = backgroundLoad(opts.load ?? 0);
  try {
    return measureGreenlets(opts);
  } finally {
    load.stop();
  }
}

function measureGreenlets(opts: GreenletBenchOptions): GreenletBenchResult {
  const started = Date.now();
  const mode = MODES[opts.quick ? 'quick' : 'full'];
  const notes: string[] = [];
  const peers = findPeers(opts, notes);
  const machine = machineInfo(null, peers.pythonVersion);
  const worker = path.join(__dirname, 'greenlet-worker.js');
  const cpu = pinCpu(opts);
  if (typeof cpu !== 'number') notes.push(cpu.note);
  if (opts.load) notes.push(`--load ${opts.load}: ${opts.load} busy-looping process(es) ran during the whole run (CPU contention)`);
  const available = (impl: Impl): boolean =>
    impl === 'looplet' || impl === 'looplet-nospin' || (impl === 'looplet-1cpu' ? typeof cpu === 'number' : peers.script !== null && peers[impl] !== null);
  const impls = IMPLS.filter(available);
  const command = (impl: Impl, rss: boolean): [string, string[]] => {
    if (impl === 'looplet' || impl === 'looplet-nospin') return [process.execPath, rss ? ['--expose-gc', worker] : [worker]];
    if (impl === 'looplet-1cpu') return ['taskset', ['-c', String(cpu), process.execPath, worker]];
    return [peers.python!, [peers.script!]];
  };

  const perRound = Math.ceil(mode.blocks / mode.rounds);
  const ops: Op[] = ['switch', 'ring', 'spawn'];
  const runs = (op: Op): Impl[] => impls.filter((impl) => TIMED_KINDS[op][impl] !== undefined);
  const rssPlan: Array<{ impl: 'looplet' | 'greenlet'; stackSize: number | null }> = [
    { impl: 'looplet', stackSize: null },
    { impl: 'looplet', stackSize: SMALL_STACK },
    ...(available('greenlet') ? [{ impl: 'greenlet' as const, stackSize: null }] : []),
  ];
  const total = mode.rounds * ops.reduce((n, op) => n + runs(op).length, 0) + mode.rssRuns * rssPlan.length;
  let done = 0;
  const head = (): string => `[${String(++done).padStart(String(total).length)}/${total}]`;
  progress(
    `looplet bench greenlet (${opts.quick ? 'quick' : 'full'}): ${total} processes; ${impls.map((i) => IMPL_LABELS[i]).join(', ')}` +
      `${peers.pythonVersion ? ` (Python ${peers.pythonVersion})` : ''}`,
  );

  // Timed operations: the implementations take turns, round by round, rotating who goes first.
  const samples: Record<string, number[]> = {};
  const cells: Record<string, TimedCell> = {};
  for (const op of ops) {
    for (const impl of runs(op)) {
      const kind = TIMED_KINDS[op][impl]!;
      samples[`${op}:${impl}`] = [];
      cells[`${op}:${impl}`] = {
        status: 'ok',
        op: OPS[kind],
        k: [],
        cpu: [],
        ...(impl.startsWith('looplet') ? { threads: [], waits: { spins: 0, spinTimeouts: 0, sleeps: 0 } } : {}),
      };
    }
  }
  for (let r = 0; r < mode.rounds; r++) {
    for (const op of ops) {
      const order = runs(op);
      for (let j = 0; j < order.length; j++) {
        const impl = order[(r + j) % order.length];
        const key = `${op}:${impl}`;
        const cell = cells[key];
        if (cell.status !== 'ok') continue;
        const trial: GreenletTimedTrial = {
          kind: TIMED_KINDS[op][impl]!,
          blocks: perRound,
          blockUs: mode.blockUs,
          warmupMs: mode.warmupMs,
          ...(impl === 'looplet-nospin' ? { spinUs: 0 } : {}),
        };
        const t0 = Date.now();
        let line: string;
        try {
          const out = runProcess<GreenletTimedOutcome>(...command(impl, false), trial);
          if (!out.ok) {
            Object.assign(cell, { status: 'n/a', note: out.reason });
            line = `n/a: ${out.reason}`;
          } else {
            samples[key].push(...out.samples);
            cell.k!.push(out.k);
            if (out.threads) cell.threads!.push(out.threads);
            if (out.cpuUsPerOp !== undefined) cell.cpu!.push(out.cpuUsPerOp);
            if (out.waits && cell.waits) for (const w of ['spins', 'spinTimeouts', 'sleeps'] as const) cell.waits[w] += out.waits[w];
            line = `${fmt(summarize(out.samples).median)} us (K=${out.k}${out.cpuUsPerOp !== undefined ? `, CPU ${fmt(out.cpuUsPerOp)} us/op` : ''})`;
          }
        } catch (err) {
          Object.assign(cell, { status: 'error', note: (err as Error).message });
          line = `error: ${(err as Error).message}`;
        }
        progress(`${head()} ${op} ${IMPL_LABELS[impl]} (${trial.kind}) round ${r + 1}/${mode.rounds}: ${line} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      }
    }
  }
  for (const key of Object.keys(cells)) {
    if (cells[key].status === 'ok') cells[key].summary = summarize(samples[key]);
    else delete cells[key].summary;
  }
  const rowCells = (op: Op, only?: Impl[]): Partial<Record<Impl, TimedCell>> =>
    Object.fromEntries(runs(op).filter((i) => !only || only.includes(i)).map((i) => [i, cells[`${op}:${i}`]]));
  // A round trip is two switches: the same blocks, counted per iteration.
  const doubled = (c: TimedCell): TimedCell => {
    const s = c.summary;
    return {
      ...c,
      op: 'switch there and back',
      summary: s && { ...s, median: 2 * s.median, p99: 2 * s.p99, min: 2 * s.min, mean: 2 * s.mean },
      k: c.k?.map((k) => k / 2),
      cpu: c.cpu?.map((x) => 2 * x),
    };
  };
  const roundtrip: Partial<Record<Impl, TimedCell>> = {};
  for (const impl of impls) roundtrip[impl] = impl === 'gevent' ? cells[`switch:${impl}`] : doubled(cells[`switch:${impl}`]);
  const timed: TimedRow[] = [
    { key: 'switch', label: 'ping-pong switch', unit: 'us/switch', cells: rowCells('switch', [...VARIANTS, 'greenlet']) },
    { key: 'roundtrip', label: 'round trip = 2 switches (gevent: sleep(0))', unit: 'us', cells: roundtrip },
    { key: 'ring', label: `switch among ${RING_SIZE} via main (hub pattern)`, unit: 'us/switch', cells: rowCells('ring') },
    { key: 'spawn', label: 'spawn + run + finish (gevent: spawn+join)', unit: 'us', cells: rowCells('spawn') },
  ];

  // RSS: each figure from mode.rssRuns fresh processes.
  const rss: RssRow[] = [
    { key: 'rss-default', label: `RSS per suspended greenlet, ${RSS_GREENLETS.toLocaleString('en-US')}`, unit: 'KiB', stackSize: null, cells: {} },
    { key: 'rss-small-stack', label: `  same, stackSize ${SMALL_STACK}`, unit: 'KiB', stackSize: SMALL_STACK, cells: {} },
  ];
  for (let r = 0; r < mode.rssRuns; r++) {
    for (const { impl, stackSize } of rssPlan) {
      const row = rss.find((x) => x.stackSize === stackSize)!;
      const cell = (row.cells[impl] ??= { status: 'ok', runs: [] });
      if (cell.status !== 'ok') continue;
      const t0 = Date.now();
      let line: string;
      try {
        const out = runProcess<GreenletRssOutcome>(...command(impl, true), { kind: 'rss', count: RSS_GREENLETS, stackSize });
        if (!out.ok) {
          Object.assign(cell, { status: 'n/a', note: out.reason });
          line = `n/a: ${out.reason}`;
        } else {
          const { ok: _, ...rest } = out;
          const kib = (out.rssAfterKiB - out.rssBeforeKiB) / out.count;
          cell.runs!.push({ ...rest, kibPerGreenlet: kib });
          line = `${fmt(kib)} KiB per greenlet (VmRSS ${out.rssBeforeKiB} -> ${out.rssAfterKiB} KiB; ${fmt(out.createUs)} us to create each)`;
        }
      } catch (err) {
        Object.assign(cell, { status: 'error', note: (err as Error).message });
        line = `error: ${(err as Error).message}`;
      }
      const what = `${IMPL_LABELS[impl]}${stackSize === null ? '' : ` stackSize ${stackSize}`}`;
      progress(`${head()} rss ${what} run ${r + 1}/${mode.rssRuns}: ${line} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
  for (const row of rss) {
    for (const cell of Object.values(row.cells)) {
      if (cell.status === 'ok') cell.kibPerGreenlet = median(cell.runs!.map((x) => x.kibPerGreenlet));
      else delete cell.runs;
    }
  }

  for (const [key, cell] of Object.entries(cells)) {
    const [op, impl] = key.split(':') as [Op, Impl];
    if (cell.status !== 'ok') notes.push(`${op}, ${IMPL_LABELS[impl]} (${cell.op}): ${cell.status}: ${cell.note}`);
  }
  for (const row of rss) {
    for (const [impl, cell] of Object.entries(row.cells)) {
      if (cell.status !== 'ok') notes.push(`${row.label.trim()}, ${IMPL_LABELS[impl as Impl]}: ${cell.status}: ${cell.note}`);
    }
  }
  const spawnThreads = cells['spawn:looplet'].threads ?? [];
  if (spawnThreads.length > 0) {
    const most = Math.max(...spawnThreads.map((t) => Math.max(t.afterWarmup, t.afterRun)));
    notes.push(`spawn: the looplet runtime held at most ${most} OS thread(s) after warm-up and after the timed blocks (finished greenlets give their thread back to the pool)`);
  }

  return {
    benchmark: 'looplet bench greenlet',
    command: opts.command,
    mode: opts.quick ? 'quick' : 'full',
    machine,
    peers,
    settings: {
      ...mode,
      blocksPerRound: perRound,
      rssGreenlets: RSS_GREENLETS,
      smallStack: SMALL_STACK,
      pinnedCpu: typeof cpu === 'number' ? cpu : null,
      backgroundLoad: opts.load ?? 0,
      ...threadLimits(),
    },
    notes,
    timed,
    rss,
    targets: computeGreenletTargets(timed, rss),
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

const ok = (c?: TimedCell): Summary | undefined => (c?.status === 'ok' ? c.summary : undefined);
const okKib = (c?: RssCell): number | undefined => (c?.status === 'ok' ? c.kibPerGreenlet : undefined);

/** "2.57 us, 15.5x python-greenlet (0.166 us)" style comparisons. */
function versus(value: number, peers: Array<[label: string, v: number | undefined]>, unit: string): string {
  return peers
    .filter((p): p is [string, number] => p[1] !== undefined)
    .map(([label, v]) => `${fmt(value / v)}x ${label} (${fmt(v)} ${unit})`)
    .join(', ');
}

/** Median CPU time per operation over the rounds, µs. */
const cpuOf = (c?: TimedCell): number | undefined => (c?.status === 'ok' && c.cpu && c.cpu.length > 0 ? median(c.cpu) : undefined);

/** Share of the timed waits that ended while spinning, "97%"; '-' when unknown. */
function spunShare(c?: TimedCell): string {
  const w = c?.status === 'ok' ? c.waits : undefined;
  const total = w ? w.spins + w.sleeps : 0;
  return w && total > 0 ? `${((100 * w.spins) / total).toFixed(1)}%` : '-';
}

function variantsNote(cells: TimedRow['cells']): string {
  const cpu = cpuOf(cells.looplet);
  const parts = [
    ...(cpu !== undefined ? [`CPU time ${fmt(cpu)} us per switch (both threads; ${spunShare(cells.looplet)} of waits spun)`] : []),
    ...(ok(cells['looplet-nospin']) ? [`spin off ${fmt(ok(cells['looplet-nospin'])!.median)} us`] : []),
    ...(ok(cells['looplet-1cpu']) ? [`pinned to one CPU ${fmt(ok(cells['looplet-1cpu'])!.median)} us`] : []),
  ];
  return parts.length > 0 ? `; ${parts.join('; ')}` : '';
}

export function computeGreenletTargets(timed: TimedRow[], rss: RssRow[]): Target[] {
  const targets: Target[] = [];
  const row = (key: TimedRow['key']): TimedRow => timed.find((r) => r.key === key)!;
  const cmp = (s: string): string => (s ? `; looplet = ${s}` : '');

  const sw = row('switch').cells;
  const swLp = ok(sw.looplet);
  targets.push({
    name: `ping-pong switch median <= ${SWITCH_MAX_US} us`,
    pass: swLp ? swLp.median <= SWITCH_MAX_US : null,
    detail: swLp
      ? `looplet ${fmt(swLp.median)} us per switch (p99 ${fmt(swLp.p99)})${variantsNote(sw)}${cmp(versus(swLp.median, [['python-greenlet', ok(sw.greenlet)?.median]], 'us'))}`
      : 'not measured',
  });

  const sp = row('spawn').cells;
  const spLp = ok(sp.looplet);
  targets.push({
    name: `spawn + run + finish <= ${SPAWN_MAX_US} us (pooled threads)`,
    pass: spLp ? spLp.median <= SPAWN_MAX_US : null,
    detail: spLp
      ? `looplet ${fmt(spLp.median)} us (p99 ${fmt(spLp.p99)})${variantsNote(sp).replace(/ per switch/, '')}${cmp(
          versus(spLp.median, [['python-greenlet', ok(sp.greenlet)?.median], ['gevent spawn+join', ok(sp.gevent)?.median]], 'us'),
        )}`
      : 'not measured',
  });

  const [def, small] = rss;
  const kib = okKib(def.cells.looplet);
  const smallKib = okKib(small.cells.looplet);
  targets.push({
    name: `RSS per suspended greenlet at ${RSS_GREENLETS.toLocaleString('en-US')} <= ${RSS_MAX_KIB} KiB (default stack size)`,
    pass: kib !== undefined ? kib <= RSS_MAX_KIB : null,
    detail:
      kib !== undefined
        ? `looplet ${fmt(kib)} KiB${smallKib !== undefined ? ` (${fmt(smallKib)} KiB with stackSize ${SMALL_STACK})` : ''}${cmp(
            versus(kib, [['python-greenlet', okKib(def.cells.greenlet)]], 'KiB'),
          )}`
        : 'not measured',
  });
  return targets;
}

const ratio = (a?: number, b?: number): string => (a !== undefined && b !== undefined ? `${fmt(a / b)}x` : '-');

export function greenletTable(result: GreenletBenchResult): string {
  const has = (impl: Impl): boolean => result.timed.some((r) => r.cells[impl] !== undefined);
  const peers = PEERS.filter(has);
  const header = ['operation', 'unit', 'looplet', 'p99'];
  for (const p of peers) header.push(p, 'p99', 'ratio');
  header.push('target', '');
  const targetOf: Record<string, [string, Target | undefined]> = {
    switch: [`<= ${SWITCH_MAX_US}`, result.targets[0]],
    spawn: [`<= ${SPAWN_MAX_US}`, result.targets[1]],
    'rss-default': [`<= ${RSS_MAX_KIB}`, result.targets[2]],
  };
  const verdict = (key: string): [string, string] => {
    const t = targetOf[key];
    if (!t) return ['', ''];
    return [t[0], t[1] === undefined || t[1].pass === null ? 'n/a' : t[1].pass ? 'PASS' : 'FAIL'];
  };
  const cellText = (c?: TimedCell): string[] => (c === undefined ? ['-', '-'] : c.status !== 'ok' ? [c.status, ''] : [fmt(c.summary?.median), fmt(c.summary?.p99)]);
  const body: string[][] = [];
  for (const row of result.timed) {
    const lp = ok(row.cells.looplet)?.median;
    const line = [row.label, row.unit, ...cellText(row.cells.looplet)];
    for (const p of peers) line.push(...cellText(row.cells[p]), ratio(lp, ok(row.cells[p])?.median));
    body.push([...line, ...verdict(row.key)]);
  }
  for (const row of result.rss) {
    const lp = okKib(row.cells.looplet);
    const text = (c?: RssCell): string => (c === undefined ? '-' : c.status !== 'ok' ? c.status : fmt(c.kibPerGreenlet));
    const line = [row.label, row.unit, text(row.cells.looplet), ''];
    for (const p of peers) {
      const c = p === 'greenlet' && row.key === 'rss-default' ? row.cells.greenlet : undefined;
      line.push(text(c), '', ratio(lp, okKib(c)));
    }
    body.push([...line, ...verdict(row.key)]);
  }
  return table(header, body, 2);
}

/** looplet's defaults against spinning off and against one CPU, with CPU time per operation; null when only the defaults ran. */
export function variantsTable(result: GreenletBenchResult): string | null {
  const rows = result.timed.filter((r) => r.key !== 'roundtrip' && r.cells.looplet !== undefined);
  const shown = VARIANTS.filter((v) => rows.some((r) => r.cells[v] !== undefined));
  if (rows.length === 0 || shown.length < 2) return null;
  const header = ['operation', 'unit'];
  for (const v of shown) header.push(v === 'looplet' ? 'default' : v === 'looplet-nospin' ? 'spin off' : '1 CPU', 'p99', 'CPU');
  header.push('spun');
  const body = rows.map((row) => {
    const line = [row.label.replace(/ \(.*\)$/, ''), row.unit];
    for (const v of shown) {
      const c = row.cells[v];
      line.push(c === undefined ? '-' : c.status !== 'ok' ? c.status : fmt(c.summary?.median), fmt(ok(c)?.p99), fmt(cpuOf(c)));
    }
    line.push(spunShare(row.cells.looplet));
    return line;
  });
  const cpu = (result.settings as { pinnedCpu?: number | null }).pinnedCpu;
  return [
    'looplet variants, measured in the same rounds (diagnostic, not targets). default: a thread that hands',
    'control away spins (up to the budget, see setSwitchSpin) when its last wait was short and the target runs',
    `on another CPU; spin off: setSwitchSpin(0), every wait sleeps in the kernel; 1 CPU: taskset -c ${cpu ?? '?'}.`,
    'CPU: CPU time of all threads (GC helpers included) over the timed blocks / operations, a mean;',
    'a spinning wait burns CPU on a second CPU while the other thread runs.',
    'spun: share of the default\'s waits that ended while spinning.',
    '',
    table(header, body, 2),
  ].join('\n');
}

export function greenletTextReport(result: GreenletBenchResult): string {
  const p = result.peers;
  const versions = [p.greenlet && `python-greenlet ${p.greenlet}`, p.gevent && `gevent ${p.gevent}`].filter(Boolean).join(', ');
  const s = result.settings as unknown as Mode & { blocksPerRound: number };
  const parts = [
    `looplet bench greenlet (${result.mode}) - ${machineLine(result.machine)} - ${result.machine.date}`,
    ...(versions ? [`peers: ${versions} (${p.python})`] : []),
    '',
    'Median and p99 of per-block means (blocks of K operations, K calibrated so that a block lasts',
    `~${s.blockUs} us; ${s.blocks} blocks per figure in ${s.rounds} fresh process(es), the implementations taking turns).`,
    'RSS: VmRSS after minus before creating the greenlets, each suspended by one switch, divided by',
    `their number; median of ${s.rssRuns} process(es). ratio = looplet / the peer to its left.`,
    '',
    greenletTable(result),
  ];
  const variants = variantsTable(result);
  if (variants) parts.push('', variants);
  if (result.notes.length > 0) parts.push('', 'Notes', ...result.notes.map((n) => `  - ${n}`));
  parts.push('', 'Targets (computed from this run)', targetLines(result.targets));
  return parts.join('\n') + '\n';
}

const COLORS: Record<Impl, string> = {
  looplet: '#1f6fb4',
  'looplet-nospin': '#5a9bd5',
  'looplet-1cpu': '#8dbde6',
  greenlet: '#e0700a',
  gevent: '#2a9d3a',
};

export function greenletChart(result: GreenletBenchResult): string {
  const shown = IMPLS.filter((i) => i === 'looplet' || result.timed.some((r) => ok(r.cells[i])));
  const series = shown.map((i) =>
    i === 'looplet-1cpu'
      ? { label: 'looplet, 1 CPU (diagnostic)', color: COLORS[i], ink: '#10314f' }
      : i === 'looplet-nospin'
        ? { label: 'looplet, spin off (diagnostic)', color: COLORS[i], ink: '#10314f' }
        : { label: IMPL_LABELS[i], color: COLORS[i] },
  );
  const bars = (row: TimedRow, captions: Partial<Record<Impl, string>> = {}): BarGroup['bars'] =>
    shown.flatMap((impl, si) => {
      const s = ok(row.cells[impl]);
      return s ? [{ series: si, value: s.median, p99: s.p99, caption: captions[impl] }] : [];
    });
  const row = (key: TimedRow['key']): TimedRow => result.timed.find((r) => r.key === key)!;
  const groups: BarGroup[] = [
    { label: 'ping-pong switch', sublabel: 'µs per switch', bars: bars(row('switch')), target: { value: SWITCH_MAX_US, label: `target ≤ ${SWITCH_MAX_US} µs` } },
    { label: 'round trip (2 switches)', sublabel: 'gevent: sleep(0)', bars: bars(row('roundtrip'), { gevent: 'sleep(0)' }) },
    { label: `ring of ${RING_SIZE} via main`, sublabel: 'µs per switch (hub pattern)', bars: bars(row('ring')) },
    {
      label: 'spawn + run + finish',
      sublabel: 'gevent: spawn(f).join()',
      bars: bars(row('spawn'), { gevent: 'spawn+join' }),
      target: { value: SPAWN_MAX_US, label: `target ≤ ${SPAWN_MAX_US} µs` },
    },
  ];
  const notes: string[] = ['bar: median; whisker: p99', '', `RSS per suspended greenlet (${RSS_GREENLETS.toLocaleString('en-US')}):`];
  const [def, small] = result.rss;
  const kib = (c?: RssCell): string => (okKib(c) === undefined ? 'n/a' : `${fmt(okKib(c))} KiB`);
  notes.push(`  looplet, default stack: ${kib(def.cells.looplet)}`);
  notes.push(`  looplet, 128 KiB stack: ${kib(small.cells.looplet)}`);
  if (def.cells.greenlet) notes.push(`  python-greenlet: ${kib(def.cells.greenlet)}`);
  notes.push(`  target ≤ ${RSS_MAX_KIB} KiB`, '', 'Targets (this run):');
  const short = [`switch median ≤ ${SWITCH_MAX_US} µs`, `spawn + finish ≤ ${SPAWN_MAX_US} µs`, `RSS per greenlet ≤ ${RSS_MAX_KIB} KiB`];
  result.targets.forEach((t, i) => notes.push(`  ${t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'FAIL'}  ${short[i] ?? t.name}`));
  const m = result.machine;
  return logBarChart({
    title: 'looplet Greenlet vs python-greenlet vs gevent',
    subtitle: `${m.cpu}, ${m.cpus} CPUs, ${m.os}, Node ${m.node}${m.python ? `, Python ${m.python}` : ''}, ${m.date.slice(0, 10)}`,
    yLabel: 'µs per operation (log scale)',
    series,
    groups,
    notes,
  });
}

/** Runs the benchmark, prints the report, writes the files; returns the result. */
export function greenletBenchCommand(opts: GreenletBenchOptions): GreenletBenchResult {
  const result = runGreenletBench(opts);
  process.stdout.write(greenletTextReport(result));
  const files = writeResults(opts.out, 'greenlet', result, greenletChart(result));
  process.stdout.write(`\nResults (${result.durationSeconds} s): ${files.join(', ')}\n`);
  return result;
}
