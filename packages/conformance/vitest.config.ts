import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: { name: 'conformance', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
