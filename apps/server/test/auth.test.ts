/**
 * Access control on the real server process (issue 7; docs/security.md): the admin token file (mode
 * 0600, reused across restarts, rotated by deleting it), `KV_ADMIN_TOKEN`, 401 without a token, a scoped
 * token created through the API and honoured, revocation effective at once, a signed URL fetched with a
 * plain `fetch`, and CORS preflights from a browser origin.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authHeaders, call, runCli, type ServerProcess, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-auth-');
afterAll(() => tmp.remove());

/** The file-bootstrap environment: no KV_ADMIN_TOKEN. */
const NO_ENV_TOKEN = { env: { KV_ADMIN_TOKEN: undefined } };

describe('the admin token file', () => {
  it('is written with mode 0600 beside the database, logged by path only, and reused across restarts', async () => {
    const data = join(tmp.dir, 'file.sqlite');
    const file = `${data}.admin-token`;
    const first = await startServer(['--data', data], NO_ENV_TOKEN);
    let token: string;
    try {
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(/^kv_[A-Za-z0-9_-]{43}\n$/);
      token = text.trim();
      expect(await first.waitForLog('listening')).toMatchObject({ adminTokenFile: file });
      expect(await first.waitForLog(`admin token in ${file}`)).toMatchObject({
        source: 'file',
        file,
        created: true,
      });
      expect((await call(`${first.url}/v1/stores`, { token })).status).toBe(200);
      expect(first.lines.join('\n')).not.toContain(token);
    } finally {
      await first.stop();
    }

    const second = await startServer(['--data', data], NO_ENV_TOKEN);
    try {
      expect(readFileSync(file, 'utf8').trim()).toBe(token);
      expect(await second.waitForLog(`admin token in ${file}`)).toMatchObject({ created: false });
      expect((await call(`${second.url}/v1/stores`, { token })).status).toBe(200);
      expect(second.lines.join('\n')).not.toContain(token);
    } finally {
      await second.stop();
    }

    // Deleting the file and restarting rotates the admin token: the old one is revoked.
    rmSync(file);
    const third = await startServer(['--data', data], NO_ENV_TOKEN);
    try {
      const rotated = readFileSync(file, 'utf8').trim();
      expect(rotated).not.toBe(token);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect((await call(`${third.url}/v1/stores`, { token: rotated })).status).toBe(200);
      expect((await call(`${third.url}/v1/stores`, { token })).status).toBe(401);
      const list = await call(`${third.url}/v1/tokens`, { token: rotated });
      const items = (list.body as { items: Array<{ description: string; revokedAt: string | null }> }).items;
      // Oldest first: the replaced token (revoked), then the new one.
      expect(items.map((t) => [t.description, t.revokedAt === null])).toEqual([
        ['admin (token file)', false],
        ['admin (token file)', true],
      ]);
    } finally {
      await third.stop();
    }
  });

  it('is replaced when the token it holds was revoked', async () => {
    const data = join(tmp.dir, 'revoked-file.sqlite');
    const file = `${data}.admin-token`;
    const server = await startServer(['--data', data], NO_ENV_TOKEN);
    const token = readFileSync(file, 'utf8').trim();
    try {
      const tokens = (await call(`${server.url}/v1/tokens`, { token })).body as {
        items: Array<{ id: string }>;
      };
      const id = tokens.items[0]!.id;
      expect((await call(`${server.url}/v1/tokens/${id}`, { method: 'DELETE', token })).body).toEqual({
        revoked: true,
      });
      expect((await call(`${server.url}/v1/stores`, { token })).status).toBe(401);
    } finally {
      await server.stop();
    }
    const again = await startServer(['--data', data], NO_ENV_TOKEN);
    try {
      const fresh = readFileSync(file, 'utf8').trim();
      expect(fresh).not.toBe(token);
      expect((await call(`${again.url}/v1/stores`, { token: fresh })).status).toBe(200);
    } finally {
      await again.stop();
    }
  });

  it('with --storage memory: a new token at each start, only in --admin-token-file', async () => {
    const file = join(tmp.dir, 'memory', 'admin-token');
    const a = await startServer(['--storage', 'memory', '--admin-token-file', file], NO_ENV_TOKEN);
    const first = readFileSync(file, 'utf8').trim();
    try {
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect((await call(`${a.url}/v1/stores`, { token: first })).status).toBe(200);
    } finally {
      await a.stop();
    }
    const b = await startServer(['--storage', 'memory', '--admin-token-file', file], NO_ENV_TOKEN);
    try {
      const second = readFileSync(file, 'utf8').trim();
      expect(second).not.toBe(first);
      expect((await call(`${b.url}/v1/stores`, { token: second })).status).toBe(200);
      expect((await call(`${b.url}/v1/stores`, { token: first })).status).toBe(401);
    } finally {
      await b.stop();
    }
    // Without a file or KV_ADMIN_TOKEN nothing can authenticate, and the log says how to fix it.
    const c = await startServer(['--storage', 'memory'], NO_ENV_TOKEN);
    try {
      const warning = c.lines.find((l) => l.includes('no admin token'));
      expect(warning).toContain('KV_ADMIN_TOKEN');
      expect((await call(`${c.url}/v1/stores`)).status).toBe(401);
    } finally {
      await c.stop();
    }
  });
});

