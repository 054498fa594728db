// What the bench parent sends to a trial process (as one JSON argument) and
// what the trial prints back on stdout (one JSON object). The Node worker
// (worker.ts) and the Python peer (benchmarks/poller_selectors.py) speak the
// same protocol; samples are nanoseconds per call (or per op), one per block.
// A select trial also times long batches (see SelectTrial.longCalls), whose
// means keep whatever garbage collection the calls cause inside the figure.
import type { Backend } from '../../dist/cjs/poller';

/** Poller.select(0) on n registered socketpair ends, `active` of them readable. */
export interface SelectTrial {
  kind: 'select';
  backend: Backend;
  n: number;
  active: number;
  /** Blocks per method, in total. */
  blocks: number;
  /** The blocks are measured in this many rounds, the methods taking turns. */
  rounds: number;
  /** Aim for blocks of this many µs: K = calls per block follows from it. */
  blockUs: number;
  warmupMs: number;
  /**
   * After the blocks: long batches of this many calls per method (fewer
   * where that many would take longer than longMaxMs, judged from the
   * method's median per call in the blocks), timed as one span each.
   */
  longCalls: number;
  /** Long batches per method, the methods taking turns as in the rounds. */
  longBatches: number;
  longMaxMs: number;
}

/** register all n fds, modify all, unregister all; repeated. */
export interface ChurnTrial {
  kind: 'churn';
  backend: Backend;
  n: number;
  samples: number;
  /** Each sample covers at least this many ops per phase (several rounds when n is small). */
  minOpsPerSample: number;
  warmupMs: number;
}

export type Trial = SelectTrial | ChurnTrial;

export interface Unavailable {
  ok: false;
  /** Why the trial could not run here (e.g. fds above FD_SETSIZE). */
  reason: string;
}

/** One method's long batches: calls per batch and the mean ns per call of each batch. */
export interface LongBatches {
  calls: number;
  ns: number[];
}

export interface SelectSamples {
  ok: true;
  /** Poller.select(0) from JS (Python: selector.select(0)). */
  js: number[];
  /** poller.selectInto(out, 0) from JS, one `out` reused throughout (Node only). */
  into?: number[];
  /** Calls per block, per method. */
  k: Record<string, number>;
  /** The long batches, keyed like the samples (js, into, c, raw; Python: js). */
  long: Record<string, LongBatches>;
  /** lp_poller_wait in C on a core poller with the same fds (Node only). */
  c?: number[];
  /** The bare syscall on the same fds (Node only, when the build has the helper). */
  raw?: number[];
  /** Python version (Python only). */
  python?: string;
}

export type Phases = [register: number[], modify: number[], unregister: number[]];

export interface ChurnSamples {
  ok: true;
  js: Phases;
  c?: Phases;
  roundsPerSample: number;
  python?: string;
}

export type SelectOutcome = SelectSamples | Unavailable;
export type ChurnOutcome = ChurnSamples | Unavailable;

// `looplet bench greenlet`: the Node worker (greenlet-worker.ts) and the
// Python peer (benchmarks/greenlet_peer.py) take the same trials. Timed
// samples are nanoseconds per operation, one per block of K operations.

/**
 * switch: ping-pong between the main greenlet and one greenlet looping
 * main.switch(); a sample is ns per switch (a round trip is 2 switches).
 * spawn: new Greenlet(() => 1).switch() (Python: greenlet(f).switch()).
 * gevent-spawn: gevent.spawn(f).join(); gevent-sleep: gevent.sleep(0).
 *
 * The hub's trials (looplet/hub; the peer runs them on gevent) run inside
 * one driver job (looplet's main greenlet is the hub and cannot block;
 * gevent's driver is its main greenlet):
 * hub-sleep: sleep(0); ns per sleep(0) (gevent: the gevent-sleep trial).
 * hub-spawn: spawn(f).join() of a trivial f (gevent: the gevent-spawn trial).
 * hub-event: HUB_EVENT_WAITERS jobs loop on event.wait(); an iteration is
 *   event.set(); event.clear(); then a wait on a second Event that the last
 *   waiter to wake sets; ns per woken waiter.
 * hub-queue: a producer job puts into a Queue(HUB_QUEUE_SIZE) without end,
 *   the driver gets; ns per item.
 */
