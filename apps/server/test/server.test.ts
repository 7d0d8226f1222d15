/**
 * The real server process on a real SQLite file: health, readiness, metrics, a CRUD round trip over
 * HTTP, logs, CORS, bad requests that leave the process serving and the data unchanged, graceful
 * shutdown (a request in flight, a request that never finishes, SIGINT), and a database file damaged
 * in the middle (refused at startup, or found while serving: clear 500, /readyz 503, no write).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  authHeaders,
  call,
  runCli,
  type ServerProcess,
  startServer,
  tempDir,
} from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

describe('kv-server over HTTP (SQLite)', () => {
  let server: ServerProcess;
  let base: string;
  const store = 'e2e';

  beforeAll(async () => {
    server = await startServer([
      '--data',
      join(tmp.dir, 'main.sqlite'),
      '--max-value-bytes',
      '1024',
      '--max-body-bytes',
      '2048',
      '--cors-origins',
      'http://app.test',
      '--access-log-sample',
      '1',
    ]);
    base = server.url;
    const created = await call(`${base}/v1/stores`, { method: 'POST', json: { name: store, history: 3 } });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers /healthz and /readyz', async () => {
    expect(await call(`${base}/healthz`)).toMatchObject({ status: 200, body: { ok: true } });
    expect(await call(`${base}/readyz`)).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('logs that it listens on the embedded SQLite file', async () => {
    const line = await server.waitForLog('listening');
    expect(line).toMatchObject({
      storage: 'sqlite',
      dataFile: join(tmp.dir, 'main.sqlite'),
      synchronous: 'normal',
    });
    expect(String(line.url)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('round-trips create, read, overwrite, list, history and delete', async () => {
    const url = `${base}/v1/stores/${store}/entries/user.1`;
    const put1 = await call(url, {
      method: 'PUT',
      body: '{"name":"Ada"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(put1.status).toBe(201);
    expect(put1.body).toMatchObject({ created: true, revision: expect.any(Number) });
    const rev1 = (put1.body as { revision: number }).revision;

    const got = await call(url);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ name: 'Ada' });
    expect(got.headers.get('etag')).toBe(`"${rev1}"`);

    const put2 = await call(url, {
      method: 'PUT',
      body: '{"name":"Ada L."}',
      headers: { 'content-type': 'application/json', 'if-match': `"${rev1}"` },
    });
    expect(put2.status).toBe(200);
    const stale = await call(url, {
      method: 'PUT',
      body: '{}',
      headers: { 'content-type': 'application/json', 'if-match': `"${rev1}"` },
    });
    expect(stale.status).toBe(412);

    const list = await call(`${base}/v1/stores/${store}/entries?prefix=user.`);
    expect(list.status).toBe(200);
    expect((list.body as { items: Array<{ key: string }> }).items.map((i) => i.key)).toEqual(['user.1']);

    const history = await call(`${url}/history`);
    expect((history.body as { items: Array<{ operation: string }> }).items.map((i) => i.operation)).toEqual([
      'put',
      'put',
    ]);

    const del = await call(url, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect((await call(url)).status).toBe(404);
  });

  it('exports request, latency and per-store metrics in Prometheus format', async () => {
    await call(`${base}/v1/stores/${store}/entries/metric.k`, { method: 'PUT', body: 'abc' });
    const res = await call(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(res.text).toMatch(
      /kv_http_requests_total\{method="PUT",route="\/v1\/stores\/:store\/entries\/:key",status="201"\} \d+/,
    );
    expect(res.text).toContain('kv_http_request_duration_seconds_bucket{le="0.005"');
    expect(res.text).toMatch(new RegExp(`kv_store_entries\\{store="${store}"\\} 1\\b`));
    expect(res.text).toMatch(new RegExp(`kv_store_bytes\\{store="${store}"\\} 3\\b`));
    expect(res.text).toContain('process_resident_memory_bytes');
  });

  it('logs each request with its request id, and never a token or a value', async () => {
    const secretValue = 'value-do-not-log-me-93ab';
    const res = await call(`${base}/v1/stores/${store}/entries/logged.k?sig=query-do-not-log`, {
      method: 'PUT',
      body: secretValue,
      headers: authHeaders({ 'kv-request-id': 'req-e2e-42' }),
    });
    // A refused token is not logged either.
    const refusedToken = 'kv_refused-do-not-log-me-7d1f';
    expect((await call(`${base}/v1/stores`, { token: refusedToken })).status).toBe(401);
    expect(res.headers.get('kv-request-id')).toBe('req-e2e-42');
    await expect.poll(() => server.lines.some((l) => l.includes('req-e2e-42'))).toBe(true);
    const line = JSON.parse(server.lines.find((l) => l.includes('req-e2e-42'))!) as Record<string, unknown>;
    expect(line).toMatchObject({
      msg: 'request',
      reqId: 'req-e2e-42',
      method: 'PUT',
      route: '/v1/stores/:store/entries/:key',
      status: 201,
    });
    const all = server.lines.join('\n');
    expect(all).not.toContain(ADMIN_TOKEN);
    expect(all).not.toContain(refusedToken);
    expect(all).not.toContain(secretValue);
    expect(all).not.toContain('query-do-not-log');
  });

  it('answers CORS preflights and tags responses for allowed origins only', async () => {
    const pre = await fetch(`${base}/v1/stores/${store}/entries/x`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://app.test',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'authorization, if-match',
      },
    });
    // A preflight carries no credentials (Fetch standard): it must not need a token.
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://app.test');
    expect(pre.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(pre.headers.get('access-control-allow-headers')).toBe('authorization, if-match');
    const get = await fetch(`${base}/v1/stores`, { headers: authHeaders({ origin: 'http://app.test' }) });
    expect(get.headers.get('access-control-allow-origin')).toBe('http://app.test');
    expect(get.headers.get('access-control-expose-headers')).toContain('etag');
    const other = await fetch(`${base}/v1/stores`, { headers: authHeaders({ origin: 'http://evil.test' }) });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers bad requests with clear errors, keeps serving, and changes nothing', async () => {
    const before = (await call(`${base}/v1/stores/${store}`)).body as { revision: number; keyCount: number };

    const unknown = await call(`${base}/v2/nothing`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: 'route_not_found' } });

    const badJson = await call(`${base}/v1/stores`, {
      method: 'POST',
      body: '{"name": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson.status).toBe(400);
    expect(badJson.body).toMatchObject({ error: { code: 'validation_error' } });

    const badEscape = await call(`${base}/v1/stores/${store}/entries/bad%E0%A4%A`, {
      method: 'PUT',
      body: 'x',
    });
    expect(badEscape.status).toBe(400);
    expect(badEscape.body).toMatchObject({ error: { code: 'validation_error' } });

    const tooBig = await call(`${base}/v1/stores/${store}/entries/big`, {
      method: 'PUT',
      body: 'x'.repeat(4096),
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body).toMatchObject({ error: { code: 'payload_too_large' } });

    const badBulk = await call(`${base}/v1/stores/${store}/bulk/set`, {
      method: 'POST',
      json: { items: 'nope' },
    });
    expect(badBulk.status).toBe(400);

    // A body shorter than its Content-Length, then the client hangs up.
    await new Promise<void>((resolve) => {
      const socket = connect(Number(new URL(base).port), '127.0.0.1', () => {
        socket.write(
          `PUT /v1/stores/${store}/entries/short HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_TOKEN}\r\ncontent-length: 100\r\n\r\nonly-a-few-bytes`,
        );
        setTimeout(() => socket.destroy(), 100);
      });
      socket.on('close', () => resolve());
      socket.on('error', () => {});
    });
    // A Content-Length that is not a number: Node's parser answers 400.
    const raw = await new Promise<string>((resolve) => {
      let data = '';
      const socket = connect(Number(new URL(base).port), '127.0.0.1', () => {
        socket.write(
          `PUT /v1/stores/${store}/entries/k HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_TOKEN}\r\ncontent-length: abc\r\n\r\nxyz`,
        );
      });
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);

    expect(await call(`${base}/healthz`)).toMatchObject({ status: 200 });
    expect((await call(`${base}/v1/stores/${store}/entries/short`)).status).toBe(404);
    expect((await call(`${base}/v1/stores/${store}/entries/big`)).status).toBe(404);
    const after = (await call(`${base}/v1/stores/${store}`)).body as { revision: number; keyCount: number };
    expect(after).toMatchObject({ revision: before.revision, keyCount: before.keyCount });
    expect(server.proc.exitCode).toBeNull();
  });
});

describe('access log', () => {
  /** The `request` log lines of a server after one PUT and one GET answered 201 and 200. */
  async function requestLines(args: string[]): Promise<Array<Record<string, unknown>>> {
    const server = await startServer(['--storage', 'memory', ...args]);
    try {
      const url = `${server.url}/v1/stores/logs/entries/k`;
      expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'logs' } })).status).toBe(
        201,
      );
      expect(
        (await call(url, { method: 'PUT', body: 'v', headers: authHeaders({ 'kv-request-id': 'req-last' }) }))
          .status,
      ).toBe(201);
    } finally {
      await server.stop();
    }
    // Log lines are buffered; the last one a clean shutdown writes is `stopped`.
    await expect.poll(() => server.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
    return server.lines
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request');
  }

  it('is off at the default level: successful requests leave no log line', async () => {
    expect(await requestLines([])).toEqual([]);
  });

  it('logs every request at debug, and a sampled share at info with --access-log-sample', async () => {
    const debug = await requestLines(['--log-level', 'debug']);
    expect(debug.map((l) => [l.level, l.status])).toEqual([
      ['debug', 201],
      ['debug', 201],
    ]);
    const sampled = await requestLines(['--access-log-sample', '1']);
    expect(sampled.map((l) => [l.level, l.status])).toEqual([
      ['info', 201],
      ['info', 201],
    ]);
    expect(sampled[1]).toMatchObject({ reqId: 'req-last', route: '/v1/stores/:store/entries/:key' });
  });
});

