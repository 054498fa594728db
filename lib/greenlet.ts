// Greenlets: stackful coroutines with python-greenlet's semantics.
//
// native/src/addon/greenlet/ moves control between threads (one OS thread
// per started greenlet, one running JS at a time); this file owns everything
// else. Values and exceptions travel through plain variables (xfer*):
// the switching side stores a payload, the resumed side takes it.
//
// The public Greenlet object and its internal State are separate on purpose:
// a suspended greenlet's frames hold only its State, so the public object
// can become unreachable, and then a FinalizationRegistry throws GreenletExit
// into the greenlet so that its finally blocks run (python-greenlet does the
// same on garbage collection).
import { AsyncLocalStorage, executionAsyncId } from 'node:async_hooks';
import { greenletBinding, type NativeGreenletRuntime } from './binding';
import * as util from 'node:util';
import { codedError, invalidArgType, outOfRange, type CodedError } from './errors';

/** Thrown into a greenlet to end it; a run() that lets it escape returns it as its value. */
export class GreenletExit extends Error {
  constructor(message = 'GreenletExit') {
    super(message);
    this.name = 'GreenletExit';
  }
}

export type TraceEvent = 'switch' | 'throw';
export type TraceFunction = (event: TraceEvent, args: [origin: Greenlet, target: Greenlet]) => void;

export interface GreenletOptions {
  /** Bytes of stack for the greenlet's thread (default 1 MiB, at least 128 KiB); deeper recursion throws RangeError. */
  stackSize?: number;
}

/** Figures of this environment's greenlet runtime (see runtimeStats()). */
export interface RuntimeStats {
  /** OS threads of the greenlet runtime now: one per started greenlet, plus idle pooled ones. */
  threads: number;
  /** Of those, threads waiting in the pool for a new greenlet (beyond a small reserve they exit after the idle timeout). */
  idleThreads: number;
  /** OS threads made so far. */
  threadsCreated: number;
  /** Waits for control that ended while yielding the CPU to the greenlet switched to. */
  yields: number;
  /** Waits for control that ended while spinning (see setSwitchSpin()). */
  spins: number;
  /** Spins that ran out of budget and went on to sleep. */
  spinTimeouts: number;
  /** Waits that slept in the kernel. */
  sleeps: number;
  /** Switches so far: hand-offs of control from one greenlet's thread to another's. */
  switches: number;
  /**
   * Slots of the process's private futex hash (Linux 6.17+), which the
   * runtime grows with its threads (docs/greenlets.md, "Thousands of
   * sleeping threads"); 0 when the process uses the global hash, -1 where
   * the kernel has no such hash.
   */
  futexHashSlots: number;
}

type Payload = { args: unknown[] } | { error: unknown };

interface State {
  id: number; // native record id; 0 for main, -1 until started
  run: ((...args: any[]) => unknown) | undefined;
  method: boolean; // run is a subclass method: call it with the public object as this
  parent: State | null;
  started: boolean;
  dead: boolean;
  stackSize: number;
  ref: WeakRef<Greenlet> | null;
  strong: Greenlet | null; // main's public object is never collected
  asyncId: number; // executionAsyncId() when it last got control
  context: unknown; // the async context it starts in: its creator's (see greenlet.cc)
}

const DEFAULT_STACK_SIZE = 1024 * 1024;
const MIN_STACK_SIZE = 128 * 1024;
const MAX_STACK_SIZE = 1024 * 1024 * 1024;

let native: NativeGreenletRuntime | null = null;
// The negative errno values and wake reasons switchTo() answers with (the addon's, set with `native`).
let ENOENT = 0;
let EAGAIN = 0;
let ESHUTDOWN = 0;
let NO_THREAD = 0;
let mainState: State | null = null;
let current: State | null = null;
// What the switching side hands over, read by the side that gets control.
// Scalars, not an object: a switch allocates nothing (fewer scavenges, which
// must visit every suspended greenlet's stack). xferValue is the value as
// switch() returns it (or the exception); xferArgs the whole argument list,
// set only where a greenlet's first run needs it.
let xferError = false;
let xferValue: unknown;
let xferArgs: unknown[] | null = null;

function put(payload: Payload): void {
  if ('error' in payload) {
    xferError = true;
    xferValue = payload.error;
    xferArgs = null;
  } else {
    xferError = false;
    xferArgs = payload.args;
    xferValue = unpack(payload);
  }
}

