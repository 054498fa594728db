// The seed tutorial's asyncio chapter, written with jobs: the asyncio names
// are in the comments. Where asyncio needs `async`/`await` all the way up,
// jobs are plain functions that block (sleep, join) without blocking the
// event loop.
//
//   node examples/hub-asyncio-style.mjs [--scale 1]   (--scale 0.01: seconds of 10 ms)
import { parseArgs } from 'node:util';
import { Queue, joinall, run, sleep, spawn, spawnLater } from 'looplet';

const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' } } });
const second = 1000 * Number(values.scale);
const t0 = performance.now();
const now = () => (performance.now() - t0) / second; // loop.time(), in scaled seconds

// async def get_html(url): await asyncio.sleep(2); return "lewen"
function getHtml(url, seconds = 2) {
  sleep(seconds * second);
  return `<html of ${url}>`;
}

await run(() => {
  // asyncio.wait(tasks): ten downloads at once take 2 s, not 20.
  const tasks = Array.from({ length: 10 }, (_, i) => spawn(getHtml, `http://www.imooc.com/${i}`));
  const done = joinall(tasks); // loop.run_until_complete(asyncio.wait(tasks))
  console.log(`wait: ${done.length} done in ${now().toFixed(1)} s`);

  // task.add_done_callback(partial(callback, url)); task.result()
  const task = spawn(getHtml, 'http://www.imooc.com');
  task.link((finished) => console.log(`done callback: send callback email for ${finished.value}`));
  console.log(`result: ${task.get()}`);
  sleep(0); // let the callback run (asyncio runs done callbacks on the loop, after the task)

  // asyncio.gather(group1, group2): results in argument order, whatever finishes first.
  const group1 = [spawn(getHtml, 'http://projectsedu.com', 0.2), spawn(getHtml, 'http://projectsedu.com/2', 0.1)];
  const group2 = [spawn(getHtml, 'http://www.imooc.com', 0.3), spawn(getHtml, 'http://www.imooc.com/2', 0.05)];
  joinall([...group1, ...group2], { raiseError: true });
  console.log(`gather: ${[...group1, ...group2].map((j) => j.value).join(' ')}`);

  // for task in asyncio.as_completed(tasks): result = await task
  const racing = [3, 1, 2].map((n) => spawn(getHtml, `page ${n}`, n * 0.1));
  const finished = new Queue();
  for (const job of racing) job.link((j) => finished.putNowait(j));
  for (let i = 0; i < racing.length; i++) console.log(`as_completed: ${finished.get().value}`);

  // loop.call_soon / call_later / call_at: callbacks run by the loop at a time.
  const start = now();
  const calls = [];
  const callback = (label) => calls.push(`${label} at +${(now() - start).toFixed(1)} s`);
  const scheduled = [
    spawn(callback, 'call_soon'), // loop.call_soon(callback)
    spawnLater(2 * second, callback, 'call_later(2)'), // loop.call_later(2, callback)
    spawnLater(1 * second, callback, 'call_later(1)'),
    spawnLater((start + 3 - now()) * second, callback, 'call_at(now + 3)'), // loop.call_at(now + 3, callback)
  ];
  joinall(scheduled);
  for (const line of calls) console.log(line);
});
