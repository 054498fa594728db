// The hub's scheduler: how greenlets block, wake and get the CPU.
//
// The hub is the greenlet that runs Node's event loop: the main greenlet of
// the JS thread (main or worker). It never blocks; a blocking call made on
// it throws ERR_LOOPLET_BLOCKING_ON_HUB. Every other greenlet blocks by
// parking: it registers a Waiter with whatever will wake it (a timer, a
// promise, a queue's waiter list) and switches away.
//
// Switches are the expensive operation (a thread hand-off each), so:
//   - a parking greenlet switches straight to the next runnable greenlet,
//     and to the hub only when none is left: a batch of N wake-ups costs
//     N + 1 switches, not 2N;
//   - wake-ups made on the hub (event-loop callbacks) only queue the
//     greenlet and schedule one drain per batch (setImmediate): the drain
//     switches into the first runnable greenlet and the chain above runs
//     the rest;
//   - a job that finishes hands its thread's turn straight to the next
//     runnable greenlet too (Job re-parents itself to it, see job.ts).
//
// Invariants
//   - A greenlet has at most one live Waiter (Slot.waiter) and at most one
//     pending run-queue entry, kept in its Slot (queued, wake*, undo); the
//     queues hold (slot, seq) pairs, and a pair whose seq is not the slot's
//     queued seq, or older than its resume count, is stale (the greenlet was
//     resumed some other way) and is skipped. Wakes allocate nothing but
//     their registration.
//   - A wake hands over its result at once (an item, a permit) and may carry
//     an undo that gives it back: an interrupt (a Timeout, a kill) that
//     reaches a greenlet already woken but not yet resumed replaces the wake
//     and calls the undo, so nothing is lost.
//   - Nothing here leaves an async scope open across a switch.
import { Greenlet, getcurrent, isCurrent } from '../greenlet';
import { codedError, type CodedError } from '../errors';

/** A parked greenlet's registration with whatever can wake it. */
export interface Waiter {
  readonly slot: Slot;
  /** False once woken, interrupted or resumed: wakers skip it. */
  active: boolean;
  /** Withdraws the registration (from wait lists, timers); run once, when the greenlet resumes. */
  cleanup: (() => void) | null;
}

/** The value a timed wait is woken with when its time is up (see parkFor). */
export const TIMED_OUT: unique symbol = Symbol('looplet.timedOut');

/**
 * What an interrupt does to a wake that reached a greenlet before it
 * resumed: an undo function gives the handed-over result back and the
 * interrupt replaces the wake; COMMITTED means the operation has already
 * taken effect (a put's item is in the queue) and cannot be taken back, so
 * the interrupt waits for the greenlet's next blocking call; null: nothing
 * to give back, the interrupt replaces the wake.
 */
export type Undo = (() => void) | typeof COMMITTED | null;
export const COMMITTED: unique symbol = Symbol('looplet.committed');

/** The hub's view of one greenlet. */
export class Slot {
  /** Bumped each time the greenlet is resumed. */
  seq = 0;
  waiter: Waiter | null = null;
  /** The seq at which it was queued to run, or -1; the wake it will run with. */
  queued = -1;
  wakeError = false;
  wakeValue: unknown = undefined;
  undo: Undo = null;
  /** Deadlock reports already given (see reportDeadlock). */
  deadlocked = 0;
  /** An interrupt that arrived after a COMMITTED wake: thrown at the next blocking call. */
  pending: { error: unknown } | null = null;
  /** Links of the list of parked greenlets (for the deadlock report). */
  prevParked: Slot | null = null;
  nextParked: Slot | null = null;
  parked = false;
  constructor(readonly greenlet: Greenlet) {}
}

const slots = new WeakMap<Greenlet, Slot>();
let hubGreenlet: Greenlet | null = null;