function clearTransfer(): void {
  xferError = false;
  xferValue = undefined;
  xferArgs = null;
}

/** The handed-over value, or throws the handed-over exception. */
function take(): unknown {
  const value = xferValue;
  const error = xferError;
  clearTransfer();
  if (error) throw value;
  return value;
}
let tracer: TraceFunction | null = null;
let pendingTrace: { event: TraceEvent; origin: State; target: State } | null = null;
const byId = new Map<number, State>();
const states = new WeakMap<Greenlet, State>();
let constructingFor: State | null = null;

const collected = new FinalizationRegistry<State>((state) => {
  if (!state.started || state.dead) return;
  try {
    killState(state, new GreenletExit('collected'));
  } catch (err) {
    process.emitWarning(`A collected greenlet ended with an error: ${String(err)}`, 'GreenletWarning');
  }
});

/**
 * Throws `exit` into a suspended greenlet with the caller as its parent, so
 * control comes back here; a greenlet that survives gets its parent back
 * (python-greenlet does the same when it kills a greenlet on collection).
 * The main greenlet never gets a parent, and neither does an ancestor of the
 * caller (that would be a cycle): those just get `exit` thrown in.
 */
function killState(state: State, exit: GreenletExit): unknown {
  const me = currentState();
  for (let p: State | null = me; p !== null; p = p.parent) if (p === state) return switchTo(state, { error: exit });
  if (state === mainState) return switchTo(state, { error: exit });
  const parent = state.parent!;
  setParent(state, me);
  try {
    return switchTo(state, { error: exit });
  } finally {
    if (!state.dead) setParent(state, parent);
  }
}

// A greenlet's public object keeps its parent's alive (python-greenlet's
// gr_parent is a strong reference): a parent that can still be reached
// through `child.parent`, or get control when the child ends, must not be
// ended on collection. Keyed by the child's public object, so a child that
// is unreachable itself holds nothing.
const parentRefs = new WeakMap<Greenlet, Greenlet>();

function setParent(state: State, parent: State): void {
  state.parent = parent;
  const pub = state.strong ?? state.ref?.deref();
  if (pub === undefined) return;
  if (parent === mainState) parentRefs.delete(pub);
  else parentRefs.set(pub, publicOf(parent));
}

/** `value instanceof GreenletExit`, false for values that throw on the check (a revoked Proxy). */
function isExit(value: unknown): boolean {
  try {
    return value instanceof GreenletExit;
  } catch {
    return false;
  }
}

function runtime(): NativeGreenletRuntime {
  if (native === null) {
    const binding = greenletBinding();
    ({ ENOENT, EAGAIN, ESHUTDOWN } = binding.errno);
    NO_THREAD = binding.wake.NO_THREAD;
    native = binding.createGreenletRuntime(trampoline);
    native.countEnded(endedCounter);
  }
  return native;
}

function mainOf(): State {
  if (mainState === null) {
    mainState = { id: 0, run: undefined, method: false, parent: null, started: true, dead: false, stackSize: 0, ref: null, strong: null, asyncId: 0, context: undefined };
    current = mainState;
    publicOf(mainState);
  }
  return mainState;
}

function currentState(): State {
  return current ?? mainOf();
}

/** The public object of a state, made anew if the old one was collected. */
function publicOf(state: State): Greenlet {
  const existing = state.strong ?? state.ref?.deref();
  if (existing) return existing;
  constructingFor = state;
  try {
    return new Greenlet();
  } finally {
    constructingFor = null;
  }
}

function unpack(payload: Payload): unknown {
  if ('error' in payload) throw payload.error;
  const { args } = payload;
  return args.length === 0 ? undefined : args.length === 1 ? args[0] : args;
}

function runTrace(): void {
  const pending = pendingTrace;
  pendingTrace = null;
  if (pending === null || tracer === null) return;
  const fn = tracer;
  try {
    fn(pending.event, [publicOf(pending.origin), publicOf(pending.target)]);
  } catch (err) {
    tracer = null; // an exception in the tracer uninstalls it
    throw err;
  }
}

/**
 * Follows python-greenlet's rules to the greenlet that really receives the
 * payload: a switch to a dead greenlet goes to its parent; an exception
 * thrown into a dead or unstarted one ends it at once (GreenletExit becomes
 * its return value) and goes on to its parent.
 */
