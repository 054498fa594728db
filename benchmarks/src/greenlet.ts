// `looplet bench greenlet`: looplet's Greenlet against python-greenlet and
// gevent, side by side in one run: ping-pong switch, spawn + run + finish,
// RSS per suspended greenlet; and the hub's rows against gevent
// (greenlet-hub.ts). The looplet trials can run under several Node
// executables (--node), each finding its own greenlet binary. Every trial
// runs in a fresh process (greenlet-worker.ts, benchmarks/greenlet_peer.py),
// the implementations taking turns round by round; this parent plans,
// collects, reports and writes bench-results/greenlet-*.{json,svg}.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../../dist/cjs/binding';
import { runProcess } from './process';
import {
  GEVENT_HUB_OP_TEXT,
  HUB_KINDS,
  HUB_OPS,
  HUB_OP_TEXT,
  computeHubTargets,
  hubBlocks,
  hubChart,
  hubNotes,
  hubPreamble,
  hubRow,
  hubTable,
  measureHubSleepers,
  switchesOf,
  type HubOp,
  type HubRow,
  type HubSleepers,
} from './greenlet-hub';
import { RING_SIZE, type GreenletRssOutcome, type GreenletRssSamples, type GreenletTimedOutcome, type GreenletTimedTrial } from './protocol';
import { machineInfo, machineLine, table, targetLines, writeResults, type Machine, type Status, type Target } from './report';
import { fmt, median, summarize, type Summary } from './stats';
import { logBarChart, stackCharts, type BarGroup } from './svg';

export interface GreenletBenchOptions {
  quick: boolean;
  /** Results folder. */
  out: string;
  /** The Node executables the looplet trials run under (probeNodes()); at least one. */
  nodes: NodeRuntime[];
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
/** Issue 12's targets: ping-pong median, CPU time per switch over wall time, the ratio to python-greenlet, the hub pattern, spawn against the peers. */
export const HOT = { switchUs: 1.3, cpuOverWall: 1.1, overGreenlet: 3.5, ringUs: 1.5, spawnOverGreenlet: 1.0, spawnOverGevent: 0.5 } as const;
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
  /** Processes per implementation for the hub's sleepers figures (the median is reported). */
  sleeperRuns: number;
}

const MODES: Record<'quick' | 'full', Mode> = {
  quick: { rounds: 1, blocks: 100, blockUs: 300, warmupMs: 30, rssRuns: 1, sleeperRuns: 1 },
  full: { rounds: 3, blocks: 600, blockUs: 500, warmupMs: 150, rssRuns: 3, sleeperRuns: 3 },
};

/** A Node executable the looplet trials run under, as it describes itself. */
export interface NodeRuntime {
  /** Its process.execPath. */
  path: string;
  /** process.version, e.g. 'v24.22.3'. */
  version: string;
  /** process.versions.modules: the ABI its greenlet binary is built for. */
  abi: string;
  /** The greenlet binary the library's loader picked for it. */
  greenletBinary: string | null;
}

/**
 * Diagnostics beside looplet's defaults (yield, then sleep): 'spin' with
 * setSwitchSpin(SPIN_VARIANT_US) (a waiting thread spins while the target
 * runs on another CPU), and '1cpu' with the process pinned to one CPU
 * (taskset), where nothing can spin.
 */
export type Variant = 'default' | 'spin' | '1cpu';
/** The spin budget of the 'spin' variant, µs (the default before issue 12). */
export const SPIN_VARIANT_US = 20;
export type Peer = 'greenlet' | 'gevent';

/**
 * One column of the results: every cell of `timed` and `rss` is keyed by an
 * id. looplet runs once per Node executable and variant
 * (`looplet@24.22.3`, `looplet-spin@24.22.3`, `looplet-1cpu@24.22.3`);
 * the peers are `greenlet` and `gevent`.
 */
export type Implementation =
  | { id: string; label: string; kind: 'looplet'; variant: Variant; /** Index into result.nodes. */ node: number }
  | { id: string; label: string; kind: Peer };

const VARIANTS: Variant[] = ['default', 'spin', '1cpu'];
const PEERS: Peer[] = ['greenlet', 'gevent'];
const PEER_LABELS: Record<Peer, string> = { greenlet: 'python-greenlet', gevent: 'gevent' };
const VARIANT_NAMES: Record<Variant, { id: string; label: string }> = {
  default: { id: 'looplet', label: '' },
  spin: { id: 'looplet-spin', label: `, spin ${SPIN_VARIANT_US} us` },
  '1cpu': { id: 'looplet-1cpu', label: ', 1 CPU' },
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
  /** looplet: greenlet switches (runtimeStats().switches) per operation over the timed blocks, per round. */
  switches?: number[];
  note?: string;
}

