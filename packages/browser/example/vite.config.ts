import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig, type UserConfig } from 'vite';

// In this repository the example bundles @kv/browser from source; an application that installed the
// package needs no config at all.
const config: UserConfig = defineConfig({
  resolve: {
    alias: { '@kv/browser': fileURLToPath(new URL('../src/index.ts', import.meta.url)) },
    conditions: ['@kv/source', ...defaultClientConditions],
  },
  build: { target: 'es2022' },
});

export default config;
