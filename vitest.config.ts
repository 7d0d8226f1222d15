import { defineConfig } from 'vitest/config';
import { FAST } from './vitest.fast.js';

/**
 * One vitest run for the whole repository: each package is a project, and every project resolves
 * workspace packages to their TypeScript sources through the `@kv/source` export condition. With
 * `KV_TEST_FAST=1` (`pnpm test:fast`) the projects leave out the files that start a browser or a server
 * process (`vitest.fast.ts`).
 */
export default defineConfig({
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'apps/*/vitest.config.ts',
      'tests/*/vitest.config.ts',
      // The PostgreSQL tests start a throwaway cluster: not in `pnpm test:fast`.
      ...(FAST ? [] : ['apps/server/vitest.postgres.config.ts']),
    ],
    // Vitest's default on 2 cores is one worker, so every file waits for the one before. Most slow files
    // wait on a server process, Chromium or a timer rather than on the CPU, so three files at a time
    // overlap those waits (docs/architecture.md "Decisions": the test run).
    maxWorkers: 3,
  },
});
