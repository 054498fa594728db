// Every example runs as its own process and must finish cleanly.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Poller } from '../lib/index';

const root = path.join(__dirname, '..');

function runExample(file: string, args: string[] = []) {
  return spawnSync(process.execPath, [path.join(root, 'examples', file), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30000,
  });
}

describe.each(Poller.backends())('examples with the %s backend', (backend) => {
  it('selectors-echo-server echoes every byte for every client', () => {
    const r = runExample('selectors-echo-server.mjs', ['--backend', backend, '--clients', '30', '--messages', '20']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${backend}: 30 clients x 20 messages echoed in [0-9.]+ ms`));
  });

  it('select-loop-echo-server serves clients from a blocking loop in a worker', () => {
    const r = runExample('select-loop-echo-server.mjs', ['--backend', backend, '--clients', '12']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${backend}: 12 clients served by a blocking select() loop in a worker; worker exit code 0`);
  });
});

describe('greenlet examples', () => {
  it('greenlet-switch interleaves two greenlets as in the tutorial', () => {
    const r = runExample('greenlet-switch.mjs');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('12\n56\n34\n78\n');
  });

  it('greenlet-producer-consumer feeds every item to both consumers in order', () => {
    const r = runExample('greenlet-producer-consumer.mjs', ['--items', '3']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['---> c1 starting eating baozi...', '---> c2 starting eating baozi...']);
    const expected: string[] = [];
    for (let n = 1; n <= 3; n++) expected.push(`[producer] is making baozi ${n}`, `[c1] is eating baozi ${n}`, `[c2] is eating baozi ${n}`);
    expect(lines.slice(2)).toEqual(expected);
  });
});

describe('hub examples (the seed programs)', () => {
  it('hub-spawn-joinall: the parts print in the seed order and the sleeps overlap', () => {
    // A "second" of 100 ms: the sleeps (2, 1, 3) take 0.3 s together, 0.6 s one after another.
    const r = runExample('hub-spawn-joinall.mjs', ['--scale', '0.1']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 6)).toEqual(['func1: part 1', 'func2: part 1', 'func3: part 1', 'func2: part 2', 'func1: part 2', 'func3: part 2']);
    const took = Number(/^took ([0-9.]+) s/.exec(lines[6])![1]);
    expect(took).toBeGreaterThanOrEqual(2.9);
    expect(took).toBeLessThan(5.5); // in sequence: 6
  });

  it('hub-crawler: every page arrives whole, the fastest first', () => {
    const r = runExample('hub-crawler.mjs', ['--pages', '4', '--delay-ms', '100']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const url = (i: number) => new RegExp(`^http://127\\.0\\.0\\.1:\\d+/page/${i}$`);
    expect(lines).toHaveLength(9);
    for (let i = 0; i < 4; i++) expect(lines[i].replace('GET: ', '')).toMatch(url(i));
    for (let k = 0; k < 4; k++) {
      const i = 3 - k;
      const [bytes, from] = lines[4 + k].split(' bytes received from ');
      expect(Number(bytes)).toBe(1000 * (i + 1));
      expect(from).toMatch(url(i));
    }
    expect(lines[8]).toBe('total 10000 bytes from 4 pages');
  });

  it('hub-producer-consumer: sentinels end the consumers and every item is eaten once', () => {
    const r = runExample('hub-producer-consumer.mjs', ['--items', '3', '--sleep-ms', '2']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 6)).toEqual([...[0, 1, 2, 3, 4].map((i) => `consumer got item ${i}`), 'consumer got null']);
    const eaten = lines.filter((l) => / eats: /.test(l));
    const items = eaten.map((l) => l.replace(/^c[12] eats: /, '')).sort();
    const expected = [];
    for (const [name, food] of [['jason', 'soy milk'], ['kevin', 'baozi'], ['oscar', 'douzhi'], ['tank', 'bread']]) {
      for (let i = 0; i < 3; i++) expected.push(`${name} made ${food} #${i}`);
    }
    expect(items).toEqual(expected.sort());
    expect(lines).toContain('12 items eaten by 2 consumers');
    const baozi = lines.slice(lines.indexOf('---> c1 starting eating baozi...'));
    const expectedBaozi = ['---> c1 starting eating baozi...', '---> c2 starting eating baozi...'];
    for (let n = 1; n <= 5; n++) expectedBaozi.push(`[producer] is making baozi ${n}`, `[c1] is eating baozi ${n}`, `[c2] is eating baozi ${n}`);
    expect(baozi).toEqual(expectedBaozi);
  });

  it('hub-asyncio-style: wait, done callbacks, gather, as_completed and call_soon/call_later/call_at', () => {
    // Scaled seconds of 200 ms: the as_completed pages finish 20 ms apart, a
    // margin that a loaded CI machine (every Node line's suite at once) keeps;
    // at 50 ms (5 ms apart) one run on Node 22 saw pages 2 and 3 swap.
    const r = runExample('hub-asyncio-style.mjs', ['--scale', '0.2']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^wait: 10 done in [0-9.]+ s$/);
    expect(Number(/in ([0-9.]+) s/.exec(lines[0])![1])).toBeLessThan(10); // ten 2-second downloads, at once
    expect(lines.slice(1, 7)).toEqual([
      'result: <html of http://www.imooc.com>',
      'done callback: send callback email for <html of http://www.imooc.com>',
      'gather: <html of http://projectsedu.com> <html of http://projectsedu.com/2> <html of http://www.imooc.com> <html of http://www.imooc.com/2>',
      'as_completed: <html of page 1>',
      'as_completed: <html of page 2>',
      'as_completed: <html of page 3>',
    ]);
    expect(lines.slice(7).map((l) => l.replace(/ at \+[0-9.]+ s$/, ''))).toEqual(['call_soon', 'call_later(1)', 'call_later(2)', 'call_at(now + 3)']);
  });
});