function resolve(target: State, payload: Payload): [State, Payload] {
  for (;;) {
    const error = 'error' in payload ? payload : null;
    if (target.dead || (error !== null && !target.started)) {
      if (error !== null) {
        target.dead = true;
        target.run = undefined;
        if (isExit(error.error)) payload = { args: [error.error] };
      }
      target = target.parent!;
      continue;
    }
    return [target, payload];
  }
}

/** Creates the greenlet's native side and its thread; 0, or -errno when no thread could be made (nothing changes then). */
function startNative(target: State): number {
  const id = runtime().create(target.stackSize, target.context);
  if (id < 0) return id;
  target.id = id;
  target.started = true;
  target.context = undefined; // the native record holds it now
  byId.set(id, target);
  return 0;
}

// Greenlets ended from outside so far (the native side counts them), and
// the count when a check last looked: only a change is worth asking about.
const endedCounter = new Int32Array(1);
let endedSeen = 0;

/**
 * A started greenlet whose native side has gone (ended from outside: a vm
 * timeout, worker.terminate()) is dead. The native side counts such ends;
 * when the count has moved, every started greenlet is checked once.
 */
function checkAlive(): void {
  if (endedCounter[0] === endedSeen) return;
  endedSeen = endedCounter[0];
  for (const [id, state] of byId) {
    if (!state.dead && !native!.alive(id)) {
      state.dead = true;
      state.run = undefined;
      byId.delete(id);
    }
  }
}

function threadError(rc: number): CodedError {
  return codedError(Error, 'ERR_LOOPLET_GREENLET_THREAD', `Could not start a thread for the greenlet (${rc < 0 ? (util.getSystemErrorName(rc) ?? `errno ${rc}`) : 'no thread'})`);
}

function switchTo(requested: State, request: Payload): unknown {
  const origin = currentState();
  let target = requested;
  let payload = request;
  if (target.dead || (!target.started && 'error' in payload)) [target, payload] = resolve(target, payload);
  if (target === origin) return unpack(payload);
  checkAsyncScope(origin);
  const rt = runtime();
  let rc: number;
  for (;;) {
    pendingTrace = tracer ? { event: 'error' in payload ? 'throw' : 'switch', origin, target } : null;
    put(payload);
    if (!target.started) {
      rc = startNative(target);
      if (rc < 0) break;
    }
    rc = rt.switchTo(target.id);
    if (rc !== ENOENT) break;
    // The greenlet's thread was ended from outside (a vm timeout or
    // worker.terminate() unwound it): it is dead, so the switch goes on to
    // its parent like any switch to a dead greenlet.
    target.dead = true;
    target.run = undefined;
    byId.delete(target.id);
    [target, payload] = resolve(target, payload);
    if (target === origin) {
      clearTransfer();
      return unpack(payload);
    }
  }
  return received(origin, rc);
}

/** After a switch returned in `origin` with rc: the value switched back, or the exception. */
function received(origin: State, rc: number): unknown {
  current = origin;
  if (origin !== mainState) origin.asyncId = executionAsyncId();
  if (rc < 0 || rc === NO_THREAD) {
    clearTransfer();
    pendingTrace = null;
    if (rc === ESHUTDOWN) throw codedError(Error, 'ERR_LOOPLET_GREENLET_SHUTDOWN', 'Greenlets cannot switch while the environment shuts down');
    throw threadError(rc);
  }
  if (pendingTrace === null) return take();
  // Take the payload before the tracer runs: the tracer may switch again.
  const error = xferError;
  const value = xferValue;
  clearTransfer();
  runTrace();
  if (error) throw value;
  return value;
}

/**
 * switch() with no argument or one, to a started, live greenlet and no
 * tracer: the common case, without the payload objects of switchTo().
 */
function switchValue(target: State, argc: number, value: unknown): unknown {
  const origin = currentState();
  if (target === origin) return value;
  checkAsyncScope(origin);
  xferError = false;
  xferValue = value;
  const rc = native!.switchTo(target.id);
  if (rc === ENOENT) return switchTo(target, { args: argc === 0 ? [] : [value] });
  return received(origin, rc);
}

