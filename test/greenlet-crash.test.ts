// Crash-prone greenlet cases, each in a child process running
// test/fixtures/greenlet-crash.js: stack overflow inside a greenlet, exit
// and process.exit() with suspended greenlets, wasm code GC with suspended
// greenlets, worker threads, thousands of suspended greenlets, termination.
// Each asserts the exit code (or signal) and the output.
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDist } from './helpers';

const fixture = path.join(__dirname, 'fixtures', 'greenlet-crash.js');

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The JSON values printed as `LABEL <json>`, by label, in order. */
  lines: Map<string, unknown[]>;
}

function run(args: string[], nodeFlags: string[] = [], timeout = 60000): Run {
  const child = spawnSync(process.execPath, [...nodeFlags, fixture, ...args], { encoding: 'utf8', timeout });
  const lines = new Map<string, unknown[]>();
  for (const line of child.stdout.split('\n')) {
    const match = /^([A-Z][A-Z ]*[A-Z]) (.*)$/.exec(line);
    if (!match) continue;
    const values = lines.get(match[1]) ?? [];
    values.push(JSON.parse(match[2]));
    lines.set(match[1], values);
  }
  return { status: child.status, signal: child.signal, stdout: child.stdout, stderr: child.stderr, lines };
}

/** The exit status and signal, with stderr to explain a failure. */
const outcome = (r: Run) => ({ status: r.status, signal: r.signal, stderr: r.stderr.slice(0, 2000) });

beforeAll(() => ensureDist());

describe('stack overflow inside a greenlet', () => {
  const allRangeErrors = {
    plain: 'RangeError',
    again: 'RangeError',
    wide: 'RangeError',
    viaNative: 'RangeError',
    json: 'RangeError',
    clone: 'RangeError',
    parse: 'RangeError',
    afterResume: 'RangeError',
  };

  let defaultDepth = 0;

  it('raises RangeError inside the greenlet with the default stack, never SIGSEGV', () => {
    const r = run(['recursion']);
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.lines.get('SUSPENDED')).toEqual(['suspended deep']);
    const results = r.lines.get('RESULTS')![0] as Record<string, unknown>;
    expect(results).toMatchObject(allRangeErrors);
    expect(['RangeError', 'returned whole']).toContain(results.jsonPlain);
    defaultDepth = results.depth as number;
    // About 1 MiB of stack: thousands of frames, as on Node's own thread.
    expect(defaultDepth).toBeGreaterThan(2000);
    expect(r.lines.get('UNCAUGHT')).toEqual(['RangeError']);
  });

  it('raises RangeError inside the greenlet with { stackSize: 131072 }, never SIGSEGV', () => {
    const r = run(['recursion', '131072']);
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.lines.get('SUSPENDED')).toEqual(['suspended deep']);
    const results = r.lines.get('RESULTS')![0] as Record<string, unknown>;
    expect(results).toMatchObject(allRangeErrors);
    expect(['RangeError', 'returned whole']).toContain(results.jsonPlain);
    expect(results.depth).toBeGreaterThan(100);
    if (defaultDepth > 0) expect(results.depth).toBeLessThan(defaultDepth);
    expect(r.lines.get('UNCAUGHT')).toEqual(['RangeError']);
  });
});

describe('exit with suspended greenlets', () => {
  it('exits 0 when the script ends with 1,000 suspended greenlets', () => {
    const r = run(['exitSuspended', '1000']);
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.lines.get('SUSPENDED')).toEqual([1000]);
  });

  it('exits 0 on process.exit(0) with 1,000 suspended greenlets', () => {
    const r = run(['processExit', '1000', '0']);
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.lines.get('SUSPENDED')).toEqual([1000]);
    expect(r.lines.get('EXIT HANDLER')).toEqual([0]);
  });

  it('exits with the code given to process.exit() with suspended greenlets', () => {
    const r = run(['processExit', '1000', '3']);
    expect(outcome(r)).toEqual({ status: 3, signal: null, stderr: '' });
    expect(r.lines.get('EXIT HANDLER')).toEqual([3]);
  });

  it('exits with the code given to process.exit() called from inside a greenlet', () => {
    const r = run(['exitInside', '1000', '7']);
    expect(outcome(r)).toEqual({ status: 7, signal: null, stderr: '' });
    expect(r.lines.get('EXITING FROM')).toEqual(['inner greenlet']);
    expect(r.lines.get('EXIT HANDLER')).toEqual([7]);
    expect(r.lines.has('NOT REACHED')).toBe(false);
  });

  it('switches greenlets from beforeExit and exit handlers, with nested and catching greenlets suspended', () => {
    const r = run(['exitHandlers']);
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.lines.get('NESTED')).toEqual(['depth-0']);
    expect(r.lines.get('CATCH')).toEqual(['suspended in catch']);
    expect(r.lines.get('BEFORE EXIT')).toEqual([Array.from({ length: 10 }, (_, i) => i + 100)]);
    expect(r.lines.get('EXIT HANDLER')).toEqual([
      {
        code: 0,
        currentIsMain: true,
        resumed: Array.from({ length: 10 }, (_, i) => i + 1010),
        fresh: 42,
        catchResult: 'active while suspended',
        traced: 'traced',
        events: ['switch', 'switch'],
        tracerInstalled: true,
      },
    ]);
  });

  it('exits 1 with the error and its stack on an uncaught exception, with greenlets suspended', () => {
    const r = run(['uncaught']);
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 1, signal: null });
    expect(r.stderr).toContain('Error: uncaught from a greenlet started by a timer');
    expect(r.stderr).toMatch(/at failingGreenletRun \(.*greenlet-crash\.js:\d+:\d+\)/);
  });
});