export interface TimedRow {
  key: 'switch' | 'roundtrip' | 'ring' | 'spawn';
  label: string;
  unit: string;
  /** By Implementation id. */
  cells: Record<string, TimedCell>;
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
  /** By Implementation id: looplet's defaults (one per Node) and python-greenlet. */
  cells: Record<string, RssCell>;
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
  /** The Node executables the looplet trials ran under. */
  nodes: NodeRuntime[];
  /** The index in nodes of the one the targets and ratios use: the running Node when listed, else the first. */
  referenceNode: number;
  /** The columns, in the order they are shown. */
  implementations: Implementation[];
  peers: Peers;
  settings: Record<string, unknown>;
  notes: string[];
  timed: TimedRow[];
  rss: RssRow[];
  targets: Target[];
  /** The hub's timed rows (greenlet-hub.ts): looplet's hub, every variant per Node, against gevent. */
  hub: HubRow[];
  /** The hub's 10,000 concurrent sleepers: looplet's default per Node and gevent. */
  hubSleepers: HubSleepers;
  /** The hub's targets (looplet against gevent in this run); --check counts them with `targets`. */
  hubTargets: Target[];
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

// Run by each --node executable: what it is, and whether the library's loader
// finds a greenlet binary for its ABI (the loaded file is the one in
// require.cache built for this ABI; a rejected candidate may be there too).
const NODE_PROBE = `
const out = { path: process.execPath, version: process.version, abi: process.versions.modules, greenletBinary: null };
try {
  require(process.argv[1]).greenletBinding();
  const abi = Number(process.versions.modules);
  out.greenletBinary = Object.keys(require.cache).find((f) => f.endsWith('.node') && require.cache[f].exports.nodeModuleVersion === abi) ?? null;
} catch (err) {
  out.error = err.message;
}
process.stdout.write(JSON.stringify(out));
`;

/**
 * Describes each Node executable and loads the library's greenlet binary in
 * it, as its trials will. Throws, with the loader's message, when one has no
 * greenlet binary for its ABI; also when one does not run or is listed twice.
 */
export function probeNodes(executables: string[]): NodeRuntime[] {
  const binding = require.resolve('../../dist/cjs/binding');
  const nodes: NodeRuntime[] = [];
  for (const exe of executables) {
    const r = spawnSync(exe, ['-e', NODE_PROBE, binding], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    let out: (NodeRuntime & { error?: string }) | undefined;
    try {
      out = JSON.parse(r.stdout ?? '') as NodeRuntime & { error?: string };
    } catch {
      out = undefined;
    }
    if (out === undefined || typeof out.version !== 'string') {
      const why = r.error?.message ?? ((r.stderr ?? '').trim().split('\n').slice(-3).join(' / ') || `exit ${r.status ?? r.signal}, no report on stdout`);
      throw new Error(`--node ${exe}: does not run as Node (${why})`);
    }
    if (out.error !== undefined) throw new Error(`--node ${exe} (Node ${out.version}): ${out.error}`);
    if (nodes.some((n) => n.path === out.path)) throw new Error(`--node ${exe}: ${out.path} is listed twice`);
    nodes.push({ path: out.path, version: out.version, abi: out.abi, greenletBinary: out.greenletBinary });
  }
  if (nodes.length === 0) throw new Error('--node: no Node executable given');
  return nodes;
}

/** "24.22.3" per Node; executables of the same version are numbered ("24.22.3-2"). */
function nodeTags(nodes: NodeRuntime[]): string[] {
  return nodes.map((n) => {
    const same = nodes.filter((m) => m.version === n.version);
    const v = n.version.replace(/^v/, '');
    return same.length > 1 ? `${v}-${same.indexOf(n) + 1}` : v;
  });
}

/** The columns: looplet's defaults per Node, then each diagnostic variant per Node, then the peers. */
function implementations(nodes: NodeRuntime[], variants: Variant[], peers: Peer[]): Implementation[] {
  const tags = nodeTags(nodes);
  const looplet = variants.flatMap((variant) =>
    tags.map((tag, node): Implementation => ({
      id: `${VARIANT_NAMES[variant].id}@${tag}`,
      label: `looplet (Node ${tag}${VARIANT_NAMES[variant].label})`,
      kind: 'looplet',
      variant,
      node,
    })),
  );
  return [...looplet, ...peers.map((peer): Implementation => ({ id: peer, label: PEER_LABELS[peer], kind: peer }))];
}

/** The looplet column of a variant on a Node. */
function loopletOf(impls: Implementation[], variant: Variant, node: number): Implementation | undefined {
  return impls.find((i) => i.kind === 'looplet' && i.variant === variant && i.node === node);
}

type Op = 'switch' | 'ring' | 'spawn' | HubOp;
const isHubOp = (op: Op): op is HubOp => (HUB_OPS as Op[]).includes(op);
/** The trial kind each kind of implementation runs for an operation (none: not measured). */
const TIMED_KINDS: Record<Op, Partial<Record<Implementation['kind'], GreenletTimedTrial['kind']>>> = {
  switch: { looplet: 'switch', greenlet: 'switch', gevent: 'gevent-sleep' },
  ring: { looplet: 'ring', greenlet: 'ring' },
  spawn: { looplet: 'spawn', greenlet: 'spawn', gevent: 'gevent-spawn' },
  ...HUB_KINDS,
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
  ...HUB_OP_TEXT,
};
/** What an implementation runs for an operation. */
const opText = (op: Op, impl: Implementation): string =>
  impl.kind === 'gevent' && (op === 'hub-event' || op === 'hub-queue') ? GEVENT_HUB_OP_TEXT[op] : OPS[TIMED_KINDS[op][impl.kind]!];

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
  const nodes = opts.nodes;
  if (nodes.length === 0) throw new RangeError('looplet bench greenlet: no Node executable to run looplet under');
  const referenceNode = Math.max(0, nodes.findIndex((n) => n.path === process.execPath));
  const peers = findPeers(opts, notes);
  const machine = machineInfo(null, peers.pythonVersion);
  const worker = path.join(__dirname, 'greenlet-worker.js');
  const cpu = pinCpu(opts);
  if (typeof cpu !== 'number') notes.push(cpu.note);
  if (opts.load) notes.push(`--load ${opts.load}: ${opts.load} busy-looping process(es) ran during the whole run (CPU contention)`);
  if (nodes.length > 1) notes.push(`looplet ran under ${nodes.length} Node executables, taking turns with each other and the peers; targets and ratios use Node ${nodes[referenceNode].version}`);
  const impls = implementations(
    nodes,
    VARIANTS.filter((v) => v !== '1cpu' || typeof cpu === 'number'),
    PEERS.filter((p) => peers.script !== null && peers[p] !== null),
  );
  const command = (impl: Implementation, rss: boolean): [string, string[]] => {
    if (impl.kind !== 'looplet') return [peers.python!, [peers.script!]];
    const node = nodes[impl.node].path;
    if (impl.variant === '1cpu') return ['taskset', ['-c', String(cpu), node, worker]];
    return [node, rss ? ['--expose-gc', worker] : [worker]];
  };

  const perRound = Math.ceil(mode.blocks / mode.rounds);
  const ops: Op[] = ['switch', 'ring', 'spawn', ...HUB_OPS];
  const runs = (op: Op): Implementation[] => impls.filter((impl) => TIMED_KINDS[op][impl.kind] !== undefined);
  const sleepersPlan = impls.filter((i) => (i.kind === 'looplet' && i.variant === 'default') || i.kind === 'gevent');
  const rssPlan: Array<{ impl: Implementation; stackSize: number | null }> = [
    ...impls.filter((i) => i.kind === 'looplet' && i.variant === 'default').flatMap((impl) => [
      { impl, stackSize: null },
      { impl, stackSize: SMALL_STACK },
    ]),
    ...impls.filter((i) => i.kind === 'greenlet').map((impl) => ({ impl, stackSize: null })),
  ];
  const total = mode.rounds * ops.reduce((n, op) => n + runs(op).length, 0) + mode.rssRuns * rssPlan.length + mode.sleeperRuns * sleepersPlan.length;
  let done = 0;
  const head = (): string => `[${String(++done).padStart(String(total).length)}/${total}]`;
  progress(
    `looplet bench greenlet (${opts.quick ? 'quick' : 'full'}): ${total} processes; ${impls.map((i) => i.label).join(', ')}` +
      `${peers.pythonVersion ? ` (Python ${peers.pythonVersion})` : ''}`,
  );

  // Timed operations: the implementations take turns, round by round, rotating who goes first.
  const cellKey = (op: Op, impl: Implementation): string => `${op} ${impl.id}`;
  const samples: Record<string, number[]> = {};
  const cells: Record<string, TimedCell> = {};
  for (const op of ops) {
    for (const impl of runs(op)) {
      const key = cellKey(op, impl);
      samples[key] = [];
      cells[key] = {
        status: 'ok',
        op: opText(op, impl),
        k: [],
        cpu: [],
        ...(impl.kind === 'looplet' ? { threads: [], waits: { spins: 0, spinTimeouts: 0, sleeps: 0 }, switches: [] } : {}),
      };
    }
  }
  for (let r = 0; r < mode.rounds; r++) {
    for (const op of ops) {
      const order = runs(op);
      for (let j = 0; j < order.length; j++) {
        const impl = order[(r + j) % order.length];
        const key = cellKey(op, impl);
        const cell = cells[key];
        if (cell.status !== 'ok') continue;
        const trial: GreenletTimedTrial = {
          kind: TIMED_KINDS[op][impl.kind]!,
          blocks: perRound,
          blockUs: mode.blockUs,
          ...(isHubOp(op) ? hubBlocks(op, perRound, mode.blockUs) : {}),
          warmupMs: mode.warmupMs,
          ...(impl.kind === 'looplet' && impl.variant === 'spin' ? { spinUs: SPIN_VARIANT_US } : {}),
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
            if (out.switchesPerOp !== undefined) cell.switches?.push(out.switchesPerOp);
            const extra = [
              ...(out.cpuUsPerOp !== undefined ? [`CPU ${fmt(out.cpuUsPerOp)} us/op`] : []),
              ...(out.switchesPerOp !== undefined ? [`${fmt(out.switchesPerOp)} switches/op`] : []),
            ];
            line = `${fmt(summarize(out.samples).median)} us (K=${out.k}${extra.map((x) => `, ${x}`).join('')})`;
          }
        } catch (err) {
          Object.assign(cell, { status: 'error', note: (err as Error).message });
          line = `error: ${(err as Error).message}`;
        }
        progress(`${head()} ${op} ${impl.label} (${trial.kind}) round ${r + 1}/${mode.rounds}: ${line} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      }
    }
  }
  for (const key of Object.keys(cells)) {
    if (cells[key].status === 'ok') cells[key].summary = summarize(samples[key]);
    else delete cells[key].summary;
  }
  const rowCells = (op: Op, except?: Implementation['kind']): Record<string, TimedCell> =>
    Object.fromEntries(runs(op).filter((i) => i.kind !== except).map((i) => [i.id, cells[cellKey(op, i)]]));
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
  const roundtrip: Record<string, TimedCell> = {};
  for (const impl of runs('switch')) {
    const cell = cells[cellKey('switch', impl)];
    roundtrip[impl.id] = impl.kind === 'gevent' ? cell : doubled(cell);
  }
  const timed: TimedRow[] = [
    { key: 'switch', label: 'ping-pong switch', unit: 'us/switch', cells: rowCells('switch', 'gevent') },
    { key: 'roundtrip', label: 'round trip = 2 switches (gevent: sleep(0))', unit: 'us', cells: roundtrip },
    { key: 'ring', label: `switch among ${RING_SIZE} via main (hub pattern)`, unit: 'us/switch', cells: rowCells('ring') },
    { key: 'spawn', label: 'spawn + run + finish (gevent: spawn+join)', unit: 'us', cells: rowCells('spawn') },
  ];
  const hub = HUB_OPS.map((op) => hubRow(op, rowCells(op)));

  // RSS: each figure from mode.rssRuns fresh processes.
  const rss: RssRow[] = [
    { key: 'rss-default', label: `RSS per suspended greenlet, ${RSS_GREENLETS.toLocaleString('en-US')}`, unit: 'KiB', stackSize: null, cells: {} },
    { key: 'rss-small-stack', label: `  same, stackSize ${SMALL_STACK}`, unit: 'KiB', stackSize: SMALL_STACK, cells: {} },
  ];
  for (let r = 0; r < mode.rssRuns; r++) {
    for (const { impl, stackSize } of rssPlan) {
      const row = rss.find((x) => x.stackSize === stackSize)!;
      const cell = (row.cells[impl.id] ??= { status: 'ok', runs: [] });
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
      const what = `${impl.label}${stackSize === null ? '' : ` stackSize ${stackSize}`}`;
      progress(`${head()} rss ${what} run ${r + 1}/${mode.rssRuns}: ${line} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
  for (const row of rss) {
    for (const cell of Object.values(row.cells)) {
      if (cell.status === 'ok') cell.kibPerGreenlet = median(cell.runs!.map((x) => x.kibPerGreenlet));
      else delete cell.runs;
    }
  }

  // The hub's sleepers: one-shot, each figure the median of mode.sleeperRuns processes.
  const hubSleepers = measureHubSleepers(sleepersPlan, mode.sleeperRuns, (impl) => command(impl, true), (line) => progress(`${head()} ${line}`));

  const labelOf = (id: string): string => impls.find((i) => i.id === id)?.label ?? id;
  for (const op of ops) {
    for (const impl of runs(op)) {
      const cell = cells[cellKey(op, impl)];
      if (cell.status !== 'ok') notes.push(`${op}, ${impl.label} (${cell.op}): ${cell.status}: ${cell.note}`);
    }
  }
  for (const row of rss) {
    for (const [id, cell] of Object.entries(row.cells)) {
      if (cell.status !== 'ok') notes.push(`${row.label.trim()}, ${labelOf(id)}: ${cell.status}: ${cell.note}`);
    }
  }
  for (const impl of impls.filter((i) => i.kind === 'looplet' && i.variant === 'default')) {
    const spawnThreads = cells[cellKey('spawn', impl)].threads ?? [];
    if (spawnThreads.length === 0) continue;
    const most = Math.max(...spawnThreads.map((t) => Math.max(t.afterWarmup, t.afterRun)));
    notes.push(
      `spawn, ${impl.label}: the runtime held at most ${most} OS thread(s) after warm-up and after the timed blocks (finished greenlets give their thread back to the pool)`,
    );
  }

  const results = { timed, rss, implementations: impls, referenceNode, nodes };
  const hubFigures = { hub, hubSleepers, defaults: defaultsOf(results), implementations: impls };
  notes.push(...hubNotes(hubFigures));
  return {
    benchmark: 'looplet bench greenlet',
    command: opts.command,
    mode: opts.quick ? 'quick' : 'full',
    machine,
    nodes,
    referenceNode,
    implementations: impls,
    peers,
    settings: {
      ...mode,
      blocksPerRound: perRound,
      rssGreenlets: RSS_GREENLETS,
      smallStack: SMALL_STACK,
      hubSleepers: hubSleepers.count,
      hubSleepMs: hubSleepers.sleepMs,
      pinnedCpu: typeof cpu === 'number' ? cpu : null,
      backgroundLoad: opts.load ?? 0,
      ...threadLimits(),
    },
    notes,
    timed,
    rss,
    targets: computeGreenletTargets(results),
    hub,
    hubSleepers,
    hubTargets: computeHubTargets(hubFigures),
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

const ok = (c?: TimedCell): Summary | undefined => (c?.status === 'ok' ? c.summary : undefined);
const okKib = (c?: RssCell): number | undefined => (c?.status === 'ok' ? c.kibPerGreenlet : undefined);

/** What the targets and tables read from a result. */
type Figures = Pick<GreenletBenchResult, 'timed' | 'rss' | 'implementations' | 'referenceNode' | 'nodes'>;

/** The id of looplet's column for a variant on a Node (default: the reference Node); '' when it did not run. */
const idOf = (r: Figures, variant: Variant, node = r.referenceNode): string => loopletOf(r.implementations, variant, node)?.id ?? '';
/** looplet's default columns, one per Node, reference first. */
function defaultsOf(r: Figures): Implementation[] {
  const all = r.implementations.filter((i) => i.kind === 'looplet' && i.variant === 'default');
  return [...all.filter((i) => i.kind === 'looplet' && i.node === r.referenceNode), ...all.filter((i) => i.kind === 'looplet' && i.node !== r.referenceNode)];
}

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

function variantsNote(r: Figures, cells: TimedRow['cells']): string {
  const cpu = cpuOf(cells[idOf(r, 'default')]);
  const spin = ok(cells[idOf(r, 'spin')]);
  const pinned = ok(cells[idOf(r, '1cpu')]);
  const parts = [
    ...(cpu !== undefined ? [`CPU time ${fmt(cpu)} us per switch (all threads)`] : []),
    ...(spin ? [`spinning ${fmt(spin.median)} us`] : []),
    ...(pinned ? [`pinned to one CPU ${fmt(pinned.median)} us`] : []),
  ];
  return parts.length > 0 ? `; ${parts.join('; ')}` : '';
}

/** "; other Nodes: 24.22.3 2.1 us, 26.1.0 2.0 us" for the default looplet columns besides the reference. */
function otherNodes(r: Figures, value: (id: string) => number | undefined, unit: string): string {
  const others = defaultsOf(r).slice(1);
  if (others.length === 0) return '';
  const text = others.map((i) => `${i.label.replace(/^looplet \((.*)\)$/, '$1')} ${fmt(value(i.id))}${value(i.id) === undefined ? '' : ` ${unit}`}`);
  return `; ${text.join(', ')}`;
}

/** The project's targets, from the reference Node's default looplet figures. */
export function computeGreenletTargets(r: Figures): Target[] {
  const targets: Target[] = [];
  const row = (key: TimedRow['key']): TimedRow => r.timed.find((x) => x.key === key)!;
  const cmp = (s: string): string => (s ? `; looplet = ${s}` : '');
  const lp = idOf(r, 'default');
  const who = `looplet (Node ${r.nodes[r.referenceNode].version.replace(/^v/, '')})`;

  const sw = row('switch').cells;
  const swLp = ok(sw[lp]);
  targets.push({
    name: `ping-pong switch median <= ${SWITCH_MAX_US} us`,
    pass: swLp ? swLp.median <= SWITCH_MAX_US : null,
    detail: swLp
      ? `${who} ${fmt(swLp.median)} us per switch (p99 ${fmt(swLp.p99)})${variantsNote(r, sw)}${otherNodes(r, (id) => ok(sw[id])?.median, 'us')}${cmp(
          versus(swLp.median, [['python-greenlet', ok(sw.greenlet)?.median]], 'us'),
        )}`
      : 'not measured',
  });

  const sp = row('spawn').cells;
  const spLp = ok(sp[lp]);
  targets.push({
    name: `spawn + run + finish <= ${SPAWN_MAX_US} us (pooled threads)`,
    pass: spLp ? spLp.median <= SPAWN_MAX_US : null,
    detail: spLp
      ? `${who} ${fmt(spLp.median)} us (p99 ${fmt(spLp.p99)})${variantsNote(r, sp).replace(/ per switch/, '')}${otherNodes(r, (id) => ok(sp[id])?.median, 'us')}${cmp(
          versus(spLp.median, [['python-greenlet', ok(sp.greenlet)?.median], ['gevent spawn+join', ok(sp.gevent)?.median]], 'us'),
        )}`
      : 'not measured',
  });

  const [def, small] = r.rss;
  const kib = okKib(def.cells[lp]);
  const smallKib = okKib(small.cells[lp]);
  targets.push({
    name: `RSS per suspended greenlet at ${RSS_GREENLETS.toLocaleString('en-US')} <= ${RSS_MAX_KIB} KiB (default stack size)`,
    pass: kib !== undefined ? kib <= RSS_MAX_KIB : null,
    detail:
      kib !== undefined
        ? `${who} ${fmt(kib)} KiB${smallKib !== undefined ? ` (${fmt(smallKib)} KiB with stackSize ${SMALL_STACK})` : ''}${otherNodes(
            r,
            (id) => okKib(def.cells[id]),
            'KiB',
          )}${cmp(versus(kib, [['python-greenlet', okKib(def.cells.greenlet)]], 'KiB'))}`
        : 'not measured',
  });
  targets.push(...hotPathTargets(r));
  return targets;
}

/** Issue 12's targets (hot paths), from the reference Node's default looplet figures and the peers of the same run. */
function hotPathTargets(r: Figures): Target[] {
  const row = (key: TimedRow['key']): TimedRow['cells'] => r.timed.find((x) => x.key === key)!.cells;
  const lp = idOf(r, 'default');
  const who = `looplet (Node ${r.nodes[r.referenceNode].version.replace(/^v/, '')})`;
  const check = (name: string, value: number | undefined, limit: number | undefined, detail: (v: number, l: number) => string): Target =>
    value === undefined || limit === undefined || !Number.isFinite(limit) ? { name, pass: null, detail: 'not measured' } : { name, pass: value <= limit, detail: detail(value, limit) };
  const sw = row('switch');
  const swLp = ok(sw[lp])?.median;
  const swCpu = cpuOf(sw[lp]);
  const pyGreenlet = ok(sw.greenlet)?.median;
  const rt = row('roundtrip');
  const rtLp = ok(rt[lp])?.median;
  const ringLp = ok(row('ring')[lp])?.median;
  const sp = row('spawn');
  const spLp = ok(sp[lp])?.median;
  return [
    check(`issue 12: ping-pong switch median <= ${HOT.switchUs} us`, swLp, HOT.switchUs, (v) => `${who} ${fmt(v)} us${variantsNote(r, sw)}`),
    check(`issue 12: ping-pong CPU time per switch <= ${HOT.cpuOverWall}x the wall time`, swCpu !== undefined && swLp !== undefined ? swCpu / swLp : undefined, HOT.cpuOverWall, (v) => `${who} ${fmt(swCpu)} us of CPU / ${fmt(swLp)} us = ${fmt(v)}x`),
    check(`issue 12: ping-pong <= ${HOT.overGreenlet}x python-greenlet`, swLp !== undefined && pyGreenlet !== undefined ? swLp / pyGreenlet : undefined, HOT.overGreenlet, (v) => `${who} ${fmt(swLp)} us / ${fmt(pyGreenlet)} us = ${fmt(v)}x`),
    check("issue 12: round trip (2 switches) <= gevent's sleep(0)", rtLp, ok(rt.gevent)?.median, (v, l) => `${who} ${fmt(v)} us, gevent ${fmt(l)} us: ${fmt(v / l)}x`),
    check(`issue 12: hub pattern (switch among ${RING_SIZE} via main) <= ${HOT.ringUs} us`, ringLp, HOT.ringUs, (v) => `${who} ${fmt(v)} us per switch${variantsNote(r, row('ring'))}`),
    check(`issue 12: spawn + run + finish <= ${HOT.spawnOverGreenlet}x python-greenlet`, spLp !== undefined && ok(sp.greenlet) ? spLp / ok(sp.greenlet)!.median : undefined, HOT.spawnOverGreenlet, (v) => `${who} ${fmt(spLp)} us, python-greenlet ${fmt(ok(sp.greenlet)?.median)} us: ${fmt(v)}x`),
    check(`issue 12: spawn + run + finish <= ${HOT.spawnOverGevent}x gevent spawn + join`, spLp !== undefined && ok(sp.gevent) ? spLp / ok(sp.gevent)!.median : undefined, HOT.spawnOverGevent, (v) => `${who} ${fmt(spLp)} us, gevent ${fmt(ok(sp.gevent)?.median)} us: ${fmt(v)}x`),
  ];
}

const ratio = (a?: number, b?: number): string => (a !== undefined && b !== undefined ? `${fmt(a / b)}x` : '-');

/** Operations down, implementations across: looplet's default per Node, then each peer with its ratio. */
export function greenletTable(result: GreenletBenchResult): string {
  const defaults = defaultsOf(result);
  const lpId = idOf(result, 'default');
  const peers = result.implementations.filter((i) => i.kind !== 'looplet' && result.timed.some((r) => r.cells[i.id] !== undefined));
  const header = ['operation', 'unit'];
  for (const d of defaults) header.push(d.label, 'p99');
  for (const p of peers) header.push(p.id, 'p99', 'ratio');
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
    const lp = ok(row.cells[lpId])?.median;
    const line = [row.label, row.unit];
    for (const d of defaults) line.push(...cellText(row.cells[d.id]));
    for (const p of peers) line.push(...cellText(row.cells[p.id]), ratio(lp, ok(row.cells[p.id])?.median));
    body.push([...line, ...verdict(row.key)]);
  }
  for (const row of result.rss) {
    const lp = okKib(row.cells[lpId]);
    const text = (c?: RssCell): string => (c === undefined ? '-' : c.status !== 'ok' ? c.status : fmt(c.kibPerGreenlet));
    const line = [row.label, row.unit];
    for (const d of defaults) line.push(text(row.cells[d.id]), '');
    for (const p of peers) {
      const c = p.kind === 'greenlet' && row.key === 'rss-default' ? row.cells[p.id] : undefined;
      line.push(text(c), '', ratio(lp, okKib(c)));
    }
    body.push([...line, ...verdict(row.key)]);
  }
  return table(header, body, 2);
}

/**
 * looplet's defaults against spinning off and against one CPU, with CPU time
 * and greenlet switches per operation, per Node, for `rows` (default: the
 * greenlet rows); null when only the defaults ran.
 */
export function variantsTable(result: GreenletBenchResult, rows: Array<{ label: string; unit: string; cells: Record<string, TimedCell> }> = result.timed.filter((r) => r.key !== 'roundtrip')): string | null {
  const shown = VARIANTS.filter((v) => result.implementations.some((i) => i.kind === 'looplet' && i.variant === v));
  if (rows.length === 0 || shown.length < 2) return null;
  const nodes = defaultsOf(result).map((d) => (d.kind === 'looplet' ? d.node : result.referenceNode));
  const many = nodes.length > 1;
  const header = ['operation', ...(many ? ['Node'] : []), 'unit'];
  for (const v of shown) header.push(v === 'default' ? 'default' : v === 'spin' ? 'spin' : '1 CPU', 'p99', 'CPU');
  header.push('spun', 'sw/op');
  const body = rows.flatMap((row) =>
    nodes.map((node) => {
      const line = [row.label.replace(/ \(.*\)$/, ''), ...(many ? [result.nodes[node].version] : []), row.unit];
      for (const v of shown) {
        const c = row.cells[idOf(result, v, node)];
        line.push(c === undefined ? '-' : c.status !== 'ok' ? c.status : fmt(c.summary?.median), fmt(ok(c)?.p99), fmt(cpuOf(c)));
      }
      line.push(spunShare(row.cells[idOf(result, 'spin', node)]), fmt(switchesOf(row.cells[idOf(result, 'default', node)])));
      return line;
    }),
  );
  return table(header, body, many ? 3 : 2);
}

function variantsPreamble(result: GreenletBenchResult): string[] {
  const cpu = (result.settings as { pinnedCpu?: number | null }).pinnedCpu;
  return [
    'looplet variants, measured in the same rounds (diagnostic, not targets). default: a thread that hands',
    'control away yields its CPU to the woken one, then sleeps in the kernel; spin: setSwitchSpin(' + SPIN_VARIANT_US + '), a',
    `waiting thread spins while the target runs on another CPU; 1 CPU: taskset -c ${cpu ?? '?'}.`,
    'CPU: CPU time of all threads (GC helpers included) over the timed blocks / operations, a mean;',
    'a spinning wait burns CPU on a second CPU while the other thread runs.',
    "spun: share of the spin variant's waits that ended while spinning. sw/op: greenlet switches per operation",
    "(runtimeStats().switches, the default's timed blocks; a thread hand-off each).",
  ];
}

function hubFiguresOf(result: GreenletBenchResult): Parameters<typeof hubTable>[0] {
  return { hub: result.hub, hubSleepers: result.hubSleepers, defaults: defaultsOf(result), implementations: result.implementations };
}

export function greenletTextReport(result: GreenletBenchResult): string {
  const p = result.peers;
  const versions = [p.greenlet && `python-greenlet ${p.greenlet}`, p.gevent && `gevent ${p.gevent}`].filter(Boolean).join(', ');
  const s = result.settings as unknown as Mode & { blocksPerRound: number };
  const root = packageRoot();
  const nodeLine = (n: NodeRuntime): string =>
    `Node ${n.version} (ABI ${n.abi}): ${n.path}, greenlet binary ${n.greenletBinary === null ? '?' : path.relative(root, n.greenletBinary) || n.greenletBinary}`;
  const parts = [
    `looplet bench greenlet (${result.mode}) - ${machineLine(result.machine)} - ${result.machine.date}`,
    ...result.nodes.map((n, i) => `looplet under ${nodeLine(n)}${result.nodes.length > 1 && i === result.referenceNode ? ' (reference)' : ''}`),
    ...(versions ? [`peers: ${versions} (${p.python})`] : []),
    '',
    'Median and p99 of per-block means (blocks of K operations, K calibrated so that a block lasts',
    `~${s.blockUs} us; ${s.blocks} blocks per figure in ${s.rounds} fresh process(es), the implementations taking turns).`,
    'RSS: VmRSS after minus before creating the greenlets, each suspended by one switch, divided by',
    `their number; median of ${s.rssRuns} process(es). ratio = ${defaultsOf(result)[0]?.label ?? 'looplet'} / the peer to its left.`,
    '',
    greenletTable(result),
  ];
  const variants = variantsTable(result);
  if (variants) parts.push('', ...variantsPreamble(result), '', variants);
  const hub = hubFiguresOf(result);
  parts.push('', 'The hub', ...hubPreamble(hub), '', hubTable(hub, result.hubTargets));
  const hubVariants = variantsTable(result, result.hub);
  if (hubVariants) parts.push('', 'The hub, looplet variants (diagnostic, as above)', '', hubVariants);
  if (result.notes.length > 0) parts.push('', 'Notes', ...result.notes.map((n) => `  - ${n}`));
  parts.push('', 'Targets (computed from this run)', targetLines(result.targets));
  parts.push('', "Hub targets (computed from this run: looplet's hub against gevent)", targetLines(result.hubTargets));
  return parts.join('\n') + '\n';
}

/** looplet's default per Node; the first keeps the single-Node colour. */
const NODE_COLORS = ['#1f6fb4', '#7b3fb0', '#0f8b8d', '#c2185b', '#6d4c41', '#546e7a'];
const COLORS: Record<Exclude<Variant, 'default'> | Peer, string> = {
  spin: '#5a9bd5',
  '1cpu': '#8dbde6',
  greenlet: '#e0700a',
  gevent: '#2a9d3a',
};

/** The bar series of a chart over `rows`: looplet's default per Node, the peers measured, and with a single Node the diagnostic variants. */
function chartSeries(result: GreenletBenchResult, rows: Array<{ cells: Record<string, TimedCell> }>) {
  const many = result.nodes.length > 1;
  const measured = (i: Implementation): boolean => rows.some((r) => ok(r.cells[i.id]));
  const shown = result.implementations.filter((i) =>
    i.kind === 'looplet' ? i.variant === 'default' || (!many && measured(i)) : measured(i),
  );
  const series = shown.map((i) => {
    if (i.kind !== 'looplet') return { label: i.label, color: COLORS[i.kind] };
    if (i.variant === 'spin') return { label: `looplet, spin ${SPIN_VARIANT_US} us (diagnostic)`, color: COLORS.spin, ink: '#10314f' };
    if (i.variant === '1cpu') return { label: 'looplet, 1 CPU (diagnostic)', color: COLORS['1cpu'], ink: '#10314f' };
    return { label: i.label, color: NODE_COLORS[i.node % NODE_COLORS.length] };
  });
  return { shown, series };
}

/**
 * Grouped bars: looplet's default per Node (a series each), the peers, and
 * with a single Node its diagnostic variants (with several, they are in the
 * text report and the JSON only); below it, the hub's chart against gevent.
 */
export function greenletChart(result: GreenletBenchResult): string {
  const many = result.nodes.length > 1;
  const { shown, series } = chartSeries(result, result.timed);
  const bars = (row: TimedRow, captions: Record<string, string> = {}): BarGroup['bars'] =>
    shown.flatMap((impl, si) => {
      const s = ok(row.cells[impl.id]);
      return s ? [{ series: si, value: s.median, p99: s.p99, caption: captions[impl.id] }] : [];
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
  const notes: string[] = ['bar: median; whisker: p99'];
  if (many && result.implementations.some((i) => i.kind === 'looplet' && i.variant !== 'default')) notes.push('diagnostic variants: see the JSON');
  notes.push('', `RSS per suspended greenlet (${RSS_GREENLETS.toLocaleString('en-US')}):`);
  const [def, small] = result.rss;
  const kib = (c?: RssCell): string => (okKib(c) === undefined ? 'n/a' : `${fmt(okKib(c))} KiB`);
  for (const d of defaultsOf(result)) {
    const who = many ? `Node ${d.label.replace(/^looplet \(Node (.*)\)$/, '$1')}` : 'looplet';
    notes.push(`  ${who}, default stack: ${kib(def.cells[d.id])}`);
    notes.push(`  ${who}, 128 KiB stack: ${kib(small.cells[d.id])}`);
  }
  if (def.cells.greenlet) notes.push(`  python-greenlet: ${kib(def.cells.greenlet)}`);
  notes.push(`  target ≤ ${RSS_MAX_KIB} KiB`, '', many ? `Targets (Node ${result.nodes[result.referenceNode].version.replace(/^v/, '')}):` : 'Targets (this run):');
  const short = [`switch median ≤ ${SWITCH_MAX_US} µs`, `spawn + finish ≤ ${SPAWN_MAX_US} µs`, `RSS per greenlet ≤ ${RSS_MAX_KIB} KiB`];
  result.targets.forEach((t, i) => notes.push(`  ${t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'FAIL'}  ${short[i] ?? t.name}`));
  const m = result.machine;
  const nodes = result.nodes.map((n) => n.version.replace(/^v/, '')).join(', ');
  const subtitle = `${m.cpu}, ${m.cpus} CPUs, ${m.os}, Node ${nodes}${m.python ? `, Python ${m.python}` : ''}, ${m.date.slice(0, 10)}`;
  const greenlets = logBarChart({
    title: 'looplet Greenlet vs python-greenlet vs gevent',
    subtitle,
    yLabel: 'µs per operation (log scale)',
    series,
    groups,
    notes,
  });
  const hub = chartSeries(result, result.hub);
  const hubTitle = { title: "looplet's hub vs gevent", subtitle };
  return stackCharts([greenlets, hubChart(hubFiguresOf(result), hub.shown, hub.series, result.hubTargets, hubTitle)]);
}

/** Runs the benchmark, prints the report, writes the files; returns the result. */
export function greenletBenchCommand(opts: GreenletBenchOptions): GreenletBenchResult {
  const result = runGreenletBench(opts);
  process.stdout.write(greenletTextReport(result));
  const files = writeResults(opts.out, 'greenlet', result, greenletChart(result));
  process.stdout.write(`\nResults (${result.durationSeconds} s): ${files.join(', ')}\n`);
  return result;
}