describe('graceful shutdown', () => {
  it('finishes an in-flight request, refuses new connections, closes the database and exits 0', async () => {
    const data = join(tmp.dir, 'shutdown.sqlite');
    const server = await startServer(['--data', data]);
    const port = Number(new URL(server.url).port);
    expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 's' } })).status).toBe(201);

    // Start a PUT whose body arrives in two halves, with SIGTERM in between.
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'PUT',
          path: '/v1/stores/s/entries/inflight',
          headers: authHeaders({ 'content-type': 'text/plain' }),
        },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('first half, ');
      setTimeout(async () => {
        server.proc.kill('SIGTERM');
        await server.waitForLog('shutting down');
        // No new connections once shutting down.
        await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
        req.end('second half');
      }, 200);
    });
    const res = await response;
    expect(res.status).toBe(201);
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    await server.waitForLog('stopped');
    // The database was closed cleanly: the last connection checkpointed and removed the WAL.
    expect(existsSync(`${data}-wal`)).toBe(false);

    // Restart: the in-flight write is there.
    const again = await startServer(['--data', data]);
    try {
      const got = await call(`${again.url}/v1/stores/s/entries/inflight`);
      expect(got).toMatchObject({ status: 200, text: 'first half, second half' });
    } finally {
      await again.stop();
    }
  });
});

