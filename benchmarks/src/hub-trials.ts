// The hub's trials of `looplet bench greenlet` (protocol.ts, HubTimedKind
// and HubSleepersTrial). Each runs inside one driver job: the hub (this
// thread's main greenlet) runs the event loop and cannot block. The gevent
// side (benchmarks/greenlet_peer.py) is written the same way, its driver
// being gevent's main greenlet, which can block.
import { runtimeStats } from '../../dist/cjs/greenlet';
import { Event, Queue, joinall, killall, run, sleep, spawn, type Job } from '../../dist/cjs/hub';
import { HUB_EVENT_WAITERS, HUB_QUEUE_SIZE, type HubSleepersOutcome, type HubSleepersRound, type HubSleepersTrial, type HubTimedKind } from './protocol';
import { gc, peakRssKiB, resetPeakRss, rssKiB } from './rss';
import { nowNs, type BlockRunner } from './timing';

/** A hub operation timed in blocks: the runner, operations per iteration, and how to end its helper jobs. */
export interface HubRunner {
  run: BlockRunner;
  opsPerIteration: number;
  close(): void;
}

/** Times `iterate` k times per block; a sample is ns per iteration. */
function blocksOf(iterate: () => void): BlockRunner {
  return (blocks, k) => {
    const out = new Float64Array(blocks);
    for (let b = 0; b < blocks; b++) {
      const t0 = nowNs();
      for (let i = 0; i < k; i++) iterate();
      out[b] = Number(nowNs() - t0) / k;
    }
    return out;
  };
}

const trivial = (): number => 1;

/**
 * Sets up a timed hub trial: its helper jobs are started and parked before
 * this returns. Call it inside the driver job; close() from there too.
 */
export function hubRunner(kind: HubTimedKind): HubRunner {
  const none = (): void => undefined;
  if (kind === 'hub-sleep') return { run: blocksOf(() => sleep(0)), opsPerIteration: 1, close: none };
  if (kind === 'hub-spawn') return { run: blocksOf(() => spawn(trivial).join()), opsPerIteration: 1, close: none };
  if (kind === 'hub-event') {
    // Every waiter loops on event.wait(); set() wakes all of them even though
    // clear() follows at once; the last to wake sets `done`, so when the
    // driver resumes every waiter is parked on `event` again.
    const event = new Event();
    const done = new Event();
    let woken = 0;
    const waiter = (): never => {
      for (;;) {
        event.wait();
        if (++woken === HUB_EVENT_WAITERS) done.set();
      }
    };
    const waiters = Array.from({ length: HUB_EVENT_WAITERS }, () => spawn(waiter));
    sleep(0); // every waiter starts and parks
    const iterate = (): void => {
      woken = 0;
      done.clear();
      event.set();
      event.clear();
      done.wait();
      if (woken !== HUB_EVENT_WAITERS) throw new Error(`hub-event: ${woken} of ${HUB_EVENT_WAITERS} waiters woke`);
    };
    return { run: blocksOf(iterate), opsPerIteration: HUB_EVENT_WAITERS, close: () => killall(waiters) };
  }
  // hub-queue: the producer never stops; the driver is the consumer.
  const queue = new Queue<number>(HUB_QUEUE_SIZE);
  const producer = spawn(() => {
    for (let i = 0; ; i++) queue.put(i);
  });
  let expected = 0;
  const iterate = (): void => {
    if (queue.get() !== expected++) throw new Error('hub-queue: an item came out of order');
  };
  return { run: blocksOf(iterate), opsPerIteration: 1, close: () => producer.kill() };
}

/** One round of the sleepers trial, inside a driver job. */
function sleepersRound(count: number, sleepMs: number): HubSleepersRound {
  let started = 0;
  let finished = 0;
  let reading: [kib: number, asleep: number] | null = null;
  const sleeper = (): void => {
    if (++started === count) reading = [rssKiB()[0], started - finished];
    sleep(sleepMs);
    finished++;
  };
  const stats = runtimeStats();
  const peakReset = resetPeakRss();
  const [before] = rssKiB();
  const jobs: Job[] = new Array(count);
  const t0 = nowNs();
  for (let i = 0; i < count; i++) jobs[i] = spawn(sleeper);
  joinall(jobs);
  const wallMs = Number(nowNs() - t0) / 1e6;
  const peak = peakReset ? peakRssKiB() : null;
  const after = runtimeStats();
  const [kib, asleep] = reading ?? [NaN, 0];
  if (finished !== count || reading === null || !jobs.every((j) => j.successful())) throw new Error(`hub-sleepers: ${finished} of ${count} sleepers finished`);
  return {
    wallMs,
    rssBeforeKiB: before,
    rssAsleepKiB: kib,
    asleep,
    kibPerSleeper: (kib - before) / count,
    rssPeakKiB: peak,
    peakKibPerSleeper: peak === null ? null : (peak - before) / count,
    threads: after.threads,
    newThreads: after.threads - stats.threads,
    switchesPerSleeper: (after.switches - stats.switches) / count,
  };
}

/** The sleepers trial: `rounds` rounds in this process, a GC on the hub before each. */
export async function hubSleepers(trial: HubSleepersTrial): Promise<HubSleepersOutcome> {
  const rounds: HubSleepersRound[] = [];
  await run(() => sleep(0)); // the hub and a driver's thread exist before the first reading
  for (let r = 0; r < trial.rounds; r++) {
    gc();
    rounds.push(await run(sleepersRound, trial.count, trial.sleepMs));
  }
  return { ok: true, count: trial.count, sleepMs: trial.sleepMs, rssSource: rssKiB()[1], rounds };
}
