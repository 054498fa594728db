// Shared utilities for the Poller suites: socketpairs that are closed after
// each test, fd counting, byte I/O on non-blocking fds, waiting with a
// deadline, and making sure the built package (dist/) is current for the
// suites that load it (workers, child processes, package entry points), and
// the benchmark harness (benchmarks/dist) for the `looplet` command's suite.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, expect } from 'vitest';
import { Poller, sys, type Backend, type Capabilities, type ReadyList } from '../lib/index';

export const repoRoot = path.join(__dirname, '..');

export type ThrownError = Error & { code?: string; errno?: number; syscall?: string; fd?: number };

/** Closes an fd, ignoring EBADF (it may have been closed by the test). */
export function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EBADF') throw err;
  }
}

const tracked = new Set<number>();

/**
 * A connected, non-blocking AF_UNIX socketpair whose fds are closed after the
 * current test (the file calls installFdCleanup() once). A test that closes
 * an fd itself uses closeFd(), so that the cleanup never closes a number that
 * has been reused meanwhile.
 */
export function socketpair(): [number, number] {
  const pair = sys.socketpair();
  tracked.add(pair[0]);
  tracked.add(pair[1]);
  return pair;
}

/** Adds an fd made some other way (a dup2 target, an opened file) to the cleanup. */
export function track(fd: number): number {
  tracked.add(fd);
  return fd;
}

/** Closes an fd now and drops it from the cleanup. */
export function closeFd(fd: number): void {
  tracked.delete(fd);
  fs.closeSync(fd);
}

export function closeAllTracked(): void {
  for (const fd of tracked) closeQuietly(fd);
  tracked.clear();
}

/** Registers an afterEach that closes every fd made through this module. */
export function installFdCleanup(): void {
  afterEach(() => closeAllTracked());
}

/**
 * Registers an afterEach that closes the pollers made by the returned
 * factory, so that a failing test does not leave a helper thread running.
 */
export function pollerFactory(backend: Backend): () => Poller {
  const made: Poller[] = [];
  afterEach(() => {
    for (const p of made.splice(0)) p.close();
  });
  return () => {
    const p = new Poller({ backend });
    made.push(p);
    return p;
  };
}

/** A backend's capabilities, read once at collection time (for skipIf). */
export function capabilitiesOf(backend: Backend): Capabilities {
  const p = new Poller({ backend });
  const caps = { ...p.capabilities };
  p.close();
  return caps;
}

/** Writes a string (default one byte) to a non-blocking fd. */
export function send(fd: number, text = 'x'): void {
  const buf = Buffer.from(text);
  expect(fs.writeSync(fd, buf)).toBe(buf.length);
}

/** Reads everything currently buffered on a non-blocking fd. */
export function drain(fd: number): string {
  const buf = Buffer.alloc(65536);
  let out = '';
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return out;
      throw err;
    }
    if (n === 0) return out;
    out += buf.toString('latin1', 0, n);
  }
}

/**
 * The fd numbers open in this process. The listing includes the fd that
 * reads the directory, closed again by the time readdirSync returns: only
 * the entries that still resolve are kept.
 */
export function openFds(): Set<number> {
  const fds = new Set<number>();
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      fs.readlinkSync(`/proc/self/fd/${name}`);
      fds.add(Number(name));
    } catch {
      // the directory's own fd, or one closed meanwhile
    }
  }
  return fds;
}

/** The number of open fds of this process. */
export function countFds(): number {
  return openFds().size;
}

/** A number that is not an open fd, at or above `from`. */
export function unusedFd(from: number): number {
  const used = openFds();
  let fd = from;
  while (used.has(fd)) fd++;
  return fd;
}

/** Resolves with the promise's value, or rejects after ms. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits on the event loop until cond() holds, or fails after ms. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

/** A ready list as [fd, events] pairs sorted by fd, for comparisons. */
export function summary(ready: ReadyList<unknown>): Array<[number, number]> {
  return ready.map(([key, ev]) => [key.fd, ev] as [number, number]).sort((a, b) => a[0] - b[0]);
}

/** Calls fn and returns what it threw; fails the test if it returned. */
export function thrown(fn: () => unknown): ThrownError {
  try {
    fn();
  } catch (err) {
    return err as ThrownError;
  }
  throw new Error('expected the call to throw');
}

/**
 * Guards a wait that must return without blocking: a worker thread writes a
 * byte to `fd` after `ms` unless cancel() ran first. Were the wait to block,
 * it would wake up with that byte reported and the test's assertion on the
 * (empty) result would fail, rather than the suite hanging: a blocked native
 * call also blocks vitest's own timers.
 */
