// Builds the e2e page with Vite, puts msw's worker script next to it, serves both from 127.0.0.1, and
// launches Debian's Chromium through playwright-core (no browser download).
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, defaultClientConditions } from 'vite';

// Chromium (same binary and flags) and the static file server are the browser package's e2e harness.
export { launchChromium, serveStatic } from '../../browser/e2e/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Bundles e2e/page with Vite into a temporary directory, `@kv/*` from their TypeScript sources, and
 * copies msw's `mockServiceWorker.js` (the file `npx msw init <dir>` writes) to its root, so the
 * worker script is served from the page's origin at `/mockServiceWorker.js`.
 */
export async function buildPage(): Promise<{ dir: string; remove(): Promise<void> }> {
  const outDir = await mkdtemp(join(tmpdir(), 'kv-mock-page-'));
  const dist = join(outDir, 'dist');
  await build({
    configFile: false,
    root: join(here, 'page'),
    logLevel: 'warn',
    publicDir: false,
    envFile: false,
    cacheDir: join(outDir, '.vite-cache'),
    resolve: {
      alias: { '@kv/mock': resolve(here, '../src/index.ts') },
      conditions: ['@kv/source', ...defaultClientConditions],
    },
    build: {
      outDir: dist,
      emptyOutDir: true,
      target: 'es2022',
      minify: false,
      reportCompressedSize: false,
      rollupOptions: {
        // Comments in dependencies (zod) that Rollup cannot place: harmless, and noise in the test output.
        onwarn(warning, warn) {
          if (warning.code !== 'INVALID_ANNOTATION') warn(warning);
        },
      },
    },
  });
  const require = createRequire(import.meta.url);
  await copyFile(require.resolve('msw/mockServiceWorker.js'), join(dist, 'mockServiceWorker.js'));
  return { dir: dist, remove: () => rm(outDir, { recursive: true, force: true }) };
}
