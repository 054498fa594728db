// Poller#selectInto: select() into a caller's array, reusing its pair arrays,
// on every backend; and the fd-indexed key table behind both.
import { describe, expect, it } from 'vitest';
import { EVENT_READ, EVENT_WRITE, Poller, type ReadyList } from '../lib/index';
import { closeFd, installFdCleanup, pollerFactory, send, socketpair, summary, thrown } from './helpers';

installFdCleanup();

describe.each(Poller.backends())('selectInto with the %s backend', (backend) => {
  const make = pollerFactory(backend);

  it('fills the array with the ready pairs, reuses its pair arrays, and sets its length to the count', () => {
    const p = make();
    const [a, b] = socketpair();
    const [c, d] = socketpair();
    const ka = p.register(a, EVENT_READ, 'a');
    const kc = p.register(c, EVENT_READ | EVENT_WRITE, 'c');
    const out: ReadyList<string> = [];
    expect(p.selectInto(out, 0)).toBe(1);
    expect(out).toEqual([[kc, EVENT_WRITE]]);
    const first = out[0];
    send(b);
    expect(p.selectInto(out, 0)).toBe(2);
    expect(summary(out)).toEqual([
      [a, EVENT_READ],
      [c, EVENT_WRITE],
    ]);
    expect(out).toContain(first); // the pair array was reused
    p.unregister(c);
    expect(p.selectInto(out, 0)).toBe(1);
    expect(out).toEqual([[ka, EVENT_READ]]);
    expect(out.length).toBe(1);
    void d;
  });

  it('reports the current key after modify() and nothing for an unregistered fd', () => {
    const p = make();
    const [a, b] = socketpair();
    p.register(a, EVENT_READ, 'old');
    send(b);
    const k2 = p.modify(a, EVENT_READ, 'new');
    expect(p.select(0)).toEqual([[k2, EVENT_READ]]);
    const out: ReadyList<string> = [[k2, 0]];
    p.unregister(a);
    expect(p.selectInto(out, 0)).toBe(0);
    expect(out).toEqual([]);
    const k3 = p.register(a, EVENT_READ, 'again');
    expect(p.select(0)).toEqual([[k3, EVENT_READ]]);
    closeFd(b);
  });

  it('rejects what is not an array, and a closed poller', () => {
    const p = make();
    for (const bad of [undefined, null, {}, 'x', new Set()]) {
      const err = thrown(() => p.selectInto(bad as never, 0));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
    p.close();
    expect(thrown(() => p.selectInto([], 0)).code).toBe('ERR_LOOPLET_POLLER_CLOSED');
  });
});