/**
 * A greenlet other than main must leave Node's async-id stack as it found
 * it: switching away inside an async scope it opened itself
 * (AsyncResource#runInAsyncScope) would let another greenlet close the
 * wrong scope, which ends the process ("async hook stack has become
 * corrupted"). The main greenlet is exempt: its scopes come and go with
 * the event loop between switches.
 */
function checkAsyncScope(origin: State): void {
  if (origin.id !== 0 && executionAsyncId() !== origin.asyncId) {
    throw codedError(
      Error,
      'ERR_LOOPLET_GREENLET_ASYNC_SCOPE',
      'A greenlet cannot switch away inside an async scope it opened (AsyncResource#runInAsyncScope); leave the scope first',
    );
  }
}

/**
 * Takes a greenlet's run function and the `this` to call it with. Nothing
 * may stay referenced from the trampoline's frame, which lives as long as
 * the greenlet is suspended, or the public object could never be collected:
 * hence a separate function, and `this` is the public object only for a
 * subclass's run() method (which refers to it anyway).
 */
function takeRun(self: State): [((...args: any[]) => unknown) | undefined, unknown] {
  let run = self.run;
  let method = self.method;
  self.run = undefined;
  const pub = self.ref?.deref();
  if (pub !== undefined && Object.hasOwn(pub, 'run')) {
    run = pub.run; // assigned as g.run = fn before the start
    method = false;
    delete (pub as { run?: unknown }).run;
  }
  return [run, method ? (pub ?? publicOf(self)) : undefined];
}

// Runs on a greenlet's own thread, called by the native side with its id.
// Returns the id of the greenlet to continue with once this one is done.
function trampoline(id: number): number {
  const self = byId.get(id)!;
  current = self;
  self.asyncId = executionAsyncId();
  let result: Payload;
  try {
    // A first run always comes from put(), which keeps the argument list.
    const error = xferError;
    const value = xferValue;
    const args = xferArgs ?? (value === undefined ? [] : [value]);
    clearTransfer();
    runTrace();
    if (error) throw value;
    const [run, thisArg] = takeRun(self);
    result = { args: [run === undefined ? undefined : run.apply(thisArg, args)] };
  } catch (err) {
    result = isExit(err) ? { args: [err] } : { error: err };
  }
  self.dead = true;
  byId.delete(id);
  const [target, payload] = resolve(self.parent!, result);
  if (!target.started) {
    const rc = startNative(target);
    if (rc < 0) {
      // No thread for the parent: it cannot start, so it dies, and the main
      // greenlet gets the error.
      target.dead = true;
      target.run = undefined;
      put({ error: threadError(rc) });
      current = mainOf();
      return 0;
    }
  }
  pendingTrace = tracer ? { event: 'error' in payload ? 'throw' : 'switch', origin: self, target } : null;
  put(payload);
  current = target;
  return target.id;
}

function stateOf(g: unknown, name: string): State {
  const state = typeof g === 'object' && g !== null ? states.get(g as Greenlet) : undefined;
  if (state === undefined) throw invalidArgType(name, 'an instance of Greenlet', g);
  return state;
}

function checkStackSize(value: unknown): number {
  if (value === undefined) return DEFAULT_STACK_SIZE;
  if (typeof value !== 'number') throw invalidArgType('options.stackSize', 'of type number', value);
  if (!Number.isInteger(value) || value < MIN_STACK_SIZE || value > MAX_STACK_SIZE) {
    throw outOfRange('options.stackSize', `an integer >= ${MIN_STACK_SIZE} and <= ${MAX_STACK_SIZE}`, value);
  }
  return value;
}

export class Greenlet {
  /**
   * run: the function the first switch() calls with its arguments (a
   * subclass may define a run() method instead). parent: where run's result
   * or exception goes; defaults to the greenlet that creates this one.
   */
  constructor(run?: (...args: any[]) => unknown, parent?: Greenlet | null, options: GreenletOptions = {}) {
    if (constructingFor !== null) {
      const state = constructingFor;
      states.set(this, state);
      if (state === mainState) state.strong = this;
      else {
        state.ref = new WeakRef(this);
        collected.register(this, state, state);
        if (state.parent !== null) setParent(state, state.parent);
      }
      return;
    }
    if (run !== undefined && typeof run !== 'function') throw invalidArgType('run', 'of type function', run);
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    const method = run === undefined ? subclassRun(this) : undefined;
    const state: State = {
      id: -1,
      run: run ?? method,
      method: method !== undefined,
      parent: null,
      started: false,
      dead: false,
      stackSize: checkStackSize(options.stackSize),
      ref: new WeakRef(this),
      strong: null,
      asyncId: 0,
      context: runtime().context(),
    };
    setParent(state, parent === undefined || parent === null ? currentState() : stateOf(parent, 'parent'));
    states.set(this, state);
    collected.register(this, state, state);
  }