// The run queue and the next turn's queue: flat (slot, seq) pairs. The run
// queue is read from a head index (shift() is O(n)) up to a tail index, and
// once emptied both go back to 0 and the array is reused: a burst of wakes
// allocates nothing once the array has grown to the largest burst.
let runq: Array<Slot | number> = [];
let runqHead = 0;
let runqTail = 0;
/** A run queue array longer than this is dropped once empty rather than kept for reuse. */
const RUNQ_KEEP = 1 << 16;
let nextq: Array<Slot | number> = [];
let drainScheduled = false;
let draining = false;
/** A finished job that gave its turn to the greenlet now running; its parent goes back to the hub. */
let handedOff: Greenlet | null = null;
let exitHookInstalled = false;
let parkedHead: Slot | null = null;
/** The slot of the greenlet the scheduler resumed last (a hint: see currentSlot). */
let runningSlot: Slot | null = null;

export function slotOf(g: Greenlet): Slot {
  let slot = slots.get(g);
  if (slot === undefined) {
    slot = new Slot(g);
    slots.set(g, slot);
  }
  return slot;
}

/** The hub: this thread's main greenlet (the root of every parent chain). */
export function hub(): Greenlet {
  if (hubGreenlet === null) {
    let g = getcurrent();
    for (let p = g.parent; p !== null; p = p.parent) g = p;
    hubGreenlet = g;
  }
  return hubGreenlet;
}

export function onHub(): boolean {
  return currentSlot() === null;
}

/**
 * The slot of the greenlet running now, or null on the hub. The greenlet
 * the scheduler last resumed is checked first (no WeakRef dereference, see
 * isCurrent); one resumed by a plain switch() is found the slow way.
 */
export function currentSlot(): Slot | null {
  const last = runningSlot;
  if (last !== null && isCurrent(last.greenlet)) return last;
  const g = getcurrent();
  return g === hub() ? null : slotOf(g);
}

export function blockingOnHub(what: string): CodedError {
  return codedError(
    Error,
    'ERR_LOOPLET_BLOCKING_ON_HUB',
    `${what} would block the event loop's thread (the hub); call it inside a greenlet started with spawn() or run()`,
  );
}

/** Throws ERR_LOOPLET_BLOCKING_ON_HUB when called on the hub. */
export function assertCanBlock(what: string): void {
  if (onHub()) throw blockingOnHub(what);
}

function scheduleDrain(): void {
  if (drainScheduled) return;
  drainScheduled = true;
  setImmediate(drain);
}

function setWake(slot: Slot, error: boolean, value: unknown, undo: Undo): void {
  slot.queued = slot.seq;
  slot.wakeError = error;
  slot.wakeValue = value;
  slot.undo = undo;
}

/** Makes a greenlet runnable: its switch returns `value` (it must not be parked with a live waiter: use wake()). */
export function schedule(slot: Slot, value: unknown, undo: Undo = null): void {
  setWake(slot, false, value, undo);
  runq[runqTail++] = slot;
  runq[runqTail++] = slot.seq;
  if (!draining) scheduleDrain();
}

/** Makes a greenlet runnable with `error` to throw where it is suspended. */
function scheduleError(slot: Slot, error: unknown): void {
  setWake(slot, true, error, null);
  runq[runqTail++] = slot;
  runq[runqTail++] = slot.seq;
  if (!draining) scheduleDrain();
}

/** Makes a greenlet runnable after the event loop has had a turn (sleep(0)). */
export function scheduleNextTurn(slot: Slot): void {
  setWake(slot, false, undefined, null);
  nextq.push(slot, slot.seq);
  scheduleDrain();
}

/**
 * Wakes a parked greenlet: its wait returns `value`. Returns false (and
 * does nothing) when the waiter was already woken or interrupted: the
 * caller keeps what it meant to hand over. `undo` says what an interrupt
 * that overtakes the wake does with the handed-over result (see Undo).
 */
