import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    name: 'mock',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'e2e/**/*.test.ts'],
    // e2e/ bundles a page with Vite and launches Chromium before its tests.
    hookTimeout: 60_000,
    testTimeout: 15_000,
  },
});
