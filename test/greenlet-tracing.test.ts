// settrace() / gettrace(), ported from python-greenlet's
// src/greenlet/tests/test_tracing.py (TestGreenletTracing) and the
// reentrant-switch scripts of test_greenlet.py (fail_switch_two_greenlets.py,
// fail_switch_three_greenlets2.py): the tracer is called as
// fn(event, [origin, target]) in the target, after each switch.
import { afterEach, describe, expect, it } from 'vitest';
import { Greenlet, getcurrent, gettrace, settrace, type TraceEvent, type TraceFunction } from '../lib/greenlet';
import { thrown } from './helpers';

class SomeError extends Error {
  constructor(message = 'SomeError') {
    super(message);
    this.name = 'SomeError';
  }
}

type Action = [TraceEvent, [Greenlet, Greenlet]];

/** Installs a recording tracer for the duration of fn; returns what it recorded. */
function traced(fn: () => void, errorOnTrace = false): Action[] {
  const actions: Action[] = [];
  const tracer: TraceFunction = (event, args) => {
    actions.push([event, [args[0], args[1]]]);
    if (errorOnTrace) throw new SomeError('from the tracer');
  };
  const old = settrace(tracer);
  try {
    fn();
  } finally {
    settrace(old);
  }
  return actions;
}

afterEach(() => {
  settrace(null);
});