export function wake(waiter: Waiter, value: unknown, undo: Undo = null): boolean {
  if (!waiter.active) return false;
  waiter.active = false;
  schedule(waiter.slot, value, undo);
  return true;
}

/** Wakes a parked greenlet with an error thrown from its wait; false as for wake(). */
export function wakeWithError(waiter: Waiter, error: unknown): boolean {
  if (!waiter.active) return false;
  waiter.active = false;
  scheduleError(waiter.slot, error);
  return true;
}

/**
 * Raises `error` in a greenlet where it waits: a parked greenlet stops
 * waiting (its registration is withdrawn), one woken but not yet resumed
 * gets the error instead (the wake's undo runs), one suspended in a plain
 * switch gets it thrown there. Returns false for a dead or running greenlet.
 */
export function interrupt(g: Greenlet, error: unknown): boolean {
  if (g.dead || isCurrent(g)) return false;
  const slot = slotOf(g);
  const waiter = slot.waiter;
  if (waiter !== null && waiter.active) {
    waiter.active = false;
    scheduleError(slot, error);
    return true;
  }
  if (slot.queued === slot.seq) {
    if (slot.wakeError) return true; // the first interrupt wins
    const undo = slot.undo;
    if (undo === COMMITTED) {
      slot.pending ??= { error };
      return true;
    }
    slot.undo = null;
    slot.wakeError = true;
    slot.wakeValue = error;
    if (undo !== null) undo();
    return true;
  }
  scheduleError(slot, error);
  return true;
}

/** The next queued greenlet still waiting to run (its wake in its slot), or null. */
function takeNext(): Slot | null {
  while (runqHead < runqTail) {
    const slot = runq[runqHead] as Slot;
    const seq = runq[runqHead + 1] as number;
    runq[runqHead] = 0;
    runqHead += 2;
    if (runqHead === runqTail) {
      runqHead = runqTail = 0;
      if (runq.length > RUNQ_KEEP) runq = [];
    }
    if (seq !== slot.queued || seq !== slot.seq || slot.greenlet.dead) continue;
    slot.queued = -1;
    return slot;
  }
  return null;
}

/** Puts a slot taken with takeNext() back at the head of the queue. */
function untake(slot: Slot): void {
  slot.queued = slot.seq;
  if (runqHead >= 2) {
    runq[--runqHead] = slot.seq;
    runq[--runqHead] = slot;
  } else {
    runq.unshift(slot, slot.seq);
    runqTail += 2;
  }
}

function resume(slot: Slot): unknown {
  const g = slot.greenlet;
  const value = slot.wakeValue;
  slot.wakeValue = undefined;
  return slot.wakeError ? g.throw(value) : g.switch(value);
}

// Fairness for calls that block only when they must (a socket's recv,
// send, accept): a greenlet whose socket is always ready would otherwise
// never give up the thread, and the other greenlets and the event loop
// (the hub's poller, timers) would wait until it stops. Such calls count
// themselves (readyCall) and the count starts again each time a greenlet
// is resumed; once READY_BUDGET have completed in a row, the next one
// first takes a turn of the event loop (fairTurn, as sleep(0) does). Under
// ping-pong a handler parks every round trip and never reaches the budget.
let readyCalls = 0;
export const READY_BUDGET = 256;

/** Counts a call that completed without blocking (see READY_BUDGET). */
export function readyCall(): void {
  readyCalls++;
}

/**
 * Before a call that blocks only when it must: once READY_BUDGET such
 * calls in a row did not block, lets the runnable greenlets and a turn of
 * the event loop go first. An interrupt (a Timeout, a kill) may be thrown
 * here, as at any blocking call; nothing has been read or written yet. On
 * the hub it only resets the count.
 */
export function fairTurn(): void {
  if (readyCalls < READY_BUDGET) return;
  readyCalls = 0;
  const slot = currentSlot();
  if (slot === null) return;
  scheduleNextTurn(slot);
  yieldTurn(slot);
}

