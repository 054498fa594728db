// How a thread waits for control to come back: by default it yields its CPU
// to the greenlet it switched to (both run on one CPU), and with
// setSwitchSpin(us) > 0 it may spin on another. Argument checks, the budget
// in effect, that switches still carry values and errors either way, and
// that spinning happens where it can and never where it is off. No timing is
// asserted: speed belongs to `looplet bench greenlet`.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Greenlet, GreenletExit, getSwitchSpin, getcurrent, runtimeStats, setSwitchSpin } from '../lib/greenlet';
import { ensureDist, thrown } from './helpers';

const multiCpu = availableParallelism() >= 2;
const initial = getSwitchSpin();

afterEach(() => {
  setSwitchSpin(initial);
});

/** Runs `count` ping-pong round trips with a fresh partner; returns the runtime's wait counters' growth. */
function pingPong(count: number): { spins: number; spinTimeouts: number; yields: number; sleeps: number } {
  const main = getcurrent();
  const partner = new Greenlet((first: number) => {
    let n = first;
    for (;;) n = main.switch(n + 1) as number;
  });
  const before = runtimeStats();
  let value = partner.switch(0) as number;
  for (let i = 0; i < count; i++) {
    expect(value).toBe(2 * i + 1);
    value = partner.switch(value + 1) as number;
  }
  partner.kill();
  const after = runtimeStats();
  return {
    spins: after.spins - before.spins,
    spinTimeouts: after.spinTimeouts - before.spinTimeouts,
    yields: after.yields - before.yields,
    sleeps: after.sleeps - before.sleeps,
  };
}

describe('setSwitchSpin / getSwitchSpin', () => {
  it('rejects what is not a number of microseconds in range', () => {
    for (const bad of ['5', null, undefined, 5n, {}]) {
      const err = thrown(() => setSwitchSpin(bad as never));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 10_001, 1e9]) {
      const err = thrown(() => setSwitchSpin(bad));
      expect(err).toBeInstanceOf(RangeError);
      expect(err.code).toBe('ERR_OUT_OF_RANGE');
    }
    expect(getSwitchSpin()).toBe(initial);
  });

  it('returns the previous budget; with one CPU the budget stays 0', () => {
    expect(setSwitchSpin(7)).toBe(initial);
    expect(getSwitchSpin()).toBe(multiCpu ? 7 : 0);
    expect(setSwitchSpin(0)).toBe(multiCpu ? 7 : 0);
    expect(getSwitchSpin()).toBe(0);
    expect(setSwitchSpin(2.5)).toBe(0);
    expect(getSwitchSpin()).toBe(multiCpu ? 2.5 : 0);
  });

  it('is off by default', () => {
    if (process.env.LOOPLET_GREENLET_SPIN_US === undefined) expect(initial).toBe(0);
  });
});

describe('switching with spinning on and off', () => {
  it('never spins when the budget is 0 and waits by yielding the CPU, and values arrive intact', () => {
    setSwitchSpin(0);
    const grew = pingPong(2000);
    expect(grew.spins).toBe(0);
    expect(grew.spinTimeouts).toBe(0);
    // A ping-pong partner answers at once: nearly every wait ends while yielding.
    expect(grew.yields).toBeGreaterThan(2000);
  });

  it.runIf(multiCpu)('spins in a ping-pong once both sides come back quickly, after other switch patterns too', () => {
    const main = getcurrent();
    setSwitchSpin(1000);
    // Spawns, a ring of greenlets, kills and throws first: a lost spinner
    // slot would stop all spinning afterwards.
    for (let i = 0; i < 300; i++) expect(new Greenlet((x: number) => x * 2).switch(i)).toBe(2 * i);
    const ring = Array.from({ length: 20 }, (_, k) => new Greenlet(() => {
      for (;;) main.switch(k);
    }));
    for (let i = 0; i < 400; i++) expect(ring[i % 20].switch()).toBe(i % 20);
    ring.slice(0, 10).forEach((g) => g.kill());
    ring.slice(10).forEach((g) => expect(() => g.throw(new Error('stop'))).toThrow('stop'));
    const grew = pingPong(5000);
    expect(grew.spins).toBeGreaterThan(0);
  });

  it('carries exceptions both ways while spinning', () => {
    const main = getcurrent();
    if (multiCpu) setSwitchSpin(1000);
    const partner = new Greenlet(() => {
      for (let i = 0; ; i++) {
        try {
          main.switch(i);
        } catch (err) {
          if (err instanceof GreenletExit) throw err;
          main.switch(`caught ${(err as Error).message}`);
        }
      }
    });
    partner.switch();
    for (let i = 0; i < 1000; i++) {
      expect(partner.throw(new Error(String(i)))).toBe(`caught ${i}`);
      expect(typeof partner.switch()).toBe('number');
    }
    partner.kill();
    expect(partner.dead).toBe(true);
  });
});

describe('LOOPLET_GREENLET_SPIN_US', () => {
  beforeAll(() => ensureDist());

  const run = (value: string): string => {
    const code = `
      const g = require(${JSON.stringify(path.join(__dirname, '../dist/cjs/greenlet.js'))});
      const main = g.getcurrent();
      const p = new g.Greenlet(() => { for (;;) main.switch(); });
      for (let i = 0; i < 100; i++) p.switch();
      process.stdout.write(String(g.getSwitchSpin()));`;
    const r = spawnSync(process.execPath, ['-e', code], { env: { ...process.env, LOOPLET_GREENLET_SPIN_US: value }, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  };

  it('sets the initial budget; 0, a value out of range or one that is not a number leaves spinning off', () => {
    expect(run('0')).toBe('0');
    expect(run('junk')).toBe('0');
    expect(run('35x')).toBe('0');
    expect(run('-5')).toBe('0');
    expect(run('1e9')).toBe('0');
    expect(run('10001')).toBe('0');
    expect(run('35')).toBe(multiCpu ? '35' : '0');
    expect(run('10000')).toBe(multiCpu ? '10000' : '0');
  });
});
