import { defineConfig } from 'vitest/config';

/**
 * One vitest run for the whole repository: each package is a project, and every project resolves
 * workspace packages to their TypeScript sources through the `@kv/source` export condition.
 */
export default defineConfig({
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'apps/*/vitest.config.ts',
      'apps/server/vitest.postgres.config.ts',
    ],
  },
});