export function watchdog(fd: number, ms: number): { cancel(): Promise<void> } {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const flag = new Int32Array(workerData.sab);
     if (Atomics.wait(flag, 0, 0, workerData.ms) === 'timed-out') require('node:fs').writeSync(workerData.fd, 'w');`,
    { eval: true, workerData: { sab: flag.buffer, fd, ms } },
  );
  const exited = new Promise<void>((resolve, reject) => {
    worker.once('exit', () => resolve());
    worker.once('error', reject);
  });
  return {
    async cancel() {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      await exited;
    },
  };
}

const distOutputs = ['dist/cjs/index.js', 'dist/cjs/poller.js', 'dist/cjs/index.d.ts', 'dist/esm/index.mjs', 'dist/esm/poller.mjs'];
const benchmarkOutputs = ['cli.js', 'poller.js', 'worker.js', 'greenlet.js', 'greenlet-worker.js', 'switch.js'].map((f) => `benchmarks/dist/${f}`);

/** The newest mtime among the .ts files under dir (relative to the repo) and the given files. */
function newestSource(dir: string, files: string[]): number {
  let newest = Math.max(...files.map((f) => fs.statSync(path.join(repoRoot, f)).mtimeMs));
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs);
    }
  };
  walk(path.join(repoRoot, dir));
  return newest;
}

function isCurrent(outputs: string[], source: number): boolean {
  return outputs.every((rel) => {
    const full = path.join(repoRoot, rel);
    return fs.existsSync(full) && fs.statSync(full).mtimeMs >= source;
  });
}

const distIsCurrent = (): boolean => isCurrent(distOutputs, newestSource('lib', ['scripts/build-esm.mjs']));
const benchmarksAreCurrent = (): boolean =>
  isCurrent(benchmarkOutputs, newestSource('benchmarks/src', ['benchmarks/tsconfig.json']));

/**
 * Runs the build steps (node <args>, in the repo) unless current() holds,
 * under a lock so that parallel test files do not build at the same time.
 */
function buildUnlessCurrent(what: string, current: () => boolean, steps: string[][]): void {
  if (current()) return;
  const lock = path.join(os.tmpdir(), `looplet-build-ts-${Buffer.from(repoRoot).toString('hex').slice(-32)}.lock`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock left by a killed run is stale after two minutes.
      const held = fs.statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 120_000) fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`could not take the build lock ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    if (current()) return;
    for (const args of steps) {
      try {
        execFileSync(process.execPath, args, { cwd: repoRoot, stdio: 'pipe', encoding: 'utf8' });
      } catch (err) {
        const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
        throw new Error(`building ${what} failed (${args.join(' ')}):\n${stdout}${stderr}`);
      }
    }
  } finally {
    fs.rmdirSync(lock);
  }
}

const tsc = path.join(repoRoot, 'node_modules/typescript/bin/tsc');

/**
 * Worker threads, child processes and the package tests load the built
 * package (dist/, made by `npm run build:ts`; `npm ci` runs it through the
 * `prepare` script). This rebuilds it when it is missing or older than lib/.
 */
export function ensureDist(): void {
  buildUnlessCurrent('dist/', distIsCurrent, [[tsc, '-p', 'tsconfig.json'], ['scripts/build-esm.mjs']]);
}

/**
 * The `looplet` command runs the benchmark harness from benchmarks/dist
 * (also made by `npm run build:ts`), which loads the library from dist/:
 * ensures both are built and current.
 */
export function ensureBenchmarksDist(): void {
  ensureDist();
  buildUnlessCurrent('benchmarks/dist/', benchmarksAreCurrent, [[tsc, '-p', 'benchmarks/tsconfig.json']]);
}

/**
 * setpriv arguments that run a child as an unprivileged user of this test
 * process's own: RLIMIT_NPROC counts every thread of a uid system-wide, so
 * children of tests running at the same time (other files, other Node lines
 * in CI) must not share one, or one child's exhausted limit stops another
 * Node from starting. The uid need not exist in /etc/passwd.
 */
export function unprivileged(): string[] {
  const uid = 40_000 + (process.pid % 20_000);
  return [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
}

/** What a child process did: spawnSync's fields, from spawnAsync. */
export interface ChildRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

/**
 * spawnSync's result without blocking this process: a test worker whose
 * event loop is blocked for a minute (a bench run, 10,000 greenlets, on a
 * loaded machine) misses vitest's own RPC deadline ("Timeout calling
 * onTaskUpdate") and the run fails. SIGKILL after timeoutMs.
 */
export function spawnAsync(
  file: string,
  args: string[],
  options: { timeoutMs: number; cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let error: Error | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      error = new Error(`timed out after ${options.timeoutMs} ms`);
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (err) => (error = err));
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, error });
    });
  });
}
