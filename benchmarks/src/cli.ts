// The `looplet` command line (bin/looplet.js): `looplet bench poller`,
// `looplet bench greenlet`, `looplet bench switch`. Part of the benchmark
// harness (benchmarks/), which uses the library through its build (dist/cjs).
// Exit codes: 0 done, 1 a target failed under --check (or the benchmark
// failed), 2 usage error or a benchmark not available in this build.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Poller, type Backend } from '../../dist/cjs/poller';
import { greenletBenchCommand, probeNodes, RSS_GREENLETS, SMALL_STACK, type NodeRuntime } from './greenlet';
import { HUB_SLEEPERS } from './greenlet-hub';
import { HUB_EVENT_WAITERS, HUB_QUEUE_SIZE } from './protocol';
import { pollerBenchCommand } from './poller';
import { poolBenchCommand } from './pool';
import { runSwitchBench } from './switch';
import { ECHO_SERVERS, echoBenchCommand, type EchoServer } from './echo';

const USAGE = `Usage: looplet <command> [options]

Commands:
  bench poller [options]   Poller.select(0) per backend (epoll/kqueue/poll/select) against
                           the C floor, the bare syscall and Python's selectors
  bench greenlet [options] Greenlet switch, spawn and memory against python-greenlet and gevent;
                           the hub (sleep, spawn + join, Event, Queue, sleepers) against gevent
  bench switch [options]   coroutine switch cost at each level: lp_coro in C, boost.context,
                           python-greenlet and the JS Greenlet
  bench echo [options]     echo servers side by side under one native load generator: looplet's
                           StreamServer and Poller, Node net, a C epoll loop, gevent
  bench pool [options]     looplet/pool (JS and native tasks) against piscina, tinypool,
                           worker_threads, napi_create_async_work, ThreadPoolExecutor and gevent

Options:
  -h, --help               show this help (also: looplet bench --help)
`;

const BENCH_USAGE = `Usage: looplet bench <benchmark> [options]

Benchmarks:
  poller                   Poller.select(0) cost per call against registered fds
  greenlet                 Greenlet switch, spawn + finish, RSS per suspended greenlet; the hub
  switch                   coroutine switch cost, native core to JS Greenlet
  echo                     echo servers: round trips/s, latency, CPU and switches per round trip
  pool                     thread-pool offload: round trip, throughput, speed-up, main-thread cost

Run 'looplet bench <benchmark> --help' for its options.
`;

const greenletUsage = (): string => `Usage: looplet bench greenlet [options]

Measures looplet's Greenlet next to python-greenlet and gevent (median and p99 us
over blocks of operations): the ping-pong switch between the main greenlet and
one greenlet, a round trip (gevent: sleep(0)), spawn + run + finish of a trivial
greenlet with the thread pool warm (gevent: spawn(f).join()), and the VmRSS per
suspended greenlet with ${RSS_GREENLETS.toLocaleString('en-US')} of them (default stack and stackSize ${SMALL_STACK}).
Then the hub (looplet/hub) next to gevent: sleep(0), spawn(f).join(), Event set/wait
across ${HUB_EVENT_WAITERS} waiters, Queue(${HUB_QUEUE_SIZE}) put/get between two greenlets, and ${HUB_SLEEPERS.toLocaleString('en-US')}
concurrent sleepers (wall time and VmRSS, new then pooled threads). Each trial runs
in a fresh process; the implementations take turns. With --node, the looplet trials
run under each of several Node executables in the same run (each loads its own
greenlet binary). Prints a table with the targets; writes
<out>/greenlet-<timestamp>.{json,svg} and greenlet-latest.{json,svg}.

Options:
  --quick                  one round and fewer blocks (about 20 s; the full run takes 1-2 min)
  --out DIR                results folder (default: ./bench-results)
  --python PATH            Python for the peers (default: /usr/bin/python3 if present)
  --no-python              skip the python-greenlet and gevent peers
  --install-peers          when greenlet or gevent do not import, and this runs as root
                           with apt-get: apt-get install -y python3-greenlet python3-gevent
                           (apt-get update first only if that fails)
  --no-pinned              skip the diagnostic rows of looplet pinned to one CPU (taskset)
  --node LIST              comma-separated Node executables to run the looplet trials under, side
                           by side (default: this one, ${process.execPath}); each needs a greenlet
                           binary for its ABI (build/Release or prebuilds/). Targets and ratios use
                           this Node when it is listed, else the first
  --load N                 keep N busy-looping processes running during the run (0-64,
                           default 0): every figure under CPU contention
  --check                  exit with status 1 when a project target fails (the hub's too)
  -h, --help               show this help
`;

