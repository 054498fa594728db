// The hub's rows of `looplet bench greenlet` (issue 9): looplet's hub
// (looplet/hub) against gevent in the same run. sleep(0), spawn + join,
// Event set/wait across 1000 waiters and Queue(1) put/get are timed in
// blocks, in greenlet.ts's rounds with the other operations; 10,000
// concurrent sleepers is a one-shot trial planned here. This file also
// computes the hub's targets and draws its table and chart. python-greenlet
// has no hub: its column is '-'.
import type { Implementation, TimedCell } from './greenlet';
import { runProcess } from './process';
import {
  HUB_EVENT_WAITERS,
  HUB_QUEUE_SIZE,
  type GreenletTimedTrial,
  type HubSleepersOutcome,
  type HubSleepersRound,
  type HubSleepersSamples,
  type HubTimedKind,
} from './protocol';
import { table, type Status, type Target } from './report';
import { fmt, median, type Summary } from './stats';
import { logBarChart, type BarChartOptions, type BarGroup } from './svg';

/** The issue's targets: looplet's hub within 1.5x of gevent's figure in the same run, spawn + join at or below gevent's. */
export const HUB_MAX_OVER_GEVENT = 1.5;
export const HUB_SPAWN_MAX_OVER_GEVENT = 1;
/** The sleepers trial: this many jobs, each sleeping this long once, in this many rounds per process. */
export const HUB_SLEEPERS = 10_000;
export const HUB_SLEEP_MS = 10;
export const HUB_SLEEPER_ROUNDS = 2;

/**
 * An iteration of the Event trial lasts milliseconds (1000 wake-ups), so a
 * block calibrated to the usual length would hold one: its blocks aim at
 * this many µs instead (several iterations each, which also averages out
 * iteration-to-iteration jitter of the event loops), and there are
 * HUB_EVENT_BLOCK_SHARE times fewer of them.
 */
export const HUB_EVENT_BLOCK_US = 20_000;
export const HUB_EVENT_BLOCK_SHARE = 10;

export type HubOp = HubTimedKind;

/** The blocks and their length for a hub operation, from the mode's. */
export function hubBlocks(op: HubOp, blocks: number, blockUs: number): { blocks: number; blockUs: number } {
  if (op !== 'hub-event') return { blocks, blockUs };
  return { blocks: Math.max(1, Math.ceil(blocks / HUB_EVENT_BLOCK_SHARE)), blockUs: Math.max(blockUs, HUB_EVENT_BLOCK_US) };
}
export const HUB_OPS: HubOp[] = ['hub-sleep', 'hub-spawn', 'hub-event', 'hub-queue'];

/** The trial kind each kind of implementation runs for a hub operation (none: not measured). */
export const HUB_KINDS: Record<HubOp, Partial<Record<Implementation['kind'], GreenletTimedTrial['kind']>>> = {
  'hub-sleep': { looplet: 'hub-sleep', gevent: 'gevent-sleep' },
  'hub-spawn': { looplet: 'hub-spawn', gevent: 'gevent-spawn' },
  'hub-event': { looplet: 'hub-event', gevent: 'hub-event' },
  'hub-queue': { looplet: 'hub-queue', gevent: 'hub-queue' },
};

/** What looplet's side of each hub trial runs (the gevent kinds are described in greenlet.ts). */
export const HUB_OP_TEXT: Record<HubOp, string> = {
  'hub-sleep': 'sleep(0) inside a driver job',
  'hub-spawn': 'spawn(f).join() inside a driver job',
  'hub-event': `event.set(); event.clear() wakes ${HUB_EVENT_WAITERS} jobs looping on event.wait(); the last sets a second Event the driver waits on`,
  'hub-queue': `a producer job puts into a Queue(${HUB_QUEUE_SIZE}) without end; the driver job gets`,
};
export const GEVENT_HUB_OP_TEXT: Record<'hub-event' | 'hub-queue', string> = {
  'hub-event': `the same with gevent.event.Event and ${HUB_EVENT_WAITERS} gevent.spawn'ed waiters; the driver is the main greenlet`,
  'hub-queue': `the same with gevent.queue.Queue(${HUB_QUEUE_SIZE}); the consumer is the main greenlet`,
};

