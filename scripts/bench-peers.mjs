// `npm install` in a clone: installs the benchmarks' own peers (piscina and
// tinypool, for `looplet bench pool`) into benchmarks/node_modules from
// benchmarks/package-lock.json. They are never dependencies of looplet; an
// installed package has no benchmarks/package.json and skips this. A failed
// install only warns: bench pool then reports those peers as skipped.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = join(dirname(fileURLToPath(import.meta.url)), '..', 'benchmarks');
const peers = ['piscina', 'tinypool'];
if (existsSync(join(bench, 'package.json')) && !peers.every((p) => existsSync(join(bench, 'node_modules', p, 'package.json')))) {
  const npm = process.env.npm_execpath;
  const [exe, args] = npm && npm.endsWith('.js') ? [process.execPath, [npm]] : ['npm', []];
  try {
    execFileSync(exe, [...args, 'install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: bench, stdio: 'inherit' });
  } catch (err) {
    process.stderr.write(`looplet: the benchmark peers (${peers.join(', ')}) were not installed: ${err.message}\n`);
  }
}
