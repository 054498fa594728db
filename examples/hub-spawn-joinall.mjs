// The seed tutorial's gevent example: three functions that each print a
// first part, sleep (2, 1 and 3 seconds) and print a second part, spawned
// and joined with joinall. The sleeps overlap: the second parts come in the
// order the sleeps end, and the whole takes ~3 seconds, not 6.
//
//   node examples/hub-spawn-joinall.mjs [--scale 1]   (--scale 0.01: seconds of 10 ms)
import { parseArgs } from 'node:util';
import { joinall, run, sleep, spawn } from 'looplet';

const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' } } });
const second = 1000 * Number(values.scale);

function part(name, seconds) {
  return () => {
    console.log(`${name}: part 1`);
    sleep(seconds * second); // gevent.sleep(): only this job waits
    console.log(`${name}: part 2`);
  };
}

const started = performance.now();
await run(() => {
  joinall([spawn(part('func1', 2)), spawn(part('func2', 1)), spawn(part('func3', 3))]);
});
const seconds = (performance.now() - started) / second;
console.log(`took ${seconds.toFixed(1)} s: about the longest sleep (3 s), not their sum (6 s)`);
