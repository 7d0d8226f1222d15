import { configDefaults, defineProject } from 'vitest/config';
import { FAST } from '../../vitest.fast.js';

export default defineProject({
  resolve: {
    conditions: ['@kv/source'],
  },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    name: 'browser',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'e2e/**/*.test.ts'],
    // `pnpm test:fast` leaves out what starts a browser or a server process.
    exclude: FAST ? [...configDefaults.exclude, 'e2e/**'] : configDefaults.exclude,
    // End-to-end files start a server process, bundle a page and launch Chromium before their tests.
    hookTimeout: 120_000,
    testTimeout: 30_000,
  },
});
