// Builds the e2e page with Vite, puts msw's worker script next to it, serves both from 127.0.0.1, and
// launches Debian's Chromium through playwright-core (no browser download).
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { build, defaultClientConditions } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));

/** Chromium flags for headless runs in containers and CI (the same as packages/browser/e2e). */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches headless Chromium: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium not found at ${executablePath}. Install Debian's package (apt-get install chromium) or set CHROMIUM_PATH.`,
    );
  }
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}

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

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
};

/** Serves the files of `dir` on 127.0.0.1 (a free port). */
export async function serveStatic(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const root = resolve(dir);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(root, path === '/' ? 'index.html' : path));
    if (!file.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
