import { configDefaults, defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    name: 'server',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The PostgreSQL tests are their own project (vitest.postgres.config.ts): they need the test cluster.
    exclude: [...configDefaults.exclude, 'test/postgres/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
