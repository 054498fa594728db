// The `looplet` command line (bin/looplet.js): `looplet bench poller`.
// Exit codes: 0 done, 1 a target failed under --check, 2 usage error.
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Poller, type Backend } from './poller';
import { pollerBenchCommand } from './bench/poller';

const USAGE = `Usage: looplet <command> [options]

Commands:
  bench poller [options]   Poller.select(0) per backend (epoll/kqueue/poll/select) against
                           the C floor, the bare syscall and Python's selectors

Options:
  -h, --help               show this help (also: looplet bench --help)
`;

const BENCH_USAGE = `Usage: looplet bench <benchmark> [options]

Benchmarks:
  poller                   Poller.select(0) cost per call against registered fds

Run 'looplet bench poller --help' for its options.
`;

const pollerUsage = (): string => `Usage: looplet bench poller [options]

Measures Poller.select(0) from JavaScript (median and p99 us per call over blocks of
calls) for N registered socketpairs with 1, 10% and 100% of them readable, next to
the same poller's wait in C, the bare syscall and Python's selectors (same backend);
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
    process.stderr.write(`looplet: ${(err as Error).message}\n\n${argv[0] === 'bench' ? (argv[1] === 'poller' ? pollerUsage() : BENCH_USAGE) : USAGE}`);
    return 2;
  }
}
