// watch(): readiness delivered through the event loop, for every backend
// (epoll watches its own fd with uv_poll; poll and select use a helper
// thread). Also: ref/unref in child processes, pollers in worker threads,
// and no fd leaks.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { EDGE_TRIGGERED, EVENT_READ, EVENT_WRITE, ONESHOT, Poller, sys, type ReadyList } from '../lib/index';
import {
  capabilitiesOf,
  closeQuietly,
  delay,
  drain,
  ensureDist,
  installFdCleanup,
  openFds,
  pollerFactory,
  repoRoot,
  send,
  socketpair,
  summary,
  thrown,
  waitFor,
} from './helpers';

installFdCleanup();

// Child processes and worker threads load the built package: require() of
// the repo root gives dist/cjs (package.json "main"), which `npm run build:ts`
// makes. ensureDist() runs that build when dist/ is missing or older than lib/.
beforeAll(() => ensureDist(), 120_000);

/** A watch callback that records each batch as sorted [fd, events] pairs. */
function recorder() {
  const batches: Array<Array<[number, number]>> = [];
  return {
    batches,
    callback: (ready: ReadyList) => {
      batches.push(summary(ready));
    },
    /** Waits until at least n batches arrived (default: one more than now). */
    next(n = batches.length + 1, ms = 5000) {
      return waitFor(() => batches.length >= n, ms, `watch batch #${n}`);
    },
  };
}

/** Lets the event loop turn for ms, for tests that assert nothing arrives. */
const quiet = (ms = 100) => delay(ms);

