// Greenlet semantics, ported from python-greenlet's src/greenlet/tests/
// test_greenlet.py and adapted to JavaScript: positional arguments only,
// exceptions are JS values, switch() returns undefined / the value / an array
// for zero / one / several arguments.
import { describe, expect, it } from 'vitest';
import { Greenlet, GreenletExit, getcurrent, runtimeStats } from '../lib/greenlet';
import { thrown } from './helpers';

class SomeError extends Error {
  constructor(message = 'SomeError') {
    super(message);
    this.name = 'SomeError';
  }
}

class KeyError extends Error {
  constructor(message = 'KeyError') {
    super(message);
    this.name = 'KeyError';
  }
}

/** Switches to the parent of the running greenlet. */
function toParent(...args: unknown[]): unknown {
  return getcurrent().parent!.switch(...args);
}

/** Records the constructor of any exception raised at its switch, then re-raises; ends with SomeError. */
function fmain(seen: unknown[]): never {
  try {
    toParent();
  } catch (err) {
    seen.push((err as object).constructor);
    throw err;
  }
  throw new SomeError();
}

/** Raises `exc` inside a new greenlet whose parent is `g` (g.throw() done by hand). */
function sendException(g: Greenlet, exc: unknown): void {
  const crasher = new Greenlet((e: unknown) => {
    throw e;
  }, g);
  crasher.switch(exc);
}

/** "file:line" of the caller, read from a stack trace. */
function callerLocation(): string {
  const line = new Error().stack!.split('\n')[2];
  const match = /\(?([^()\s]+):(\d+):\d+\)?$/.exec(line);
  return `${match![1]}:${match![2]}`;
}

