// Greenlet.throw(), ported from python-greenlet's src/greenlet/tests/test_throw.py:
// the exception is raised where the greenlet is suspended; an unstarted or
// dead greenlet is ended at once and the exception goes on to its parent,
// except GreenletExit, which becomes the return value.
import { describe, expect, it } from 'vitest';
import { Greenlet, GreenletExit, getcurrent } from '../lib/greenlet';
import { thrown } from './helpers';

class IndexError extends Error {
  constructor(message = 'IndexError') {
    super(message);
    this.name = 'IndexError';
  }
}

function toParent(...args: unknown[]): unknown {
  return getcurrent().parent!.switch(...args);
}

describe('throw (test_throw)', () => {
  it('raises the exception where the greenlet is suspended (test_class)', () => {
    const g = new Greenlet(() => {
      try {
        toParent('ok');
      } catch (err) {
        if (err instanceof RangeError) {
          toParent('ok');
          return;
        }
      }
      toParent('fail');
    });
    expect(g.switch()).toBe('ok');
    expect(g.throw(new RangeError())).toBe('ok');
  });

  it('delivers the exception object itself (test_val)', () => {
    const f = (): void => {
      try {
        toParent('ok');
      } catch (err) {
        if (err instanceof RangeError && err.message === 'ciao') {
          toParent('ok');
          return;
        }
      }
      toParent('fail');
    };
    const sent = new RangeError('ciao');
    let received: unknown;
    const g = new Greenlet(() => {
      try {
        toParent('ok');
      } catch (err) {
        received = err;
      }
    });
    g.switch();
    g.throw(sent);
    expect(received).toBe(sent);

    const h = new Greenlet(f);
    expect(h.switch()).toBe('ok');
    expect(h.throw(new RangeError('ciao'))).toBe('ok');
  });

  it('kills with GreenletExit by default, and a dead greenlet eats it (test_kill)', () => {
    const g = new Greenlet(() => {
      toParent('ok');
      toParent('fail');
    });
    expect(g.switch()).toBe('ok');
    const res = g.throw();
    expect(res).toBeInstanceOf(GreenletExit);
    expect(g.dead).toBe(true);
    // Immediately eaten by the already dead greenlet.
    const again = g.throw();
    expect(again).toBeInstanceOf(GreenletExit);
    const explicit = new GreenletExit('explicit');
    expect(g.throw(explicit)).toBe(explicit);
  });

  it('ends an unstarted greenlet and its unstarted parent, raising in the thrower (test_throw_goes_to_original_parent, 1)', () => {
    const main = getcurrent();
    const f1 = (): string => {
      try {
        main.switch('f1 ready to catch');
      } catch (err) {
        if (err instanceof IndexError) return 'caught';
        throw err;
      }
      return 'normal exit';
    };
    const f2 = (): void => {
      main.switch('from f2');
    };
    const g1 = new Greenlet(f1);
    const g2 = new Greenlet(f2, g1);
    expect(() => g2.throw(new IndexError())).toThrow(IndexError);
    expect(g2.dead).toBe(true);
    expect(g1.dead).toBe(true);
    expect(g1.started).toBe(false);
    expect(g2.started).toBe(false);
  });

  it('sends the exception from an unstarted greenlet to its suspended parent (test_throw_goes_to_original_parent, 2)', () => {
    const main = getcurrent();
    const f1 = (): string => {
      try {
        main.switch('f1 ready to catch');
      } catch (err) {
        if (err instanceof IndexError) return 'caught';
        throw err;
      }
      return 'normal exit';
    };
    let f2Ran = false;
    const g1 = new Greenlet(f1);
    const g2 = new Greenlet(() => {
      f2Ran = true;
    }, g1);
    expect(g1.switch()).toBe('f1 ready to catch');
    expect(g2.throw(new IndexError())).toBe('caught');
    expect(g2.dead).toBe(true);
    expect(g1.dead).toBe(true);
    expect(f2Ran).toBe(false);
  });

  it('sends an exception a suspended greenlet does not catch to its original parent (test_throw_goes_to_original_parent, 3)', () => {
    const main = getcurrent();
    const g1 = new Greenlet(() => {
      try {
        main.switch('f1 ready to catch');
      } catch (err) {
        if (err instanceof IndexError) return 'caught';
        throw err;
      }
      return 'normal exit';
    });
    const g2 = new Greenlet(() => {
      main.switch('from f2');
    }, g1);
    expect(g1.switch()).toBe('f1 ready to catch');
    expect(g2.switch()).toBe('from f2');
    expect(g2.throw(new IndexError())).toBe('caught');
    expect(g2.dead).toBe(true);
    expect(g1.dead).toBe(true);
  });

  it('throws any value, not only Errors (test_not_throwable, adapted)', () => {
    const received: unknown[] = [];
    const g = new Greenlet(() => {
      for (;;) {
        try {
          toParent('waiting');
        } catch (err) {
          received.push(err);
        }
      }
    });
    g.switch();
    const obj = { reason: 'object' };
    for (const value of ['abc', 42, null, obj]) expect(g.throw(value)).toBe('waiting');
    expect(received).toEqual(['abc', 42, null, obj]);
    expect(received[3]).toBe(obj);
    g.kill();
  });

  it('ends an unstarted greenlet with GreenletExit as its value, without running it', () => {
    let ran = false;
    const g = new Greenlet(() => {
      ran = true;
    });
    const exit = new GreenletExit('never started');
    expect(g.throw(exit)).toBe(exit);
    expect(g.dead).toBe(true);
    expect(g.started).toBe(false);
    expect(ran).toBe(false);
    expect(g.switch('dead now')).toBe('dead now');
    expect(ran).toBe(false);
  });

  it('raises an exception thrown into an unstarted greenlet in its parent, the caller', () => {
    let ran = false;
    const g = new Greenlet(() => {
      ran = true;
    });
    const err = new IndexError('into unstarted');
    expect(thrown(() => g.throw(err))).toBe(err);
    expect(g.dead).toBe(true);
    expect(ran).toBe(false);
  });

  it('raises an exception thrown into a dead greenlet in its parent', () => {
    const g = new Greenlet(() => 'done');
    expect(g.switch()).toBe('done');
    const err = new IndexError('into dead');
    expect(thrown(() => g.throw(err))).toBe(err);
  });

  it('raises at once when a greenlet throws into itself', () => {
    const g = new Greenlet(() => {
      const self = getcurrent();
      let caught: unknown;
      try {
        self.throw(new IndexError('self'));
      } catch (err) {
        caught = err;
      }
      return [(caught as Error).message, self.active];
    });
    expect(g.switch()).toEqual(['self', true]);
  });

  it('raises in the main greenlet when a greenlet throws into it', () => {
    const main = getcurrent();
    const g = new Greenlet(() => {
      main.throw(new IndexError('into main'));
      return 'resumed after throwing into main';
    });
    expect(() => g.switch()).toThrow('into main');
    expect(g.active).toBe(true);
    expect(g.switch()).toBe('resumed after throwing into main');
  });

  it('lets a greenlet catch GreenletExit and go on living', () => {
    const g = new Greenlet(() => {
      let exits = 0;
      for (;;) {
        try {
          toParent(exits);
        } catch (err) {
          if (!(err instanceof GreenletExit)) throw err;
          if (++exits === 3) return 'finally gave up';
        }
      }
    });
    expect(g.switch()).toBe(0);
    expect(g.throw()).toBe(1);
    expect(g.throw()).toBe(2);
    expect(g.throw()).toBe('finally gave up');
    expect(g.dead).toBe(true);
  });

  it('runs finally blocks of a killed greenlet before returning', () => {
    const log: string[] = [];
    const g = new Greenlet(() => {
      try {
        try {
          toParent();
        } finally {
          log.push('inner finally');
        }
      } finally {
        log.push('outer finally');
      }
    });
    g.switch();
    expect(g.throw()).toBeInstanceOf(GreenletExit);
    expect(log).toEqual(['inner finally', 'outer finally']);
  });

  it('throws into a greenlet suspended deep in nested calls', () => {
    const depthAtThrow: number[] = [];
    const dive = (n: number): unknown => {
      if (n === 0) return toParent('bottom');
      try {
        return dive(n - 1);
      } catch (err) {
        depthAtThrow.push(n);
        throw err;
      }
    };
    const g = new Greenlet(() => dive(5));
    expect(g.switch()).toBe('bottom');
    expect(() => g.throw(new IndexError('deep'))).toThrow('deep');
    expect(depthAtThrow).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps the stack of the thrown error, made where the thrower created it', () => {
    const g = new Greenlet(() => {
      try {
        toParent();
      } catch (err) {
        return err;
      }
    });
    g.switch();
    function makeErrorHere(): Error {
      return new IndexError('with stack');
    }
    const err = makeErrorHere();
    const stack = err.stack;
    const back = g.throw(err) as Error;
    expect(back).toBe(err);
    expect(back.stack).toBe(stack);
    expect(back.stack).toContain('makeErrorHere');
  });
});
