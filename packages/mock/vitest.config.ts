import { configDefaults, defineProject } from 'vitest/config';
import { FAST } from '../../vitest.fast.js';

export default defineProject({
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    name: 'mock',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'e2e/**/*.test.ts'],
    // `pnpm test:fast` leaves out what starts a browser or a server process.
    exclude: FAST ? [...configDefaults.exclude, 'e2e/**'] : configDefaults.exclude,
    // e2e/ bundles a page with Vite and launches Chromium before its tests.
    hookTimeout: 60_000,
    testTimeout: 15_000,
  },
});
