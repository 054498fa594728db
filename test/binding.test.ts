// How the native binaries are found (lib/binding.ts): build/Release first,
// then prebuilds/<platform>-<arch>/ with prebuildify's names; the greenlet
// runtime only when it was built for this Node's ABI.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addonCandidates, greenletBinding, loadAddon, packageRoot } from '../lib/binding';
import { thrown } from './helpers';

const root = packageRoot();
const prebuilds = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const abi = process.versions.modules;

/** A greenlet prebuild made for another Node ABI, if prebuilds/ has one (CI makes them for every line). */
function otherAbiGreenlet(): string | undefined {
  if (!fs.existsSync(prebuilds)) return undefined;
  const other = fs.readdirSync(prebuilds).find((f) => /^looplet_greenlet\.abi\d+\.node$/.test(f) && f !== `looplet_greenlet.abi${abi}.node`);
  return other && path.join(prebuilds, other);
}

// The suite also runs with LOOPLET_PREBUILDS_ONLY=1 (scripts/node-lines.mjs);
// these tests set it themselves.
const prebuildsOnly = process.env.LOOPLET_PREBUILDS_ONLY;
beforeEach(() => {
  delete process.env.LOOPLET_PREBUILDS_ONLY;
});

const temps: string[] = [];
afterEach(() => {
  if (prebuildsOnly === undefined) delete process.env.LOOPLET_PREBUILDS_ONLY;
  else process.env.LOOPLET_PREBUILDS_ONLY = prebuildsOnly;
  for (const dir of temps.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A scratch package root holding the given files. */
function fakeRoot(files: Record<string, string | Buffer>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'looplet-binding-'));
  temps.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

describe('native binary lookup', () => {
  it('looks in build/Release, then in prebuilds under prebuildify names', () => {
    const plat = `${process.platform}-${process.arch}`;
    expect(addonCandidates('looplet', '/r')).toEqual(['/r/build/Release/looplet.node', `/r/prebuilds/${plat}/looplet.node`]);
    expect(addonCandidates('looplet_greenlet', '/r')).toEqual([
      '/r/build/Release/looplet_greenlet.node',
      `/r/prebuilds/${plat}/looplet_greenlet.abi${abi}.node`,
    ]);
  });

  it('skips build/Release when LOOPLET_PREBUILDS_ONLY is set', () => {
    process.env.LOOPLET_PREBUILDS_ONLY = '1';
    expect(addonCandidates('looplet_bench', '/r')).toEqual([`/r/prebuilds/${process.platform}-${process.arch}/looplet_bench.node`]);
  });

  it('loads a greenlet runtime built for this Node ABI', () => {
    expect(greenletBinding().nodeModuleVersion).toBe(Number(abi));
    expect(greenletBinding().errno).toEqual({
      ENOENT: -os.constants.errno.ENOENT,
      EAGAIN: -os.constants.errno.EAGAIN,
      ESHUTDOWN: expect.any(Number),
    });
  });

  it('reports every place it looked when no binary exists', () => {
    const dir = fakeRoot({});
    const err = thrown(() => loadAddon('looplet_greenlet', dir));
    expect(err.code).toBe('ERR_LOOPLET_NATIVE_MISSING');
    expect(err.message).toContain(`no looplet_greenlet binary for Node ${process.version} (ABI ${abi})`);
    for (const file of addonCandidates('looplet_greenlet', dir)) expect(err.message).toContain(file);
    expect(err.message).toContain('npm rebuild looplet');
  });

  it('passes over a file that does not load, and says why', () => {
    const dir = fakeRoot({ 'build/Release/looplet.node': 'not a shared object' });
    const err = thrown(() => loadAddon('looplet', dir));
    expect(err.code).toBe('ERR_LOOPLET_NATIVE_MISSING');
    expect(err.message).toMatch(/Passed over:\n {2}\S+build\/Release\/looplet\.node: .+/);
  });

  it.skipIf(otherAbiGreenlet() === undefined)('refuses a greenlet runtime built for another Node ABI and falls back to the prebuild', () => {
    const other = otherAbiGreenlet()!;
    const otherAbi = /abi(\d+)/.exec(other)![1];
    const files: Record<string, Buffer> = { 'build/Release/looplet_greenlet.node': fs.readFileSync(other) };
    const dir = fakeRoot(files);
    const err = thrown(() => loadAddon('looplet_greenlet', dir));
    expect(err.code).toBe('ERR_LOOPLET_NATIVE_MISSING');
    expect(err.message).toContain(`built for Node ABI ${otherAbi}, this is ${abi}`);
    const own = path.join(prebuilds, `looplet_greenlet.abi${abi}.node`);
    if (fs.existsSync(own)) {
      const withPrebuild = fakeRoot({ ...files, [`prebuilds/${process.platform}-${process.arch}/looplet_greenlet.abi${abi}.node`]: fs.readFileSync(own) });
      expect(loadAddon<{ nodeModuleVersion: number }>('looplet_greenlet', withPrebuild).nodeModuleVersion).toBe(Number(abi));
    }
  });
});