/** Bookkeeping for a greenlet that has just got control back. */
export function resumed(slot: Slot): void {
  runningSlot = slot;
  readyCalls = 0;
  slot.seq++;
  slot.queued = -1;
  slot.wakeValue = undefined;
  slot.undo = null;
  if (handedOff !== null) {
    const finished = handedOff;
    handedOff = null;
    finished.parent = hub();
  }
}

/**
 * For a job that has finished: takes the next runnable greenlet that can
 * receive the job's last switch as a plain value, makes it the job's parent
 * and returns the value to return from run(); or null (return to the hub).
 */
export function handOffOnFinish(job: Greenlet): { value: unknown } | null {
  const slot = takeNext();
  if (slot === null) return null;
  const target = slot.greenlet;
  let cycle = false;
  for (let p: Greenlet | null = target; p !== null; p = p.parent) if (p === job) cycle = true;
  if (slot.wakeError || cycle) {
    untake(slot);
    return null;
  }
  handedOff = job;
  job.parent = target;
  const value = slot.wakeValue;
  slot.wakeValue = undefined;
  return { value };
}

/** Switches away from the current greenlet: to the next runnable one, or to the hub. */
function switchAway(): unknown {
  const slot = takeNext();
  if (slot !== null) return resume(slot);
  runningSlot = null; // the hint must not keep a greenlet alive while the hub runs
  return hub().switch();
}

function addParked(slot: Slot): void {
  slot.parked = true;
  slot.prevParked = null;
  slot.nextParked = parkedHead;
  if (parkedHead !== null) parkedHead.prevParked = slot;
  parkedHead = slot;
}

function removeParked(slot: Slot): void {
  if (!slot.parked) return;
  slot.parked = false;
  if (slot.prevParked !== null) slot.prevParked.nextParked = slot.nextParked;
  else parkedHead = slot.nextParked;
  if (slot.nextParked !== null) slot.nextParked.prevParked = slot.prevParked;
  slot.prevParked = slot.nextParked = null;
}

/**
 * Blocks the current greenlet until a wake or an interrupt. `register`
 * receives the Waiter to hand to whatever will wake it, and returns how to
 * withdraw it (or null); that runs once the greenlet resumes, whatever
 * resumed it. Returns the wake's value or throws its error.
 */
export function park(register: (waiter: Waiter) => (() => void) | null): unknown {
  const slot = currentSlot();
  if (slot === null) throw blockingOnHub('This call');
  throwPending(slot);
  const waiter: Waiter = { slot, active: true, cleanup: null };
  slot.waiter = waiter;
  try {
    waiter.cleanup = register(waiter);
  } catch (err) {
    waiter.active = false;
    slot.waiter = null;
    throw err;
  }
  if (!waiter.active) {
    // Woken while registering: take the wake without switching.
    slot.waiter = null;
    waiter.cleanup?.();
    slot.queued = -1;
    const value = slot.wakeValue;
    slot.wakeValue = undefined;
    if (slot.wakeError) throw value;
    return value;
  }
  addParked(slot);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('beforeExit', reportDeadlock);
  }
  return suspend(slot);
}

/**
 * park() with a time limit: after timeoutMs (undefined: none) the greenlet
 * is woken with TIMED_OUT.
 */
export function parkFor(timeoutMs: number | undefined, register: (waiter: Waiter) => (() => void) | null): unknown {
  if (timeoutMs === undefined) return park(register);
  return park((waiter) => {
    const withdraw = register(waiter);
    const timer = setTimeout(() => wake(waiter, TIMED_OUT), timeoutMs);
    return () => {
      clearTimeout(timer);
      withdraw?.();
    };
  });
}

/**
 * Lets the greenlets runnable now run before the current one goes on,
 * without a turn of the event loop; on the hub, returns at once. For a call
 * whose work is done: an interrupt meanwhile waits for the next blocking call.
 */