describe('KV_ADMIN_TOKEN', () => {
  it('registers the given secret (no file written); changing it revokes the previous one', async () => {
    const data = join(tmp.dir, 'env.sqlite');
    const first = await startServer(['--data', data], {
      env: { KV_ADMIN_TOKEN: 'kv_first-operator-secret-0001' },
    });
    try {
      expect(existsSync(`${data}.admin-token`)).toBe(false);
      expect((await call(`${first.url}/v1/stores`, { token: 'kv_first-operator-secret-0001' })).status).toBe(
        200,
      );
      expect(first.lines.join('\n')).not.toContain('kv_first-operator-secret-0001');
    } finally {
      await first.stop();
    }
    const second = await startServer(['--data', data], {
      env: { KV_ADMIN_TOKEN: 'kv_second-operator-secret-02' },
    });
    try {
      expect((await call(`${second.url}/v1/stores`, { token: 'kv_second-operator-secret-02' })).status).toBe(
        200,
      );
      expect((await call(`${second.url}/v1/stores`, { token: 'kv_first-operator-secret-0001' })).status).toBe(
        401,
      );
    } finally {
      await second.stop();
    }
  });

  it('refuses to start with an invalid secret, without printing it', async () => {
    const r = await runCli(['--port', '0', '--data', join(tmp.dir, 'bad-env.sqlite')], 30_000, {
      KV_ADMIN_TOKEN: 'short secret',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('KV_ADMIN_TOKEN must be 16-512 visible ASCII characters');
    expect(r.stderr + r.stdout).not.toContain('short secret');
  });
});

describe('tokens, capabilities and signed URLs on the real server', () => {
  let server: ServerProcess;
  let base: string;

  beforeAll(async () => {
    // Every request logged, so the test can check what the log holds (never a token or a signature).
    server = await startServer([
      '--data',
      join(tmp.dir, 'acl.sqlite'),
      '--cors-origins',
      'http://app.test',
      '--access-log-sample',
      '1',
    ]);
    base = server.url;
    expect((await call(`${base}/v1/stores`, { method: 'POST', json: { name: 'docs' } })).status).toBe(201);
    for (const [key, scopes] of [
      ['pub.1', 'public'],
      ['pub.2', 'public'],
      ['priv.1', 'private'],
    ] as const) {
      const res = await call(`${base}/v1/stores/docs/entries/${key}`, {
        method: 'PUT',
        body: `value of ${key}`,
        headers: { 'content-type': 'text/plain', 'kv-scopes': scopes },
      });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers 401 without a valid token (also on /metrics), and serves /healthz and /readyz without one', async () => {
    for (const path of [
      '/v1/stores',
      '/v1/stores/docs/entries/pub.1',
      '/v1/tokens',
      '/v1/nothing',
      '/metrics',
    ]) {
      const res = await call(`${base}${path}`, { token: null });
      expect(res.status, path).toBe(401);
      expect(res.body).toMatchObject({ error: { code: 'unauthenticated' } });
    }
    expect((await call(`${base}/v1/stores`, { token: 'kv_not-a-real-token-000000000' })).status).toBe(401);
    const put = await call(`${base}/v1/stores/docs/entries/sneaky`, {
      method: 'PUT',
      body: 'x',
      token: null,
    });
    expect(put.status).toBe(401);
    expect((await call(`${base}/v1/stores/docs/entries/sneaky`)).status).toBe(404);
    for (const path of ['/healthz', '/readyz']) {
      expect((await call(`${base}${path}`, { token: null })).status, path).toBe(200);
    }
  });

  it('/metrics needs kv.admin:stores: 401 without a valid token, 403 without the capability', async () => {
    const bad = await call(`${base}/metrics`, { token: 'kv_not-a-real-token-000000000' });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ error: { code: 'unauthenticated' } });
    expect(bad.text).not.toContain('kv_store_entries');
    const reader = await call(`${base}/v1/tokens`, {
      method: 'POST',
      json: { capabilities: ['kv[docs]:get', 'kv.admin:tokens'], description: 'no stores admin' },
    });
    expect(reader.status).toBe(201);
    const narrow = await call(`${base}/metrics`, { token: (reader.body as { token: string }).token });
    expect(narrow.status).toBe(403);
    expect(narrow.body).toMatchObject({ error: { code: 'forbidden' } });
    expect(narrow.headers.get('kv-error-code')).toBe('forbidden');
    expect(narrow.text).not.toContain('docs');
    const admin = await call(`${base}/v1/tokens`, {
      method: 'POST',
      json: { capabilities: ['kv.admin:stores'], description: 'scraper' },
    });
    const scraper = await call(`${base}/metrics`, { token: (admin.body as { token: string }).token });
    expect(scraper.status).toBe(200);
    expect(scraper.text).toMatch(/kv_store_entries\{store="docs"\} 3\b/);
  });

  it('/metrics without a token only with --metrics-public (or KV_METRICS_PUBLIC=1)', async () => {
    for (const [args, env] of [
      [['--metrics-public'], {}],
      [[], { KV_METRICS_PUBLIC: '1' }],
    ] as const) {
      const open = await startServer(['--storage', 'memory', ...args], { env });
      try {
        const res = await call(`${open.url}/metrics`, { token: null });
        expect(res.status, JSON.stringify(env)).toBe(200);
        expect(res.text).toContain('kv_http_requests_total');
        // Only /metrics is opened.
        expect((await call(`${open.url}/v1/stores`, { token: null })).status).toBe(401);
      } finally {
        await open.stop();
      }
    }
  });

  it('honours a scoped token created through the API, and its revocation at once', async () => {
    const created = await call(`${base}/v1/tokens`, {
      method: 'POST',
      json: {
        capabilities: ['kv[docs:public]:get', 'kv[docs:public]:list', 'kv[docs:public]:set'],
        description: 'public docs editor',
      },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const { id, token } = created.body as { id: string; token: string };
    expect(server.lines.join('\n')).not.toContain(token);

    expect(await call(`${base}/v1/stores/docs/entries/pub.1`, { token })).toMatchObject({
      status: 200,
      text: 'value of pub.1',
    });
    // Out of scope and missing are the same 403.
    const priv = await call(`${base}/v1/stores/docs/entries/priv.1`, { token });
    const missing = await call(`${base}/v1/stores/docs/entries/nope`, { token });
    expect(priv.status).toBe(403);
    expect(missing.status).toBe(403);
    expect((missing.body as { error: unknown }).error).toEqual((priv.body as { error: unknown }).error);
    // Listing is filtered, not failed.
    const list = await call(`${base}/v1/stores/docs/entries`, { token });
    expect(list.status).toBe(200);
    expect((list.body as { items: Array<{ key: string }> }).items.map((i) => i.key)).toEqual([
      'pub.1',
      'pub.2',
    ]);
    // Writes must stay in the scope.
    const inScope = await call(`${base}/v1/stores/docs/entries/pub.3`, {
      method: 'PUT',
      body: 'three',
      headers: { 'content-type': 'text/plain', 'kv-scopes': 'public' },
      token,
    });
    expect(inScope.status).toBe(201);
    const unscoped = await call(`${base}/v1/stores/docs/entries/pub.4`, { method: 'PUT', body: 'x', token });
    expect(unscoped.status).toBe(403);
    const overwritePrivate = await call(`${base}/v1/stores/docs/entries/priv.1`, {
      method: 'PUT',
      body: 'x',
      headers: { 'kv-scopes': 'public' },
      token,
    });
    expect(overwritePrivate.status).toBe(403);
    // No store administration, no token administration, no other store.
    expect((await call(`${base}/v1/stores`, { token })).status).toBe(403);
    expect((await call(`${base}/v1/tokens`, { token })).status).toBe(403);
    expect((await call(`${base}/v1/stores/other/entries/k`, { token })).status).toBe(403);

    // Revocation takes effect on the very next request.
    expect((await call(`${base}/v1/tokens/${id}`, { method: 'DELETE' })).body).toEqual({ revoked: true });
    expect((await call(`${base}/v1/stores/docs/entries/pub.1`, { token })).status).toBe(401);
    const listed = (await call(`${base}/v1/tokens`)).body as {
      items: Array<{ id: string; revokedAt: string | null }>;
    };
    expect(listed.items.find((t) => t.id === id)?.revokedAt).toEqual(expect.any(String));
  });

  it('rejects a malformed capability at token creation', async () => {
    const res = await call(`${base}/v1/tokens`, { method: 'POST', json: { capabilities: ['kv[docs:get'] } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      error: { code: 'validation_error', details: { capability: 'kv[docs:get' } },
    });
  });

  it('serves a signed URL to a plain fetch with no token, and refuses it altered', async () => {
    const signed = await call(`${base}/v1/stores/docs/signed-urls`, {
      method: 'POST',
      json: { kind: 'record', key: 'pub.2', expiresInSecs: 60 },
    });
    expect(signed.status).toBe(200);
    const { url } = signed.body as { url: string };
    expect(url.startsWith(`${base}/v1/stores/docs/entries/pub.2?`)).toBe(true);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('value of pub.2');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');

    const other = await fetch(url.replace('/entries/pub.2?', '/entries/priv.1?'));
    expect(other.status).toBe(401);
    const tampered = new URL(url);
    tampered.searchParams.set('expires', String(Number(tampered.searchParams.get('expires')) + 1));
    expect((await fetch(tampered)).status).toBe(401);
    // The signature never reaches the log (query strings are not logged).
    const signature = new URL(url).searchParams.get('signature')!;
    await expect
      .poll(() => server.lines.some((l) => l.includes('"path":"/v1/stores/docs/entries/pub.2"')))
      .toBe(true);
    expect(server.lines.join('\n')).not.toContain(signature);

    // A keys URL lists without a token too.
    const keys = await call(`${base}/v1/stores/docs/signed-urls`, {
      method: 'POST',
      json: { kind: 'keys', prefix: 'pub.', limit: 10, expiresInSecs: 60 },
    });
    const listing = await fetch((keys.body as { url: string }).url);
    expect(listing.status).toBe(200);
    expect(((await listing.json()) as { items: Array<{ key: string }> }).items.map((i) => i.key)).toEqual([
      'pub.1',
      'pub.2',
      'pub.3',
    ]);
  });

  it('answers CORS preflights: a configured origin for bearer requests, any origin for signed URLs', async () => {
    // A browser sends the preflight without credentials: it must succeed without a token.
    const pre = await fetch(`${base}/v1/stores/docs/entries/pub.1`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://app.test',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'authorization, content-type, kv-scopes',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://app.test');
    expect(pre.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
    // The request that follows carries the token and gets the CORS headers.
    const get = await fetch(`${base}/v1/stores/docs/entries/pub.1`, {
      headers: authHeaders({ origin: 'http://app.test' }),
    });
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBe('http://app.test');
    expect(get.headers.get('access-control-expose-headers')).toContain('etag');
    // Another origin gets no CORS grant for bearer requests.
    const evil = await fetch(`${base}/v1/stores/docs/entries/pub.1`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://evil.test',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();

    // Signed URLs work from any origin, preflight included (e.g. for If-None-Match).
    const signed = await call(`${base}/v1/stores/docs/signed-urls`, {
      method: 'POST',
      json: { kind: 'record', key: 'pub.1', expiresInSecs: 60 },
    });
    const { url } = signed.body as { url: string };
    const signedPre = await fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://elsewhere.test',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'if-none-match',
      },
    });
    expect(signedPre.status).toBe(204);
    expect(signedPre.headers.get('access-control-allow-origin')).toBe('*');
    expect(signedPre.headers.get('access-control-allow-methods')).toContain('GET');
    expect(signedPre.headers.get('access-control-allow-headers')).toContain('if-none-match');
    const fromElsewhere = await fetch(url, { headers: { origin: 'http://elsewhere.test' } });
    expect(fromElsewhere.status).toBe(200);
    expect(fromElsewhere.headers.get('access-control-allow-origin')).toBe('*');
  });
});