describe('settrace (TestGreenletTracing)', () => {
  it('reports each switch and throw with origin and target (test_a_greenlet_tracing)', () => {
    const main = getcurrent();
    let g1!: Greenlet;
    let g2!: Greenlet;
    const actions = traced(() => {
      g1 = new Greenlet(() => undefined);
      g1.switch();
      g2 = new Greenlet(() => {
        throw new SomeError();
      });
      expect(() => g2.switch()).toThrow(SomeError);
    });
    expect(actions).toEqual([
      ['switch', [main, g1]],
      ['switch', [g1, main]],
      ['switch', [main, g2]],
      ['throw', [g2, main]],
    ]);
    // toEqual compares structurally; the greenlets must be the very objects.
    expect(actions[0][1][1]).toBe(g1);
    expect(actions[3][1][0]).toBe(g2);
    expect(actions[3][1][1]).toBe(main);
  });

  it('uninstalls a tracer that throws, and raises its exception (test_b_exception_disables_tracing)', () => {
    const main = getcurrent();
    const g = new Greenlet(() => {
      main.switch();
    });
    g.switch();
    const actions = traced(() => {
      expect(() => g.switch()).toThrow(SomeError);
      expect(gettrace()).toBeNull();
    }, true);
    expect(actions).toEqual([['switch', [main, g]]]);
    // The exception was raised in g, at its suspended switch: g died of it.
    expect(g.dead).toBe(true);
  });

  it('uninstalls a tracer that throws on the first switch into a greenlet', () => {
    let ran = false;
    const g = new Greenlet(() => {
      ran = true;
    });
    const actions = traced(() => {
      const err = thrown(() => g.switch());
      expect(err).toBeInstanceOf(SomeError);
      expect(gettrace()).toBeNull();
    }, true);
    expect(actions).toEqual([['switch', [getcurrent(), g]]]);
    expect(ran).toBe(false);
    expect(g.dead).toBe(true);
  });

  it('can set the same tracer twice (test_set_same_tracer_twice)', () => {
    const tracer: TraceFunction = () => undefined;
    expect(settrace(tracer)).toBeNull();
    expect(settrace(tracer)).toBe(tracer);
    expect(gettrace()).toBe(tracer);
    expect(settrace(null)).toBe(tracer);
    expect(gettrace()).toBeNull();
  });

  it('returns the previous tracer and uninstalls with null or undefined', () => {
    const a: TraceFunction = () => undefined;
    const b: TraceFunction = () => undefined;
    expect(gettrace()).toBeNull();
    expect(settrace(a)).toBeNull();
    expect(settrace(b)).toBe(a);
    expect(settrace(undefined)).toBe(b);
    expect(gettrace()).toBeNull();
  });

  it('rejects a tracer that is not a function', () => {
    for (const value of [42, 'trace', {}]) {
      const err = thrown(() => settrace(value as never));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
    expect(gettrace()).toBeNull();
  });

  it('reports g.throw() into a suspended greenlet as a throw event', () => {
    const main = getcurrent();
    const g = new Greenlet(() => {
      try {
        main.switch();
      } catch {
        return 'caught';
      }
    });
    g.switch();
    const actions = traced(() => {
      expect(g.throw(new SomeError())).toBe('caught');
    });
    expect(actions).toEqual([
      ['throw', [main, g]],
      ['switch', [g, main]],
    ]);
  });

  it('reports the greenlet that really receives a switch to a dead greenlet', () => {
    const main = getcurrent();
    let inner!: Greenlet;
    const outer = new Greenlet(() => {
      inner = new Greenlet(() => 'inner done');
      inner.switch();
      return main.switch('outer waiting');
    });
    expect(outer.switch()).toBe('outer waiting');
    expect(inner.dead).toBe(true);
    const actions = traced(() => {
      // inner is dead: the switch goes to its parent, outer.
      expect(inner.switch('to outer')).toBe('to outer');
    });
    expect(actions).toEqual([
      ['switch', [main, outer]],
      ['switch', [outer, main]],
    ]);
  });

  it('calls the tracer in the target greenlet', () => {
    const main = getcurrent();
    const where: Greenlet[] = [];
    const g = new Greenlet(() => main.switch());
    settrace(() => {
      where.push(getcurrent());
    });
    g.switch();
    g.switch();
    settrace(null);
    expect(where).toEqual([g, main, g, main]);
  });

  it('traces a sibling switch with both siblings', () => {
    const main = getcurrent();
    let b!: Greenlet;
    const a = new Greenlet(() => b.switch());
    b = new Greenlet(() => main.switch('b'));
    const actions = traced(() => {
      expect(a.switch()).toBe('b');
    });
    expect(actions).toEqual([
      ['switch', [main, a]],
      ['switch', [a, b]],
      ['switch', [b, main]],
    ]);
  });
});

describe('switching inside the tracer (test_reentrant_switch_*)', () => {
  it('keeps the value of the interrupted switch (fail_switch_two_greenlets.py)', () => {
    const output: string[] = [];
    let switchToG2 = false;
    let g1!: Greenlet;
    let g2!: Greenlet;
    const tracefunc: TraceFunction = (event) => {
      output.push(`TRACE ${event}`);
      if (switchToG2) {
        switchToG2 = false;
        g2.switch();
      }
      output.push(`LEAVE TRACE ${event}`);
    };
    g1 = new Greenlet(() => {
      output.push('In g1_run');
      switchToG2 = true;
      getcurrent().parent!.switch();
      output.push('Return to g1_run');
      output.push('Falling off end of g1_run');
      return 'g1 result';
    });
    g2 = new Greenlet(() => {
      const fromG1 = g1.switch();
      output.push(`g2 got ${String(fromG1)}`);
      output.push('Falling off end of g2');
    });
    settrace(tracefunc);
    let first: unknown;
    let second: unknown;
    try {
      // g1 switches back to main; the tracer, running in main, switches to
      // g2, which switches to g1, which finishes into main: main is then
      // still inside the tracer, called for g1 -> main.
      first = g1.switch();
      output.push('Falling off end of main');
      second = g2.switch('g2 resumed');
    } finally {
      settrace(null);
    }
    expect(output).toContain('In g1_run');
    expect(output).toContain('Falling off end of main');
    expect(output).toContain('Falling off end of g1_run');
    expect(output).toContain('Falling off end of g2');
    // The switch interrupted by the tracer delivers what g1 sent with it.
    expect(first).toBeUndefined();
    expect(output).toContain('g2 got g2 resumed');
    expect(second).toBeUndefined();
    expect(g1.dead).toBe(true);
    expect(g2.dead).toBe(true);
  });

  it('starts a greenlet with its own arguments after the tracer switched elsewhere (fail_switch_three_greenlets2.py)', () => {
    const results: unknown[] = [];
    let switchToG2 = true;
    let g1!: Greenlet;
    let g2!: Greenlet;
    const tracefunc: TraceFunction = (event) => {
      results.push(['trace', event]);
      if (switchToG2) {
        switchToG2 = false;
        g2.switch('g2 from tracefunc');
      }
    };
    g1 = new Greenlet((arg: unknown) => {
      results.push(['g1 arg', arg]);
      const fromParent = getcurrent().parent!.switch('from g1_run');
      results.push(['g1 from parent', fromParent]);
      return 'g1 done';
    });
    g2 = new Greenlet((arg: unknown) => {
      results.push(['g2 arg', arg]);
      const parent = getcurrent().parent!.switch('from g2_run');
      switchToG2 = false;
      results.push(['g2 from parent', parent]);
      return 'g2 done';
    });
    settrace(tracefunc);
    try {
      results.push(['main g1', g1.switch('g1 from main')]);
      results.push(['main g2', g1.switch('g2 from main')]);
      results.push(['main g1.2', g1.switch('g1 from main 2')]);
      results.push(['main g2.2', g2.switch()]);
    } finally {
      settrace(null);
    }
    expect(results).toEqual([
      ['trace', 'switch'],
      ['trace', 'switch'],
      ['g2 arg', 'g2 from tracefunc'],
      ['trace', 'switch'],
      ['main g1', 'from g2_run'],
      ['trace', 'switch'],
      ['g1 arg', 'g1 from main'],
      ['trace', 'switch'],
      ['main g2', 'from g1_run'],
      ['trace', 'switch'],
      ['g1 from parent', 'g1 from main 2'],
      ['trace', 'switch'],
      ['main g1.2', 'g1 done'],
      ['trace', 'switch'],
      ['g2 from parent', undefined],
      ['trace', 'switch'],
      ['main g2.2', 'g2 done'],
    ]);
  });
});
