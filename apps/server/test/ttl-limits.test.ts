/**
 * TTL and expiry limits on the real server and a real SQLite file (docs/security.md "Limits against
 * hostile clients", "TTL and expiry"): a huge `Kv-Ttl-Ms` from a token that may only `set` is a 400
 * that writes nothing, while other clients are served; and an out-of-range expiry already in the file
 * (planted with better-sqlite3 while the server is stopped) never makes a read, a watch or
 * `kv-server export` fail.
 */

import { join } from 'node:path';
import { LIMITS } from '@kv/core';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { authHeaders, call, runCli, startServer, tempDir } from './helpers.js';

const tmp = tempDir('kv-ttl-');
afterAll(() => tmp.remove());

/** The reproduction: 9e15 ms, past what a JavaScript `Date` holds once added to now. */
const HUGE_TTL = '9000000000000000';
const MAX_ISO = '9999-12-31T23:59:59.999Z';

/**
 * Reads a watch stream until `done(text)` holds, the stream ends or 10 s pass; returns the text. An
 * `error` event or the stream's end also stop it.
 */
async function readWatch(url: string, done: (text: string) => boolean): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  let text = '';
  try {
    const res = await fetch(url, { headers: authHeaders(), signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    while (!done(text) && !text.includes('event: error')) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return text;
}

/** The `data:` JSON of every event in an SSE text. */
function events(text: string): Array<{ type?: string; key?: string; expiresAt?: string | null }> {
  return text
    .split('\n\n')
    .map((block) => /^data: (.*)$/m.exec(block)?.[1])
    .filter((data): data is string => data !== undefined)
    .map((data) => JSON.parse(data) as { type?: string; key?: string; expiresAt?: string | null });
}

describe('a huge TTL from a hostile client', () => {
  it('PUT with Kv-Ttl-Ms: 9000000000000000 from a set-only token is a 400, the key is not written and the store stays readable', async () => {
    const data = join(tmp.dir, 'hostile.sqlite');
    const server = await startServer(['--data', data]);
    const base = server.url;
    try {
      expect((await call(`${base}/v1/stores`, { method: 'POST', json: { name: 't' } })).status).toBe(201);
      const seeded = await call(`${base}/v1/stores/t/entries/ok`, {
        method: 'PUT',
        body: 'fine',
        headers: { 'content-type': 'text/plain' },
      });
      expect(seeded.status).toBe(201);
      const minted = await call(`${base}/v1/tokens`, {
        method: 'POST',
        json: { capabilities: ['kv[t]:set'], description: 'set only' },
      });
      expect(minted.status).toBe(201);
      const hostile = (minted.body as { token: string }).token;

      // The hostile client retries its reproductions while another client reads and lists.
      const reproductions = [
        { path: '/v1/stores/t/entries/poison', method: 'PUT', body: 'x', headers: { 'kv-ttl-ms': HUGE_TTL } },
        {
          path: '/v1/stores/t/entries/poison',
          method: 'PUT',
          body: 'x',
          headers: { 'kv-expires-at': '9999-12-31T23:59:59.999-23:59' },
        },
        {
          path: '/v1/stores/t/bulk/set',
          method: 'POST',
          json: { items: [{ key: 'poison', value: 'eA==', ttlMs: Number(HUGE_TTL) }] },
        },
        {
          path: '/v1/stores/t/atomic',
          method: 'POST',
          json: { mutations: [{ type: 'set', key: 'poison', value: 'eA==', ttlMs: Number(HUGE_TTL) }] },
        },
      ] as const;
      const statuses: number[] = [];
      const codes = new Set<string>();
      const readerStatuses: number[] = [];
      const readerMs: number[] = [];
      const attack = (async () => {
        for (let round = 0; round < 25; round++) {
          for (const r of reproductions) {
            const res = await call(`${base}${r.path}`, {
              method: r.method,
              token: hostile,
              ...('body' in r
                ? { body: r.body, headers: { 'content-type': 'text/plain', ...r.headers } }
                : {}),
              ...('json' in r ? { json: r.json } : {}),
            });
            if (r.path.endsWith('/bulk/set') && res.status === 200) {
              // Bulk set reports per item: the item is refused, nothing written.
              const result = res.body as { results: Array<{ ok: boolean; error: string }> };
              statuses.push(result.results[0]?.ok === false ? 400 : 200);
              codes.add(result.results[0]?.error ?? '');
            } else {
              statuses.push(res.status);
              codes.add((res.body as { error?: { code: string } }).error?.code ?? '');
            }
          }
        }
      })();
      const reads = (async () => {
        for (let i = 0; i < 50; i++) {
          const started = performance.now();
          const res = await call(`${base}/v1/stores/t/entries${i % 2 === 0 ? '/ok' : ''}`);
          readerMs.push(performance.now() - started);
          readerStatuses.push(res.status);
        }
      })();
      await Promise.all([attack, reads]);
      expect(statuses).toHaveLength(100);
      expect(new Set(statuses)).toEqual(new Set([400]));
      expect(codes).toEqual(new Set(['validation_error']));
      expect(new Set(readerStatuses)).toEqual(new Set([200]));
      readerMs.sort((a, b) => a - b);
      console.log(
        `reads during the attack: median ${readerMs[25]?.toFixed(2)} ms, max ${readerMs.at(-1)?.toFixed(2)} ms`,
      );

      const single = await call(`${base}/v1/stores/t/entries/poison`, {
        method: 'PUT',
        token: hostile,
        body: 'x',
        headers: { 'content-type': 'text/plain', 'kv-ttl-ms': HUGE_TTL },
      });
      expect(single.status).toBe(400);
      expect(single.body).toMatchObject({
        error: { code: 'validation_error', details: { field: 'ttlMs', reason: 'out_of_range' } },
      });
      expect((await call(`${base}/v1/stores/t/entries/poison`)).status).toBe(404);
      expect((await call(`${base}/v1/stores/t`)).body).toMatchObject({ revision: 1, keyCount: 1 });
      const list = await call(`${base}/v1/stores/t/entries?values=true`);
      expect(list.status).toBe(200);
      expect((list.body as { items: Array<{ key: string }> }).items.map((i) => i.key)).toEqual(['ok']);

      // A store cannot be created, or changed, to poison every write into it.
      const create = await call(`${base}/v1/stores`, {
        method: 'POST',
        json: { name: 'p', defaultTtlMs: 9e15 },
      });
      expect(create.status).toBe(400);
      expect(create.body).toMatchObject({ error: { details: { field: 'defaultTtlMs' } } });
      expect((await call(`${base}/v1/stores/p`)).status).toBe(404);
      const patch = await call(`${base}/v1/stores/t`, {
        method: 'PATCH',
        json: { defaultTtlMs: LIMITS.maxTtlMs + 1 },
      });
      expect(patch.status).toBe(400);
      expect((await call(`${base}/v1/stores/t`)).body).toMatchObject({ defaultTtlMs: null });
    } finally {
      await server.stop();
    }
    const exported = await runCli(['export', 't', '--data', data]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout.trim().split('\n')).toHaveLength(1);
  });
});

describe('an out-of-range expiry already in the SQLite file', () => {
  it('GET, listing, bulk get, history, watch (with resume) and export all answer, showing it clamped', async () => {
    const data = join(tmp.dir, 'planted.sqlite');
    let server = await startServer(['--data', data]);
    try {
      const base = server.url;
      for (const name of ['p', 'legacy']) {
        expect((await call(`${base}/v1/stores`, { method: 'POST', json: { name, history: 5 } })).status).toBe(
          201,
        );
      }
      for (const [key, value] of [
        ['far', 'one'],
        ['far', 'two'],
        ['max', 'x'],
        ['ok', 'fine'],
      ] as const) {
        const res = await call(`${base}/v1/stores/p/entries/${key}`, {
          method: 'PUT',
          body: value,
          headers: { 'content-type': 'text/plain', 'kv-ttl-ms': '3600000', 'kv-resume': 'true' },
        });
        expect([200, 201]).toContain(res.status);
      }
    } finally {
      await server.stop();
    }

    // Rows as a file written before the limits (or edited by hand) may hold them.
    const db = new Database(data);
    try {
      const storeId = (db.prepare('SELECT id FROM stores WHERE name = ?').get('p') as { id: number }).id;
      db.prepare("UPDATE entries SET expires_at = 9000000000000000 WHERE store_id = ? AND key = 'far'").run(
        storeId,
      );
      db.prepare(
        "UPDATE entries SET expires_at = 9223372036854775807 WHERE store_id = ? AND key = 'max'",
      ).run(storeId);
      db.prepare("UPDATE history SET expires_at = -9000000000000000 WHERE store_id = ? AND key = 'far'").run(
        storeId,
      );
      db.prepare('UPDATE changes SET expires_at = 9000000000000000 WHERE store_id = ?').run(storeId);
      db.prepare("UPDATE stores SET default_ttl_ms = 9000000000000000 WHERE name = 'legacy'").run();
    } finally {
      db.close();
    }

    server = await startServer(['--data', data]);
    try {
      const base = server.url;
      const get = await call(`${base}/v1/stores/p/entries/far`);
      expect(get.status).toBe(200);
      expect(get.text).toBe('two');
      expect(get.headers.get('kv-expires-at')).toBe(MAX_ISO);
      expect((await call(`${base}/v1/stores/p/entries/max`, { method: 'HEAD' })).status).toBe(200);

      for (const query of ['', '?values=true', '?reverse=true', '?match=*']) {
        const page = await call(`${base}/v1/stores/p/entries${query}`);
        expect(page.status, query).toBe(200);
        const items = (page.body as { items: Array<{ key: string; expiresAt: string | null }> }).items;
        const expected = [
          ['far', true],
          ['max', true],
          ['ok', false],
        ];
        if (query === '?reverse=true') expected.reverse();
        expect(items.map((i) => [i.key, i.expiresAt === MAX_ISO])).toEqual(expected);
      }
      const bulk = await call(`${base}/v1/stores/p/bulk/get`, {
        method: 'POST',
        json: { keys: ['far', 'max', 'ok'] },
      });
      expect(bulk.status).toBe(200);
      expect(
        (bulk.body as { items: Array<{ found: boolean; expiresAt: string }> }).items.map((i) => i.found),
      ).toEqual([true, true, true]);

      const history = await call(`${base}/v1/stores/p/entries/far/history`);
      expect(history.status).toBe(200);
      expect(
        (history.body as { items: Array<{ revision: number; expiresAt: string | null }> }).items.map(
          (i) => i.expiresAt,
        ),
      ).toEqual([MAX_ISO, '1970-01-01T00:00:00.000Z']);

      // Initial values, a resume from revision 0 over the change log, and the AntiRaid resume events.
      for (const query of ['', '?fromRevision=0', '?resume=true', '?includeHistory=true']) {
        const text = await readWatch(`${base}/v1/stores/p/watch${query}`, (t) =>
          query === '?fromRevision=0' ? events(t).length >= 4 : t.includes('event: ready'),
        );
        expect(text, query).not.toContain('event: error');
        const far = events(text).filter((e) => e.key === 'far');
        expect(far.length, `${query}: ${text}`).toBeGreaterThan(0);
        for (const e of far) expect(e.expiresAt, query).toMatch(/^(9999-12-31T23:59:59\.999Z|1970-)/);
      }

      // A store whose defaultTtlMs on disk is over the limit still takes writes.
      const legacy = await call(`${base}/v1/stores/legacy/entries/k`, {
        method: 'PUT',
        body: 'v',
        headers: { 'content-type': 'text/plain' },
      });
      expect(legacy.status).toBe(201);
      const written = await call(`${base}/v1/stores/legacy/entries/k`);
      expect(Date.parse(written.headers.get('kv-expires-at') ?? '')).toBeLessThanOrEqual(
        Date.now() + LIMITS.maxTtlMs,
      );
    } finally {
      await server.stop();
    }

    const exported = await runCli(['export', 'p', '--data', data]);
    expect(exported.code, exported.stderr).toBe(0);
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { key: string; expiresAt?: string });
    expect(lines.map((l) => [l.key, l.expiresAt === MAX_ISO])).toEqual([
      ['far', true],
      ['max', true],
      ['ok', false],
    ]);
  });
});
