import { configDefaults, defineProject } from 'vitest/config';
import { FAST } from '../../vitest.fast.js';

export default defineProject({
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    name: 'console',
    include: ['src/**/*.test.ts', 'e2e/**/*.test.ts'],
    // `pnpm test:fast` leaves out what starts a browser or a server process.
    exclude: FAST ? [...configDefaults.exclude, 'e2e/**'] : configDefaults.exclude,
    // The end-to-end file starts the built server (console included) and Chromium before its tests.
    hookTimeout: 120_000,
    testTimeout: 60_000,
  },
});
