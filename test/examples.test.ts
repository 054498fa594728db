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
