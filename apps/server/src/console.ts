/**
 * The kv console's static files at `/console/` (docs/console.md): the Vite build of `apps/console`,
 * copied into this package's `dist/console/` at build time and read into memory once at startup (about
 * 150 KB), so a request can only ever get one of the files found there: a path is looked up as is,
 * never joined to a directory, and `..`, `%2e%2e` or any other spelling simply is not a key of the map.
 *
 * Headers: the content type of each file, `Cache-Control: public, max-age=31536000, immutable` for the
 * hashed files under `assets/` and `no-cache` (with an ETag) for `index.html`, a strict
 * `Content-Security-Policy` (scripts, styles and connections from this origin only, no inline script,
 * no framing), `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`; gzip when the client
 * accepts it (compressed once, at startup).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { NotFoundError } from '@kv/core';
import type { EngineRequest, EngineResult } from '@kv/engine';
import { errorJson } from './error-response.js';

/** The path prefix the console is served under. */
export const CONSOLE_PATH = '/console';

/**
 * The console's Content-Security-Policy: everything from this origin only, no inline script or style
 * attribute in markup, `blob:` images for the entry view's image preview, no plugins, no framing, no
 * form submission (forms are handled by script), no `<base>`.
 */
export const CONSOLE_CSP: string = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Content types by file extension (the files a Vite build emits). */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** One file of the console, ready to send. */
interface ConsoleFile {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  etag: string;
  cacheControl: string;
}

/** The headers every console answer carries. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

/** Answers the console's requests; `undefined` for a path outside {@link CONSOLE_PATH}. */
export type ConsoleHandler = (req: EngineRequest, path: string) => EngineResult | undefined;

/** Where the built console is: `dist/console/` beside this module once built. */
export function defaultConsoleDir(): string {
  return fileURLToPath(new URL('./console/', import.meta.url));
}

/** Every file under `dir`, by its `/`-separated path relative to `dir`. */
function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (at: string): void => {
    for (const name of readdirSync(at)) {
      const full = join(at, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(relative(dir, full).split(sep).join('/'), readFileSync(full));
    }
  };
  walk(dir);
  return files;
}

/**
 * Reads the built console in `dir` into memory and returns its request handler. With no `index.html`
 * in `dir` (the console was not built, e.g. when running from sources), every console path answers
 * 404 `not_found` saying so.
 *
 * @param dir - the console's build output (`index.html` and `assets/`)
 * @default dir {@link defaultConsoleDir}
 */
export function createConsoleHandler(dir: string = defaultConsoleDir()): ConsoleHandler {
  const files = new Map<string, ConsoleFile>();
  if (existsSync(join(dir, 'index.html'))) {
    for (const [path, body] of readTree(dir)) {
      const type = TYPES[extname(path)] ?? 'application/octet-stream';
      const compressible = /^(text\/|application\/json|image\/svg)/.test(type);
      const gzip = compressible ? gzipSync(body, { level: 9 }) : undefined;
      files.set(`${CONSOLE_PATH}/${path}`, {
        body,
        gzip: gzip !== undefined && gzip.length < body.length ? gzip : undefined,
        type,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        // Vite names the files under assets/ by their content hash: they never change.
        cacheControl: path.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      });
    }
    const index = files.get(`${CONSOLE_PATH}/index.html`);
    if (index !== undefined) files.set(`${CONSOLE_PATH}/`, index);
  }
  const notBuilt = files.size === 0;

  return (req, path) => {
    if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return {
        status: 405,
        headers: { ...SECURITY_HEADERS, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' },
        body: 'Method Not Allowed',
      };
    }
    if (path === CONSOLE_PATH) {
      return { status: 308, headers: { ...SECURITY_HEADERS, location: `${CONSOLE_PATH}/` } };
    }
    const file = files.get(path);
    if (file === undefined) {
      const message = notBuilt
        ? 'The console is not built into this server (pnpm build builds it)'
        : 'No such console file';
      const result = errorJson(new NotFoundError(message));
      Object.assign(result.headers, SECURITY_HEADERS);
      return result;
    }
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      'content-type': file.type,
      'cache-control': file.cacheControl,
      etag: file.etag,
      vary: 'Accept-Encoding',
    };
    if (req.header('if-none-match') === file.etag) return { status: 304, headers };
    const gzip = file.gzip !== undefined && /\bgzip\b/.test(req.header('accept-encoding') ?? '');
    const body = gzip ? file.gzip! : file.body;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(body.length);
    return { status: 200, headers, body: req.method === 'HEAD' ? undefined : body };
  };
}
