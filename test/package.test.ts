// The built package (dist/, from `npm run build:ts`) through its public
// entry points: `looplet` and `looplet/poller`, by require and by import,
// sharing one module instance, with type declarations.
//
// require() goes through Node's own loader (createRequire). import() is
// checked in a plain Node child process (test/fixtures/package-entry.mjs):
// inside vitest, import() passes through vite-node's module loader, which
// would give the ESM wrapper its own copy of the CommonJS build and so hide
// (or fake) a dual-package hazard.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDist, repoRoot } from './helpers';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
// A require() that resolves as code inside the package does: `looplet` is
// the package itself, found through its "exports".
const requireHere = createRequire(path.join(repoRoot, 'package.json'));

beforeAll(() => ensureDist(), 120_000);

describe('package entry points', () => {
  it('require("looplet") resolves to dist/cjs/index.js and works', () => {
    expect(requireHere.resolve('looplet')).toBe(path.join(repoRoot, 'dist/cjs/index.js'));
    const looplet = requireHere('looplet');
    expect(looplet.EVENT_READ).toBe(1);
    expect(looplet.EVENT_WRITE).toBe(2);
    expect(typeof looplet.Poller).toBe('function');
    expect(typeof looplet.sys.socketpair).toBe('function');
    const p = new looplet.Poller();
    const [a, b] = looplet.sys.socketpair();
    try {
      const key = p.register(a, looplet.EVENT_READ | looplet.EVENT_WRITE, 'cjs');
      expect(p.select(0)).toEqual([[key, looplet.EVENT_WRITE]]);
    } finally {
      p.close();
      fs.closeSync(a);
      fs.closeSync(b);
    }
  });

  it('require of the repo root path is the same module as require("looplet")', () => {
    expect(requireHere(repoRoot)).toBe(requireHere('looplet'));
  });

  it('require("looplet/poller") resolves to dist/cjs/poller.js and shares the Poller class', () => {
    expect(requireHere.resolve('looplet/poller')).toBe(path.join(repoRoot, 'dist/cjs/poller.js'));
    const poller = requireHere('looplet/poller');
    expect(poller.Poller).toBe(requireHere('looplet').Poller);
    expect([poller.EVENT_READ, poller.EVENT_WRITE, poller.EDGE_TRIGGERED, poller.ONESHOT]).toEqual([1, 2, 0x100, 0x200]);
  });

  it('internal files are not exported', () => {
    expect(() => requireHere.resolve('looplet/dist/cjs/internal.js')).toThrow(expect.objectContaining({ code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' }));
    expect(requireHere('looplet/package.json').name).toBe('looplet');
  });

  it('import() of looplet and looplet/poller gives the ESM wrappers around the same instances', () => {
    const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures/package-entry.mjs')], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.resolved).toEqual({
      requireIndex: path.join(repoRoot, 'dist/cjs/index.js'),
      requirePoller: path.join(repoRoot, 'dist/cjs/poller.js'),
      importIndex: `file://${path.join(repoRoot, 'dist/esm/index.mjs')}`,
      importPoller: `file://${path.join(repoRoot, 'dist/esm/poller.mjs')}`,
    });
    // No dual-package hazard: one class whichever way it was loaded.
    expect(out.same).toEqual({
      pollerClass: true,
      indexClass: true,
      indexAndSubpath: true,
      defaultIsCjs: true,
      sys: true,
      instanceOfCjsClass: true,
    });
    expect(out.constants).toEqual([1, 2, 0x100, 0x200]);
    expect(out.backends).toEqual(requireHere('looplet').Poller.backends());
    expect(out.ready).toEqual([[true, 'esm', 3]]);
    // Every named export of the CommonJS build is a named ESM export.
    const cjsNames = (entry: string) => Object.keys(requireHere(entry)).filter((n) => n !== '__esModule');
    expect(out.exports.index).toEqual([...cjsNames('looplet'), 'default'].sort());
    expect(out.exports.poller).toEqual([...cjsNames('looplet/poller'), 'default'].sort());
    expect(out.packageName).toBe('looplet');
  });
});

describe('type declarations', () => {
  it('exist for every entry point named in package.json', () => {
    expect(pkg.types).toBe('./dist/cjs/index.d.ts');
    expect(fs.existsSync(path.join(repoRoot, 'dist/cjs/index.d.ts'))).toBe(true);
    for (const [subpath, target] of Object.entries<Record<string, string> | string>(pkg.exports)) {
      if (typeof target === 'string') continue;
      expect(Object.keys(target)[0], `"types" must come first in exports["${subpath}"]`).toBe('types');
      for (const file of Object.values(target)) expect(fs.existsSync(path.join(repoRoot, file)), `${subpath}: ${file}`).toBe(true);
    }
    const index = fs.readFileSync(path.join(repoRoot, 'dist/cjs/index.d.ts'), 'utf8');
    expect(index).toMatch(/\bPoller\b/);
    expect(index).toMatch(/\bsys\b/);
    const poller = fs.readFileSync(path.join(repoRoot, 'dist/cjs/poller.d.ts'), 'utf8');
    expect(poller).toMatch(/export declare class Poller<T = unknown>/);
  });

  it('type-check a CommonJS and an ES module consumer that import the package by name', () => {
    const tsc = path.join(repoRoot, 'node_modules/typescript/bin/tsc');
    const args = [
      tsc,
      '--noEmit',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--target',
      'es2022',
      '--lib',
      'es2022,esnext.disposable',
      '--types',
      'node',
      'test/fixtures/types-consumer.ts',
      'test/fixtures/types-consumer.mts',
    ];
    let output = '';
    try {
      execFileSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      output = String((err as { stdout?: string }).stdout ?? err);
    }
    expect(output).toBe('');
  }, 60_000);
});
