import { defineConfig } from 'vitest/config';

// Native code must not run under the threads pool: each test file runs in
// its own forked process.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 20000,
    hookTimeout: 20000,
  },
});