export function yieldToRunnable(): void {
  const slot = currentSlot();
  if (slot === null) return;
  schedule(slot, undefined, COMMITTED);
  suspend(slot);
}

/** Gives up the CPU until the current greenlet is made runnable again (it queued itself). */
export function yieldTurn(slot: Slot): unknown {
  throwPending(slot);
  return suspend(slot);
}

/** Throws an interrupt held back by a COMMITTED wake (see Undo). */
function throwPending(slot: Slot): void {
  const pending = slot.pending;
  if (pending === null) return;
  slot.pending = null;
  throw pending.error;
}

/** Withdraws an interrupt held back for g's next blocking call (a Timeout cancelled before then). */
export function withdrawPending(g: Greenlet, error: unknown): void {
  const slot = slots.get(g);
  if (slot !== undefined && slot.pending !== null && slot.pending.error === error) slot.pending = null;
}

function suspend(slot: Slot): unknown {
  let value: unknown;
  try {
    value = switchAway();
  } finally {
    resumed(slot);
    removeParked(slot);
    const waiter = slot.waiter;
    slot.waiter = null;
    if (waiter !== null) {
      // Inactive already unless resumed by a plain switch rather than a wake.
      waiter.active = false;
      waiter.cleanup?.();
    }
  }
  return value;
}

/** Runs the queued greenlets, each until it parks or finishes; on the hub only. */
function drain(): void {
  drainScheduled = false;
  if (nextq.length > 0) {
    for (let i = 0; i < nextq.length; i++) runq[runqTail++] = nextq[i];
    nextq.length = 0;
  }
  runQueue();
  if (nextq.length > 0) scheduleDrain();
}

function runQueue(): void {
  draining = true;
  try {
    for (let slot = takeNext(); slot !== null; slot = takeNext()) {
      try {
        resume(slot);
      } catch (err) {
        // A plain greenlet (not a job) whose parent is the hub ended with an
        // exception: uncaught, as from any other event-loop callback.
        process.nextTick(() => {
          throw err;
        });
      }
    }
  } finally {
    draining = false;
    runningSlot = null;
  }
}

/**
 * For an event-loop callback that wakes a batch of greenlets (the hub's
 * poller): runs wakeAll(), then the greenlets it made runnable, at once
 * instead of in the next setImmediate drain; greenlets queued for the next
 * turn (sleep(0)) stay queued. On the hub only. If called while greenlets
 * are already being run, only wakes (the running drain takes them).
 */
export function runWoken(wakeAll: () => void): void {
  if (draining) {
    wakeAll();
    return;
  }
  draining = true;
  try {
    wakeAll();
  } finally {
    draining = false;
  }
  runQueue();
}

/** Figures of this thread's hub. */
export function hubCounts(): { runnable: number; parked: number } {
  let waiting = 0;
  for (let slot = parkedHead; slot !== null; slot = slot.nextParked) if (slot.waiter !== null && slot.waiter.active) waiting++;
  return { runnable: (runqTail - runqHead + nextq.length) / 2, parked: waiting };
}

// A greenlet parked when the event loop has nothing left to do can never be
// woken: it gets ERR_LOOPLET_DEADLOCK thrown where it waits (gevent raises
// LoopExit), once; if it parks again with nothing to wake it, it stays
// blocked and the process exits.
function reportDeadlock(): void {
  const stuck: Slot[] = [];
  for (let slot = parkedHead; slot !== null; slot = slot.nextParked) {
    if (slot.waiter !== null && slot.waiter.active && slot.deadlocked === 0) stuck.push(slot);
  }
  for (const slot of stuck) {
    slot.deadlocked++;
    interrupt(
      slot.greenlet,
      codedError(Error, 'ERR_LOOPLET_DEADLOCK', 'This greenlet is blocked forever: the event loop has nothing left to do, so nothing can wake it'),
    );
  }
}