describe('net examples (the seed programs)', () => {
  it('net-echo-server: a greenlet per connection echoes every message of every client', () => {
    const r = runExample('net-echo-server.mjs', ['--clients', '400', '--messages', '3']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^400 clients x 3 messages echoed in [0-9.]+ ms$/);
    const [, connections, atOnce] = /^server: (\d+) connections, one greenlet each, up to (\d+) at once$/.exec(lines[1])!;
    expect(Number(connections)).toBe(400);
    expect(Number(atOnce)).toBeGreaterThan(100); // the clients overlap: many handlers are alive together
  });

  it("net-echo-server --upper: seed 003's talk() answers in upper case", () => {
    const r = runExample('net-echo-server.mjs', ['--clients', '10', '--messages', '2', '--upper']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^10 clients x 2 messages echoed in upper case in [0-9.]+ ms\n/);
  });

  it('net-http-get: 20 raw-socket GETs in jobs, every body whole, the requests overlapping', () => {
    const r = runExample('net-http-get.mjs', ['--urls', '20', '--delay-ms', '100']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => `<html>results for ${i}/</html>`));
    const seconds = Number(/^last time: ([0-9.]+) s for 20 pages \(one after another: 2\.0 s\)$/.exec(lines[20])![1]);
    expect(seconds).toBeLessThan(1.5); // 20 x 100 ms one after another: 2 s
  });

  it('streamserver-echo-server: the select() echo server of seed 004 as a StreamServer, same clients', () => {
    const r = runExample('streamserver-echo-server.mjs', ['--clients', '30', '--messages', '20']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^streamserver: 30 clients x 20 messages echoed in [0-9.]+ ms\n$/);
  });

  it('net-multicore: worker processes share the port with reusePort and all of them serve', () => {
    const r = runExample('net-multicore.mjs', ['--workers', '3', '--clients', '90', '--messages', '3']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^3 worker processes on port \d+ served 90 clients x 3 messages in [0-9.]+ ms$/);
    const [, list, total] = /^connections per worker: ([0-9, ]+) \(total (\d+)\); every byte echoed$/.exec(lines[1])!;
    const served = list.split(', ').map(Number);
    expect(Number(total)).toBe(90);
    expect(served).toHaveLength(3);
    expect(Math.min(...served)).toBeGreaterThan(0); // 90 connections spread by the kernel: none idle
  });
});

describe('pool examples (the seed programs)', () => {
  it('pool-run-in-executor: 20 blocking GETs on 3 threads overlap, from async code and from jobs', () => {
    const r = runExample('pool-run-in-executor.mjs', ['--urls', '20', '--threads', '3', '--delay-ms', '60']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => `<html>result for /s?wd=${i}/</html>`));
    expect(lines[20]).toMatch(/^last time: [0-9.]+ s \(async code\)$/);
    expect(lines[21]).toBe('jobs: 20 pages, same as async code: true');
    // 20 requests of 60 ms on 3 threads: at least 7 rounds.
    const took = Number(/^last time: ([0-9.]+) s \(jobs\)$/.exec(lines[22])![1]);
    expect(took).toBeGreaterThanOrEqual(0.41);
    // They overlapped, never beyond the pool's 3 threads (counted by the server, not timed:
    // a loaded machine may start the third worker late).
    const most = Number(/^server: at most (\d+) requests at once$/.exec(lines[23])![1]);
    expect(most).toBeGreaterThanOrEqual(2);
    expect(most).toBeLessThanOrEqual(3);
  });

  it('pool-submit-callbacks: each callback gets its future; shutdown waits for the tasks', () => {
    const r = runExample('pool-submit-callbacks.mjs');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(9);
    // The first pool: the tasks print 456 on their threads; each callback prints its result, then 123.
    const first = lines.slice(0, 6);
    expect([...first].sort()).toEqual(['10', '123', '123', '3', '456', '456']);
    for (const result of ['3', '10']) expect(first[first.indexOf(result) + 1]).toBe('123');
    // The second pool: 3, and the dict with its name.
    const second = lines.slice(6);
    expect([...second].sort()).toEqual(['3', 'lin', "{ name: 'lin' }"].sort());
    expect(second[second.indexOf("{ name: 'lin' }") + 1]).toBe('lin');
  });
});
