import { defineConfig } from 'vite';

/**
 * The console's production build: static files under `dist/` for the server's `/console/` route
 * (docs/console.md). Hashed asset names (cached for a year by the server), no inline script (the
 * server's Content-Security-Policy allows only `'self'`), no source maps shipped.
 */
export default defineConfig({
  base: '/console/',
  publicDir: false,
  envPrefix: 'KV_CONSOLE_',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The module preload polyfill would be an inline script the CSP refuses; es2022 browsers have it.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    sourcemap: false,
  },
});