/**
 * Starts a PUT whose body never ends. `sent`: its headers and first bytes are written; `done`: its
 * status, or `closed` if the server hung up.
 */
function hangingPut(port: number, path: string): { sent: Promise<void>; done: Promise<number | 'closed'> } {
  let sent!: () => void;
  const sentP = new Promise<void>((r) => (sent = r));
  const done = new Promise<number | 'closed'>((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path,
        headers: authHeaders({ 'content-type': 'text/plain', 'content-length': '1000' }),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve('closed'));
    req.write('only the start of the body', () => sent());
  });
  return { sent: sentP, done };
}

describe('graceful shutdown, bounded', () => {
  it('force-closes a request that never finishes after --shutdown-timeout-ms, then exits 0', async () => {
    const data = join(tmp.dir, 'hang.sqlite');
    const server = await startServer(['--data', data, '--shutdown-timeout-ms', '300']);
    const port = Number(new URL(server.url).port);
    expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 's' } })).status).toBe(201);
    const hanging = hangingPut(port, '/v1/stores/s/entries/never');
    await hanging.sent;
    // A round trip on a later connection: the server has accepted the hanging one (accepted in order).
    await call(`${server.url}/v1/stores/s`);
    server.proc.kill('SIGTERM');
    expect(await server.waitForLog('shutdown timeout: closing open connections')).toMatchObject({
      timeoutMs: 300,
    });
    expect(await hanging.done).toBe('closed');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    await server.waitForLog('stopped');
    expect(existsSync(`${data}-wal`)).toBe(false);
  });

  it('SIGINT shuts down like SIGTERM: in-flight request answered, exit 0, nothing lost', async () => {
    const data = join(tmp.dir, 'sigint.sqlite');
    const server = await startServer(['--data', data]);
    const port = Number(new URL(server.url).port);
    expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 's' } })).status).toBe(201);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'PUT',
          path: '/v1/stores/s/entries/k',
          headers: authHeaders({ 'content-type': 'text/plain' }),
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.write('before ');
      setTimeout(async () => {
        server.proc.kill('SIGINT');
        expect(await server.waitForLog('shutting down')).toMatchObject({ reason: 'SIGINT' });
        req.end('and after SIGINT');
      }, 200);
    });
    expect(status).toBe(201);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const again = await startServer(['--data', data]);
    try {
      expect(await call(`${again.url}/v1/stores/s/entries/k`)).toMatchObject({
        status: 200,
        text: 'before and after SIGINT',
      });
    } finally {
      await again.stop();
    }
  });
});

