#!/usr/bin/env node
// Which timers should the hub use? Node's setTimeout per sleeping greenlet,
// or one binary heap of deadlines with a single setTimeout armed for the
// earliest (cancelled entries dropped lazily). Measures, for 10,000 timers:
//   fire:        arm, expire, run the callback (same delay; 50 delays)
//   arm+cancel:  arm then cancel at once (a timed wait that ends early)
// in µs per timer; rounds 3-5 of 5 are printed. Run: node benchmarks/timer-choice.mjs
// The result and the decision are in docs/hub.md ("Timers").
class Heap {
  constructor() { this.a = []; }
  push(x) { const a = this.a; a.push(x); let i = a.length - 1; while (i > 0) { const p = (i - 1) >> 1; if (a[p].at <= x.at) break; a[i] = a[p]; i = p; } a[i] = x; }
  pop() { const a = this.a; const top = a[0]; const last = a.pop(); if (a.length) { let i = 0; for (;;) { const l = 2*i+1, r = l+1; let m = i; if (l < a.length && a[l].at < (m===i?last.at:a[m].at)) m = l; if (r < a.length && a[r].at < (m===i?last.at:a[m].at)) m = r; if (m === i) break; a[i] = a[m]; i = m; } a[i] = last; } return top; }
  get size() { return this.a.length; } peek() { return this.a[0]; }
}
class HeapTimers {
  constructor() { this.h = new Heap(); this.timer = null; this.armedAt = Infinity; }
  add(ms, cb) { const e = { at: performance.now() + ms, cb, dead: false }; this.h.push(e); if (e.at < this.armedAt) this.arm(); return e; }
  cancel(e) { e.dead = true; }
  arm() { if (this.timer) clearTimeout(this.timer); const top = this.h.peek(); if (!top) { this.timer = null; this.armedAt = Infinity; return; } this.armedAt = top.at; this.timer = setTimeout(() => this.fire(), Math.max(0, top.at - performance.now())); }
  fire() { this.timer = null; this.armedAt = Infinity; const now = performance.now(); while (this.h.size && this.h.peek().at <= now + 0.5) { const e = this.h.pop(); if (!e.dead) e.cb(); } while (this.h.size && this.h.peek().dead) this.h.pop(); if (this.h.size) this.arm(); }
}
const N = 10000;
async function fireAll(kind, spread) {
  const ht = new HeapTimers();
  const t0 = performance.now();
  await new Promise((resolve) => {
    let left = N;
    const cb = () => { if (--left === 0) resolve(); };
    for (let i = 0; i < N; i++) { const ms = 5 + (spread ? (i % 50) : 0); if (kind === 'node') setTimeout(cb, ms); else ht.add(ms, cb); }
  });
  return performance.now() - t0 - (5 + (spread ? 49 : 0));
}
function armCancel(kind) {
  const ht = new HeapTimers();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) { const ms = 100 + (i % 50); if (kind === 'node') clearTimeout(setTimeout(() => {}, ms)); else ht.cancel(ht.add(ms, () => {})); }
  const dt = performance.now() - t0;
  if (kind === 'heap' && ht.timer) clearTimeout(ht.timer);
  return dt;
}
for (let round = 0; round < 5; round++) {
  const r = {};
  for (const kind of ['node', 'heap']) {
    r[`${kind} fire same ms (us/timer)`] = ((await fireAll(kind, false)) * 1000 / N).toFixed(3);
    r[`${kind} fire 50 delays (us/timer)`] = ((await fireAll(kind, true)) * 1000 / N).toFixed(3);
    r[`${kind} arm+cancel (us/timer)`] = (armCancel(kind) * 1000 / N).toFixed(3);
  }
  if (round >= 2) console.log(JSON.stringify(r));
}
