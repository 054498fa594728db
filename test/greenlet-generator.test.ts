// Generators built on greenlets, ported from python-greenlet's
// src/greenlet/tests/test_generator.py, test_generator_nested.py and
// test_generator_deeply_nested2.py: a Genlet runs a plain function that
// calls Yield(value) anywhere down its call stack; the consumer iterates it
// with for...of.
import { describe, expect, it } from 'vitest';
import { Greenlet, getcurrent } from '../lib/greenlet';

/** A greenlet that is an iterator: each next() switches into it until the next Yield. */
class Genlet extends Greenlet implements Iterable<unknown> {
  child: Genlet | null = null;
  readonly args: unknown[];

  constructor(
    readonly fn: (...args: any[]) => unknown,
    args: unknown[],
  ) {
    super(undefined, undefined, { stackSize: 256 * 1024 });
    this.args = args;
  }

  override run(): void {
    this.fn(...this.args);
  }

  setChild(child: Genlet): void {
    this.child = child;
  }

  next(): IteratorResult<unknown> {
    let result: unknown;
    if (this.child) {
      // A Yield with level > 1 left a chain of children to resume directly.
      let child = this.child;
      while (child.child) {
        const tmp = child;
        child = child.child;
        tmp.child = null;
      }
      result = child.switch();
    } else {
      this.parent = getcurrent();
      result = this.switch();
    }
    return this.active ? { value: result, done: false } : { value: undefined, done: true };
  }

  // Not `return this`: Greenlet's own throw() is not an iterator's throw().
  [Symbol.iterator](): Iterator<unknown> {
    return { next: () => this.next() };
  }
}

/** Pauses the enclosing genlet (level levels up) and hands value to its consumer. */
function Yield(value: unknown, level = 1): void {
  let g: Greenlet | null = getcurrent();
  while (level !== 0) {
    if (!(g instanceof Genlet)) throw new Error('yield outside a genlet');
    if (level > 1) (g.parent as Genlet).setChild(g);
    g = g.parent;
    level -= 1;
  }
  g!.switch(value);
}

/** Turns a function that calls Yield into a factory of genlets. */
function generator<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => Genlet {
  return (...args: A) => new Genlet(fn, args);
}

describe('generator (test_generator)', () => {
  it('yields the values of a loop, three times over', () => {
    const seen: number[] = [];
    const g = generator((n: number) => {
      for (let i = 0; i < n; i++) {
        seen.push(i);
        Yield(i);
      }
    });
    for (let k = 0; k < 3; k++) {
      for (const j of g(5)) seen.push(j as number);
    }
    expect(seen).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
  });

  it('yields from a nested call, and agrees with a native generator (test_genlet_simple)', () => {
    function* g1(n: number, seen: number[]): Generator<number> {
      for (let i = 0; i < n; i++) {
        seen.push(i + 1);
        yield i;
      }
    }
    const g2 = generator((n: number, seen: number[]) => {
      for (let i = 0; i < n; i++) {
        seen.push(i + 1);
        Yield(i);
      }
    });
    const nested = (i: number): void => Yield(i);
    const g3 = generator((n: number, seen: number[]) => {
      for (let i = 0; i < n; i++) {
        seen.push(i + 1);
        nested(i);
      }
    });
    for (const g of [g1, g2, g3]) {
      const seen: number[] = [];
      for (let k = 0; k < 3; k++) {
        for (const j of g(5, seen)) seen.push(j as number);
      }
      expect(seen).toEqual([1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 1, 0, 2, 1, 3, 2, 4, 3, 5, 4]);
    }
  });

  it('refuses Yield outside a genlet (test_genlet_bad)', () => {
    expect(() => Yield(10)).toThrow('yield outside a genlet');
    const plain = new Greenlet(() => Yield(10));
    expect(() => plain.switch()).toThrow('yield outside a genlet');
  });

  it('iterates a genlet inside a genlet (test_nested_genlets)', () => {
    const ax: (n: number) => Genlet = generator((n: number) => {
      if (n === 0) return;
      for (const ii of ax(n - 1)) Yield(ii);
      Yield(n);
    });
    expect([...ax(5)]).toEqual([1, 2, 3, 4, 5]);
  });

  it('yields two levels up past the inner genlet (test_layered_genlets)', () => {
    const gr1 = generator((n: number) => {
      for (let ii = 1; ii < n; ii++) {
        Yield(ii);
        Yield(ii * ii, 2);
      }
    });
    const gr2 = generator((n: number, seen: number[]) => {
      for (const ii of gr1(n)) seen.push(ii as number);
    });
    const seen: number[] = [];
    for (const ii of gr2(5, seen)) seen.push(ii as number);
    expect(seen).toEqual([1, 1, 2, 4, 3, 9, 4, 16]);
  });

  it('enumerates permutations through recursive genlets (test_permutations)', () => {
    const perms: (l: number[]) => Genlet = generator((l: number[]) => {
      if (l.length > 1) {
        for (const e of l) {
          for (const p of perms(l.filter((x) => x !== e))) Yield([e, ...(p as number[])]);
        }
      } else {
        Yield(l);
      }
    });
    const all = [...perms([0, 1, 2, 3])] as number[][];
    expect(all.length).toBe(24);
    expect(all).toContainEqual([0, 1, 2, 3]);
    expect(all).toContainEqual([3, 2, 1, 0]);
    expect(new Set(all.map((p) => p.join(''))).size).toBe(24);

    // Two generators advanced in lockstep, like zip().
    const a = perms([0, 1, 2, 3]);
    const b = perms([0, 1, 2]);
    const res: unknown[] = [];
    for (;;) {
      const x = a.next();
      const y = b.next();
      if (x.done || y.done) break;
      res.push([x.value, y.value]);
    }
    expect(res).toEqual([
      [[0, 1, 2, 3], [0, 1, 2]],
      [[0, 1, 3, 2], [0, 2, 1]],
      [[0, 2, 1, 3], [1, 0, 2]],
      [[0, 2, 3, 1], [1, 2, 0]],
      [[0, 3, 1, 2], [2, 0, 1]],
      [[0, 3, 2, 1], [2, 1, 0]],
    ]);
  });

  it('yields nothing from an empty generator (test_empty_gen)', () => {
    const emptyGen = generator(() => undefined);
    expect([...emptyGen()]).toEqual([]);
  });

  it('can be abandoned half way and killed', () => {
    const log: string[] = [];
    const counter = generator(() => {
      try {
        for (let i = 0; ; i++) Yield(i);
      } finally {
        log.push('cleaned up');
      }
    });
    const g = counter();
    const firstThree: unknown[] = [];
    for (const v of g) {
      firstThree.push(v);
      if (firstThree.length === 3) break;
    }
    expect(firstThree).toEqual([0, 1, 2]);
    expect(g.active).toBe(true);
    g.kill();
    expect(log).toEqual(['cleaned up']);
    expect(g.next().done).toBe(true);
  });

  it('propagates an exception raised inside the generator to the consumer', () => {
    const failing = generator(() => {
      Yield('first');
      throw new Error('generator broke');
    });
    const g = failing();
    expect(g.next()).toEqual({ value: 'first', done: false });
    expect(() => g.next()).toThrow('generator broke');
    expect(g.dead).toBe(true);
  });
});