const SWITCH_USAGE = `Usage: looplet bench switch [options]

Coroutine switch cost at each level, side by side in one run: lp_coro in C next to
boost.context and swapcontext (benchmarks/native/switch_bench.cc, built with CMake
into build-bench/), python-greenlet and the JS Greenlet. Writes
<out>/switch-*.{json,svg}.

Options:
  --quick                  fewer blocks
  --out DIR                results folder (default: ./bench-results)
  -h, --help               show this help
`;

const pollerUsage = (): string => `Usage: looplet bench poller [options]

Measures Poller.select(0) and selectInto(out, 0) from JavaScript (median and p99 us
per call over short blocks of calls, and the mean over long batches, GC inside) for N
registered socketpairs with 1, 10% and 100% of them readable, next to the core
poller's wait in C, the bare syscall and Python's selectors (same backend);
plus register/modify/unregister churn. Each trial runs in a fresh process. Prints a
table; writes <out>/poller-<timestamp>.{json,svg} and poller-latest.{json,svg}.

Options:
  --quick                  fewer sizes and blocks (under 30 s; the full run takes minutes)
  --out DIR                results folder (default: ./bench-results)
  --backend LIST           comma-separated backends (default: all, here ${Poller.backends().join(',')})
  --sizes LIST             comma-separated socketpair counts N (default: 10,100,300,1000,5000,10000;
                           quick: 10,100,1000,5000)
  --python PATH            Python for the selectors peer (default: /usr/bin/python3 if present)
  --no-python              skip the Python peer
  --no-churn               skip the registration churn trials
  --check                  exit with status 1 when a project target fails
  -h, --help               show this help
`;

const echoUsage = (): string => `Usage: looplet bench echo [options]

Echo servers side by side in one run, each in its own process, loaded by a native load
generator (benchmarks/native/echo_load.c, built with cc into build-bench/echo/) that holds
C connections doing ping-pong with S-byte messages and checks every byte: looplet's
StreamServer (a greenlet per connection), the same in N processes sharing the port
(reusePort), a callback server on looplet's Poller, Node's net, a C epoll loop (the floor)
and gevent's StreamServer (where /usr/bin/python3 has gevent). Reports round trips/s,
p50/p99 latency, server CPU and greenlet switches per round trip, server RSS, and the
targets. Prints a table; writes <out>/echo-<timestamp>.{json,svg} and echo-latest.{json,svg}.

Options:
  --quick                  50 and 2000 connections, 64 B, 0.5 s windows (about 15 seconds)
  --out DIR                results folder (default: ./bench-results)
  --conns LIST             comma-separated connection counts (default: 50,2000,10000)
  --sizes LIST             comma-separated message sizes in bytes (default: 64,1024,16384)
  --seconds N              timed window per trial (default 2; quick 0.5)
  --warmup N               warm-up before it (default 1; quick 0.5)
  --rounds N               repeat the whole matrix N times, medians reported (default 1)
  --servers LIST           a subset of ${ECHO_SERVERS.join(',')}
  --workers N              processes of the multi-process row (default: the CPUs, at least 2)
  --python PATH            Python for gevent (default: /usr/bin/python3 if present)
  --no-python              skip gevent
  --check                  exit with status 1 when a target fails
  -h, --help               show this help
`;