describe.each(Poller.backends())('watch with the %s backend', (backend) => {
  const open = pollerFactory(backend);
  const caps = capabilitiesOf(backend);

  it('delivers events through the event loop, without select()', async () => {
    const p = open();
    const [a, b] = socketpair();
    const key = p.register(a, EVENT_READ, 'payload');
    const got = new Promise<ReadyList>((resolve) => {
      p.watch((ready) => resolve(ready));
    });
    expect(p.watching).toBe(true);
    send(b, 'hello');
    const ready = await Promise.race([got, delay(5000).then(() => null)]);
    expect(ready).not.toBeNull();
    expect(ready).toEqual([[key, EVENT_READ]]);
    expect(drain(a)).toBe('hello');
    p.unwatch();
    expect(p.watching).toBe(false);
  });

  it('delivers several ready fds in one batch', async () => {
    const p = open();
    const pairs = Array.from({ length: 5 }, () => socketpair());
    for (const [rd] of pairs) p.register(rd, EVENT_READ);
    const rec = recorder();
    p.watch(rec.callback);
    await quiet(20);
    expect(rec.batches).toEqual([]);
    // Three writes before the loop turns: the first callback sees all three.
    const written = [pairs[0], pairs[2], pairs[4]];
    for (const [, wr] of written) send(wr);
    await rec.next();
    expect(rec.batches[0]).toEqual(written.map(([rd]) => [rd, EVENT_READ]).sort((x, y) => x[0] - y[0]));
  });

  it('is level-triggered: called again while data stays unread, and not after it is read', async () => {
    const p = open();
    const [a, b] = socketpair();
    p.register(a, EVENT_READ);
    const rec = recorder();
    p.watch(rec.callback);
    send(b);
    await rec.next(3);
    expect(rec.batches.slice(0, 3)).toEqual([[[a, EVENT_READ]], [[a, EVENT_READ]], [[a, EVENT_READ]]]);
    drain(a);
    // A wake-up already queued harvests nothing and calls nothing.
    const calls = rec.batches.length;
    await quiet();
    expect(rec.batches.length).toBe(calls);
  });

  it('picks up registrations, modifications and removals made while watching', async () => {
    const p = open();
    const rec = recorder();
    p.watch(rec.callback);
    await quiet(20); // the helper thread (poll/select) now waits on an empty set

    const [a, b] = socketpair();
    p.register(a, EVENT_READ);
    send(b, '1');
    await rec.next();
    expect(rec.batches.at(-1)).toEqual([[a, EVENT_READ]]);
    drain(a);

    await quiet(20); // now it waits on {a}
    const [c, d] = socketpair();
    p.register(c, EVENT_READ, 'c');
    send(d, '2');
    await waitFor(() => rec.batches.some((batch) => batch.some(([fd]) => fd === c)), 5000, 'an event for c');
    expect(rec.batches.at(-1)).toEqual([[c, EVENT_READ]]);
    drain(c);

    await quiet(20);
    const seen = rec.batches.length;
    p.modify(a, EVENT_WRITE);
    await rec.next(seen + 1);
    expect(rec.batches[seen]).toEqual([[a, EVENT_WRITE]]);
    p.modify(a, EVENT_READ);

    p.unregister(c);
    await quiet(20);
    const before = rec.batches.length;
    send(d, '3');
    await quiet();
    expect(rec.batches.slice(before)).toEqual([]);
  });

  it('delivers every write among 100 pairs, round after round, while registrations churn', async () => {
    const p = open();
    const pairs = Array.from({ length: 100 }, () => socketpair());
    const peer = new Map(pairs);
    const registered = new Set<number>();
    for (const [rd] of pairs.slice(0, 80)) {
      p.register(rd, EVENT_READ);
      registered.add(rd);
    }
    const pending = new Set<number>();
    const unexpected: number[] = [];
    p.watch((ready) => {
      for (const [key, events] of ready) {
        if (events !== EVENT_READ || !pending.delete(key.fd)) unexpected.push(key.fd);
        drain(key.fd);
      }
    });
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 25; round++) {
      // Swap a few registrations, then write to some registered sockets.
      for (let i = 0; i < 3; i++) {
        const [rd] = pairs[random(pairs.length)];
        if (registered.has(rd)) {
          p.unregister(rd);
          registered.delete(rd);
        } else {
          p.register(rd, EVENT_READ);
          registered.add(rd);
        }
      }
      const targets = [...registered].filter(() => random(4) === 0);
      for (const rd of targets) {
        pending.add(rd);
        send(peer.get(rd)!);
      }
      await waitFor(() => pending.size === 0, 5000, `round ${round}: ${[...pending].join(', ')}`);
      expect(unexpected).toEqual([]);
    }
  });

  it('unwatch() stops delivery; watch() again resumes it', async () => {
    const p = open();
    const [a, b] = socketpair();
    const key = p.register(a, EVENT_READ);
    const rec = recorder();
    p.watch(rec.callback);
    p.unwatch();
    p.unwatch(); // harmless when not watching
    send(b);
    await quiet();
    expect(rec.batches).toEqual([]);
    expect(p.select(0)).toEqual([[key, EVENT_READ]]);

    const again = recorder();
    p.watch(again.callback);
    await again.next();
    expect(again.batches[0]).toEqual([[a, EVENT_READ]]);
    expect(rec.batches).toEqual([]);
  });

  it('close() while watching stops delivery', async () => {
    const p = open();
    const [a, b] = socketpair();
    p.register(a, EVENT_READ);
    const rec = recorder();
    p.watch(rec.callback);
    await quiet(20);
    p.close();
    expect(p.watching).toBe(false);
    send(b);
    await quiet();
    expect(rec.batches).toEqual([]);
  });

  it('the callback may unwatch or close the poller', async () => {
    const p1 = open();
    const p2 = open();
    const [a, b] = socketpair();
    const [c, d] = socketpair();
    p1.register(a, EVENT_READ);
    p2.register(c, EVENT_READ);
    let calls1 = 0;
    let calls2 = 0;
    p1.watch(() => {
      calls1++;
      p1.unwatch();
    });
    p2.watch(() => {
      calls2++;
      p2.close();
    });
    send(b);
    send(d);
    await waitFor(() => calls1 > 0 && calls2 > 0, 5000, 'both callbacks');
    await quiet();
    // The data was never read: a live watch would have been called again.
    expect([calls1, calls2]).toEqual([1, 1]);
    expect(p1.watching).toBe(false);
    expect(p2.closed).toBe(true);
  });

  it('watching twice is rejected with ERR_LOOPLET_ALREADY_WATCHING', () => {
    const p = open();
    p.watch(() => {});
    const err = thrown(() => p.watch(() => {}));
    expect(err.code).toBe('ERR_LOOPLET_ALREADY_WATCHING');
    expect(p.watching).toBe(true);
    p.unwatch();
    expect(() => p.watch(() => {})).not.toThrow();
  });

  it.skipIf(!caps.oneshot)('ONESHOT: one delivery until modify() re-arms', async () => {
    const p = open();
    const [a, b] = socketpair();
    p.register(a, EVENT_READ | ONESHOT);
    const rec = recorder();
    p.watch(rec.callback);
    send(b);
    await rec.next();
    await quiet();
    expect(rec.batches).toEqual([[[a, EVENT_READ]]]);
    p.modify(a, EVENT_READ | ONESHOT);
    await rec.next(2);
    await quiet();
    expect(rec.batches).toEqual([[[a, EVENT_READ]], [[a, EVENT_READ]]]);
  });

  it.skipIf(!caps.edgeTriggered)('EDGE_TRIGGERED: one delivery per arrival', async () => {
    const p = open();
    const [a, b] = socketpair();
    p.register(a, EVENT_READ | EDGE_TRIGGERED);
    const rec = recorder();
    p.watch(rec.callback);
    send(b);
    await rec.next();
    await quiet();
    expect(rec.batches).toHaveLength(1);
    send(b);
    await rec.next(2);
    await quiet();
    expect(rec.batches).toEqual([[[a, EVENT_READ]], [[a, EVENT_READ]]]);
  });

  describe('ref and unref (child processes)', () => {
    function runChild(body: string, ms = 10_000): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
      const code = `
        const { Poller, sys, EVENT_READ } = require(${JSON.stringify(repoRoot)});
        const p = new Poller({ backend: ${JSON.stringify(backend)} });
        const [a, b] = sys.socketpair();
        p.register(a, EVENT_READ);
        process.on('exit', () => console.log('exit'));
        ${body}
      `;
      const child = spawn(process.execPath, ['-e', code], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      return once(child, 'close').then(([code, signal]) => {
        clearTimeout(timer);
        return { code, signal, stdout, stderr };
      });
    }

    it('unref() after watch() lets the process exit while the watch is active', async () => {
      const r = await runChild(`p.watch(() => {}); p.unref(); console.log(p.watching, p.refed);`);
      expect(r.stderr).toBe('');
      expect(r.signal).toBeNull();
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('true false\nexit\n');
    });

    it('unref() before watch() lets the process exit too', async () => {
      const r = await runChild(`p.unref(); p.watch(() => {});`);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('exit\n');
    });

    it('a ref\'d watch keeps the process alive until unwatch()', async () => {
      // The timer is unref'd: it only fires if something else (the watch)
      // keeps the loop alive; once it unwatches, the process exits.
      const r = await runChild(`
        p.watch(() => {});
        setTimeout(() => { console.log('unwatch'); p.unwatch(); }, 300).unref();
      `);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('unwatch\nexit\n');
    });

    it('ref() after unref() keeps the process alive again', async () => {
      const r = await runChild(`
        p.watch(() => {});
        p.unref();
        p.ref();
        setTimeout(() => { console.log('close'); p.close(); }, 300).unref();
      `);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('close\nexit\n');
    });

    it('an exception thrown by the callback is an uncaught exception', async () => {
      const r = await runChild(`
        process.on('uncaughtException', (err) => { console.log('caught', err.message); p.close(); });
        p.watch(() => { throw new Error('boom'); });
        require('node:fs').writeSync(b, 'x');
      `);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('caught boom\nexit\n');
    });
  });

  describe('worker threads', () => {
    it('a worker creates its own poller, watches, gets an event and exits cleanly', async () => {
      const [a, b] = socketpair();
      // The worker loads the built package (dist/cjs), like any user would.
      const worker = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         const { Poller, EVENT_READ } = require(workerData.root);
         const p = new Poller({ backend: workerData.backend });
         p.register(workerData.fd, EVENT_READ, 'from the worker');
         p.watch((ready) => {
           parentPort.postMessage({
             type: 'ready',
             backend: p.backend,
             entries: ready.map(([key, events]) => [key.fd, events, key.data]),
           });
           p.close();
         });
         parentPort.postMessage({ type: 'watching' });`,
        { eval: true, workerData: { root: repoRoot, backend, fd: a }, stderr: true },
      );
      let stderr = '';
      worker.stderr.on('data', (chunk) => (stderr += chunk));
      const messages: Array<{ type: string; backend?: string; entries?: unknown }> = [];
      worker.on('message', (msg) => {
        messages.push(msg);
        if (msg.type === 'watching') send(b, 'to the worker');
      });
      const exited = once(worker, 'exit');
      const [code] = await Promise.race([exited, delay(10_000).then(() => worker.terminate().then(() => ['timeout']))]);
      expect(code).toBe(0);
      expect(messages).toEqual([
        { type: 'watching' },
        { type: 'ready', backend, entries: [[a, EVENT_READ, 'from the worker']] },
      ]);
      expect(stderr).toBe('');
      expect(drain(a)).toBe('to the worker');
    });

    // A worker that ends while its pollers still watch: the environment's
    // cleanup must stop the watches (uv_poll handle or helper thread) and
    // close their fds, without calling into JavaScript any more. Each case
    // runs in a child process (test/fixtures/worker-exit-while-watching.js)
    // because a failure here aborts the whole process; the child runs five
    // workers in a row, as the teardown race does not show every time.
    //
    // The 'ready' cases are the regression test for a teardown race: a
    // watched fd that is ready while the worker is torn down made a pending
    // uv callback call into JS that could no longer run, and node-addon-api
    // turned the failure into a fatal error. NativePoller::Deliver now drops
    // such deliveries.
    describe.each([
      ['exit', 'idle'],
      ['terminate', 'idle'],
      ['unref', 'idle'],
      ['exit', 'ready'],
      ['terminate', 'ready'],
      ['unref', 'ready'],
    ] as const)('a worker that ends (%s) while watching %s fds', (how, readiness) => {
      it('ends cleanly and leaves no fd open', async () => {
        const child = spawn(
          process.execPath,
          [path.join(__dirname, 'fixtures/worker-exit-while-watching.js'), backend, how, readiness, '5'],
          { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        child.stderr.on('data', (chunk) => (stderr += chunk));
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const [code, signal] = await once(child, 'close');
        clearTimeout(timer);
        expect({ code, signal, stderr: stderr.split('\n')[0] }).toEqual({ code: 0, signal: null, stderr: '' });
        expect(JSON.parse(stdout)).toEqual({ codes: Array(5).fill(how === 'terminate' ? 1 : 0), leaked: [] });
      });
    });

    // Regression: when no other environment has loaded the addon, Node
    // unloads it as the worker ends, and a watch's libuv handle, closed at
    // teardown, had its close callback run in unloaded code (SIGSEGV). The
    // watch now holds an async cleanup hook until that callback has run.
    it('a worker that alone loaded the addon ends cleanly while an unref\'d watch is on', () => {
      const script = `
        const { Worker } = require('node:worker_threads');
        let left = 5;
        const next = () => {
          if (left-- === 0) return console.log('done');
          const w = new Worker(${JSON.stringify(`
            const { Poller } = require(${JSON.stringify(path.join(repoRoot, 'dist/cjs/poller.js'))});
            const p = new Poller({ backend: ${JSON.stringify(backend)} });
            p.watch(() => {});
            p.unref();
          `)}, { eval: true });
          w.on('exit', (code) => (code === 0 ? next() : console.log('exit ' + code)));
        };
        next();
      `;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
      expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim(), stderr: r.stderr }).toEqual({ status: 0, signal: null, stdout: 'done', stderr: '' });
    });
  });
});

describe('no fd leaks', () => {
  it('pollers of every backend that register, watch, unwatch and close leave no fd behind', async () => {
    const before = openFds();
    for (const backend of Poller.backends()) {
      const pairs = Array.from({ length: 10 }, () => sys.socketpair());
      const p = new Poller({ backend });
      for (const [rd, wr] of pairs) {
        p.register(rd, EVENT_READ);
        p.register(wr, EVENT_WRITE | (p.capabilities.oneshot ? ONESHOT : 0));
      }
      let batches = 0;
      p.watch(() => batches++);
      await waitFor(() => batches > 0, 5000, `${backend} watch`);
      p.unwatch();
      for (const [, wr] of pairs) p.unregister(wr);
      p.watch(() => batches++);
      const seen = batches;
      send(pairs[3][1]);
      await waitFor(() => batches > seen, 5000, `${backend} second watch`);
      p.close(); // while watching

      const idle = new Poller({ backend });
      idle.register(pairs[0][0], EVENT_READ);
      idle.watch(() => {});
      idle.unwatch();
      idle.close();

      for (const [rd, wr] of pairs) {
        closeQuietly(rd);
        closeQuietly(wr);
      }
    }
    await delay(10); // let libuv finish closing the watch handles
    expect([...openFds()].sort((x, y) => x - y)).toEqual([...before].sort((x, y) => x - y));
  });

  it('pollers dropped without close() release their fds when garbage-collected', async () => {
    const code = `
      const fs = require('node:fs');
      const { Poller, sys, EVENT_READ } = require(${JSON.stringify(repoRoot)});
      const fds = () => fs.readdirSync('/proc/self/fd').map(Number);
      const [a, b] = sys.socketpair();
      const before = fds();
      (() => {
        for (let i = 0; i < 50; i++) {
          for (const backend of Poller.backends()) new Poller({ backend }).register(a, EVENT_READ);
        }
      })();
      const during = fds().length;
      const settle = async () => { for (let i = 0; i < 5; i++) { gc(); await new Promise((r) => setImmediate(r)); } };
      settle().then(() => console.log(JSON.stringify({ before, during, after: fds() })));
    `;
    const child = spawn(process.execPath, ['--expose-gc', '-e', code], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [exitCode] = await once(child, 'close');
    clearTimeout(timer);
    expect(stderr).toBe('');
    expect(exitCode).toBe(0);
    const counts = JSON.parse(stdout);
    if (Poller.backends().includes('epoll')) expect(counts.during).toBeGreaterThanOrEqual(counts.before.length + 50);
    // Every fd open now was open before the pollers (an fd of Node's own may
    // have closed meanwhile: a CI run counted one fewer after than before).
    expect(counts.after.filter((fd: number) => !counts.before.includes(fd))).toEqual([]);
  });
});
