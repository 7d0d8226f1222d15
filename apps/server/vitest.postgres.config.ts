import { defineProject } from 'vitest/config';

/**
 * The server's PostgreSQL tests (`test/postgres/`): one throwaway cluster per run (global setup), a
 * database per test file. Run alone with `npx vitest run --project server-postgres`.
 */
export default defineProject({
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    name: 'server-postgres',
    include: ['test/postgres/**/*.test.ts'],
    globalSetup: ['test/postgres/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
