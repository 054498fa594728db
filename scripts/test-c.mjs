#!/usr/bin/env node
// Builds the native core with CMake (native/CMakeLists.txt) and runs its C
// tests with ctest:
//   1. build-c/       Release build, ctest (C tests, export list, install smoke
//                     test, the C echo example over 127.0.0.1), then the ctypes
//                     embedding test (native/test/test_ctypes.py, /usr/bin/python3)
//   2. build-c-asan/  -DLOOPLET_SANITIZE=ON (ASan + UBSan), ctest
//                     when LOOPLET_SANITIZE=1 or CI is set
//   3. valgrind       the Release test programs under valgrind --leak-check=full
//                     when CI is set and valgrind is on PATH
//   4. build-c-ucontext/  the coroutines on the ucontext fallback
//                     (-DLOOPLET_CORO_UCONTEXT=ON), ctest; when CI is set
//   5. aarch64        scripts/test-aarch64.sh: cross build, ctest under
//                     qemu-aarch64; when CI is set, skipped (with the reason)
//                     when the cross tools are missing
//   6. build-c-tsan/  the thread pool's test (native/test/test_pool.c) built
//                     with clang-14 -fsanitize=thread (-DLOOPLET_TSAN=ON) and
//                     run; when LOOPLET_SANITIZE=1 or CI is set, skipped (with
//                     the reason) when clang-14 cannot link a TSan program
//   7. build-c-fuzz/  the libFuzzer target native/fuzz/fuzz_core.cc (clang-14,
//                     -fsanitize=fuzzer,address,undefined, -DLOOPLET_FUZZ=ON),
//                     run for LOOPLET_FUZZ_SECONDS (default 45) from the seed
//                     corpus native/fuzz/corpus (new inputs go to
//                     build-c-fuzz/corpus); when CI is set or LOOPLET_FUZZ=1,
//                     skipped (with the reason) without clang-14 and
//                     libclang-rt-14-dev
// Prints a summary and exits non-zero if any step failed. No dependencies.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'native');
const jobs = String(Math.max(2, Math.min(8, os.availableParallelism?.() ?? os.cpus().length)));
const isSet = (v) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
const ci = isSet(process.env.CI);
const sanitize = ci || process.env.LOOPLET_SANITIZE === '1';
const fuzz = ci || process.env.LOOPLET_FUZZ === '1';
const fuzzSeconds = Number(process.env.LOOPLET_FUZZ_SECONDS) > 0 ? Number(process.env.LOOPLET_FUZZ_SECONDS) : 45;
const sanitizerEnv = {
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
};

const started = performance.now();
const results = [];

function record(name, status, ms, note = '') {
  results.push({ name, status, ms, note });
}

function onPath(cmd) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return !r.error;
}

// Runs one command with inherited output; records it as a step.
function step(name, cmd, args, { cwd = root, env = {} } = {}) {
  console.log(`\n== ${name}\n$ ${[cmd, ...args].join(' ')}`);
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, ...env } });
  const ms = performance.now() - t0;
  const ok = r.status === 0;
  const note = r.error ? r.error.message : ok ? '' : `exit ${r.status ?? r.signal}`;
  record(name, ok ? 'PASS' : 'FAIL', ms, note);
  return ok;
}

// A build tree configured for another source directory (a moved checkout)
// cannot be reconfigured; start it afresh.
function dropForeignCache(buildDir) {
  const cache = path.join(buildDir, 'CMakeCache.txt');
  if (!existsSync(cache)) return;
  const m = /^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$/m.exec(readFileSync(cache, 'utf8'));
  if (m && path.resolve(m[1]) !== source) {
    console.log(`(removing ${path.relative(root, buildDir)}/: configured for ${m[1]})`);
    rmSync(buildDir, { recursive: true, force: true });
  }
}

function buildAndTest(label, dir, cmakeArgs, env = {}, ctestArgs = []) {
  const buildDir = path.join(root, dir);
  dropForeignCache(buildDir);
  return (
    step(`${label}: configure`, 'cmake', ['-S', source, '-B', buildDir, ...cmakeArgs]) &&
    step(`${label}: build`, 'cmake', ['--build', buildDir, '--parallel', jobs]) &&
    step(`${label}: ctest`, 'ctest', ['--output-on-failure', '--parallel', jobs, ...ctestArgs], {
      cwd: buildDir,
      env,
    })
  );
}

// The embedding test: CPython loads build-c/liblooplet.so through ctypes.
// CMake registers it (label "embed") when it finds a python3, /usr/bin first.
function ctypesStep(buildDir) {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  if (!onPath(python)) {
    console.log('\n== ctypes\npython3 not found: skipped');
    record('release: ctypes (python3)', 'SKIP', 0, 'python3 not found');
    return;
  }
  step('release: ctypes (python3)', 'ctest', ['--output-on-failure', '-V', '-L', 'embed'], {
    cwd: buildDir,
  });
}