/** Greenlets in the `ring` trial: main switches to each in turn, each switches straight back. */
export const RING_SIZE = 100;
/** Jobs waiting on the Event in the hub-event trial. */
export const HUB_EVENT_WAITERS = 1000;
/** maxsize of the Queue in the hub-queue trial: producer and consumer hand over item by item. */
export const HUB_QUEUE_SIZE = 1;

export type HubTimedKind = 'hub-sleep' | 'hub-spawn' | 'hub-event' | 'hub-queue';

export interface GreenletTimedTrial {
  kind: 'switch' | 'ring' | 'spawn' | 'gevent-spawn' | 'gevent-sleep' | HubTimedKind;
  /** looplet: setSwitchSpin(spinUs) before anything runs; absent: the default. */
  spinUs?: number;
  blocks: number;
  /** Aim for blocks of this many µs: K = operations per block follows from it. */
  blockUs: number;
  warmupMs: number;
}

/** VmRSS before and after creating `count` greenlets, each suspended by one switch. */
export interface GreenletRssTrial {
  kind: 'rss';
  count: number;
  /** options.stackSize for looplet; null: the default. Python ignores it. */
  stackSize: number | null;
}

/**
 * `count` jobs spawned at once, each sleeping `sleepMs` once, then joined
 * (gevent: gevent.spawn(gevent.sleep, sleepMs / 1000), joinall); done
 * `rounds` times in the same process (looplet: the first round starts an OS
 * thread per greenlet, later rounds take them from the pool).
 */
export interface HubSleepersTrial {
  kind: 'hub-sleepers';
  count: number;
  sleepMs: number;
  rounds: number;
}

export type GreenletTrial = GreenletTimedTrial | GreenletRssTrial | HubSleepersTrial;

export interface GreenletTimedSamples {
  ok: true;
  samples: number[];
  /** Operations per block. */
  k: number;
  /** looplet: pooled OS threads after warm-up and after the timed blocks. */
  threads?: { afterWarmup: number; afterRun: number };
  /** CPU time (user + system, every thread of the process) per operation over the timed blocks, µs. */
  cpuUsPerOp?: number;
  /** looplet: how the waits behind the timed switches ended (runtimeStats() growth). */
  waits?: { spins: number; spinTimeouts: number; sleeps: number };
  /** looplet: greenlet switches (runtimeStats().switches growth) per operation over the timed blocks. */
  switchesPerOp?: number;
  versions?: Record<string, string>;
}

export interface GreenletRssSamples {
  ok: true;
  count: number;
  stackSize: number | null;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  /** Where RSS was read: /proc/self/status VmRSS, or a fallback. */
  rssSource: string;
  /** Mean µs to create and first switch into one of them (for looplet this includes starting a thread). */
  createUs: number;
  /** looplet: OS threads of the greenlet runtime with all of them suspended. */
  threads?: number;
  versions?: Record<string, string>;
}

export type GreenletTimedOutcome = GreenletTimedSamples | Unavailable;
export type GreenletRssOutcome = GreenletRssSamples | Unavailable;

/** One round of the hub-sleepers trial. */
export interface HubSleepersRound {
  /** Wall time from the first spawn until joinall returned, ms. */
  wallMs: number;
  /** VmRSS just before the first spawn (after a GC). */
  rssBeforeKiB: number;
  /** VmRSS read by the last sleeper to start, right before it sleeps. */
  rssAsleepKiB: number;
  /** Sleepers started and not yet finished at that reading (the reader included): count when all were asleep at once. */
  asleep: number;
  /** (rssAsleepKiB - rssBeforeKiB) / count. */
  kibPerSleeper: number;
  /** VmHWM after the round, the peak having been reset just before it (null where it cannot be). */
  rssPeakKiB: number | null;
  /** (rssPeakKiB - rssBeforeKiB) / count: the peak, whether or not every sleeper was asleep at once. */
  peakKibPerSleeper: number | null;
  /** looplet: OS threads of the greenlet runtime after the round, and how many the round started. */
  threads?: number;
  newThreads?: number;
  /** looplet: greenlet switches per sleeper over the round. */
  switchesPerSleeper?: number;
}

export interface HubSleepersSamples {
  ok: true;
  count: number;
  sleepMs: number;
  rssSource: string;
  rounds: HubSleepersRound[];
  versions?: Record<string, string>;
}

export type HubSleepersOutcome = HubSleepersSamples | Unavailable;
