#!/usr/bin/env node
'use strict';
// npm's install step for looplet. Uses the prebuilt binaries shipped under
// prebuilds/<platform>-<arch>/ when every one of them is there and loads in
// this Node; otherwise compiles from source with node-gyp (all three addons,
// see binding.gyp). The names follow prebuildify's tags, as lib/binding.ts
// expects them: looplet.node and looplet_bench.node (Node-API: any Node),
// looplet_greenlet.abi<N>.node (Node ABI N only).
//
// When the build from source fails but the Node-API binaries were
// prebuilt, the install still succeeds with a warning: the poller works,
// and greenlets throw ERR_LOOPLET_NATIVE_MISSING when first used.
//
// LOOPLET_BUILD_FROM_SOURCE=1 (or npm's --build-from-source), or a git
// checkout, skips the prebuilds.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const wanted = [
  { file: 'looplet.node', needed: true },
  { file: 'looplet_bench.node', needed: false },
  { file: `looplet_greenlet.abi${process.versions.modules}.node`, needed: false },
];

const isSet = (v) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';

/** Whether a prebuilt file exists and loads; the greenlet one must also be for this ABI. */
function loads(file) {
  const full = path.join(dir, file);
  if (!fs.existsSync(full)) return false;
  try {
    const addon = require(full);
    return !('nodeModuleVersion' in addon) || addon.nodeModuleVersion === Number(process.versions.modules);
  } catch {
    return false;
  }
}

function nodeGyp() {
  // npm tells its scripts where its bundled node-gyp is.
  const bundled = process.env.npm_config_node_gyp;
  if (bundled && fs.existsSync(bundled)) return [process.execPath, [bundled]];
  try {
    return [process.execPath, [require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] })]];
  } catch {
    return ['node-gyp', []];
  }
}

function main() {
  // A git checkout builds from source: its prebuilds/ may be older than the code.
  const fromSource =
    fs.existsSync(path.join(root, '.git')) || isSet(process.env.LOOPLET_BUILD_FROM_SOURCE) || isSet(process.env.npm_config_build_from_source);
  const missing = fromSource ? wanted : wanted.filter((w) => !loads(w.file));
  if (missing.length === 0) return 0;
  if (!fromSource && fs.existsSync(dir)) {
    console.error(`looplet: no usable prebuilt ${missing.map((m) => m.file).join(', ')} for Node ${process.version}; building from source`);
  }
  const [cmd, args] = nodeGyp();
  const r = spawnSync(cmd, [...args, 'rebuild'], { cwd: root, stdio: 'inherit' });
  if (r.status === 0) return 0;
  if (!fromSource && !missing.some((m) => m.needed)) {
    console.error(
      `looplet: warning: the build from source failed (${r.error ? r.error.message : `exit ${r.status}`}).\n` +
        `The poller works (prebuilt); greenlets need a binary for Node ABI ${process.versions.modules} and will throw\n` +
        'ERR_LOOPLET_NATIVE_MISSING when used. Install a C++ compiler, make and Python 3, then run `npm rebuild looplet`.',
    );
    fs.rmSync(path.join(root, 'build'), { recursive: true, force: true });
    return 0;
  }
  return r.status ?? 1;
}

process.exitCode = main();
