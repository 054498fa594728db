// One benchmark trial in a fresh process: `node worker.js '<Trial JSON>'`
// prints one JSON outcome on stdout (see protocol.ts). Setup (socketpairs,
// registrations, warm-up, calibration) stays outside the timed blocks.
// A select trial times short blocks first (their median leaves the rare GC
// pause out), then long batches (their mean keeps it in).
import * as fs from 'node:fs';
import { binding } from '../../dist/cjs/binding';
import { benchAddon } from './native';
import { EVENT_READ, EVENT_WRITE, Poller, type ReadyList } from '../../dist/cjs/poller';
import * as sys from '../../dist/cjs/sys';
import type { ChurnOutcome, ChurnTrial, LongBatches, Phases, SelectOutcome, SelectTrial, Trial } from './protocol';
import { median } from './stats';
import { longBatchCalls, nowNs, warmAndCalibrate, type BlockRunner } from './timing';

const FD_SETSIZE = 1024;

/** Spreads `active` indexes evenly over 0..n-1 (the middle one when active is 1). */
function activeIndexes(n: number, active: number): number[] {
  return Array.from({ length: active }, (_, j) => Math.floor(((j + 0.5) * n) / active));
}

/** n socketpairs; [registered end, peer] each. */
function socketpairs(n: number): Array<[number, number]> {
  return Array.from({ length: n }, () => sys.socketpair());
}

function selectFdsFit(trial: Trial, fds: number[]): string | null {
  if (trial.backend !== 'select') return null;
  const maxFd = Math.max(...fds);
  return maxFd >= FD_SETSIZE ? `registered fds reach ${maxFd}, not below FD_SETSIZE (${FD_SETSIZE})` : null;
}

function runSelect(trial: SelectTrial): SelectOutcome {
  const pairs = socketpairs(trial.n);
  const fds = pairs.map((p) => p[0]);
  const unfit = selectFdsFit(trial, fds);
  if (unfit) return { ok: false, reason: unfit };
  for (const i of activeIndexes(trial.n, trial.active)) fs.writeSync(pairs[i][1], Buffer.of(1));

  const poller = new Poller({ backend: trial.backend });
  for (const fd of fds) poller.register(fd, EVENT_READ);
  const got = poller.select(0).length;
  if (got !== trial.active) throw new Error(`select(0) reported ${got} ready fds, expected ${trial.active}`);
  const ready: ReadyList = [];
  const gotInto = poller.selectInto(ready, 0);
  if (gotInto !== trial.active || ready.length !== trial.active) {
    throw new Error(`selectInto(out, 0) reported ${gotInto} ready fds (out.length ${ready.length}), expected ${trial.active}`);
  }
  const backendId = binding().backends[trial.backend];
  const bench = benchAddon();
  const fdArray = Int32Array.from(fds);

  const runners: Record<string, BlockRunner> = {
    js: (blocks, k) => {
      const out = new Float64Array(blocks);
      for (let b = 0; b < blocks; b++) {
        const t0 = nowNs();
        for (let i = 0; i < k; i++) poller.select(0);
        out[b] = Number(nowNs() - t0) / k;
      }
      return out;
    },
    into: (blocks, k) => {
      const out = new Float64Array(blocks);
      for (let b = 0; b < blocks; b++) {
        const t0 = nowNs();
        for (let i = 0; i < k; i++) poller.selectInto(ready, 0);
        out[b] = Number(nowNs() - t0) / k;
      }
      return out;
    },
    c: (blocks, k) => {
      const ns = bench.coreWait(backendId, fdArray, blocks, k);
      if (ns.length !== blocks) throw new Error(`coreWait could not set up a ${trial.backend} poller`);
      return ns;
    },
    raw: (blocks, k) => {
      const r = bench.rawWait(backendId, fdArray, blocks, k);
      if (r.ready !== trial.active) throw new Error(`raw ${trial.backend} reported ${r.ready} ready fds, expected ${trial.active}`);
      return r.ns;
    },
  };

  const names = Object.keys(runners);
  const k: Record<string, number> = {};
  for (const name of names) k[name] = warmAndCalibrate(runners[name], trial.blockUs * 1e3, trial.warmupMs);

  // The methods take turns (rotating who goes first), so that drift on a
  // shared machine hits them alike and their ratio stays fair.
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const perRound = Math.ceil(trial.blocks / trial.rounds);
  for (let r = 0; r < trial.rounds; r++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(r + j) % names.length];
      samples[name].push(...Array.from(runners[name](perRound, k[name])));
    }
  }

  // Long batches: one block of many calls each, the methods taking turns
  // again; no warm-up needed, the blocks above were one.
  const long: Record<string, LongBatches> = Object.fromEntries(
    names.map((n) => [n, { calls: longBatchCalls(median(samples[n]), trial.longCalls, trial.longMaxMs), ns: [] }]),
  );
  for (let r = 0; r < trial.longBatches; r++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(r + j) % names.length];
      long[name].ns.push(runners[name](1, long[name].calls)[0]);
    }
  }
  poller.close();
  return { ok: true, js: samples.js, into: samples.into, c: samples.c, raw: samples.raw, k, long };
}

function runChurn(trial: ChurnTrial): ChurnOutcome {
  const fds = socketpairs(trial.n).map((p) => p[0]);
  const unfit = selectFdsFit(trial, fds);
  if (unfit) return { ok: false, reason: unfit };
  const rounds = Math.max(1, Math.ceil(trial.minOpsPerSample / trial.n));
  const poller = new Poller({ backend: trial.backend });

  const sample = (): [number, number, number] => {
    let reg = 0n;
    let mod = 0n;
    let del = 0n;
    for (let r = 0; r < rounds; r++) {
      const t0 = nowNs();
      for (const fd of fds) poller.register(fd, EVENT_READ);
      const t1 = nowNs();
      for (const fd of fds) poller.modify(fd, EVENT_READ | EVENT_WRITE);
      const t2 = nowNs();
      for (const fd of fds) poller.unregister(fd);
      const t3 = nowNs();
      reg += t1 - t0;
      mod += t2 - t1;
      del += t3 - t2;
    }
    const ops = rounds * trial.n;
    return [Number(reg) / ops, Number(mod) / ops, Number(del) / ops];
  };

  const end = nowNs() + BigInt(Math.round(trial.warmupMs * 1e6));
  do sample();
  while (nowNs() < end);
  const js: Phases = [[], [], []];
  for (let s = 0; s < trial.samples; s++) sample().forEach((v, i) => js[i].push(v));
  poller.close();

  const bench = benchAddon();
  const backendId = binding().backends[trial.backend];
  const fdArray = Int32Array.from(fds);
  bench.churn(backendId, fdArray, Math.max(1, Math.ceil(trial.samples / 4)), rounds);
  const flat = bench.churn(backendId, fdArray, trial.samples, rounds);
  const c: Phases = [[], [], []];
  for (let i = 0; i < flat.length; i++) c[i % 3].push(flat[i]);
  return { ok: true, js, c, roundsPerSample: rounds };
}

function main(): void {
  const trial = JSON.parse(process.argv[2] ?? 'null') as Trial | null;
  if (trial === null) throw new Error('usage: node worker.js <trial JSON>');
  benchAddon().nofileLimit();
  const outcome = trial.kind === 'select' ? runSelect(trial) : runChurn(trial);
  fs.writeSync(1, JSON.stringify(outcome) + '\n');
}

if (require.main === module) main();
