import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: {
    conditions: ['@kv/source'],
    // The conformance suite is a private workspace package that @kv/browser does not depend on (adding
    // it would change the lockfile); its end-to-end run resolves it to the source here.
    alias: { '@kv/conformance': fileURLToPath(new URL('../conformance/src/index.ts', import.meta.url)) },
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
