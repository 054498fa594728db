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