// scripts/test-aarch64.sh exits 77 when the cross tools are missing.
function aarch64Step() {
  const name = 'aarch64 (qemu-user)';
  console.log(`\n== ${name}\n$ bash scripts/test-aarch64.sh`);
  const t0 = performance.now();
  const r = spawnSync('bash', [path.join(root, 'scripts', 'test-aarch64.sh')], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const ms = performance.now() - t0;
  if (r.status === 77) {
    record(name, 'SKIP', 0, 'g++-aarch64-linux-gnu / qemu-aarch64 not found (see the script)');
  } else {
    record(name, r.status === 0 ? 'PASS' : 'FAIL', ms, r.status === 0 ? '' : `exit ${r.status ?? r.signal}`);
  }
}

// The C test programs of a build tree, as ctest would run them.
function unitTestCommands(buildDir) {
  const r = spawnSync('ctest', ['--show-only=json-v1'], { cwd: buildDir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ctest --show-only failed: ${r.stderr}`);
  const tests = JSON.parse(r.stdout).tests ?? [];
  return tests
    .filter((t) =>
      (t.properties ?? []).some((p) => p.name === 'LABELS' && [].concat(p.value).includes('unit')),
    )
    .map((t) => ({ name: t.name, command: t.command }));
}

function valgrindRun(buildDir) {
  let tests;
  try {
    tests = unitTestCommands(buildDir);
  } catch (err) {
    record('valgrind: list tests', 'FAIL', 0, err.message);
    return;
  }
  if (tests.length === 0) {
    record('valgrind: list tests', 'FAIL', 0, 'no tests labelled "unit"');
    return;
  }
  for (const t of tests) {
    const name = `valgrind: ${t.name}`;
    const args = ['-q', '--error-exitcode=1', '--leak-check=full', ...t.command];
    console.log(`\n== ${name}\n$ valgrind ${args.join(' ')}`);
    const t0 = performance.now();
    const r = spawnSync('valgrind', args, {
      cwd: buildDir,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const ms = performance.now() - t0;
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    const summary = /^# \d+ passed.*$/m.exec(output)?.[0] ?? '';
    const ok = r.status === 0 || r.status === 77;
    if (ok) console.log(summary || '(passed)');
    else console.log(output.slice(-20000) || String(r.error));
    record(name, ok ? 'PASS' : 'FAIL', ms, ok ? summary.replace(/^# /, '') : `exit ${r.status}`);
  }
}

// clang-14 can build a libFuzzer program (libclang-rt-14-dev has the runtime).
function libFuzzerMissing() {
  if (!onPath('clang-14') || !onPath('clang++-14')) return 'clang-14 not found';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'looplet-fuzz-probe-'));
  try {
    const src = path.join(dir, 'probe.cc');
    writeFileSync(src, 'extern "C" int LLVMFuzzerTestOneInput(const char *, unsigned long) { return 0; }\n');
    const r = spawnSync('clang++-14', ['-fsanitize=fuzzer,address,undefined', src, '-o', path.join(dir, 'probe')], {
      stdio: 'ignore',
    });
    return r.status === 0 ? '' : 'clang-14 cannot link -fsanitize=fuzzer (libclang-rt-14-dev missing?)';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// clang-14 can build and run a ThreadSanitizer program here (the runtime
// comes with libclang-rt-14-dev; some kernels' mmap layouts defeat it).
function tsanMissing() {
  if (!onPath('clang-14')) return 'clang-14 not found';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'looplet-tsan-probe-'));
  try {
    const src = path.join(dir, 'probe.c');
    writeFileSync(src, 'int main(void) { return 0; }\n');
    const exe = path.join(dir, 'probe');
    const built = spawnSync('clang-14', ['-fsanitize=thread', src, '-o', exe], { stdio: 'ignore' });
    if (built.status !== 0) return 'clang-14 cannot link -fsanitize=thread (libclang-rt-14-dev missing?)';
    const ran = spawnSync(exe, [], { encoding: 'utf8' });
    return ran.status === 0 ? '' : `a TSan program does not run here: ${(ran.stderr || '').trim().split('\n')[0]}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The thread pool under ThreadSanitizer. Only test_pool: the other tests
// switch stacks under TSan's feet.
function tsanStep() {
  const name = 'tsan: test_pool';
  const missing = tsanMissing();
  if (missing) {
    console.log(`\n== ${name}\n${missing}: skipped (apt-get install clang-14 libclang-rt-14-dev)`);
    record(name, 'SKIP', 0, missing);
    return;
  }
  const buildDir = path.join(root, 'build-c-tsan');
  dropForeignCache(buildDir);
  const built =
    step('tsan: configure', 'cmake', [
      '-S', source, '-B', buildDir,
      '-DCMAKE_C_COMPILER=clang-14', '-DCMAKE_CXX_COMPILER=clang++-14',
      '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DLOOPLET_TSAN=ON', '-DLOOPLET_INSTALL=OFF',
      '-DLOOPLET_WARNINGS_AS_ERRORS=ON',
    ]) && step('tsan: build', 'cmake', ['--build', buildDir, '--parallel', jobs, '--target', 'test_pool']);
  if (!built) return;
  step(name, path.join(buildDir, 'test', 'test_pool'), [], {
    env: { TSAN_OPTIONS: 'halt_on_error=1:second_deadlock_stack=1' },
  });
}

// The libFuzzer target, run for a bounded time. A crash leaves its input in
// build-c-fuzz/ (crash-<sha1>), and the output says how to replay it.
function fuzzStep() {
  const name = `libFuzzer fuzz_core (${fuzzSeconds} s)`;
  const missing = libFuzzerMissing();
  if (missing) {
    console.log(`\n== ${name}\n${missing}: skipped (apt-get install clang-14 libclang-rt-14-dev)`);
    record(name, 'SKIP', 0, `${missing}; apt-get install clang-14 libclang-rt-14-dev`);
    return;
  }
  const buildDir = path.join(root, 'build-c-fuzz');
  dropForeignCache(buildDir);
  const configured =
    step('fuzz: configure', 'cmake', [
      '-S', source, '-B', buildDir,
      '-DCMAKE_C_COMPILER=clang-14', '-DCMAKE_CXX_COMPILER=clang++-14',
      '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DLOOPLET_FUZZ=ON', '-DLOOPLET_BUILD_TESTS=OFF',
      '-DLOOPLET_INSTALL=OFF', '-DLOOPLET_WARNINGS_AS_ERRORS=ON',
    ]) && step('fuzz: build', 'cmake', ['--build', buildDir, '--parallel', jobs, '--target', 'fuzz_core']);
  if (!configured) return;
  const corpus = path.join(buildDir, 'corpus');
  mkdirSync(corpus, { recursive: true });
  const ok = step(name, path.join(buildDir, 'fuzz', 'fuzz_core'), [
    `-max_total_time=${fuzzSeconds}`, '-timeout=10', '-rss_limit_mb=2048', '-print_final_stats=1',
    `-artifact_prefix=${buildDir}/`, corpus, path.join(source, 'fuzz', 'corpus'),
  ], { env: { ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1' } });
  if (!ok) console.log(`replay a crash with: ${path.relative(root, path.join(buildDir, 'fuzz', 'fuzz_core'))} build-c-fuzz/crash-<sha1>`);
}

function main() {
  if (!onPath('cmake') || !onPath('ctest')) {
    record('cmake', 'FAIL', 0, 'cmake/ctest not found on PATH (cmake >= 3.16 is needed)');
    return;
  }
  const common = ['-DLOOPLET_WARNINGS_AS_ERRORS=ON'];

  const releaseOk = buildAndTest(
    'release',
    'build-c',
    ['-DCMAKE_BUILD_TYPE=Release', ...common],
    {},
    ['-LE', 'embed'],
  );
  if (releaseOk) ctypesStep(path.join(root, 'build-c'));

  if (sanitize) {
    buildAndTest(
      'asan+ubsan',
      'build-c-asan',
      ['-DCMAKE_BUILD_TYPE=Debug', '-DLOOPLET_SANITIZE=ON', ...common],
      sanitizerEnv,
    );
    tsanStep();
  } else {
    record('asan+ubsan', 'SKIP', 0, 'set LOOPLET_SANITIZE=1 or CI to run');
    record('tsan: test_pool', 'SKIP', 0, 'set LOOPLET_SANITIZE=1 or CI to run');
  }

  if (!ci) {
    record('valgrind', 'SKIP', 0, 'runs when CI is set');
  } else if (!onPath('valgrind')) {
    console.log('\n== valgrind\nvalgrind not found on PATH: skipped');
    record('valgrind', 'SKIP', 0, 'valgrind not on PATH');
  } else if (!releaseOk) {
    record('valgrind', 'SKIP', 0, 'the release build or its tests failed');
  } else {
    valgrindRun(path.join(root, 'build-c'));
  }

  if (ci) {
    buildAndTest('ucontext', 'build-c-ucontext', [
      '-DCMAKE_BUILD_TYPE=Release',
      '-DLOOPLET_CORO_UCONTEXT=ON',
      ...common,
    ]);
    aarch64Step();
  } else {
    record('ucontext', 'SKIP', 0, 'runs when CI is set');
    record('aarch64 (qemu-user)', 'SKIP', 0, 'runs when CI is set (or: bash scripts/test-aarch64.sh)');
  }

  if (fuzz) fuzzStep();
  else record('libFuzzer fuzz_core', 'SKIP', 0, 'set LOOPLET_FUZZ=1 or CI to run');
}

main();

const total = (performance.now() - started) / 1000;
const failed = results.filter((r) => r.status === 'FAIL');
const width = Math.max(...results.map((r) => r.name.length));
console.log('\n== test-c summary');
for (const r of results) {
  const time = r.status === 'SKIP' ? '' : `${(r.ms / 1000).toFixed(1)} s`;
  console.log(`  ${r.status}  ${r.name.padEnd(width)}  ${time.padStart(7)}  ${r.note}`.trimEnd());
}
console.log(
  failed.length
    ? `test-c: FAILED (${failed.map((r) => r.name).join(', ')}) in ${total.toFixed(1)} s`
    : `test-c: all passed in ${total.toFixed(1)} s`,
);
process.exitCode = failed.length ? 1 : 0;
