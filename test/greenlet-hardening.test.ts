// Greenlet edge cases found by an adversarial run (issue 13): thread-creation
// failure, kill() and parent cycles, greenlets ended from outside, exotic
// thrown values, and the thread pool shrinking after a burst. Each of these
// failed (crash, hang or wrong state) before its fix.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { Greenlet, GreenletExit, getcurrent, runtimeStats, setIdleThreadTimeout } from '../lib/greenlet';
import { ensureDist, thrown, unprivileged, waitFor } from './helpers';

const main = getcurrent();
const fixture = path.join(__dirname, 'fixtures', 'greenlet-limits.js');

/** Whether children can run as an unprivileged user (root ignores ulimit -u). */
const canDropPrivileges =
  process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0 && spawnSync('bash', ['--version']).status === 0;

function underThreadLimit(scenario: string, limit = 16): Record<string, unknown> {
  const script = `ulimit -u ${limit} && exec ${JSON.stringify(process.execPath)} ${JSON.stringify(fixture)} ${scenario}`;
  const r = spawnSync('setpriv', [...unprivileged(), 'bash', '-c', script], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  return JSON.parse(line!.slice('RESULT '.length));
}

describe.runIf(canDropPrivileges)('when no thread can be made (ulimit -u, unprivileged)', () => {
  beforeAll(() => {
    ensureDist();
    // The unprivileged user must be able to read the built package.
    fs.accessSync(fixture, fs.constants.R_OK);
  });

  it('a switch that cannot start a greenlet throws ERR_LOOPLET_GREENLET_THREAD and leaves it unstarted; it starts later', () => {
    expect(underThreadLimit('failedStart')).toEqual({
      code: 'ERR_LOOPLET_GREENLET_THREAD',
      after: { started: false, active: false, dead: false },
      retried: 'returned',
      startedNow: true,
      threads: true,
    });
  });

  it('a greenlet returning to an unstarted parent that cannot get a thread: the parent dies, main gets the error (was SIGSEGV)', () => {
    expect(underThreadLimit('unstartedParent')).toEqual({
      code: 'ERR_LOOPLET_GREENLET_THREAD',
      childDead: true,
      parentDead: true,
      mainIsCurrent: true,
    });
  });
});

describe('kill() and parent cycles', () => {
  it('a child killing its own parent ends the parent without a cycle (was an endless loop)', () => {
    let parentsChild: Greenlet | null = null;
    const parent = new Greenlet(() => {
      parentsChild = new Greenlet(() => {
        parent.kill();
        return 'child went on';
      });
      return parentsChild.switch();
    });
    const result = parent.switch();
    expect(result).toBeInstanceOf(GreenletExit);
    expect(parent.dead).toBe(true);
    // The child is suspended in kill(); its parent chain ends at main.
    expect(parentsChild!.dead).toBe(false);
    expect(parentsChild!.parent).toBe(parent);
    expect(parentsChild!.switch()).toBe('child went on');
  });

  it('main.kill() from a greenlet raises GreenletExit in main and gives main no parent (was a cycle, then a hang)', () => {
    const g = new Greenlet(() => main.kill());
    const err = thrown(() => g.switch());
    expect(err).toBeInstanceOf(GreenletExit);
    expect(main.parent).toBe(null);
    const x = new Greenlet(() => 1);
    x.parent = main; // terminated at once: the chain ends at main
    expect(x.parent).toBe(main);
    expect(thrown(() => ((main as { parent: Greenlet | null }).parent = g)).code).toBe('ERR_LOOPLET_GREENLET_CYCLE');
    g.kill();
  });
});

describe('greenlets ended from outside and exotic exceptions', () => {
  it('reads dead at once after a vm timeout ended it (was dead=false until switched to)', () => {
    const g = new Greenlet(() => {
      for (;;);
    });
    const err = thrown(() => vm.runInNewContext('g.switch()', { g }, { timeout: 50 }));
    expect(err.code).toBe('ERR_SCRIPT_EXECUTION_TIMEOUT');
    expect(g.dead).toBe(true);
    expect(g.active).toBe(false);
  });

  it('passes a revoked Proxy thrown by run() to the parent as it is (was an internal TypeError)', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    let caught: unknown;
    try {
      new Greenlet(() => {
        throw proxy;
      }).switch();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBe(proxy);
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('trap');
        },
      },
    );
    const err = (() => {
      try {
        new Greenlet(() => {
          throw hostile;
        }).switch();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBe(hostile);
  });
});

describe('the thread pool shrinks after a burst', () => {
  it('ends idle threads beyond the reserve after the idle timeout (was: every thread kept for the life of the process)', async () => {
    const previous = setIdleThreadTimeout(50);
    try {
      const burst = Array.from({ length: 200 }, () => new Greenlet(() => main.switch()));
      burst.forEach((g) => g.switch());
      expect(runtimeStats().threads).toBeGreaterThanOrEqual(200);
      burst.forEach((g) => g.switch());
      expect(burst.every((g) => g.dead)).toBe(true);
      expect(runtimeStats().idleThreads).toBeGreaterThanOrEqual(200);
      await waitFor(() => runtimeStats().idleThreads <= 8, 10_000, 'idle threads to exit');
      expect(runtimeStats().threads).toBeLessThan(20);
      // The reserve still serves spawns without new threads.
      const made = runtimeStats().threadsCreated;
      for (let i = 0; i < 50; i++) new Greenlet(() => i).switch();
      expect(runtimeStats().threadsCreated).toBe(made);
    } finally {
      setIdleThreadTimeout(previous);
    }
  });

  it("grows the process's private futex hash with its threads (Linux 6.17+: 16 slots on 2 CPUs otherwise)", (ctx) => {
    const before = runtimeStats().futexHashSlots;
    // -1: the kernel has no private futex hash; 0: the process uses the global one.
    if (before <= 0) ctx.skip();
    const many = Array.from({ length: 300 }, () => new Greenlet(() => main.switch()));
    many.forEach((g) => g.switch());
    try {
      expect(runtimeStats().threads).toBeGreaterThanOrEqual(300);
      // More than 4 threads per slot makes the runtime resize to 16 per thread.
      expect(runtimeStats().futexHashSlots).toBeGreaterThanOrEqual(1024);
    } finally {
      many.forEach((g) => g.switch());
    }
    expect(many.every((g) => g.dead)).toBe(true);
  });

  it('rejects an idle timeout that is not an integer number of ms in range', () => {
    for (const bad of ['5', null, undefined, {}]) expect(thrown(() => setIdleThreadTimeout(bad as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    for (const bad of [-1, 1.5, Number.NaN, 86_400_001]) expect(thrown(() => setIdleThreadTimeout(bad)).code).toBe('ERR_OUT_OF_RANGE');
  });
});