/** sha256 of a file, to show it was not written. */
function digest(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Builds a real kv database through a real server (store `big`, `keys` entries of ~100 bytes, the admin
 * token registered), stopped cleanly (no WAL left).
 */
async function buildDatabase(file: string, keys: number): Promise<void> {
  const server = await startServer(['--data', file]);
  try {
    expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'big' } })).status).toBe(
      201,
    );
    for (let start = 0; start < keys; start += 1000) {
      const items = Array.from({ length: Math.min(1000, keys - start) }, (_, i) => ({
        key: `k.${String(start + i).padStart(6, '0')}`,
        value: Buffer.from(`value ${start + i} `.repeat(8)).toString('base64'),
      }));
      const res = await call(`${server.url}/v1/stores/big/bulk/set`, { method: 'POST', json: { items } });
      expect(res.status).toBe(200);
    }
  } finally {
    await server.stop();
  }
  expect(existsSync(`${file}-wal`)).toBe(false);
}

/** Overwrites three leaf pages of `table` from the middle of its pages with junk; returns their numbers. */
function damagePages(file: string, table: string): number[] {
  const db = new Database(file, { readonly: true });
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const leaves = db
    .prepare("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno")
    .pluck()
    .all(table) as number[];
  const pageCount = db.pragma('page_count', { simple: true }) as number;
  db.close();
  const mid = Math.floor(leaves.length / 2);
  const pages = leaves.length >= 3 ? leaves.slice(mid - 1, mid + 2) : leaves;
  const fd = openSync(file, 'r+');
  for (const page of pages) writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (page - 1) * pageSize);
  closeSync(fd);
  // "mid-file": not the first or last pages.
  expect(pages.length).toBeGreaterThan(0);
  for (const page of pages) expect(page > 2 && page < pageCount).toBe(true);
  return pages;
}