describe('wasm with suspended greenlets', () => {
  it('compiles and calls wasm in a loop with gc() under --stress-wasm-code-gc (exit 0)', () => {
    const r = run(['wasm', '200'], ['--expose-gc', '--stress-wasm-code-gc']);
    expect(r.stderr).not.toContain('archived threads in combination with wasm not supported');
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    // sum of 0..199; the greenlet's own counter; ten greenlets resumed with 1000 each.
    expect(r.lines.get('WASM')).toEqual([{ sum: 19900, fromGreenlet: 200, resumed: 45 + 10 * 1000 }]);
  });
});

describe('many suspended greenlets', () => {
  const expectMany = (r: Run): void => {
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.lines.get('MANY')).toEqual([
      {
        count: 10000,
        busy: 10000,
        sum: (10000 * 9999) / 2 + 10000,
        expected: (10000 * 9999) / 2 + 10000,
        allDead: true,
        // Every thread is back in the pool once its greenlet has finished.
        idleAfter: 10000,
        ms: expect.any(Number),
      },
    ]);
  };

  it('suspends 10,000 greenlets with { stackSize: 131072 } and resumes them all to completion', () => {
    expectMany(run(['many', '10000', '131072']));
  }, 60000);

  it.skipIf(os.freemem() < 2 * 1024 ** 3)('suspends 10,000 greenlets with the default stack size and resumes them all', () => {
    expectMany(run(['many', '10000']));
  }, 60000);
});

describe('worker threads', () => {
  const expectWorkers = (r: Run): void => {
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.lines.get('MESSAGE')).toEqual(Array(5).fill({ result: 2004, dead: true, busy: 100 }));
    expect(r.lines.get('WORKER EXIT')).toEqual([0, 0, 0, 0, 0]);
    expect(r.lines.has('WORKER ERROR')).toBe(false);
  };

  it('runs greenlets in workers that exit with 100 suspended, when the main thread uses greenlets too', () => {
    expectWorkers(run(['worker', '5', 'yes']));
  });

  it('runs greenlets in workers that exit with 100 suspended, when only the workers use greenlets', () => {
    // Each worker loads the addon and its environment teardown unloads it
    // again: no greenlet thread may still run addon code by then.
    expectWorkers(run(['worker', '5', 'no']));
  });

  it('runs greenlets in four workers at once while the main thread switches too', () => {
    const r = run(['workersConcurrent', '4']);
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    const messages = (r.lines.get('MESSAGE') as Array<{ id: number; n: number }>).sort((a, b) => a.id - b.id);
    expect(messages).toEqual([0, 1, 2, 3].map((id) => ({ id, n: 20001 })));
    expect(r.lines.get('MAIN SWITCHED')).toEqual([true]);
    expect(r.lines.get('WORKER EXITS')).toEqual([[0, 0, 0, 0]]);
  });

  it('terminates workers idle in their event loop with greenlets suspended', () => {
    const r = run(['workerTerminate', 'idle', 'yes']);
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.lines.get('MESSAGE')).toEqual(['idle', 'idle', 'idle']);
    expect(r.lines.get('WORKER EXIT')).toEqual([1, 1, 1]);
  });

  it('terminates workers idle in their event loop, when only the workers use greenlets', () => {
    // Six workers in turn: each teardown unloads the addon, which crashes the
    // process whenever a greenlet thread of that worker still runs addon code.
    const r = run(['workerTerminate', 'idle', 'no', '6']);
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.lines.get('WORKER EXIT')).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('terminates workers while one of their greenlets runs an endless loop', () => {
    const r = run(['workerTerminate', 'spin', 'yes']);
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.lines.get('MESSAGE')).toEqual(['spin', 'spin', 'spin']);
    expect(r.lines.get('WORKER EXIT')).toEqual([1, 1, 1]);
  });

  it('terminates workers while two of their greenlets switch to each other endlessly', () => {
    const r = run(['workerTerminate', 'pingpong', 'yes']);
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.lines.get('MESSAGE')).toEqual(['pingpong', 'pingpong', 'pingpong']);
    expect(r.lines.get('WORKER EXIT')).toEqual([1, 1, 1]);
  });
});

describe('termination', () => {
  it('ends a greenlet terminated by a vm timeout: it is dead afterwards', () => {
    const r = run(['vmTimeout']);
    expect(outcome(r)).toEqual({ status: 0, signal: null, stderr: '' });
    const [vm] = r.lines.get('VM') as Array<Record<string, unknown>>;
    expect(vm.error).toBe('ERR_SCRIPT_EXECUTION_TIMEOUT');
    expect(vm.fresh).toBe('fresh greenlet runs');
    // The terminated greenlet can never run again: it must read as dead, and a
    // switch to it goes to its parent like any switch to a dead greenlet.
    expect({ dead: vm.dead, active: vm.active }).toEqual({ dead: true, active: false });
    expect(vm.again).toEqual({ value: 'again' });
  });
});
