#!/usr/bin/env node
// A greenlet ping-pong to profile: where does a switch's time go?
// Prints, per round: µs per switch (wall), µs of CPU per switch (all threads),
// the runtime's counters (waits ended while yielding / sleeping) and the
// scavenges and their time, taken with PerformanceObserver('gc').
//
//   node benchmarks/profile-switch.mjs [--switches N] [--suspended K] [--spin US] [--rounds R]
//
// --suspended K keeps K other greenlets suspended meanwhile: every garbage
// collection scans each suspended greenlet's stack, so a collection's cost
// grows with K (docs/greenlets.md, "Where a switch's time goes").
//
// Under perf (the profile in docs/greenlets.md):
//   perf record -F 10000 -g -o /tmp/switch.data -- \
//     node --perf-basic-prof benchmarks/profile-switch.mjs --switches 2000000
//   perf report -i /tmp/switch.data --no-children --sort dso,sym
// Needs `npm run build` first (it loads ../dist/cjs/greenlet.js).
import { createRequire } from 'node:module';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { Greenlet, getcurrent, runtimeStats, setSwitchSpin } = require('../dist/cjs/greenlet.js');

const { values } = parseArgs({
  options: {
    switches: { type: 'string', default: '400000' },
    suspended: { type: 'string', default: '0' },
    spin: { type: 'string', default: '0' },
    rounds: { type: 'string', default: '5' },
  },
});
const count = (name) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`--${name} must be a non-negative integer, got ${values[name]}`);
  return n;
};
const switches = Math.max(2, count('switches'));
const suspended = count('suspended');
const rounds = Math.max(1, count('rounds'));
setSwitchSpin(Number(values.spin));

let scavenges = 0;
let scavengeMs = 0;
let otherGcs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) {
      scavenges++;
      scavengeMs += e.duration;
    } else otherGcs++;
  }
}).observe({ entryTypes: ['gc'] });

const main = getcurrent();
const held = Array.from({ length: suspended }, () => new Greenlet(() => main.switch()));
for (const g of held) g.switch();
const partner = new Greenlet(() => {
  for (;;) main.switch();
});
partner.switch();

const settle = () => new Promise((resolve) => setImmediate(resolve)); // lets the gc entries arrive
for (let r = 0; r < rounds; r++) {
  const before = runtimeStats();
  const gc0 = [scavenges, scavengeMs, otherGcs];
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < switches / 2; i++) partner.switch();
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  await settle();
  const after = runtimeStats();
  console.log(
    `round ${r + 1}: ${(ns / 1000 / switches).toFixed(3)} us/switch, CPU ${((cpu.user + cpu.system) / switches).toFixed(3)} us/switch; ` +
      `waits ended yielding ${after.yields - before.yields}, sleeping ${after.sleeps - before.sleeps}; ` +
      `${suspended} suspended; scavenges ${scavenges - gc0[0]} (${(scavengeMs - gc0[1]).toFixed(1)} ms), other GCs ${otherGcs - gc0[2]}`,
  );
}
partner.kill();
for (const g of held) g.kill();
process.exit(0);