const POOL_USAGE = `Usage: looplet bench pool [options]

looplet/pool's ThreadPool (JS tasks on worker threads, native tasks on the core
pool) side by side with piscina, tinypool, a plain worker_threads postMessage
pool, napi_create_async_work (the benchmarks' addon), Python's
ThreadPoolExecutor and gevent's threadpool: serial round trip p50/p99 of a
no-op task; saturated throughput of no-op, 10 us and 100 us tasks with 1, 2
and 64 in flight; batched native no-ops; speed-up of a CPU-bound task over 1..N
threads; the main thread's CPU per task and the event loop delay p99 while
saturated. Each trial runs in a fresh process, killed after 60 s. Prints a
table with the targets; writes <out>/pool-<timestamp>.{json,svg} and
pool-latest.{json,svg}.

Options:
  --quick                  shorter trials (about 1 min; the full run takes 2-3 min)
  --out DIR                results folder (default: ./bench-results)
  --python PATH            Python for the peers (default: /usr/bin/python3)
  --no-python              skip the ThreadPoolExecutor and gevent peers
  --check                  exit with status 1 when a project target fails
  -h, --help               show this help
`;

class UsageError extends Error {}

function parseList<T>(value: string | undefined, parse: (item: string) => T): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`an empty list: '${value}'`);
  return items.map(parse);
}