  /**
   * Switches to this greenlet. The first switch calls run(...args); later
   * ones make the suspended switch() there return: no argument -> undefined,
   * one -> itself, several -> an array. Returns what is switched back to us.
   */
  switch(...args: unknown[]): unknown;
  switch(): unknown {
    const state = stateOf(this, 'this');
    const argc = arguments.length;
    if (argc <= 1 && state.started && !state.dead && tracer === null) return switchValue(state, argc, arguments[0]);
    return switchTo(state, { args: Array.prototype.slice.call(arguments) });
  }

  /** Raises `error` (default: a new GreenletExit) inside this greenlet, where it is suspended. */
  throw(error: unknown = new GreenletExit()): unknown {
    return switchTo(stateOf(this, 'this'), { error });
  }

  /**
   * Ends this greenlet: throws GreenletExit into it with the caller as its
   * parent, so that its finally blocks run and control comes back here (a
   * greenlet that catches it and lives on gets its old parent back).
   * Returns what it returned (usually the GreenletExit). An unstarted
   * greenlet is just marked dead.
   */
  kill(): unknown {
    const state = stateOf(this, 'this');
    if (state.dead) return undefined;
    if (!state.started) {
      state.dead = true;
      state.run = undefined;
      return undefined;
    }
    if (state === currentState()) throw new GreenletExit();
    return killState(state, new GreenletExit());
  }

  get parent(): Greenlet | null {
    const state = stateOf(this, 'this');
    return state.parent ? publicOf(state.parent) : null;
  }

  set parent(value: Greenlet | null) {
    const state = stateOf(this, 'this');
    if (value === null || value === undefined) {
      throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The parent of a greenlet cannot be removed');
    }
    const parent = stateOf(value, 'parent');
    if (state === mainState) throw codedError(Error, 'ERR_LOOPLET_GREENLET_CYCLE', 'The main greenlet has no parent');
    for (let p: State | null = parent; p !== null; p = p.parent) {
      if (p === state) throw codedError(Error, 'ERR_LOOPLET_GREENLET_CYCLE', 'cyclic parent chain');
    }
    setParent(state, parent);
  }

  /**
   * The function the first switch() runs: the one given to the constructor,
   * or a subclass's run() method. It can be replaced (`g.run = fn`) until the
   * greenlet starts; afterwards it reads undefined and cannot be set.
   * (Declared as an optional method so that subclasses can override it; at
   * run time it is an accessor on Greenlet.prototype, defined below.)
   */
  run?(...args: any[]): unknown;

  get dead(): boolean {
    const state = stateOf(this, 'this');
    checkAlive();
    return state.dead;
  }

  get started(): boolean {
    return stateOf(this, 'this').started;
  }

  /** Started and not dead: it is running or suspended. */
  get active(): boolean {
    const state = stateOf(this, 'this');
    checkAlive();
    return state.started && !state.dead;
  }
}

Object.defineProperty(Greenlet.prototype, 'run', {
  configurable: true,
  enumerable: false,
  get(this: Greenlet) {
    return stateOf(this, 'this').run;
  },
  set(this: Greenlet, fn: unknown) {
    const state = stateOf(this, 'this');
    if (state.started || state.dead) {
      throw codedError(Error, 'ERR_LOOPLET_GREENLET_STARTED', 'run cannot be changed after the greenlet started');
    }
    if (fn !== undefined && typeof fn !== 'function') throw invalidArgType('run', 'of type function', fn);
    state.run = fn as State['run'];
    state.method = false;
  },
});

/** A subclass's own run() method, if it defines one. */
function subclassRun(instance: Greenlet): ((...args: any[]) => unknown) | undefined {
  for (let p = Object.getPrototypeOf(instance); p !== null && p !== Greenlet.prototype; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, 'run');
    if (d && typeof d.value === 'function') return d.value;
  }
  return undefined;
}

