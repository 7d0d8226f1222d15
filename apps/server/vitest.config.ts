import { configDefaults, defineProject } from 'vitest/config';
import { FAST } from '../../vitest.fast.js';

export default defineProject({
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    name: 'server',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // `pnpm test:fast` leaves out what starts a browser or a server process; the PostgreSQL tests are their
    // own project (vitest.postgres.config.ts): they need the test cluster.
    exclude: FAST ? [...configDefaults.exclude, 'test/**'] : [...configDefaults.exclude, 'test/postgres/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