const ROWS: Record<HubOp, { label: string; unit: string; limit: number; chart: string; sub: string }> = {
  'hub-sleep': { label: 'hub sleep(0) round trip', unit: 'us', limit: HUB_MAX_OVER_GEVENT, chart: 'sleep(0)', sub: 'µs per sleep(0)' },
  'hub-spawn': { label: 'hub spawn + join', unit: 'us', limit: HUB_SPAWN_MAX_OVER_GEVENT, chart: 'spawn + join', sub: 'µs per spawn(f).join()' },
  'hub-event': {
    label: `Event set/wait, ${HUB_EVENT_WAITERS} waiters`,
    unit: 'us/waiter',
    limit: HUB_MAX_OVER_GEVENT,
    chart: `Event, ${HUB_EVENT_WAITERS} waiters`,
    sub: 'µs per woken waiter',
  },
  'hub-queue': {
    label: `Queue(${HUB_QUEUE_SIZE}) put/get, 2 greenlets`,
    unit: 'us/item',
    limit: HUB_MAX_OVER_GEVENT,
    chart: `Queue(${HUB_QUEUE_SIZE}) put/get`,
    sub: 'µs per item',
  },
};

/** One timed hub operation: looplet's columns (every variant, per Node) and gevent's. */
export interface HubRow {
  key: HubOp;
  label: string;
  unit: string;
  /** The target: looplet's median at most this many times gevent's. */
  maxOverGevent: number;
  /** By Implementation id. */
  cells: Record<string, TimedCell>;
}

export function hubRow(key: HubOp, cells: Record<string, TimedCell>): HubRow {
  const { label, unit, limit } = ROWS[key];
  return { key, label, unit, maxOverGevent: limit, cells };
}

/** A round's figures: wall time, VmRSS growth per sleeper at the last start and at the round's peak (null: no VmHWM here). */
export interface SleeperFigures {
  wallMs: number;
  kibPerSleeper: number;
  peakKibPerSleeper: number | null;
}

/** One implementation's sleepers figures. */
export interface HubSleepersCell {
  status: Status;
  /** Per round (first: new threads for looplet; second: pooled), the medians over the processes. */
  rounds?: SleeperFigures[];
  /** Every process's outcome. */
  runs?: Array<Omit<HubSleepersSamples, 'ok'>>;
  note?: string;
}

export interface HubSleepers {
  count: number;
  sleepMs: number;
  /** Rounds per process. */
  rounds: number;
  /** Processes per implementation. */
  processes: number;
  /** By Implementation id: looplet's default per Node, and gevent. */
  cells: Record<string, HubSleepersCell>;
}

/**
 * Runs the sleepers trial in `processes` fresh processes per
 * implementation, the implementations taking turns (rotating who goes
 * first); each figure is the median over the processes.
 */
