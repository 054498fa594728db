#!/usr/bin/env node
'use strict';
// The `looplet` command: the benchmark harness (benchmarks/src/cli.ts, built
// to benchmarks/dist by `npm run build:ts`).
let cli;
try {
  cli = require('../benchmarks/dist/cli.js');
} catch (err) {
  if (err.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes('benchmarks/dist/cli.js')) throw err;
  process.stderr.write('looplet: the benchmark harness is not built (benchmarks/dist/cli.js); run `npm run build:ts` in a clone of looplet\n');
  process.exit(2);
}
process.exitCode = cli.main(process.argv.slice(2));