/** The greenlet running now (the main greenlet outside any other). */
export function getcurrent(): Greenlet {
  return publicOf(currentState());
}

/**
 * Package-internal (the hub's scheduler): whether g is the greenlet running
 * now. Unlike getcurrent() === g, it dereferences no WeakRef: each deref
 * keeps its target in V8's list of objects kept alive until the current
 * job ends, which allocates.
 */
export function isCurrent(g: Greenlet): boolean {
  return states.get(g) === currentState();
}

/** Installs a tracer called as fn(event, [origin, target]) on each switch; returns the previous one. */
export function settrace(fn: TraceFunction | null | undefined): TraceFunction | null {
  if (fn !== null && fn !== undefined && typeof fn !== 'function') throw invalidArgType('fn', 'of type function or null', fn);
  const old = tracer;
  tracer = fn ?? null;
  return old;
}

export function gettrace(): TraceFunction | null {
  return tracer;
}

let perGreenletContext: boolean | undefined;

/**
 * Whether each greenlet has its own async context: true where Node keeps
 * AsyncLocalStorage stores in V8 (AsyncContextFrame: Node 24 and later, or
 * Node 22 with --experimental-async-context-frame). Then a greenlet runs in
 * the context it was created in, whoever switches into it. Where false, it
 * sees the context of the callback that resumed it.
 */
export function asyncContextPerGreenlet(): boolean {
  if (perGreenletContext === undefined) {
    const probe = new AsyncLocalStorage<number>();
    perGreenletContext = probe.run(1, () => runtime().context() !== undefined);
  }
  return perGreenletContext;
}

/** Thread-pool and wait figures of this environment's greenlet runtime (for tests and benchmarks). */
export function runtimeStats(): RuntimeStats {
  return runtime().stats();
}

/** setSwitchSpin's limit: a spin longer than this never pays. */
const MAX_SPIN_US = 10_000;

/**
 * Turns spinning on: a thread that has handed control to another greenlet
 * then waits for it to come back by spinning on its CPU for up to this many
 * microseconds, while the target runs on another CPU, instead of yielding
 * its CPU to the target. Process-wide; 0 (the default) turns it off. It only
 * pays on hosts whose CPUs hand cache lines over cheaply, and it burns a
 * second CPU (benchmarks/RESULTS.md). A thread spins only when its previous
 * wait was that short, and at most half the CPUs spin at once; with one CPU
 * nothing spins and this has no effect. The LOOPLET_GREENLET_SPIN_US
 * environment variable, read once, sets the initial value. Returns the
 * previous value.
 */
export function setSwitchSpin(microseconds: number): number {
  if (typeof microseconds !== 'number') throw invalidArgType('microseconds', 'of type number', microseconds);
  if (!(microseconds >= 0 && microseconds <= MAX_SPIN_US)) {
    throw outOfRange('microseconds', `>= 0 and <= ${MAX_SPIN_US}`, microseconds);
  }
  const native = runtime();
  const previous = native.spin();
  native.spin(Math.round(microseconds * 1000));
  return previous / 1000;
}

/** The spin budget in effect, in microseconds (0: off, the default; always 0 with one CPU). */
export function getSwitchSpin(): number {
  return runtime().spin() / 1000;
}

/** The longest idle timeout setIdleThreadTimeout() takes: a day. */
const MAX_IDLE_MS = 86_400_000;

/**
 * Sets how long, in milliseconds, an idle pooled greenlet thread lives
 * beyond a reserve of the 8 most recently used: finished greenlets give
 * their thread back to a pool, so that spawning is cheap, and after a burst
 * of many suspended greenlets the threads beyond the reserve exit once idle
 * this long. Per JS thread; default 10,000 (LOOPLET_GREENLET_IDLE_MS sets
 * the initial value). Returns the previous value.
 */
export function setIdleThreadTimeout(ms: number): number {
  if (typeof ms !== 'number') throw invalidArgType('ms', 'of type number', ms);
  if (!(Number.isInteger(ms) && ms >= 0 && ms <= MAX_IDLE_MS)) throw outOfRange('ms', `an integer >= 0 and <= ${MAX_IDLE_MS}`, ms);
  const native = runtime();
  const previous = native.idleTimeout();
  native.idleTimeout(ms);
  return previous;
}