describe('a database file damaged in the middle', () => {
  const source = join(tmp.dir, 'source-3000.sqlite');
  beforeAll(async () => {
    await buildDatabase(source, 3000);
  });
  const copy = (name: string): string => {
    const file = join(tmp.dir, name);
    writeFileSync(file, readFileSync(source));
    return file;
  };

  it('is refused at startup (PRAGMA quick_check) with a message naming the file, exit 1, file untouched', async () => {
    const file = copy('damaged-entries.sqlite');
    damagePages(file, 'entries');
    const before = digest(file);
    const r = await runCli(['--port', '0', '--data', file]);
    expect(r.code).toBe(1);
    // quick_check either lists the damage or fails on it with SQLITE_CORRUPT: both name the file. Without
    // the check the server would start (the damaged pages hold entries only) and this would time out.
    expect(r.stderr).toMatch(
      /^kv-server: database file .* is (corrupt|not a SQLite database or is corrupt) /,
    );
    expect(r.stderr).toContain(`database file ${file} is `);
    expect(r.stderr).toContain('kv-server restore');
    expect(digest(file)).toBe(before);
  });

  it('with --skip-quick-check, damage met by the admin-token bootstrap still names the file (exit 1)', async () => {
    const file = copy('damaged-tokens.sqlite');
    damagePages(file, 'tokens');
    const before = digest(file);
    const r = await runCli(['--port', '0', '--data', file, '--skip-quick-check']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`database file ${file} is not a SQLite database or is corrupt`);
    expect(digest(file)).toBe(before);
  });

  it('found while serving (--skip-quick-check): clear 500 without the path, /readyz 503, writes refused, file untouched', async () => {
    const file = copy('damaged-serving.sqlite');
    damagePages(file, 'entries');
    const before = digest(file);
    const server = await startServer(['--data', file], { env: { KV_SKIP_QUICK_CHECK: '1' } });
    try {
      expect((await call(`${server.url}/readyz`)).status).toBe(200);
      // Walk the listing until it meets a damaged page.
      let cursor: string | undefined;
      let failed: Awaited<ReturnType<typeof call>> | undefined;
      for (let i = 0; i < 10 && failed === undefined; i++) {
        const res = await call(
          `${server.url}/v1/stores/big/entries?limit=1000${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
        );
        if (res.status !== 200) failed = res;
        else cursor = (res.body as { cursor?: string }).cursor;
      }
      expect(failed?.status).toBe(500);
      expect(failed?.body).toMatchObject({
        error: {
          code: 'internal',
          message: expect.stringMatching(/database is damaged.*refuses writes/),
          details: { reason: 'database_corrupt' },
        },
      });
      expect(failed?.text).not.toContain(file);
      const log = await server.waitForLog(
        `database file ${file} is corrupt: refusing writes; /readyz answers 503. Stop the server and restore a backup (kv-server restore <backup>)`,
      );
      expect(log).toMatchObject({ level: 'fatal', file });

      const ready = await call(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      // Writes are refused before they reach the file: single, bulk, a new store, a token.
      const put = await call(`${server.url}/v1/stores/big/entries/k.new`, { method: 'PUT', body: 'x' });
      expect(put.status).toBe(500);
      expect(put.body).toMatchObject({ error: { details: { reason: 'database_corrupt' } } });
      const bulk = await call(`${server.url}/v1/stores/big/bulk/set`, {
        method: 'POST',
        json: { items: [{ key: 'k.bulk', value: 'eA==' }] },
      });
      expect(bulk.status).toBe(500);
      expect((await call(`${server.url}/v1/stores`, { method: 'POST', json: { name: 'n' } })).status).toBe(
        500,
      );
      const token = await call(`${server.url}/v1/tokens`, {
        method: 'POST',
        json: { capabilities: ['*'] },
      });
      expect(token.status).toBe(500);
      // Undamaged data still reads.
      expect((await call(`${server.url}/v1/stores/big`)).status).toBe(200);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
    expect(digest(file)).toBe(before);
  });
});
