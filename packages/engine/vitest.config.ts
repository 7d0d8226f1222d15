import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@kv/source'] },
  ssr: { resolve: { conditions: ['@kv/source'] } },
  test: {
    name: 'engine',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
});
