// Greenlets and the garbage collector, ported from python-greenlet's
// src/greenlet/tests/test_gc.py and the dealloc tests of test_greenlet.py.
// A suspended greenlet's stack is a GC root (V8 visits archived threads), so
// what it holds survives and moves correctly; an unreachable suspended
// greenlet gets GreenletExit thrown in (FinalizationRegistry), so its
// finally blocks run. The scenarios that need gc() run in a child process
// (test/fixtures/greenlet-gc.js) under `node --expose-gc`.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Greenlet, getcurrent } from '../lib/greenlet';
import { ensureDist } from './helpers';

const fixture = path.join(__dirname, 'fixtures', 'greenlet-gc.js');

interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  result: Record<string, unknown>;
}

function scenario(name: string): Outcome {
  const child = spawnSync(process.execPath, ['--expose-gc', fixture, name], { encoding: 'utf8', timeout: 20000 });
  const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  const outcome: Outcome = {
    status: child.status,
    signal: child.signal,
    stderr: child.stderr,
    result: line ? JSON.parse(line.slice('RESULT '.length)) : {},
  };
  expect({ status: outcome.status, signal: outcome.signal, stderr: outcome.stderr, hasResult: line !== undefined }).toEqual({
    status: 0,
    signal: null,
    stderr: expect.any(String),
    hasResult: true,
  });
  return outcome;
}

beforeAll(() => ensureDist());

describe('objects held by suspended greenlets', () => {
  it('survive gc() and are intact when resumed', () => {
    const { result, stderr } = scenario('survive');
    expect(stderr).toBe('');
    expect(result.aliveAfterGc).toBe(true);
    expect(result.results).toEqual(Array(20).fill(true));
    expect(result.allDead).toBe(true);
  });

  it('survive the collections that allocation triggers in this process', () => {
    const main = getcurrent();
    const holders: Greenlet[] = [];
    for (let n = 0; n < 10; n++) {
      const g = new Greenlet((seed: number) => {
        const map = new Map<string, { v: number; list: number[] }>();
        for (let i = 0; i < 2000; i++) map.set(`k${i}`, { v: i + seed, list: [i, seed] });
        const young = { seed, text: `seed ${seed}` };
        main.switch();
        let ok = map.size === 2000 && young.seed === seed && young.text === `seed ${seed}`;
        for (const [k, v] of map) ok = ok && k === `k${v.v - seed}` && v.list[0] === v.v - seed && v.list[1] === seed;
        return ok;
      });
      g.switch(n);
      holders.push(g);
    }
    // Enough garbage for several scavenges and at least one full collection.
    let sink = 0;
    for (let round = 0; round < 50; round++) {
      const garbage = Array.from({ length: 20000 }, (_, i) => ({ i, s: `g${i}` }));
      sink += garbage.length;
    }
    expect(sink).toBe(50 * 20000);
    expect(holders.map((g) => g.switch())).toEqual(Array(10).fill(true));
  });
});

describe('unreachable greenlets (test_gc, test_dealloc)', () => {
  it('throws GreenletExit into an unreachable suspended greenlet, running its finally', () => {
    const { result } = scenario('suspended');
    expect(result).toMatchObject({
      done: true,
      exits: 10,
      currentInside: 10,
      finallies: 10,
      resumed: 0,
      mainIsCurrent: true,
      busyBefore: 0,
      busySuspended: 10,
      busyAfter: 0,
    });
  });

  it('keeps nested greenlets alive while the outer one is suspended in a switch into the inner one (documented); kill() ends both', () => {
    const { result } = scenario('nested');
    expect(result).toEqual({ endedEarly: false, keptAlive: true, done: true, finallies: ['outer', 'inner'] });
  });

  it('does not end a collected greenlet that is still the parent of a reachable one (python-greenlet: gr_parent is a strong reference)', () => {
    const { result } = scenario('parentOfReachable');
    expect(result).toEqual({ endedEarly: false, parentAlive: true, result: 'parent done', log: ['parent got: child done', 'parent finally'] });
  });

  it('sees GreenletExit at the switch of each collected greenlet (test_dealloc)', () => {
    const { result } = scenario('dealloc');
    expect(result).toEqual({ untouched: 0, first: true, second: true, seen: ['GreenletExit', 'GreenletExit'] });
  });

  it('drops an unreachable unstarted greenlet without running it (test_circular_greenlet)', () => {
    const { result } = scenario('unstarted');
    expect(result).toEqual({ done: true, runs: 0, newThreads: 0 });
  });

  it('collects dead greenlets and unstarted ones bound to themselves (test_dead_circular_ref, test_inactive_ref)', () => {
    const { result } = scenario('dead');
    expect(result).toEqual({ done: true, remaining: 0 });
  });

  it('reports, not raises, another error thrown by a collected greenlet (test_dealloc_catches_GreenletExit_throws_other)', () => {
    const { result, stderr } = scenario('throwsOther');
    expect(result.done).toBe(true);
    expect(result.mainIsCurrent).toBe(true);
    expect(result.warnings).toEqual([
      { name: 'GreenletWarning', message: expect.stringContaining('SomeError raised instead of GreenletExit') },
    ]);
    expect(stderr).toContain('SomeError raised instead of GreenletExit');
  });

  it('collects cycles through a suspended greenlet once it is ended (test_finalizer_crash, test_cycle_in_suspended_frame)', () => {
    const { result } = scenario('cycles');
    expect(result).toEqual({
      done: true,
      outerDead: true,
      duringOuter: 0,
      finalized: ['cycle1', 'cycle2', 'object'],
      log: ['inner finally'],
    });
  });

  it('restores the parent of a collected greenlet that resurrects itself (test_parent_restored_on_kill)', () => {
    const { result } = scenario('parentRestored');
    expect(result.done).toBe(true);
    // While GreenletExit is delivered, the parent is the greenlet doing the collection.
    expect(result.parentDuringExitIsMain).toBe(true);
    expect(result.hubDead).toBe(true);
    // Afterwards the greenlet has its own parent again.
    expect(result.parentAfterIsHub).toBe(true);
  });
});
