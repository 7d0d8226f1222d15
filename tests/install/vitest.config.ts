import { defineProject } from 'vitest/config';

/** No `@kv/source` condition: this project uses the packed tarballs, never the workspace's sources. */
export default defineProject({
  test: {
    name: 'install',
    include: ['*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