describe('switching (test_greenlet)', () => {
  it('runs interleaved with its parent (test_simple)', () => {
    const lst: number[] = [];
    const g = new Greenlet(() => {
      lst.push(1);
      toParent();
      lst.push(3);
    });
    lst.push(0);
    g.switch();
    lst.push(2);
    g.switch();
    lst.push(4);
    expect(lst).toEqual([0, 1, 2, 3, 4]);
    expect(g.dead).toBe(true);
  });

  it('passes the first switch arguments to run and maps later ones to a single value', () => {
    const main = getcurrent();
    const received: unknown[] = [];
    const g = new Greenlet((a: number, b: number, c: number) => {
      received.push([a, b, c]);
      received.push(main.switch('started'));
      received.push(main.switch());
      received.push(main.switch(1, 2));
      received.push(main.switch([7]));
      received.push(main.switch(undefined));
      return [a + b + c];
    });
    expect(g.switch(1, 2, 3)).toBe('started');
    expect(g.switch()).toBeUndefined();
    expect(g.switch('one')).toEqual([1, 2]);
    expect(g.switch('x', 'y', 'z')).toEqual([7]);
    const obj = { same: true };
    expect(g.switch(obj)).toBeUndefined();
    expect(g.switch()).toEqual([6]);
    expect(received).toEqual([[1, 2, 3], undefined, 'one', ['x', 'y', 'z'], obj, undefined]);
    expect(received[4]).toBe(obj);
  });

  it('passes several values to the parent as an array (test_switch_kwargs_to_parent)', () => {
    const g = new Greenlet((x: number) => {
      toParent(x);
      toParent(2, x);
      return [x, x ** 2];
    });
    expect(g.switch(3)).toBe(3);
    expect(g.switch()).toEqual([2, 3]);
    expect(g.switch()).toEqual([3, 9]);
  });

  it('returns the value of run to whoever switched to it last (test_switch_kwargs)', () => {
    const run = (a: number, b: number): number => {
      expect(a).toBe(4);
      expect(b).toBe(2);
      return 42;
    };
    expect(new Greenlet(run).switch(4, 2)).toBe(42);
  });

  it('switching to the running greenlet returns the arguments at once', () => {
    const g = new Greenlet(() => {
      const self = getcurrent();
      return [self.switch('a'), self.switch(), self.switch(1, 2)];
    });
    expect(g.switch()).toEqual(['a', undefined, [1, 2]]);
    const main = getcurrent();
    expect(main.switch('main to main')).toBe('main to main');
  });

  it('runs two children independently (test_two_children)', () => {
    const lst: number[] = [];
    const f = (): void => {
      lst.push(1);
      toParent();
      lst.push(1, 1);
    };
    const g = new Greenlet(f);
    const h = new Greenlet(f);
    g.switch();
    expect(lst.length).toBe(1);
    h.switch();
    expect(lst.length).toBe(2);
    h.switch();
    expect(lst.length).toBe(4);
    expect(h.dead).toBe(true);
    g.switch();
    expect(lst.length).toBe(6);
    expect(g.dead).toBe(true);
  });

  it('nests a greenlet created inside a greenlet under it (test_two_recursive_children)', () => {
    const lst: string[] = [];
    let inner: Greenlet | undefined;
    const f = (): void => {
      lst.push('b');
      toParent();
    };
    const outer = new Greenlet(() => {
      lst.push('a');
      inner = new Greenlet(f);
      expect(inner.parent).toBe(getcurrent());
      inner.switch();
      lst.push('c');
    });
    outer.switch();
    expect(lst).toEqual(['a', 'b', 'c']);
    expect(inner!.parent).toBe(outer);
    expect(outer.dead).toBe(true);
    // inner is still suspended in its switch to outer, which has finished.
    expect(inner!.dead).toBe(false);
    // Switching to it resumes it; it falls off its end into its dead parent
    // and so into main.
    expect(inner!.switch()).toBeUndefined();
    expect(inner!.dead).toBe(true);
  });

  it('switches between siblings without going through the parent', () => {
    const log: string[] = [];
    let ping: Greenlet;
    let pong: Greenlet;
    ping = new Greenlet((n: number) => {
      while (n < 10) {
        log.push(`ping ${n}`);
        n = pong.switch(n + 1) as number;
      }
      return `ping done at ${n}`;
    });
    pong = new Greenlet((n: number) => {
      for (;;) {
        log.push(`pong ${n}`);
        n = ping.switch(n + 1) as number;
      }
    });
    expect(ping.switch(0)).toBe('ping done at 10');
    expect(log).toEqual(['ping 0', 'pong 1', 'ping 2', 'pong 3', 'ping 4', 'pong 5', 'ping 6', 'pong 7', 'ping 8', 'pong 9']);
    expect(ping.dead).toBe(true);
    expect(pong.dead).toBe(false);
    expect(pong.parent).toBe(getcurrent());
  });

  it('unwinds a deep chain of nested greenlets through their parents', () => {
    const depth = 200;
    const main = getcurrent();
    const chain: Greenlet[] = [];
    const level = (n: number): number => {
      chain.push(getcurrent());
      if (n === depth) return main.switch('bottom') as number;
      const child = new Greenlet(level, undefined, { stackSize: 128 * 1024 });
      return (child.switch(n + 1) as number) + 1;
    };
    const top = new Greenlet(level);
    expect(top.switch(1)).toBe('bottom');
    expect(chain.length).toBe(depth);
    for (let i = 1; i < depth; i++) expect(chain[i].parent).toBe(chain[i - 1]);
    expect(chain.every((g) => g.active)).toBe(true);
    // The bottom greenlet returns 0; each level above adds one on the way up.
    expect(chain[depth - 1].switch(0)).toBe(depth - 1);
    expect(chain.every((g) => g.dead)).toBe(true);
  });

  it('sends an exception up a deep chain, each level adding to it', () => {
    const depth = 100;
    const level = (n: number): unknown => {
      if (n === depth) throw new SomeError('0');
      try {
        return new Greenlet(level, undefined, { stackSize: 128 * 1024 }).switch(n + 1);
      } catch (err) {
        (err as Error).message = String(Number((err as Error).message) + 1);
        throw err;
      }
    };
    const err = thrown(() => new Greenlet(level).switch(1));
    expect(err).toBeInstanceOf(SomeError);
    expect(err.message).toBe(String(depth - 1));
  });

  it('survives many switches back and forth', () => {
    const main = getcurrent();
    const g = new Greenlet((n: number) => {
      for (;;) n = main.switch(n * 2) as number;
    });
    let total = 0;
    total += g.switch(0) as number;
    for (let i = 1; i <= 20000; i++) total += g.switch(i) as number;
    expect(total).toBe(20000 * 20001);
    g.kill();
    expect(g.dead).toBe(true);
  });
});