export function measureHubSleepers(
  impls: Implementation[],
  processes: number,
  command: (impl: Implementation) => [string, string[]],
  report: (line: string) => void,
): HubSleepers {
  const result: HubSleepers = { count: HUB_SLEEPERS, sleepMs: HUB_SLEEP_MS, rounds: HUB_SLEEPER_ROUNDS, processes, cells: {} };
  for (const impl of impls) result.cells[impl.id] = { status: 'ok', runs: [] };
  for (let r = 0; r < processes; r++) {
    for (let j = 0; j < impls.length; j++) {
      const impl = impls[(r + j) % impls.length];
      const cell = result.cells[impl.id];
      if (cell.status !== 'ok') continue;
      const t0 = Date.now();
      let line: string;
      try {
        const out = runProcess<HubSleepersOutcome>(...command(impl), { kind: 'hub-sleepers', count: HUB_SLEEPERS, sleepMs: HUB_SLEEP_MS, rounds: HUB_SLEEPER_ROUNDS });
        if (!out.ok) {
          Object.assign(cell, { status: 'n/a', note: out.reason });
          line = `n/a: ${out.reason}`;
        } else {
          const { ok: _, ...rest } = out;
          cell.runs!.push(rest);
          line = out.rounds.map((x, i) => `round ${i + 1}: ${fmt(x.wallMs)} ms, ${fmt(x.kibPerSleeper)} KiB per sleeper${x.asleep < out.count ? ` (${x.asleep} asleep at the reading)` : ''}`).join('; ');
        }
      } catch (err) {
        Object.assign(cell, { status: 'error', note: (err as Error).message });
        line = `error: ${(err as Error).message}`;
      }
      report(`sleepers ${impl.label} run ${r + 1}/${processes}: ${line} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
  for (const cell of Object.values(result.cells)) {
    if (cell.status !== 'ok') {
      delete cell.runs;
      continue;
    }
    const runs = cell.runs!;
    cell.rounds = Array.from({ length: HUB_SLEEPER_ROUNDS }, (_, i) => {
      const peaks = runs.map((x) => x.rounds[i].peakKibPerSleeper).filter((v): v is number => v !== null);
      return {
        wallMs: median(runs.map((x) => x.rounds[i].wallMs)),
        kibPerSleeper: median(runs.map((x) => x.rounds[i].kibPerSleeper)),
        peakKibPerSleeper: peaks.length > 0 ? median(peaks) : null,
      };
    });
  }
  return result;
}

/** What the hub's targets, table and chart read. */
export interface HubFigures {
  hub: HubRow[];
  hubSleepers: HubSleepers;
  /** looplet's default columns, one per Node, the reference Node first. */
  defaults: Implementation[];
  implementations: Implementation[];
}

const ok = (c?: TimedCell): Summary | undefined => (c?.status === 'ok' ? c.summary : undefined);
const roundOf = (c: HubSleepersCell | undefined, i: number): SleeperFigures | undefined => (c?.status === 'ok' ? c.rounds?.[i] : undefined);
/** One figure of a round; undefined when not measured. */
const figureOf = (c: HubSleepersCell | undefined, i: number, value: keyof SleeperFigures): number | undefined => roundOf(c, i)?.[value] ?? undefined;
/** Median switches per operation over the rounds (looplet only). */
export const switchesOf = (c?: TimedCell): number | undefined => (c?.status === 'ok' && c.switches && c.switches.length > 0 ? median(c.switches) : undefined);
const nodeOf = (i: Implementation): string => i.label.replace(/^looplet \((.*)\)$/, '$1');

/** The sleepers figures that have targets: wall time per round, and RSS per sleeper in the first round. */
const SLEEPER_FIGURES: Array<{ name: string; round: number; value: keyof SleeperFigures; unit: string }> = [
  { name: 'wall time, round 1 (new threads)', round: 0, value: 'wallMs', unit: 'ms' },
  { name: 'wall time, round 2 (pooled threads)', round: 1, value: 'wallMs', unit: 'ms' },
  { name: 'VmRSS growth per sleeper, round 1', round: 0, value: 'kibPerSleeper', unit: 'KiB' },
];

/**
 * The issue's targets, from the reference Node's default looplet figures
 * against gevent's in the same run: null (n/a) where either is missing.
 */
export function computeHubTargets(r: HubFigures): Target[] {
  const [lp, ...others] = r.defaults;
  const who = lp ? lp.label : 'looplet';
  const targets: Target[] = [];
  const limitText = (limit: number): string => (limit === 1 ? "<= gevent's" : `<= ${limit}x gevent's`);
  for (const row of r.hub) {
    const mine = lp ? ok(row.cells[lp.id]) : undefined;
    const theirs = ok(row.cells.gevent);
    const sw = lp ? switchesOf(row.cells[lp.id]) : undefined;
    const more = others.map((o) => `${nodeOf(o)} ${fmt(ok(row.cells[o.id])?.median)} us`).join(', ');
    targets.push({
      name: `${row.label}: median ${limitText(row.maxOverGevent)}`,
      pass: mine && theirs ? mine.median <= row.maxOverGevent * theirs.median : null,
      detail: !mine
        ? 'looplet not measured'
        : `${who} ${fmt(mine.median)} us (p99 ${fmt(mine.p99)}${sw !== undefined ? `, ${fmt(sw)} switches per op` : ''})${more ? `; other Nodes: ${more}` : ''}; ${
            theirs ? `gevent ${fmt(theirs.median)} us (p99 ${fmt(theirs.p99)}): ${fmt(mine.median / theirs.median)}x` : 'gevent not measured'
          }`,
    });
  }
  const s = r.hubSleepers;
  for (const f of SLEEPER_FIGURES) {
    const mine = lp ? figureOf(s.cells[lp.id], f.round, f.value) : undefined;
    const theirs = figureOf(s.cells.gevent, f.round, f.value);
    const more = others.map((o) => `${nodeOf(o)} ${fmt(figureOf(s.cells[o.id], f.round, f.value))} ${f.unit}`).join(', ');
    targets.push({
      name: `${s.count.toLocaleString('en-US')} concurrent sleepers, ${f.name}: ${limitText(HUB_MAX_OVER_GEVENT)}`,
      pass: mine !== undefined && theirs !== undefined ? mine <= HUB_MAX_OVER_GEVENT * Math.max(theirs, 0) : null,
      detail:
        mine === undefined
          ? 'looplet not measured'
          : `${who} ${fmt(mine)} ${f.unit}${more ? `; other Nodes: ${more}` : ''}; ${
              theirs !== undefined ? `gevent ${fmt(theirs)} ${f.unit}: ${fmt(mine / theirs)}x` : 'gevent not measured'
            } (median of ${s.processes} process(es))`,
    });
  }
  return targets;
}

const verdict = (t?: Target): string => (t === undefined || t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'FAIL');

/**
 * Operations down; looplet's default per Node, python-greenlet ('-': no
 * hub) and gevent across, with looplet / gevent, the target and its verdict.
 */
export function hubTable(r: HubFigures, targets: Target[]): string {
  const lp = r.defaults[0];
  const peers = r.implementations.filter((i) => i.kind !== 'looplet');
  const header = ['operation', 'unit'];
  for (const d of r.defaults) header.push(d.label, 'p99');
  for (const p of peers) header.push(p.id, ...(p.kind === 'gevent' ? ['p99', 'ratio'] : []));
  header.push('target', '');
  const body: string[][] = [];
  r.hub.forEach((row, i) => {
    const cell = (c?: TimedCell): string[] => (c === undefined ? ['-', '-'] : c.status !== 'ok' ? [c.status, ''] : [fmt(c.summary?.median), fmt(c.summary?.p99)]);
    const line = [row.label, row.unit];
    for (const d of r.defaults) line.push(...cell(row.cells[d.id]));
    for (const p of peers) {
      if (p.kind !== 'gevent') line.push('-');
      else line.push(...cell(row.cells.gevent), ratioText(lp && ok(row.cells[lp.id])?.median, ok(row.cells.gevent)?.median));
    }
    body.push([...line, row.maxOverGevent === 1 ? '<= gevent' : `<= ${row.maxOverGevent}x gevent`, verdict(targets[i])]);
  });
  const s = r.hubSleepers;
  const figures: Array<{ label: string; unit: string; round: number; value: keyof SleeperFigures; target?: number }> = [
    { label: `${s.count.toLocaleString('en-US')} sleepers, round 1 (new threads)`, unit: 'ms', round: 0, value: 'wallMs', target: 0 },
    { label: '  VmRSS growth per sleeper, all asleep', unit: 'KiB', round: 0, value: 'kibPerSleeper', target: 2 },
    { label: '  same, at the peak (VmHWM)', unit: 'KiB', round: 0, value: 'peakKibPerSleeper' },
    { label: '  round 2 (pooled threads)', unit: 'ms', round: 1, value: 'wallMs', target: 1 },
    { label: '  VmRSS growth per sleeper, all asleep', unit: 'KiB', round: 1, value: 'kibPerSleeper' },
    { label: '  same, at the peak (VmHWM)', unit: 'KiB', round: 1, value: 'peakKibPerSleeper' },
  ];
  for (const f of figures) {
    const line = [f.label, f.unit];
    const text = (id: string): string => {
      const c = s.cells[id];
      if (c === undefined) return '-';
      return c.status !== 'ok' ? c.status : fmt(figureOf(c, f.round, f.value));
    };
    for (const d of r.defaults) line.push(text(d.id), '');
    for (const p of peers) {
      if (p.kind !== 'gevent') line.push('-');
      else line.push(text('gevent'), '', ratioText(lp && figureOf(s.cells[lp.id], f.round, f.value), figureOf(s.cells.gevent, f.round, f.value)));
    }
    const t = f.target === undefined ? undefined : targets[r.hub.length + f.target];
    line.push(t ? `<= ${HUB_MAX_OVER_GEVENT}x gevent` : '', t ? verdict(t) : '');
    body.push(line);
  }
  return table(header, body, 2);
}

const ratioText = (a?: number, b?: number): string => (a !== undefined && b !== undefined && b > 0 ? `${fmt(a / b)}x` : '-');

/** The lines above the hub's table: what each row runs, and how. */
export function hubPreamble(r: HubFigures): string[] {
  const s = r.hubSleepers;
  return [
    "looplet's hub against gevent (python-greenlet has no hub: '-'). looplet's side runs inside one driver job",
    "(its main greenlet is the hub and cannot block); gevent's driver is its main greenlet, which can block.",
    `sleep(0) and spawn + join: gevent's columns are its sleep(0) and spawn(f).join() trials (measured again here).`,
    `Event: ns per woken waiter of set(); clear() with ${HUB_EVENT_WAITERS} waiters, the driver waiting until all have woken.`,
    `Queue: a producer greenlet puts into a Queue(${HUB_QUEUE_SIZE}), the driver gets; ns per item.`,
    `Sleepers: ${s.count.toLocaleString('en-US')} jobs spawned at once, each sleeping ${s.sleepMs} ms once, then joinall; wall time from the first`,
    `spawn to joinall's return, and VmRSS growth per sleeper read by the last sleeper to start (all asleep, unless the`,
    `first woke before the last started: see the notes) and at the round's peak (VmHWM, reset before the round);`,
    `two rounds per process (looplet: the first starts an OS thread per greenlet, the second reuses them from the`,
    `pool); median of ${s.processes} process(es).`,
  ];
}

/** Sleepers that were not all asleep at the RSS reading (gevent may start them slower than their sleep). */
export function hubNotes(r: HubFigures): string[] {
  const notes: string[] = [];
  for (const [id, cell] of Object.entries(r.hubSleepers.cells)) {
    const label = r.implementations.find((i) => i.id === id)?.label ?? id;
    if (cell.status !== 'ok') {
      notes.push(`sleepers, ${label}: ${cell.status}: ${cell.note}`);
      continue;
    }
    const short = cell.runs!.flatMap((run) => run.rounds.map((x) => x.asleep)).filter((n) => n < r.hubSleepers.count);
    if (short.length > 0) {
      notes.push(
        `sleepers, ${label}: at the VmRSS reading (by the last sleeper to start) only ${Math.min(...short)}-${Math.max(...short)} of ${r.hubSleepers.count.toLocaleString('en-US')} were still asleep in ${short.length} round(s): starting them took longer than their ${r.hubSleepers.sleepMs} ms sleep`,
      );
    }
    const threads = cell.runs!.map((run) => run.rounds.map((x: HubSleepersRound) => x.newThreads));
    if (threads.some((t) => t.some((n) => n !== undefined))) {
      notes.push(`sleepers, ${label}: OS threads started per round: ${threads.map((t) => t.join(' then ')).join('; ')} (per process)`);
    }
  }
  return notes;
}

/** Bars for the timed hub rows: `shown` are the series' implementations, in order; the target line is gevent's figure times the limit. */
export function hubChart(
  r: HubFigures,
  shown: Implementation[],
  series: BarChartOptions['series'],
  targets: Target[],
  header: { title: string; subtitle: string },
): string {
  const groups: BarGroup[] = r.hub.map((row) => {
    const gevent = ok(row.cells.gevent);
    return {
      label: ROWS[row.key].chart,
      sublabel: ROWS[row.key].sub,
      bars: shown.flatMap((impl, si) => {
        const s = ok(row.cells[impl.id]);
        return s ? [{ series: si, value: s.median, p99: s.p99 }] : [];
      }),
      ...(gevent ? { target: { value: row.maxOverGevent * gevent.median, label: row.maxOverGevent === 1 ? '≤ gevent' : `≤ ${row.maxOverGevent}× gevent` } } : {}),
    };
  });
  const s = r.hubSleepers;
  const notes = ['bar: median; whisker: p99', 'dashed: the target, from gevent', '', `${s.count.toLocaleString('en-US')} sleepers (${s.sleepMs} ms each):`];
  const who = [...r.defaults, ...r.implementations.filter((i) => i.kind === 'gevent')];
  for (const impl of who) {
    const c = s.cells[impl.id];
    const name = impl.kind === 'looplet' ? (r.defaults.length > 1 ? `Node ${nodeOf(impl).replace(/^Node /, '')}` : 'looplet') : 'gevent';
    if (c?.status !== 'ok') {
      notes.push(`  ${name}: ${c?.status ?? 'n/a'}`);
      continue;
    }
    c.rounds!.forEach((x, i) => notes.push(`  ${name} round ${i + 1}: ${fmt(x.wallMs)} ms, ${fmt(x.kibPerSleeper)} KiB`));
  }
  notes.push('  (KiB: VmRSS growth per sleeper)');
  notes.push('', 'Hub targets (this run):');
  const short = [...r.hub.map((row) => ROWS[row.key].chart), ...SLEEPER_FIGURES.map((f) => `sleepers ${f.name.replace(/ \(.*\)$/, '').replace('VmRSS growth per sleeper', 'RSS')}`)];
  targets.forEach((t, i) => notes.push(`  ${verdict(t)}  ${short[i] ?? t.name}`));
  return logBarChart({ ...header, yLabel: 'µs per operation (log scale)', series, groups, notes });
}
