// Resource limits, in child processes (test/fixtures/limits.js): every place
// of the poller and sys that creates an fd or a thread fails with a system
// error (code, errno, syscall) and leaves nothing behind when the process is
// out of fds (RLIMIT_NOFILE) or threads (RLIMIT_NPROC, which root ignores:
// those children run as an unprivileged user through setpriv), and a watched poller
// that cannot wait reports it once and stops.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Poller } from '../lib/index';
import { ensureDist, repoRoot, unprivileged } from './helpers';

const FIXTURE = path.join('test', 'fixtures', 'limits.js');
const NOBODY = unprivileged();
const NOBODY_UID = Number(NOBODY[0].slice('--reuid='.length));

function available(cmd: string): boolean {
  return !spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error;
}

const hasPrlimit = available('prlimit');
if (!hasPrlimit) console.log('limits.test.ts: RLIMIT_NOFILE watch tests skipped: prlimit (util-linux) not found');

function nobodyCanLoad(root: string): boolean {
  const r = spawnSync('setpriv', [...NOBODY, process.execPath, '-e', `require(${JSON.stringify(root)})`], {
    cwd: '/',
    stdio: 'ignore',
  });
  return r.status === 0;
}

/**
 * A copy of what the fixture loads (the built package, the addon, the
 * fixture) in a temporary folder that an unprivileged user can read, for a checkout it
 * cannot (under /root, say).
 */
function copyForNobody(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'looplet-limits-'));
  fs.chmodSync(dir, 0o755);
  const parts = ['package.json', 'dist', FIXTURE, 'build/Release/looplet.node', 'prebuilds'];
  for (const part of parts) {
    if (fs.existsSync(path.join(repoRoot, part))) fs.cpSync(path.join(repoRoot, part), path.join(dir, part), { recursive: true });
  }
  return dir;
}

// Where the RLIMIT_NPROC children (an unprivileged user) run from, or why they cannot.
let nobodyRoot = '';
let copied = '';
let nprocSkip = '';

beforeAll(() => {
  ensureDist();
  if (!hasPrlimit) nprocSkip = 'prlimit (util-linux) not found';
  else if (process.getuid?.() !== 0) nprocSkip = 'not root: cannot run a child as another user, and root would ignore RLIMIT_NPROC';
  else if (!available('setpriv')) nprocSkip = 'setpriv (util-linux) not found';
  else if (nobodyCanLoad(repoRoot)) nobodyRoot = repoRoot;
  else if (nobodyCanLoad((copied = copyForNobody()))) nobodyRoot = copied;
  else nprocSkip = `an unprivileged user cannot load the package, from ${repoRoot} or a copy in ${copied}`;
  if (nprocSkip) console.log(`limits.test.ts: RLIMIT_NPROC tests skipped: ${nprocSkip}`);
}, 120_000);

afterAll(() => {
  if (copied) fs.rmSync(copied, { recursive: true, force: true });
});

async function runChild(args: string[], opts: { nofile?: number; asNobody?: boolean } = {}): Promise<unknown> {
  const root = opts.asNobody ? nobodyRoot : repoRoot;
  let cmd = process.execPath;
  let argv = [path.join(root, FIXTURE), ...args];
  if (opts.nofile !== undefined) {
    argv = ['-c', `ulimit -n ${opts.nofile} && exec "$0" "$@"`, cmd, ...argv];
    cmd = '/bin/sh';
  }
  if (opts.asNobody) {
    argv = [...NOBODY, '--', cmd, ...argv];
    cmd = 'setpriv';
  }
  const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code, signal] = await once(child, 'close');
  clearTimeout(timer);
  expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  return JSON.parse(stdout);
}

const EMFILE = (syscall: string) => ({ name: 'Error', code: 'EMFILE', errno: -24, syscall });
const ok = { ok: true };

/** Expected outcome for k = 0..3 free fds: the error while k < needed, then success. */
function needs(fds: number, syscall: string) {
  return [0, 1, 2, 3].map((k) => ({ k, ...(k < fds ? { ok: false, error: EMFILE(syscall) } : ok), fdsLeft: 0 }));
}

describe('out of fds (RLIMIT_NOFILE): a system error and no fd left behind', () => {
  const cases: Array<[string, number, string]> = [
    // epoll: the set and the fd that fileno() gives (see docs/poller.md)
    ['poller:epoll', 2, 'epoll_create1'],
    ['poller:poll', 0, ''],
    ['poller:select', 0, ''],
    // uv_poll on the poller's fd: nothing new
    ['watch:epoll', 0, ''],
    // the helper thread's wake-up eventfd
    ['watch:poll', 1, 'eventfd'],
    ['watch:select', 1, 'eventfd'],
    ['socketpair', 2, 'socketpair'],
    ['listen', 1, 'socket'],
    ['connect', 1, 'socket'],
    ['accept', 1, 'accept4'],
    // rebuilding the epoll set after left-over entries takes one fd; without
    // it the ready fd is still reported
    ['rebuild:epoll', 0, ''],
  ];
  it.each(cases.filter(([op]) => !op.includes(':') || Poller.backends().includes(op.split(':')[1] as never)))(
    '%s',
    async (op, fds, syscall) => {
      expect(await runChild(['nofile', op], { nofile: 256 })).toEqual(needs(fds, syscall));
    },
  );
});

describe('out of threads (RLIMIT_NPROC, as an unprivileged user)', () => {
  it.for(['poll', 'select'])('%s: watch() throws EAGAIN from pthread_create; the poller keeps working', async (backend, ctx) => {
    if (nprocSkip) return ctx.skip();
    expect(await runChild(['nproc', backend], { asNobody: true })).toEqual({
      uid: NOBODY_UID,
      error: { name: 'Error', code: 'EAGAIN', errno: -11, syscall: 'pthread_create' },
      watching: false,
      fdsLeft: 0,
      select: [[true, 1]],
    });
  });
});

describe.skipIf(!hasPrlimit)('a watched poller with more fds registered than RLIMIT_NOFILE allows poll() to take', () => {
  const reportedOnce = { errors: [{ name: 'Error', code: 'EINVAL', errno: -22, syscall: 'poll' }], count: 1, calls: 0, watching: false };
  it('poll, 40 fds, limit 30: one uncaught EINVAL from poll, then the watch stops', async () => {
    expect(await runChild(['pollerlimit', 'poll', '40', '30'])).toEqual(reportedOnce);
  });

  it('poll, 40 fds, limit 40: the helper thread (40 fds and its wake-up fd) reports EINVAL once', async () => {
    expect(await runChild(['pollerlimit', 'poll', '40', '40'])).toEqual(reportedOnce);
  });

  it('select, 40 fds, limit 30: the helper thread polls, and reports EINVAL once', async () => {
    expect(await runChild(['pollerlimit', 'select', '40', '30'])).toEqual(reportedOnce);
  });
});