describe('exceptions (test_greenlet)', () => {
  it('propagates an exception to the parent, through a re-parented greenlet (test_exception)', () => {
    const seen: unknown[] = [];
    const g1 = new Greenlet(fmain);
    const g2 = new Greenlet(fmain);
    g1.switch(seen);
    g2.switch(seen);
    g2.parent = g1;
    expect(seen).toEqual([]);
    expect(() => g2.switch()).toThrow(SomeError);
    expect(seen).toEqual([SomeError]);
    expect(g1.dead).toBe(true);
    expect(g2.dead).toBe(true);

    // Both are dead now: a switch to g2 goes to g1, then to main, carrying its arguments.
    expect(g2.switch()).toBeUndefined();
    expect(seen).toEqual([SomeError]);
    expect(g2.switch(25)).toBe(25);
    expect(g2.switch(1, 2)).toEqual([1, 2]);
    expect(seen).toEqual([SomeError]);
  });

  it('sends an exception into a suspended greenlet through a dying child (test_send_exception)', () => {
    const seen: unknown[] = [];
    const g1 = new Greenlet(fmain);
    g1.switch(seen);
    expect(() => sendException(g1, new KeyError())).toThrow(KeyError);
    expect(seen).toEqual([KeyError]);
    expect(g1.dead).toBe(true);
  });

  it('keeps the stack of an uncaught exception, pointing at the throwing line', () => {
    let where = '';
    function throwingHelper(): never {
      where = callerLocation(); throw new SomeError('from inside'); // prettier-ignore
    }
    function greenletBody(): void {
      throwingHelper();
    }
    const err = thrown(() => new Greenlet(greenletBody).switch());
    expect(err).toBeInstanceOf(SomeError);
    expect(err.message).toBe('from inside');
    const frames = err.stack!.split('\n').slice(1);
    expect(frames[0]).toContain('throwingHelper');
    expect(frames[0]).toContain(where);
    expect(frames[1]).toContain('greenletBody');
  });

  it('delivers values that are not Errors unchanged', () => {
    for (const value of ['a string', 42, null, undefined, { plain: 'object' }]) {
      let caught: unknown = 'nothing';
      try {
        new Greenlet(() => {
          throw value;
        }).switch();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBe(value);
    }
  });

  it('returns a GreenletExit that escapes run instead of raising it', () => {
    const exit = new GreenletExit('done early');
    const g = new Greenlet(() => {
      throw exit;
    });
    expect(g.switch()).toBe(exit);
    expect(g.dead).toBe(true);

    class MyExit extends GreenletExit {}
    const mine = new MyExit();
    expect(new Greenlet(() => {
      throw mine;
    }).switch()).toBe(mine);
  });

  it('exposes GreenletExit as an Error subclass', () => {
    const e = new GreenletExit();
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('GreenletExit');
    expect(e.message).toBe('GreenletExit');
    expect(new GreenletExit('why').message).toBe('why');
  });

  it('sends an exception raised in a greenlet whose parent is dead to the grandparent', () => {
    const main = getcurrent();
    let child: Greenlet | undefined;
    const parent = new Greenlet(() => {
      child = new Greenlet(() => {
        main.switch('child suspended');
        throw new SomeError('orphan');
      });
      return child.switch();
    });
    expect(parent.switch()).toBe('child suspended');
    // parent is still suspended inside child.switch(); finish it first.
    expect(parent.switch('parent ends')).toBe('parent ends');
    expect(parent.dead).toBe(true);
    expect(child!.parent).toBe(parent);
    const err = thrown(() => child!.switch());
    expect(err).toBeInstanceOf(SomeError);
    expect(err.message).toBe('orphan');
  });

  it('does not leak the caught exception of one greenlet into another (test_exc_state)', () => {
    const main = getcurrent();
    const g = new Greenlet(() => {
      try {
        throw new SomeError('held');
      } catch (err) {
        const other = new Greenlet(() => 'other ran');
        expect(other.switch()).toBe('other ran');
        main.switch();
        return err;
      }
    });
    g.switch();
    const e = g.switch();
    expect(e).toBeInstanceOf(SomeError);
    expect((e as Error).message).toBe('held');
  });
});

describe('unstarted parents and dead greenlets (test_greenlet)', () => {
  it('starts an unstarted parent with the value of a finished child', () => {
    const parentNeverStarted = new Greenlet((x: number) => [x, 24]);
    const child = new Greenlet(() => 42, parentNeverStarted);
    expect(child.switch()).toEqual([42, 24]);
    expect(parentNeverStarted.dead).toBe(true);
  });

  it('starts an unstarted subclass parent with its run() method', () => {
    // test_falling_off_end_switches_to_unstarted_parent_works, with run
    // defined by a subclass instead of passed to the constructor.
    class Parent extends Greenlet {
      override run(x: number): unknown {
        return ['Parent.run', x];
      }
    }
    const parentNeverStarted = new Parent();
    const child = new Greenlet(() => 42, parentNeverStarted);
    expect(child.switch()).toEqual(['Parent.run', 42]);
    expect(parentNeverStarted.dead).toBe(true);
  });

  it('raises the error of an unstarted parent in the switcher', () => {
    const seen: number[] = [];
    const parentNeverStarted = new Greenlet(() => {
      throw new SomeError('parent failed');
    });
    const child = new Greenlet(() => {
      seen.push(42);
    }, parentNeverStarted);
    expect(() => child.switch()).toThrow('parent failed');
    expect(seen).toEqual([42]);
    expect(child.dead).toBe(true);
    expect(parentNeverStarted.dead).toBe(true);
    expect(child.switch('through two dead')).toBe('through two dead');
    expect(seen).toEqual([42]);
  });

  it('switching to a dead greenlet switches to its new, unstarted parent (test_switch_to_dead_greenlet_reparent)', () => {
    const seen: number[] = [];
    const parentNeverStarted = new Greenlet(() => {
      seen.push(24);
    });
    const child = new Greenlet(() => {
      seen.push(42);
    });
    child.switch();
    expect(seen).toEqual([42]);
    child.parent = parentNeverStarted;
    expect(child.switch()).toBeUndefined();
    expect(seen).toEqual([42, 24]);
  });

  it('does nothing more when a finished greenlet is switched to again', () => {
    let runs = 0;
    const g = new Greenlet(() => ++runs);
    expect(g.switch()).toBe(1);
    expect(g.switch('again')).toBe('again');
    expect(g.switch()).toBeUndefined();
    expect(runs).toBe(1);
  });

  it('finishes a greenlet without run at once, returning undefined', () => {
    // python-greenlet raises AttributeError here (test_switch_no_run_raises_AttributeError);
    // looplet documents run as optional and treats a missing one as a no-op.
    const g = new Greenlet();
    expect(g.run).toBeUndefined();
    expect(g.switch('ignored')).toBeUndefined();
    expect(g.dead).toBe(true);
    const child = new Greenlet(() => 'child value', new Greenlet());
    expect(child.switch()).toBeUndefined();
  });
});

describe('run (test_greenlet)', () => {
  it('accepts undefined for run and parent (test_run_equals_None, test_parent_equals_None)', () => {
    const g = new Greenlet(undefined, undefined);
    expect(g.run).toBeUndefined();
    expect(g.parent).toBe(getcurrent());
    const h = new Greenlet(() => 1, null);
    expect(h.parent).toBe(getcurrent());
  });

  it('clears run once the greenlet starts (test_running_greenlet_has_no_run)', () => {
    const fn = (): unknown => getcurrent().run;
    const g = new Greenlet(fn);
    expect(g.run).toBe(fn);
    expect(g.switch()).toBeUndefined();
    expect(g.run).toBeUndefined();
  });

  it('lets run be replaced before the start, not after', () => {
    const main = getcurrent();
    const g = new Greenlet(() => 'first');
    g.run = () => main.switch('second');
    expect(g.switch()).toBe('second');
    const err = thrown(() => {
      g.run = () => 'third';
    });
    expect(err.code).toBe('ERR_LOOPLET_GREENLET_STARTED');
    expect(thrown(() => {
      new Greenlet().run = 'nope' as never;
    })).toBeInstanceOf(TypeError);
    g.kill();
  });

  it('uses a subclass run() method, bound to the instance', () => {
    class Adder extends Greenlet {
      constructor(readonly base: number) {
        super();
      }
      override run(x: number, y: number): number {
        expect(this).toBe(getcurrent());
        const z = toParent(this.base + x + y) as number;
        return this.base * z;
      }
    }
    const g = new Adder(100);
    expect(g).toBeInstanceOf(Greenlet);
    expect(g.switch(1, 2)).toBe(103);
    expect(g.switch(3)).toBe(300);
    expect(g.dead).toBe(true);
  });

  it('finds run() on an intermediate subclass', () => {
    class Base extends Greenlet {
      override run(): string {
        return `run of ${this.constructor.name}`;
      }
    }
    class Derived extends Base {}
    expect(new Derived().switch()).toBe('run of Derived');
  });

  it('prefers a run given to the constructor over the subclass method', () => {
    class WithRun extends Greenlet {
      override run(): string {
        return 'method';
      }
    }
    const g = new WithRun(() => 'argument');
    expect(g.switch()).toBe('argument');
  });

  it('keeps properties set on the running greenlet (test_instance_dict)', () => {
    const g = new Greenlet(() => {
      (getcurrent() as Greenlet & { test?: number }).test = 42;
    });
    g.switch();
    expect((g as Greenlet & { test?: number }).test).toBe(42);
  });
});

describe('flags and getcurrent', () => {
  it('reports started / dead / active through the life of a greenlet', () => {
    const main = getcurrent();
    const flags = (g: Greenlet): boolean[] => [g.started, g.dead, g.active];
    let inside: boolean[] = [];
    const g = new Greenlet(() => {
      inside = flags(getcurrent());
      main.switch();
    });
    expect(flags(g)).toEqual([false, false, false]);
    g.switch();
    expect(inside).toEqual([true, false, true]);
    expect(flags(g)).toEqual([true, false, true]);
    g.switch();
    expect(flags(g)).toEqual([true, true, false]);
    expect(flags(main)).toEqual([true, false, true]);
  });

  it('returns the running greenlet, the same object each time', () => {
    const main = getcurrent();
    expect(getcurrent()).toBe(main);
    expect(main).toBeInstanceOf(Greenlet);
    expect(main.parent).toBeNull();
    const g = new Greenlet(() => [getcurrent(), getcurrent().parent]);
    const [self, parent] = g.switch() as [Greenlet, Greenlet];
    expect(self).toBe(g);
    expect(parent).toBe(main);
    expect(getcurrent()).toBe(main);
  });
});

describe('parent (TestGreenletSetParentErrors)', () => {
  it('is the main greenlet for greenlets made at top level, null for main', () => {
    const worker = new Greenlet(() => undefined);
    expect(worker.parent).toBe(getcurrent());
    expect(getcurrent().parent).toBeNull();
  });

  it('rejects values that are not greenlets, before and while running (test_set_parent_wrong_types)', () => {
    const check = (g: Greenlet): void => {
      for (const p of [null, undefined, 1, {}, '42', () => undefined]) {
        const err = thrown(() => {
          g.parent = p as never;
        });
        expect(err).toBeInstanceOf(TypeError);
        expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
      }
      expect(g.parent).toBe(getcurrent());
    };
    const g = new Greenlet(() => toParent());
    check(g);
    g.switch();
    expect(g.active).toBe(true);
    check(g);
    g.switch();
    expect(g.dead).toBe(true);
  });

  it('cannot be removed (test_cannot_delete_parent)', () => {
    const worker = new Greenlet(() => undefined);
    delete (worker as { parent?: unknown }).parent;
    expect(worker.parent).toBe(getcurrent());
  });

  it('rejects a greenlet as its own parent (test_trivial_cycle)', () => {
    const glet = new Greenlet(() => undefined);
    const err = thrown(() => {
      glet.parent = glet;
    });
    expect(err.code).toBe('ERR_LOOPLET_GREENLET_CYCLE');
    expect(err.message).toMatch(/cyclic parent chain/);
    expect(glet.parent).toBe(getcurrent());
  });

  it('rejects a parent for the main greenlet (test_trivial_cycle_main)', () => {
    const main = getcurrent();
    expect(thrown(() => {
      main.parent = main;
    }).code).toBe('ERR_LOOPLET_GREENLET_CYCLE');
    const child = new Greenlet(() => undefined);
    expect(thrown(() => {
      main.parent = child;
    }).code).toBe('ERR_LOOPLET_GREENLET_CYCLE');
    expect(main.parent).toBeNull();
  });

  it('rejects a longer cycle and keeps the old parent (test_deeper_cycle)', () => {
    const g1 = new Greenlet(() => undefined);
    const g2 = new Greenlet(() => undefined);
    const g3 = new Greenlet(() => undefined);
    g1.parent = g2;
    g2.parent = g3;
    const err = thrown(() => {
      g3.parent = g1;
    });
    expect(err.code).toBe('ERR_LOOPLET_GREENLET_CYCLE');
    expect(g3.parent).toBe(getcurrent());
    expect(g1.parent).toBe(g2);
  });

  it('routes the result of run to a parent set after the start', () => {
    const main = getcurrent();
    const collector = new Greenlet((first: unknown) => {
      const second = main.switch(['collector got', first]);
      return ['collector finally got', second];
    });
    const g = new Greenlet(() => {
      toParent('g started');
      return 'g result';
    });
    expect(g.switch()).toBe('g started');
    g.parent = collector;
    // collector is unstarted: g's result starts it.
    expect(g.switch()).toEqual(['collector got', 'g result']);
    expect(collector.switch('x')).toEqual(['collector finally got', 'x']);
  });
});

describe('kill', () => {
  it('throws GreenletExit into a suspended greenlet and comes back to the killer', () => {
    const log: string[] = [];
    const g = new Greenlet(() => {
      try {
        toParent('suspended');
        log.push('not reached');
      } finally {
        log.push('finally');
      }
    });
    expect(g.switch()).toBe('suspended');
    const result = g.kill();
    expect(result).toBeInstanceOf(GreenletExit);
    expect(log).toEqual(['finally']);
    expect(g.dead).toBe(true);
    expect(g.kill()).toBeUndefined();
  });

  it('returns what run returns after catching GreenletExit', () => {
    const g = new Greenlet(() => {
      try {
        toParent();
      } catch (err) {
        return ['caught', err instanceof GreenletExit];
      }
      return 'not killed';
    });
    g.switch();
    expect(g.kill()).toEqual(['caught', true]);
  });

  it('marks an unstarted greenlet dead without running it', () => {
    let ran = false;
    const g = new Greenlet(() => {
      ran = true;
    });
    expect(g.kill()).toBeUndefined();
    expect(g.dead).toBe(true);
    expect(g.started).toBe(false);
    expect(g.switch('after kill')).toBe('after kill');
    expect(ran).toBe(false);
  });

  it('comes back to the killer even when the killed greenlet has another parent', () => {
    const main = getcurrent();
    const hub = new Greenlet(() => 'hub ran');
    let killed: Greenlet | undefined;
    const killer = new Greenlet(() => {
      const result = killed!.kill();
      return ['killer resumed', result instanceof GreenletExit];
    });
    killed = new Greenlet(() => main.switch('killed suspended'), hub);
    expect(killed.switch()).toBe('killed suspended');
    expect(killer.switch()).toEqual(['killer resumed', true]);
    expect(hub.started).toBe(false);
  });

  it('raises GreenletExit in the running greenlet when it kills itself', () => {
    const g = new Greenlet(() => {
      getcurrent().kill();
      return 'not reached';
    });
    expect(g.switch()).toBeInstanceOf(GreenletExit);
    expect(g.dead).toBe(true);
  });
});

describe('argument validation', () => {
  it('rejects a run that is not a function', () => {
    for (const run of [42, 'run', {}, null, true]) {
      const err = thrown(() => new Greenlet(run as never));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
      expect(err.message).toContain('"run"');
    }
  });

  it('rejects a parent that is not a greenlet', () => {
    for (const parent of [42, 'main', {}, () => undefined]) {
      const err = thrown(() => new Greenlet(() => undefined, parent as never));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
  });

  it('rejects options that are not an object', () => {
    for (const options of [null, 42, 'big']) {
      const err = thrown(() => new Greenlet(() => undefined, undefined, options as never));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
  });

  it('rejects a stackSize of the wrong type or out of range', () => {
    for (const stackSize of ['1048576', 1n, {}, null]) {
      const err = thrown(() => new Greenlet(() => undefined, undefined, { stackSize: stackSize as never }));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
    for (const stackSize of [0, -1, 1.5, 65536, 128 * 1024 - 1, NaN, Infinity, 2 ** 40]) {
      const err = thrown(() => new Greenlet(() => undefined, undefined, { stackSize }));
      expect(err).toBeInstanceOf(RangeError);
      expect(err.code).toBe('ERR_OUT_OF_RANGE');
    }
  });

  it('accepts the smallest stackSize and runs on it', () => {
    const g = new Greenlet((x: number) => x + 1, undefined, { stackSize: 128 * 1024 });
    expect(g.switch(1)).toBe(2);
    const big = new Greenlet(() => 'big', undefined, { stackSize: 16 * 1024 * 1024 });
    expect(big.switch()).toBe('big');
  });

  it('rejects methods called on something that is not a greenlet', () => {
    const fake = {};
    for (const call of [
      () => Greenlet.prototype.switch.call(fake),
      () => Greenlet.prototype.throw.call(fake, new Error('x')),
      () => Greenlet.prototype.kill.call(fake),
      () => Object.getOwnPropertyDescriptor(Greenlet.prototype, 'dead')!.get!.call(fake),
    ]) {
      const err = thrown(call);
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
  });
});

describe('threads behind greenlets (test_leaks, adapted)', () => {
  const busy = (): number => {
    const { threads, idleThreads } = runtimeStats();
    return threads - idleThreads;
  };

  it('reuses the thread of a finished greenlet instead of making a new one', () => {
    new Greenlet(() => undefined).switch();
    const before = runtimeStats().threads;
    for (let i = 0; i < 500; i++) expect(new Greenlet((x: number) => x + 1).switch(i)).toBe(i + 1);
    expect(runtimeStats().threads).toBe(before);
  });

  it('holds one thread per suspended greenlet and gives them all back when they end', () => {
    const main = getcurrent();
    const start = busy();
    const suspended = Array.from({ length: 50 }, () => {
      const g = new Greenlet(() => main.switch());
      g.switch();
      return g;
    });
    expect(busy()).toBe(start + 50);
    suspended.slice(0, 20).forEach((g) => g.switch());
    suspended.slice(20, 35).forEach((g) => g.kill());
    suspended.slice(35).forEach((g) => expect(() => g.throw(new Error('ended by throw'))).toThrow('ended by throw'));
    expect(suspended.every((g) => g.dead)).toBe(true);
    expect(busy()).toBe(start);
  });

  it('takes no thread for a greenlet that never starts', () => {
    const before = runtimeStats().threads;
    const made = Array.from({ length: 100 }, () => new Greenlet(() => undefined));
    made.slice(0, 50).forEach((g) => g.kill());
    made.slice(50).forEach((g) => expect(() => g.throw(new Error('unstarted'))).toThrow('unstarted'));
    expect(runtimeStats().threads).toBe(before);
  });
});
