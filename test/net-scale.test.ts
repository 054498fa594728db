// looplet/net at scale: 10,000 concurrent connections to a StreamServer
// (one greenlet each) with every byte checked and no fd left open, and
// worker threads each running a server.
import { execFileSync, spawn as spawnProcess, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { getHub, joinall, run, spawn } from '../lib/hub';
import { StreamServer, connect, openSocketCount } from '../lib/net';
import { countFds, ensureDist, repoRoot } from './helpers';
import { installNetChecks, pattern, portOf, recvExactly } from './net-helpers';

installNetChecks();

const CONNECTIONS = 10_000;

/** RLIMIT_NOFILE of this process, raised to the hard limit when that is needed and allowed. */
function fdLimit(want: number): number {
  const read = () => {
    const r = spawnSync('prlimit', ['--pid', String(process.pid), '--nofile', '--output=SOFT,HARD', '--noheadings', '--raw'], { encoding: 'utf8' });
    if (r.status !== 0) return null;
    const [soft, hard] = r.stdout.trim().split(/\s+/).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
    return { soft, hard };
  };
  const limits = read();
  if (limits === null) return 0;
  if (limits.soft < want && limits.hard > limits.soft) {
    spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${limits.hard}:${limits.hard}`]);
    return read()?.soft ?? limits.soft;
  }
  return limits.soft;
}

const enoughFds = fdLimit(CONNECTIONS + 500) >= CONNECTIONS + 500;

describe('10,000 concurrent connections', () => {
  it.skipIf(!enoughFds)('a StreamServer holds them all, one greenlet each; every byte comes back; no fd is left open', async () => {
    ensureDist();
    const fdsBefore = countFds();
    let peak = 0;
    let handled = 0;
    const server = new StreamServer({ host: '127.0.0.1', port: 0, backlog: 4096 }, (socket) => {
      handled++;
      peak = Math.max(peak, getHub().stats().parked);
      for (let data = socket.recv(); data.length > 0; data = socket.recv()) socket.sendAll(data);
    });
    server.start();
    const child = spawnProcess(
      process.execPath,
      [path.join(__dirname, 'fixtures/net-clients.js'), String(portOf(server.address)), String(CONNECTIONS), '100', '3', '64'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const [code] = await once(child, 'close');
    clearTimeout(timer);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const result = JSON.parse(stdout);
    expect(result).toEqual({ connections: CONNECTIONS, roundTrips: 3 * CONNECTIONS, bytes: 3 * CONNECTIONS * 64, maxOpen: expect.any(Number), leftOpen: 0 });
    expect(result.maxOpen).toBeGreaterThan(CONNECTIONS / 2); // the client held most of them at once
    expect(handled).toBe(CONNECTIONS);
    expect(peak).toBeGreaterThan(CONNECTIONS / 2); // so did the server: as many greenlets parked at once
    await run(() => server.stop());
    expect(openSocketCount()).toBe(0);
    expect(countFds()).toBeLessThanOrEqual(fdsBefore);
  }, 180_000);
});

describe('worker threads', () => {
  it('two workers each run a StreamServer on one shared port (reusePort); both serve, both exit cleanly with no fd left', async () => {
    ensureDist();
    const fdsBefore = countFds();
    const net = JSON.stringify(path.join(repoRoot, 'dist/cjs/net.js'));
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { StreamServer } = require(${net});
      let served = 0;
      const server = new StreamServer({ host: '127.0.0.1', port: workerData.port, reusePort: true }, (socket) => {
        served++;
        for (let data = socket.recv(); data.length > 0; data = socket.recv()) socket.sendAll(data);
      });
      server.start();
      parentPort.postMessage({ port: server.address.port });
      parentPort.on('message', () => {
        server.stop();
        parentPort.postMessage({ served });
        parentPort.close();
      });
    `;
    const first = new Worker(code, { eval: true, workerData: { port: 0 } });
    const [{ port }] = (await once(first, 'message')) as [{ port: number }];
    const second = new Worker(code, { eval: true, workerData: { port } });
    expect(((await once(second, 'message')) as [{ port: number }])[0].port).toBe(port);

    await run(() => {
      const jobs = Array.from({ length: 100 }, (_, i) =>
        spawn(() => {
          const socket = connect({ host: '127.0.0.1', port });
          try {
            for (let m = 0; m < 5; m++) {
              const msg = pattern(i * 10 + m, 200 + i);
              socket.sendAll(msg);
              expect(recvExactly(socket, msg.length).equals(msg)).toBe(true);
            }
          } finally {
            socket.close();
          }
        }),
      );
      joinall(jobs, { raiseError: true });
    });

    const served: number[] = [];
    for (const worker of [first, second]) {
      const reply = once(worker, 'message');
      worker.postMessage('stop');
      served.push(((await reply) as [{ served: number }])[0].served);
      const [exitCode] = await once(worker, 'exit');
      expect(exitCode).toBe(0);
    }
    expect(served[0] + served[1]).toBe(100);
    expect(Math.min(...served)).toBeGreaterThan(0); // the kernel spread the connections over both
    expect(countFds()).toBeLessThanOrEqual(fdsBefore);
  });

  it('a worker that ends with its server still running leaks no fd and does not crash the process', () => {
    ensureDist();
    const net = JSON.stringify(path.join(repoRoot, 'dist/cjs/net.js'));
    const script = `
      const { once } = require('node:events');
      const { Worker } = require('node:worker_threads');
      const fds = () => require('node:fs').readdirSync('/proc/self/fd').length;
      (async () => {
        await once(new Worker('0', { eval: true }), 'exit');
        const before = fds();
        const codes = [];
        for (let i = 0; i < 3; i++) {
          const w = new Worker(${JSON.stringify(`
            const { StreamServer } = require(${net});
            const { run, spawn } = require(${JSON.stringify(path.join(repoRoot, 'dist/cjs/hub.js'))});
            const { connect } = require(${net});
            const server = new StreamServer({ host: '127.0.0.1', port: 0 }, (s) => { s.recv(); });
            server.start();
            run(() => { globalThis.client = connect({ host: '127.0.0.1', port: server.address.port }); })
              .then(() => setTimeout(() => process.exit(0), 20));
          `)}, { eval: true });
          codes.push((await once(w, 'exit'))[0]);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
        console.log(JSON.stringify({ codes, leaked: fds() - before }));
      })();
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 }));
    expect(out).toEqual({ codes: [0, 0, 0], leaked: 0 });
  });
});