function benchPoller(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-results' },
      backend: { type: 'string' },
      sizes: { type: 'string' },
      python: { type: 'string' },
      'no-python': { type: 'boolean', default: false },
      'no-churn': { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(pollerUsage());
    return 0;
  }
  const available = Poller.backends();
  const backends = parseList(values.backend, (b) => {
    if (!available.includes(b as Backend)) throw new UsageError(`unknown or unavailable backend '${b}' (available: ${available.join(', ')})`);
    return b as Backend;
  });
  const sizes = parseList(values.sizes, (s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--sizes wants positive integers, got '${s}'`);
    return n;
  });
  if (values.python !== undefined && values['no-python']) throw new UsageError('--python and --no-python conflict');
  const result = pollerBenchCommand({
    quick: values.quick,
    out: path.resolve(values.out),
    backends,
    sizes: sizes && [...new Set(sizes)].sort((a, b) => a - b),
    python: values['no-python'] ? null : values.python,
    churn: !values['no-churn'],
    command: ['looplet', 'bench', 'poller', ...args].join(' '),
  });
  return values.check && result.targets.some((t) => t.pass === false) ? 1 : 0;
}

function benchGreenlet(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-results' },
      python: { type: 'string' },
      'no-python': { type: 'boolean', default: false },
      'install-peers': { type: 'boolean', default: false },
      'no-pinned': { type: 'boolean', default: false },
      node: { type: 'string' },
      load: { type: 'string', default: '0' },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(greenletUsage());
    return 0;
  }
  const load = Number(values.load);
  if (!/^\d+$/.test(values.load) || load > 64) throw new UsageError(`--load must be an integer from 0 to 64, not ${JSON.stringify(values.load)}`);
  if (values.python !== undefined && values['no-python']) throw new UsageError('--python and --no-python conflict');
  if (values['install-peers'] && values['no-python']) throw new UsageError('--install-peers and --no-python conflict');
  const executables = parseList(values.node, (exe) => (exe.includes('/') ? path.resolve(exe) : exe)) ?? [process.execPath];
  let nodes: NodeRuntime[];
  try {
    nodes = probeNodes(executables);
  } catch (err) {
    process.stderr.write(`looplet bench greenlet: ${(err as Error).message}\n`);
    return 2;
  }
  const result = greenletBenchCommand({
    quick: values.quick,
    out: path.resolve(values.out),
    nodes,
    python: values['no-python'] ? null : values.python,
    installPeers: values['install-peers'],
    pinned: !values['no-pinned'],
    load,
    command: ['looplet', 'bench', 'greenlet', ...args].join(' '),
  });
  return values.check && [...result.targets, ...result.hubTargets].some((t) => t.pass === false) ? 1 : 0;
}

/** Starts the switch benchmark; its outcome lands in process.exitCode when it settles. */
function benchSwitch(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-results' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(SWITCH_USAGE);
    return 0;
  }
  Promise.resolve()
    .then(() => runSwitchBench({ quick: values.quick, out: path.resolve(values.out) }))
    .catch((err: unknown) => {
      process.stderr.write(`looplet bench switch: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
  return 0;
}

/** Starts the echo benchmark; its outcome lands in process.exitCode when it settles. */
function benchEcho(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-results' },
      conns: { type: 'string' },
      sizes: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      servers: { type: 'string' },
      workers: { type: 'string' },
      python: { type: 'string' },
      'no-python': { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(echoUsage());
    return 0;
  }
  const positiveInt = (name: string) => (s: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} wants positive integers, got '${s}'`);
    return n;
  };
  const seconds = (name: string, value: string | undefined, min: number): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > 600) throw new UsageError(`--${name} wants a number of seconds from ${min} to 600, got '${value}'`);
    return n;
  };
  const servers = parseList(values.servers, (s) => {
    if (!(ECHO_SERVERS as readonly string[]).includes(s)) throw new UsageError(`unknown server '${s}' (one of ${ECHO_SERVERS.join(', ')})`);
    return s as EchoServer;
  });
  if (values.python !== undefined && values['no-python']) throw new UsageError('--python and --no-python conflict');
  const conns = parseList(values.conns, positiveInt('conns'));
  const sizes = parseList(values.sizes, positiveInt('sizes'));
  const options = {
    quick: values.quick,
    out: path.resolve(values.out),
    conns: conns && [...new Set(conns)].sort((a, b) => a - b),
    sizes: sizes && [...new Set(sizes)].sort((a, b) => a - b),
    seconds: seconds('seconds', values.seconds, 0.1),
    warmup: seconds('warmup', values.warmup, 0),
    rounds: values.rounds === undefined ? undefined : positiveInt('rounds')(values.rounds),
    servers: servers && ECHO_SERVERS.filter((s) => servers.includes(s)),
    workers: values.workers === undefined ? undefined : positiveInt('workers')(values.workers),
    python: values['no-python'] ? null : values.python,
    command: ['looplet', 'bench', 'echo', ...args].join(' '),
  };
  echoBenchCommand(options)
    .then((result) => {
      if (values.check && result.targets.some((t) => t.pass === false)) process.exitCode = 1;
    })
    .catch((err: unknown) => {
      process.stderr.write(`looplet bench echo: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
  return 0;
}

function benchPool(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-results' },
      python: { type: 'string' },
      'no-python': { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(POOL_USAGE);
    return 0;
  }
  if (values.python !== undefined && values['no-python']) throw new UsageError('--python and --no-python conflict');
  const result = poolBenchCommand({
    quick: values.quick,
    out: path.resolve(values.out),
    python: values['no-python'] ? null : values.python,
    command: ['looplet', 'bench', 'pool', ...args].join(' '),
  });
  return values.check && result.targets.some((t) => t.pass === false) ? 1 : 0;
}

function dispatch(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command === '-h' || command === '--help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command !== 'bench') throw new UsageError(command === undefined ? 'no command given' : `unknown command '${command}'`);
  const [benchmark, ...options] = rest;
  if (benchmark === '-h' || benchmark === '--help') {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  if (benchmark === 'poller') return benchPoller(options);
  if (benchmark === 'greenlet') return benchGreenlet(options);
  if (benchmark === 'switch') return benchSwitch(options);
  if (benchmark === 'echo') return benchEcho(options);
  if (benchmark === 'pool') return benchPool(options);
  process.stderr.write(`looplet bench: ${benchmark === undefined ? 'no benchmark given' : `unknown benchmark '${benchmark}'`}\n\n${BENCH_USAGE}`);
  return 2;
}

/** Runs the CLI with process.argv.slice(2); returns the exit code. */
export function main(argv: string[]): number {
  try {
    return dispatch(argv);
  } catch (err) {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (!usage) throw err;
    const benchUsage: Record<string, () => string> = { poller: pollerUsage, greenlet: greenletUsage, switch: () => SWITCH_USAGE, echo: echoUsage, pool: () => POOL_USAGE };
    process.stderr.write(`looplet: ${(err as Error).message}\n\n${argv[0] === 'bench' ? (Object.hasOwn(benchUsage, argv[1]) ? benchUsage[argv[1]]() : BENCH_USAGE) : USAGE}`);
    return 2;
  }
}
