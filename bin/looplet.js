#!/usr/bin/env node
'use strict';
// The `looplet` command; the code lives in lib/cli.ts (built to dist/cjs).
process.exitCode = require('../dist/cjs/cli.js').main(process.argv.slice(2));
