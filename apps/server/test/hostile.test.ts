/**
 * A hostile client against the real server process on a real SQLite file (docs/security.md "Limits
 * against hostile clients"): deeply nested and oversized JSON bodies get a clear 4xx and change nothing
 * while other requests keep being answered; a token's signed URLs reach only what it could read, on the
 * configured public URL whatever `Host` says; a token of 257 capabilities is a 400 about capabilities.
 */
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, authHeaders, call, type ServerProcess, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-hostile-');
let server: ServerProcess;

/** The `{"keys":[[[[...` body of the report, `bytes` long. */
function nestedKeysBody(bytes: number): string {
  const depth = Math.floor((bytes - 10) / 2);
  return `{"keys":${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

async function tokenOf(capabilities: string[]): Promise<string> {
  const res = await call(`${server.url}/v1/tokens`, { method: 'POST', json: { capabilities } });
  expect(res.status).toBe(201);
  return (res.body as { token: string }).token;
}

async function storeRevision(): Promise<number> {
  return ((await call(`${server.url}/v1/stores/s`)).body as { revision: number }).revision;
}

beforeAll(async () => {
  server = await startServer(['--data', join(tmp.dir, 'kv.sqlite')]);
  expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 's' } })).status).toBe(201);
  for (const [key, value, scopes] of [
    ['other', 'still here', undefined],
    ['hr/1', 'salary', 'hr'],
    ['billing/1', 'invoice', 'billing'],
  ] as const) {
    const res = await call(`${server.url}/v1/stores/s/entries/${encodeURIComponent(key)}`, {
      method: 'PUT',
      body: value,
      headers: authHeaders({ 'content-type': 'text/plain', ...(scopes ? { 'kv-scopes': scopes } : {}) }),
    });
    expect(res.status).toBe(201);
  }
}, 60_000);

afterAll(async () => {
  await server?.stop();
  tmp.remove();
});

describe('deeply nested JSON to bulk/get', () => {
  it('a token without get gets 403; the admin gets 400 for 6 MB and 413 for 20 MB; nothing changes', async () => {
    const before = await storeRevision();
    const setter = await tokenOf(['kv[s]:set']);
    const forbidden = await call(`${server.url}/v1/stores/s/bulk/get`, {
      method: 'POST',
      body: nestedKeysBody(6_000_000),
      headers: authHeaders({ 'content-type': 'application/json' }, setter),
    });
    expect(forbidden.status).toBe(403);
    expect((forbidden.body as { error: { code: string } }).error.code).toBe('forbidden');
    const deep = await call(`${server.url}/v1/stores/s/bulk/get`, {
      method: 'POST',
      body: nestedKeysBody(6_000_000),
      headers: authHeaders({ 'content-type': 'application/json' }),
    });
    expect(deep.status).toBe(400);
    expect(deep.body).toMatchObject({ error: { code: 'validation_error', details: { reason: 'too_deep' } } });
    const big = await call(`${server.url}/v1/stores/s/bulk/get`, {
      method: 'POST',
      body: nestedKeysBody(20_000_000),
      headers: authHeaders({ 'content-type': 'application/json' }),
    });
    expect(big.status).toBe(413);
    expect((big.body as { error: { code: string } }).error.code).toBe('payload_too_large');
    expect(await storeRevision()).toBe(before);
  }, 60_000);

  it('while a hostile client sends it again and again, a GET of another key is answered', async () => {
    const body = nestedKeysBody(6_000_000);
    let stop = false;
    const statuses: number[] = [];
    // Two hostile connections, each sending the body back to back: bounded in count and in time.
    const hostile = async (): Promise<void> => {
      const until = Date.now() + 20_000;
      for (let i = 0; i < 15 && !stop && Date.now() < until; i++) {
        const res = await call(`${server.url}/v1/stores/s/bulk/get`, {
          method: 'POST',
          body,
          headers: authHeaders({ 'content-type': 'application/json' }),
        });
        statuses.push(res.status);
      }
    };
    const attackers = [hostile(), hostile()];
    const latenciesMs: number[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const read = await call(`${server.url}/v1/stores/s/entries/other`);
        latenciesMs.push(performance.now() - started);
        expect(read.status).toBe(200);
        expect(read.text).toBe('still here');
      }
    } finally {
      stop = true;
      await Promise.all(attackers);
    }
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set([400]));
    latenciesMs.sort((a, b) => a - b);
    // A figure for the record, not an assertion (timing never decides a test).
    console.info(
      `GET under attack: median ${latenciesMs[10]?.toFixed(1)} ms, max ${latenciesMs[19]?.toFixed(1)} ms`,
    );
  }, 60_000);

  it('a legitimate maximal bulk/get (10,000 keys of 512 bytes) still works', async () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(512, 'k'));
    keys[0] = 'other';
    const res = await call(`${server.url}/v1/stores/s/bulk/get`, { method: 'POST', json: { keys } });
    expect(res.status).toBe(200);
    const items = (res.body as { items: Array<{ found: boolean }> }).items;
    expect(items).toHaveLength(10_000);
    expect(items[0]?.found).toBe(true);
  }, 60_000);
});

describe('a token of 257 capabilities', () => {
  it('gets 400 validation_error about capabilities; 10,001 bulk keys stay 413', async () => {
    const capabilities = Array.from({ length: 257 }, (_, i) => `kv[s${i}]:get`);
    const res = await call(`${server.url}/v1/tokens`, { method: 'POST', json: { capabilities } });
    expect(res.status).toBe(400);
    const error = (res.body as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('validation_error');
    expect(error.message).toMatch(/capabilities/);
    expect(error.message).toMatch(/256/);
    const keys = Array.from({ length: 10_001 }, (_, i) => `k${i}`);
    const bulk = await call(`${server.url}/v1/stores/s/bulk/get`, { method: 'POST', json: { keys } });
    expect(bulk.status).toBe(413);
  });
});

/** POST with a chosen `Host` header (fetch does not let a caller set it). */
function postWithHost(
  base: string,
  path: string,
  host: string,
  token: string,
  json: unknown,
): Promise<{ status: number; body: unknown }> {
  const target = new URL(path, base);
  const payload = JSON.stringify(json);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: {
          host,
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(payload)),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('signed URLs', () => {
  it('sign with a billing get cannot publish hr/1, nor list every key', async () => {
    const signer = await tokenOf(['kv[s]:sign', 'kv[s:billing]:get']);
    const direct = await call(`${server.url}/v1/stores/s/entries/hr%2F1`, { token: signer });
    expect(direct.status).toBe(403);
    const sign = (json: unknown) =>
      call(`${server.url}/v1/stores/s/signed-urls`, { method: 'POST', json, token: signer });
    expect((await sign({ kind: 'record', key: 'hr/1', expiresInSecs: 600 })).status).toBe(403);
    expect((await sign({ kind: 'keys', expiresInSecs: 600 })).status).toBe(403);
    const ok = await sign({ kind: 'record', key: 'billing/1', expiresInSecs: 600 });
    expect(ok.status).toBe(200);
    const url = (ok.body as { url: string }).url;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('invoice');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-disposition')).toBeNull();
  });

  it('a value stored as HTML is served as a download', async () => {
    await call(`${server.url}/v1/stores/s/entries/page`, {
      method: 'PUT',
      body: '<script>alert(1)</script>',
      headers: authHeaders({ 'content-type': 'text/html' }),
    });
    const signed = await call(`${server.url}/v1/stores/s/signed-urls`, {
      method: 'POST',
      json: { kind: 'record', key: 'page', expiresInSecs: 600 },
    });
    const res = await fetch((signed.body as { url: string }).url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    await res.arrayBuffer();
  });

  it('the url is on the listening address, or --public-url, whatever Host the request names', async () => {
    const spoofed = await postWithHost(server.url, '/v1/stores/s/signed-urls', 'evil.example', ADMIN_TOKEN, {
      kind: 'record',
      key: 'other',
      expiresInSecs: 600,
    });
    expect(spoofed.status).toBe(200);
    const { url, path } = spoofed.body as { url: string; path: string };
    expect(url).toBe(`${server.url}${path}`);
    expect(url).not.toContain('evil');

    const proxied = await startServer(['--storage', 'memory', '--public-url', 'https://kv.example.com/kv/']);
    try {
      await call(`${proxied.url}/v1/stores`, { method: 'POST', json: { name: 'p' } });
      const res = await postWithHost(proxied.url, '/v1/stores/p/signed-urls', 'evil.example', ADMIN_TOKEN, {
        kind: 'keys',
        expiresInSecs: 600,
      });
      expect(res.status).toBe(200);
      const body = res.body as { url: string; path: string };
      expect(body.url).toBe(`https://kv.example.com/kv${body.path}`);
    } finally {
      await proxied.stop();
    }
  }, 60_000);
});