describe('deeply nested generators (test_generator_deeply_nested2)', () => {
  /** A marker a worker yields to ask its trampoline to delegate to another generator. */
  class YieldFrom {
    constructor(
      readonly fn: (...args: any[]) => void,
      readonly args: unknown[],
    ) {}
  }

  /**
   * One genlet whose run() is a trampoline over a stack of worker greenlets,
   * so that delegation costs no call depth: each worker is its own greenlet.
   */
  class Trampoline extends Greenlet {
    consumer: Greenlet | null = null;

    constructor(
      readonly fn: (...args: any[]) => void,
      readonly args: unknown[],
    ) {
      super();
    }

    override run(): void {
      const workers: Greenlet[] = [];
      let active = new Greenlet(this.fn, undefined, { stackSize: 128 * 1024 });
      let yielded = active.switch(...this.args);
      for (;;) {
        if (yielded instanceof YieldFrom) {
          workers.push(active);
          active = new Greenlet(yielded.fn, undefined, { stackSize: 128 * 1024 });
          yielded = active.switch(...yielded.args);
          continue;
        }
        if (active.dead) {
          if (workers.length === 0) break;
          active = workers.pop()!;
          yielded = active.switch();
          continue;
        }
        this.consumer!.switch(yielded);
        yielded = active.switch();
      }
    }

    *[Symbol.iterator](): Generator<unknown> {
      for (;;) {
        this.consumer = getcurrent();
        const value = this.switch();
        if (this.dead) return;
        yield value;
      }
    }
  }

  const yieldValue = (value: unknown): void => {
    getcurrent().parent!.switch(value);
  };
  const yieldFrom = (fn: (...args: any[]) => void, ...args: unknown[]): void => yieldValue(new YieldFrom(fn, args));

  function hanoi(n: number, a: string, b: string, c: string): void {
    if (n > 1) yieldFrom(hanoi, n - 1, a, c, b);
    yieldValue(`${a} -> ${c}`);
    if (n > 1) yieldFrom(hanoi, n - 1, b, a, c);
  }

  function integers(n: number): void {
    if (n > 1) yieldFrom(integers, n - 1);
    yieldValue(n);
  }

  it('solves the towers of Hanoi (test_hanoi)', () => {
    expect([...new Trampoline(hanoi, [3, 'A', 'B', 'C'])]).toEqual([
      'A -> C',
      'A -> B',
      'C -> B',
      'A -> C',
      'B -> A',
      'B -> C',
      'A -> C',
    ]);
  });

  it('delegates 2000 levels deep, with 2000 greenlets suspended at once (test_make_integer_sequence)', () => {
    const expected = Array.from({ length: 2000 }, (_, i) => i + 1);
    expect([...new Trampoline(integers, [2000])]).toEqual(expected);
  });

  it('ends at once for an empty generator (test_empty_gen)', () => {
    expect([...new Trampoline(() => undefined, [])]).toEqual([]);
  });
});
