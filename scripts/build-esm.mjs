// Writes dist/esm/<entry>.mjs wrappers that re-export the CommonJS build, so
// `import` and `require` share one module instance (no dual-package hazard).
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const entries = ['index', 'poller', 'greenlet', 'hub', 'net', 'pool'];
mkdirSync(join(root, 'dist/esm'), { recursive: true });
for (const entry of entries) {
  const names = Object.keys(require(join(root, 'dist/cjs', `${entry}.js`))).filter((n) => n !== 'default' && n !== '__esModule');
  const body = [
    `import cjs from '../cjs/${entry}.js';`,
    ...names.map((n) => `export const ${n} = cjs.${n};`),
    'export default cjs;',
    '',
  ].join('\n');
  writeFileSync(join(root, 'dist/esm', `${entry}.mjs`), body);
}
