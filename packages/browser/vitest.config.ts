import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: {
    conditions: ['@kv/source'],
  },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    name: 'browser',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'e2e/**/*.test.ts'],
    // End-to-end files start a server process, bundle a page and launch Chromium before their tests.
    hookTimeout: 120_000,
    testTimeout: 30_000,
  },
});
