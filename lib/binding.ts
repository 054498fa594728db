// The raw native binding, typed. Only lib/ talks to it: every native call
// returns a value >= 0 or a negative errno, and never throws for bad input
// (lib/ validates before calling).
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface NativePollerHandle {
  add(fd: number, events: number): number;
  mod(fd: number, events: number): number;
  del(fd: number): number;
  /** Stores (fd, events) pairs in the buffer given to setBuffer; returns the count or -errno. */
  wait(timeoutMs: number): number;
  setBuffer(buffer: Int32Array): void;
  fileno(): number;
  caps(): number;
  close(): void;
  benchWait(blocks: number, callsPerBlock: number, timeoutMs: number): Float64Array;
  watch(onReady: () => void): number;
  unwatch(): void;
  rearm(): void;
  ref(refed: boolean): void;
}

export interface NativeSys {
  socketpair(): [number, number] | number;
  listen(host: string, port: number, backlog: number): number;
  connect(host: string, port: number): number;
  accept(fd: number): number;
  localPort(fd: number): number;
  dup2(oldFd: number, newFd: number): number;
  close(fd: number): number;
}

/** Native floors for `looplet bench poller` (native/src/addon/bench.cc). */
export interface NativeBench {
  /** The bare syscall with a zero timeout on a private set of fds (EVENT_READ each). */
  rawWait(backendId: number, fds: Int32Array, blocks: number, callsPerBlock: number): { ns: Float64Array; ready: number };
  /** lp_poller_add/_mod/_del on every fd; 3 means (ns per op) per sample. */
  churn(backendId: number, fds: Int32Array, samples: number, roundsPerSample: number): Float64Array;
  /** RLIMIT_NOFILE [soft, hard] after raising soft to hard; -1 means unlimited. */
  nofileLimit(): [number, number] | number;
}

export interface NativeBinding {
  NativePoller: new (backendId: number) => NativePollerHandle;
  /** Backend name -> id, for the backends this build and platform have. */
  backends: Record<string, number>;
  defaultBackend: string;
  sys: NativeSys;
  /** Absent in builds that predate the benchmark helpers. */
  bench?: NativeBench;
  version: number;
}

/** The package root: the nearest folder above this file with looplet's package.json. */
export function packageRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'looplet') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`looplet: cannot find the package root above ${from}`);
    dir = up;
  }
}

let cached: NativeBinding | undefined;

export function binding(): NativeBinding {
  if (cached === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (dir: string) => NativeBinding;
    cached = load(packageRoot());
  }
  return cached;
}
