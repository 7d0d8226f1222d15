import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    name: 'browser',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'e2e/**/*.test.ts'],
  },
});
