// Test and benchmark harness for @kv/browser in real Chromium: starts the real kv server process
// (apps/server/dist/main.js, built by `turbo run build`), bundles a page with Vite, serves it from a
// node:http static server on 127.0.0.1, and launches Debian's Chromium through playwright-core (no
// browser download). Plain JavaScript so that both the vitest e2e tests and the bench scripts
// (bench/browser/*.mjs, run by plain `node`) use it; types are in harness.d.mts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, defaultClientConditions } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root. */
export const repoRoot = resolve(here, '../../..');
/** Source entry of @kv/browser: pages bundle it from source through this alias. */
export const browserEntry = resolve(here, '../src/index.ts');

/** Chromium flags for headless runs in containers and CI. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Path of the Chromium binary: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export function chromiumPath() {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(
      `Chromium not found at ${path}. Install Debian's package (apt-get install chromium) or set CHROMIUM_PATH.`,
    );
  }
  return path;
}

/** Launches headless Chromium (playwright-core, system binary). */
export function launchChromium() {
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
}

/** Admin token the test server is started with (`KV_ADMIN_TOKEN`); clients in tests send it. */
export const E2E_ADMIN_TOKEN = 'kv-e2e-admin-token-4f9c2a7b';

/**
 * Starts the kv server process on a free port with a temporary SQLite file, with {@link E2E_ADMIN_TOKEN}
 * as its admin token. With `data`, it uses that SQLite file (kept on stop) instead; with `port`, that
 * port (a restart on the same port and file continues the same server).
 * @param {{ corsOrigins?: string, storage?: 'sqlite' | 'memory', args?: string[], port?: number, data?: string }} [options]
 */
export async function startKvServer(options = {}) {
  const main = join(repoRoot, 'apps/server/dist/main.js');
  if (!existsSync(main)) {
    throw new Error(`${main} is missing: build first (npx turbo run build)`);
  }
  const dir = options.data === undefined ? await mkdtemp(join(tmpdir(), 'kv-browser-e2e-')) : undefined;
  const child = spawn(
    process.execPath,
    [
      main,
      '--host',
      '127.0.0.1',
      '--port',
      String(options.port ?? 0),
      '--storage',
      options.storage ?? 'sqlite',
      '--data',
      options.data ?? join(/** @type {string} */ (dir), 'kv.sqlite'),
      '--cors-origins',
      options.corsOrigins ?? '*',
      '--log-level',
      'info',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KV_ADMIN_TOKEN: E2E_ADMIN_TOKEN } },
  );
  let exited = false;
  /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
  const exit = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => {
      exited = true;
      resolveExit({ code, signal });
    });
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const url = await new Promise((resolveUrl, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`kv server did not start within 20 s\n${stderr}`)),
      20_000,
    );
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      let nl = buffered.indexOf('\n');
      while (nl !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line);
          if (entry.msg === 'listening' && typeof entry.url === 'string') {
            clearTimeout(timer);
            resolveUrl(entry.url);
          }
        } catch {
          // not a JSON log line
        }
        nl = buffered.indexOf('\n');
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kv server exited with ${code} before listening\n${stderr}`));
    });
  });
  return {
    url,
    token: E2E_ADMIN_TOKEN,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(killer);
      }
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
      return exit;
    },
  };
}

/**
 * Bundles the page in `root` (its index.html and the modules it loads) with Vite into a temporary
 * directory. `@kv/browser` resolves to its TypeScript source, workspace packages through `@kv/source`.
 * @param {string} root - directory holding index.html
 */
export async function buildPage(root) {
  const outDir = await mkdtemp(join(tmpdir(), 'kv-browser-page-'));
  await build({
    configFile: false,
    root,
    logLevel: 'warn',
    publicDir: false,
    envFile: false,
    cacheDir: join(outDir, '.vite-cache'),
    resolve: {
      alias: { '@kv/browser': browserEntry },
      conditions: ['@kv/source', ...defaultClientConditions],
    },
    build: {
      outDir: join(outDir, 'dist'),
      emptyOutDir: true,
      target: 'es2022',
      minify: false,
      reportCompressedSize: false,
    },
  });
  return {
    dir: join(outDir, 'dist'),
    async remove() {
      await rm(outDir, { recursive: true, force: true });
    },
  };
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

/**
 * Serves the files of `dir` on 127.0.0.1 (a free port). With `isolated`, pages are cross-origin
 * isolated (COOP + COEP), which gives `performance.now()` 5 µs resolution instead of 100 µs.
 * @param {string} dir
 * @param {{ isolated?: boolean }} [options]
 */
export async function serveStatic(dir, options = {}) {
  const isolation = options.isolated
    ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
    : {};
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
      res
        .writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', ...isolation })
        .end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((resolveListen) => server.listen(0, '127.0.0.1', () => resolveListen(undefined)));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose(undefined));
      }),
  };
}
