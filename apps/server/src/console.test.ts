/**
 * The `/console/` static handler on a console build in a temporary directory: content types, the
 * cache policy (immutable hashed assets, revalidated index), the Content-Security-Policy and other
 * security headers, gzip, ETag revalidation, HEAD, the redirect of `/console`, 405 for other methods,
 * no path outside the build (`..`, encoded dots, absolute paths), 404 when the console is not built,
 * and `undefined` (not ours) for every other path.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { requestFromFetch } from '@kv/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, type ConsoleHandler, createConsoleHandler } from './console.js';

const root = mkdtempSync(join(tmpdir(), 'kv-console-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const dist = join(root, 'dist');
mkdirSync(join(dist, 'assets'), { recursive: true });
const INDEX = '<!doctype html><script type="module" src="/console/assets/index-abc123.js"></script>';
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(2000))});`;
writeFileSync(join(dist, 'index.html'), INDEX);
writeFileSync(join(dist, 'assets', 'index-abc123.js'), SCRIPT);
writeFileSync(join(dist, 'assets', 'index-def456.css'), 'body{margin:0}');
// A file beside the build that no request may reach.
writeFileSync(join(root, 'secret.txt'), 'not for the web');

const handler = createConsoleHandler(dist);

function get(h: ConsoleHandler, path: string, init: RequestInit = {}) {
  const req = requestFromFetch(new Request(`http://127.0.0.1${path}`, init));
  return h(req, path);
}

function text(body: unknown): string {
  return typeof body === 'string' ? body : Buffer.from(body as Uint8Array).toString('utf8');
}

describe('the console handler', () => {
  it('serves index.html at /console/ with no-cache, an ETag and the security headers', () => {
    const res = get(handler, '/console/')!;
    expect(res.status).toBe(200);
    expect(text(res.body)).toBe(INDEX);
    expect(res.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-cache',
      'content-security-policy': CONSOLE_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'content-length': String(INDEX.length),
    });
    expect(res.headers.etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(text(get(handler, '/console/index.html')!.body)).toBe(INDEX);
  });

  it('has a CSP that allows no inline script, no other origin and no framing', () => {
    const directives = new Map(
      CONSOLE_CSP.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name!, values] as const;
      }),
    );
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('style-src')).toEqual(["'self'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(CONSOLE_CSP).not.toContain('unsafe');
  });

  it('serves hashed assets with their content type, cached for a year', () => {
    const js = get(handler, '/console/assets/index-abc123.js')!;
    expect(js.status).toBe(200);
    expect(text(js.body)).toBe(SCRIPT);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const css = get(handler, '/console/assets/index-def456.css')!;
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(text(css.body)).toBe('body{margin:0}');
  });

  it('sends gzip to clients that accept it, and the same bytes once inflated', () => {
    const res = get(handler, '/console/assets/index-abc123.js', {
      headers: { 'accept-encoding': 'gzip, br' },
    })!;
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers.vary).toBe('Accept-Encoding');
    const body = res.body as Uint8Array;
    expect(Number(res.headers['content-length'])).toBe(body.length);
    expect(body.length).toBeLessThan(SCRIPT.length);
    expect(gunzipSync(body).toString('utf8')).toBe(SCRIPT);
    // Without Accept-Encoding: identity.
    expect(get(handler, '/console/assets/index-abc123.js')!.headers['content-encoding']).toBeUndefined();
  });

  it('answers 304 to a matching If-None-Match and HEAD with headers only', () => {
    const etag = get(handler, '/console/')!.headers.etag!;
    const again = get(handler, '/console/', { headers: { 'if-none-match': etag } })!;
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();
    const head = get(handler, '/console/', { method: 'HEAD' })!;
    expect(head.status).toBe(200);
    expect(head.body).toBeUndefined();
    expect(head.headers['content-length']).toBe(String(INDEX.length));
  });

  it('redirects /console to /console/ and refuses other methods with 405', () => {
    const redirect = get(handler, '/console')!;
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe('/console/');
    const post = get(handler, '/console/', { method: 'POST', body: 'x' })!;
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it.each([
    '/console/../secret.txt',
    '/console/assets/../../secret.txt',
    '/console/%2e%2e/secret.txt',
    '/console/..%2fsecret.txt',
    '/console/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
    `/console/${root}/secret.txt`,
    '/console//etc/passwd',
    '/console/assets/',
    '/console/assets',
    '/console/missing.js',
  ])('answers 404 for %s (nothing outside the build, no directory listing)', (path) => {
    const res = get(handler, path)!;
    expect(res.status).toBe(404);
    expect(text(res.body)).not.toContain('not for the web');
    expect(JSON.parse(text(res.body))).toMatchObject({ error: { code: 'not_found' } });
    expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
  });

  it('leaves every other path to the engine', () => {
    for (const path of ['/', '/v1/stores', '/consoles', '/console.html', '/healthz']) {
      expect(get(handler, path)).toBeUndefined();
    }
  });

  it('answers 404 saying so when the console is not built', () => {
    const empty = createConsoleHandler(join(root, 'nothing-here'));
    const res = get(empty, '/console/')!;
    expect(res.status).toBe(404);
    expect(JSON.parse(text(res.body)).error.message).toContain('not built');
  });
});
