// One `looplet bench greenlet` trial in a fresh process:
// `node [--expose-gc] greenlet-worker.js '<GreenletTrial JSON>'` prints one
// JSON outcome on stdout (see protocol.ts). Setup (the runtime, the
// ping-pong greenlet, the hub's helper jobs, warm-up and calibration, a warm
// thread pool) stays outside the timed blocks. The hub's trials are in
// hub-trials.ts.
import * as fs from 'node:fs';
import { Greenlet, getcurrent, runtimeStats, setSwitchSpin, type GreenletOptions } from '../../dist/cjs/greenlet';
import { run as runJob } from '../../dist/cjs/hub';
import { hubRunner, hubSleepers } from './hub-trials';
import {
  RING_SIZE,
  type GreenletRssOutcome,
  type GreenletRssTrial,
  type GreenletTimedOutcome,
  type GreenletTimedTrial,
  type GreenletTrial,
  type HubSleepersOutcome,
  type HubTimedKind,
} from './protocol';
import { gc, rssKiB } from './rss';
import { nowNs, warmAndCalibrate, type BlockRunner } from './timing';

const isHubKind = (kind: GreenletTimedTrial['kind']): kind is HubTimedKind => kind.startsWith('hub-');

/** Warm-up and calibration, then the timed blocks; a sample is ns per operation. */
function measure(trial: GreenletTimedTrial, run: BlockRunner, opsPerIteration: number): GreenletTimedOutcome {
  const k = warmAndCalibrate(run, trial.blockUs * 1e3, trial.warmupMs);
  const before = runtimeStats();
  const cpu0 = process.cpuUsage();
  const samples = Array.from(run(trial.blocks, k), (ns) => ns / opsPerIteration);
  const cpu = process.cpuUsage(cpu0);
  const after = runtimeStats();
  const ops = trial.blocks * k * opsPerIteration;
  return {
    ok: true,
    samples,
    k: k * opsPerIteration,
    threads: { afterWarmup: before.threads, afterRun: after.threads },
    cpuUsPerOp: (cpu.user + cpu.system) / ops,
    waits: { spins: after.spins - before.spins, spinTimeouts: after.spinTimeouts - before.spinTimeouts, sleeps: after.sleeps - before.sleeps },
    switchesPerOp: (after.switches - before.switches) / ops,
  };
}

/** A hub trial, measured inside one driver job (the hub itself cannot block). */
function hubTimed(trial: GreenletTimedTrial & { kind: HubTimedKind }): Promise<GreenletTimedOutcome> {
  if (trial.spinUs !== undefined) setSwitchSpin(trial.spinUs);
  return runJob(() => {
    const hub = hubRunner(trial.kind);
    try {
      return measure(trial, hub.run, hub.opsPerIteration);
    } finally {
      hub.close();
    }
  });
}

function timed(trial: GreenletTimedTrial): GreenletTimedOutcome {
  if (trial.spinUs !== undefined) setSwitchSpin(trial.spinUs);
  let run: BlockRunner;
  let opsPerIteration = 1;
  if (trial.kind === 'ring') {
    const main = getcurrent();
    const ring = Array.from({ length: RING_SIZE }, () => new Greenlet(() => {
      for (;;) main.switch();
    }));
    ring.forEach((g) => g.switch());
    opsPerIteration = 2; // main -> ring[i] -> main
    let next = 0;
    run = (blocks, k) => {
      const out = new Float64Array(blocks);
      for (let b = 0; b < blocks; b++) {
        const t0 = nowNs();
        for (let i = 0; i < k; i++) {
          ring[next].switch();
          next = next + 1 === RING_SIZE ? 0 : next + 1;
        }
        out[b] = Number(nowNs() - t0) / k;
      }
      return out;
    };
  } else if (trial.kind === 'switch') {
    const main = getcurrent();
    // Refers to main only, never to itself, so it stays collectable; it is
    // kept alive by `partner` and unwound at exit.
    const partner = new Greenlet(() => {
      for (;;) main.switch();
    });
    partner.switch();
    opsPerIteration = 2; // partner.switch() returns after main -> partner -> main
    run = (blocks, k) => {
      const out = new Float64Array(blocks);
      for (let b = 0; b < blocks; b++) {
        const t0 = nowNs();
        for (let i = 0; i < k; i++) partner.switch();
        out[b] = Number(nowNs() - t0) / k;
      }
      return out;
    };
  } else if (trial.kind === 'spawn') {
    const trivial = (): number => 1;
    run = (blocks, k) => {
      const out = new Float64Array(blocks);
      for (let b = 0; b < blocks; b++) {
        const t0 = nowNs();
        for (let i = 0; i < k; i++) new Greenlet(trivial).switch();
        out[b] = Number(nowNs() - t0) / k;
      }
      return out;
    };
  } else {
    return { ok: false, reason: `${trial.kind} is a Python-only trial` };
  }
  return measure(trial, run, opsPerIteration);
}

function rss(trial: GreenletRssTrial): GreenletRssOutcome {
  const main = getcurrent();
  const options: GreenletOptions = trial.stackSize === null ? {} : { stackSize: trial.stackSize };
  const suspend = (): void => {
    main.switch();
  };
  new Greenlet(() => 1, null, options).switch(); // the runtime exists and the code is warm
  const held: Greenlet[] = new Array(trial.count);
  gc();
  const [before, source] = rssKiB();
  const t0 = nowNs();
  for (let i = 0; i < trial.count; i++) {
    const g = new Greenlet(suspend, null, options);
    g.switch();
    held[i] = g;
  }
  const createUs = Number(nowNs() - t0) / trial.count / 1e3;
  gc();
  const [after] = rssKiB();
  const threads = runtimeStats().threads;
  if (held.some((g) => !g.active)) throw new Error('a greenlet is not suspended');
  return { ok: true, count: trial.count, stackSize: trial.stackSize, rssBeforeKiB: before, rssAfterKiB: after, rssSource: source, createUs, threads };
}

async function outcomeOf(trial: GreenletTrial): Promise<GreenletTimedOutcome | GreenletRssOutcome | HubSleepersOutcome> {
  if (trial.kind === 'rss') return rss(trial);
  if (trial.kind === 'hub-sleepers') return hubSleepers(trial);
  if (isHubKind(trial.kind)) return hubTimed({ ...trial, kind: trial.kind });
  return timed(trial);
}

function main(): void {
  const trial = JSON.parse(process.argv[2] ?? 'null') as GreenletTrial | null;
  if (trial === null) throw new Error('usage: node greenlet-worker.js <trial JSON>');
  outcomeOf(trial).then(
    (outcome) => fs.writeSync(1, JSON.stringify(outcome) + '\n'),
    (err: unknown) => {
      process.exitCode = 1;
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    },
  );
}

if (require.main === module) main();
