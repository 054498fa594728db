// One `looplet bench greenlet` trial in a fresh process:
// `node [--expose-gc] greenlet-worker.js '<GreenletTrial JSON>'` prints one
// JSON outcome on stdout (see protocol.ts). Setup (the runtime, the
// ping-pong greenlet, warm-up and calibration, a warm thread pool) stays
// outside the timed blocks.
import * as fs from 'node:fs';
import { Greenlet, getcurrent, runtimeStats, setSwitchSpin, type GreenletOptions } from '../../dist/cjs/greenlet';
import { RING_SIZE, type GreenletRssOutcome, GreenletRssTrial, GreenletTimedOutcome, GreenletTimedTrial, GreenletTrial } from './protocol';
import { nowNs, warmAndCalibrate, type BlockRunner } from './timing';

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
  // The runners time iterations; a sample is ns per operation.
  const k = warmAndCalibrate(run, trial.blockUs * 1e3, trial.warmupMs);
  const before = runtimeStats();
  const cpu0 = process.cpuUsage();
  const samples = Array.from(run(trial.blocks, k), (ns) => ns / opsPerIteration);
  const cpu = process.cpuUsage(cpu0);
  const after = runtimeStats();
  return {
    ok: true,
    samples,
    k: k * opsPerIteration,
    threads: { afterWarmup: before.threads, afterRun: after.threads },
    cpuUsPerOp: (cpu.user + cpu.system) / (trial.blocks * k * opsPerIteration),
    waits: { spins: after.spins - before.spins, spinTimeouts: after.spinTimeouts - before.spinTimeouts, sleeps: after.sleeps - before.sleeps },
  };
}

/** Resident set size in KiB: VmRSS from /proc/self/status where there is one. */
function rssKiB(): [number, string] {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return [Number(m[1]), '/proc/self/status VmRSS'];
  } catch {
    // not Linux
  }
  return [process.memoryUsage.rss() / 1024, 'process.memoryUsage.rss()'];
}

function rss(trial: GreenletRssTrial): GreenletRssOutcome {
  const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);
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

function main(): void {
  const trial = JSON.parse(process.argv[2] ?? 'null') as GreenletTrial | null;
  if (trial === null) throw new Error('usage: node greenlet-worker.js <trial JSON>');
  const outcome = trial.kind === 'rss' ? rss(trial) : timed(trial);
  fs.writeSync(1, JSON.stringify(outcome) + '\n');
}

if (require.main === module) main();
