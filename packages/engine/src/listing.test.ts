import { bytesToBase64Url } from '@kv/core/protocol';
import { describe, expect, it } from 'vitest';
import { b64, entryPath, type Harness, setup } from '../test/harness.js';
import { ensureToken, MemoryTokenStore } from './auth.js';

interface Page {
  items: Array<{ key: string; value?: string; scopes: string[]; size: number }>;
  cursor?: string;
  complete: boolean;
}

async function list(h: Harness, query: string, status = 200): Promise<Page> {
  return h.json<Page>('GET', `/v1/stores/s/entries${query ? `?${query}` : ''}`, status);
}

async function seed(h: Harness, keys: string[], scopes?: (key: string) => string): Promise<void> {
  await h.createStore('s');
  const items = keys.map((key) => ({
    key,
    value: b64(`v:${key}`),
    ...(scopes ? { scopes: [scopes(key)] } : {}),
  }));
  for (let i = 0; i < items.length; i += 5000) {
    await h.json('POST', '/v1/stores/s/bulk/set', 200, { json: { items: items.slice(i, i + 5000) } });
  }
}

const keysOf = (page: Page): string[] => page.items.map((i) => i.key);

/** A cursor in the readable format of earlier versions (base64url JSON), which the engine must refuse. */
const plainCursor = (lastKey: string): string =>
  bytesToBase64Url(new TextEncoder().encode(JSON.stringify({ k: lastKey, r: 0 })));
/** A cursor's bytes read as text (Latin-1), to look for key names in it. */
const cursorText = (cursor: string): string => atob(cursor.replace(/-/g, '+').replace(/_/g, '/'));

describe('listing', () => {
  it('lists every live key in UTF-8 byte order, without values by default', async () => {
    const h = setup();
    // U+FFFD sorts before U+1F600 in UTF-8 bytes, but after it in UTF-16 code units.
    await seed(h, ['b', 'a', 'A', '\uFFFD', '😀', 'ab', 'é']);
    const page = await list(h, '');
    expect(keysOf(page)).toEqual(['A', 'a', 'ab', 'b', 'é', '\uFFFD', '😀']);
    expect(page.complete).toBe(true);
    expect(page.cursor).toBeUndefined();
    expect(page.items.every((i) => i.value === undefined)).toBe(true);
  });

  it('values=true includes base64 values', async () => {
    const h = setup();
    await seed(h, ['k']);
    const page = await list(h, 'values=true');
    expect(page.items[0]?.value).toBe(b64('v:k'));
  });

  it('prefix, startAfter and reverse', async () => {
    const h = setup();
    await seed(h, ['user.1', 'user.2', 'user.3', 'users', 'config']);
    expect(keysOf(await list(h, 'prefix=user.'))).toEqual(['user.1', 'user.2', 'user.3']);
    expect(keysOf(await list(h, 'prefix=user.&startAfter=user.1'))).toEqual(['user.2', 'user.3']);
    expect(keysOf(await list(h, 'startAfter=user.3'))).toEqual(['users']);
    expect(keysOf(await list(h, 'reverse=true'))).toEqual(['users', 'user.3', 'user.2', 'user.1', 'config']);
    expect(keysOf(await list(h, 'prefix=user.&reverse=true&startAfter=user.3'))).toEqual([
      'user.2',
      'user.1',
    ]);
  });

  it('match: NATS wildcards (the Ironflow table)', async () => {
    const h = setup();
    await seed(h, ['user', 'flag', 'user.123', 'user.456', 'user.123.name', 'user:123', 'config.flags']);
    expect(keysOf(await list(h, `match=${encodeURIComponent('*')}`))).toEqual(['flag', 'user', 'user:123']);
    expect(keysOf(await list(h, 'match=user.*'))).toEqual(['user.123', 'user.456']);
    expect(keysOf(await list(h, `match=${encodeURIComponent('user.>')}`))).toEqual([
      'user.123',
      'user.123.name',
      'user.456',
    ]);
    expect(keysOf(await list(h, `match=${encodeURIComponent('>')}`))).toHaveLength(7);
    // match intersected with prefix
    expect(keysOf(await list(h, `match=user.*&prefix=user.4`))).toEqual(['user.456']);
    expect(keysOf(await list(h, `match=user.*&prefix=config`))).toEqual([]);
  });

  it('like: SQL LIKE with escapes and the %% fast path (the AntiRaid rules)', async () => {
    const h = setup();
    await seed(h, ['a_b', 'axb', 'a%b', 'ab', 'abc']);
    const q = (p: string): string => `like=${encodeURIComponent(p)}`;
    expect(keysOf(await list(h, q('a_b')))).toEqual(['a%b', 'a_b', 'axb']);
    expect(keysOf(await list(h, q('a\\_b')))).toEqual(['a_b']);
    expect(keysOf(await list(h, q('a\\%b')))).toEqual(['a%b']);
    expect(keysOf(await list(h, q('ab%')))).toEqual(['ab', 'abc']);
    expect(keysOf(await list(h, q('%%')))).toHaveLength(5);
  });

  it('scope filters entries', async () => {
    const h = setup();
    await seed(h, ['a', 'b', 'c', 'd'], (k) => (k === 'b' || k === 'd' ? 'billing' : 'other'));
    expect(keysOf(await list(h, 'scope=billing'))).toEqual(['b', 'd']);
    expect(keysOf(await list(h, 'scope=billing&like=%25d'))).toEqual(['d']);
  });

  it('pages with limit and cursor until complete, forward and reverse', async () => {
    const h = setup();
    const keys = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    await seed(h, keys);
    for (const reverse of [false, true]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await list(
          h,
          `limit=10${reverse ? '&reverse=true' : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        pages++;
        seen.push(...keysOf(page));
        if (page.complete) {
          expect(page.cursor).toBeUndefined();
          break;
        }
        expect(page.cursor).toBeTruthy();
        cursor = page.cursor;
      }
      expect(pages).toBe(3);
      expect(seen).toEqual(reverse ? [...keys].reverse() : keys);
    }
  });

  it('a page that ends exactly at the end of the range is complete', async () => {
    const h = setup();
    await seed(h, ['a', 'b', 'c', 'd']);
    const page = await list(h, 'limit=4');
    expect(page.complete).toBe(true);
    const filtered = await list(h, `limit=2&like=${encodeURIComponent('%')}`);
    expect(keysOf(filtered)).toEqual(['a', 'b']);
    expect(filtered.complete).toBe(false);
  });

  it('is stable across writes between pages: no key that existed throughout is repeated or skipped', async () => {
    const h = setup();
    const original = Array.from({ length: 60 }, (_, i) => `key${String(i * 10).padStart(4, '0')}`);
    await seed(h, original);
    const seen: string[] = [];
    let cursor: string | undefined;
    let round = 0;
    for (;;) {
      const page = await list(h, `limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      seen.push(...keysOf(page));
      if (page.complete) break;
      cursor = page.cursor;
      round++;
      // Between pages: insert keys before and after the cursor, overwrite seen and unseen keys, and
      // delete keys that were written during the listing (never an original one).
      await h.put('s', `key${String(round * 37).padStart(4, '0')}x`, 'new');
      await h.put('s', `key${String(590 - round * 13).padStart(4, '0')}y`, 'new');
      await h.put('s', original[round] as string, 'overwritten');
      await h.put('s', original[59 - round] as string, 'overwritten');
      if (round > 2)
        await h.call('DELETE', entryPath('s', `key${String((round - 1) * 37).padStart(4, '0')}x`));
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const key of original) expect(seen.filter((k) => k === key)).toHaveLength(1);
    expect([...seen].sort()).toEqual(seen.slice().sort());
  });

  it('bounds the rows examined per request and returns a cursor at the last examined key', async () => {
    const h = setup();
    const misses = Array.from({ length: 2500 }, (_, i) => `miss.${String(i).padStart(5, '0')}`);
    await seed(h, [...misses, 'zzz.hit']);
    // A pattern with a literal prefix scans from that prefix: found at once past 2500 other keys.
    expect(keysOf(await list(h, 'limit=1&like=zzz%25'))).toEqual(['zzz.hit']);
    // No literal prefix, limit 1: at most 10 x 1 + 1000 rows per request.
    const first = await list(h, 'limit=1&like=%25.hit');
    expect(first.items).toEqual([]);
    expect(first.complete).toBe(false);
    expect(first.cursor).toBeTruthy();
    let cursor = first.cursor as string;
    const found: string[] = [];
    let requests = 1;
    for (;;) {
      const page = await list(h, `limit=1&like=%25.hit&cursor=${encodeURIComponent(cursor)}`);
      requests++;
      found.push(...keysOf(page));
      if (page.complete) break;
      cursor = page.cursor as string;
    }
    expect(found).toEqual(['zzz.hit']);
    expect(requests).toBe(3);
  });

  it('skips deleted and expired entries', async () => {
    const h = setup();
    await seed(h, ['a', 'b']);
    await h.put('s', 'c', 'v', { 'kv-ttl-ms': '1000' });
    await h.call('DELETE', entryPath('s', 'a'));
    expect(keysOf(await list(h, ''))).toEqual(['b', 'c']);
    h.advance(1000);
    expect(keysOf(await list(h, ''))).toEqual(['b']);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=-1', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=ten', 'limit'],
    ['reverse=yes', 'reverse'],
    ['values=1', 'values'],
    ['match=a.*&like=a%25', 'match'],
    [`match=${encodeURIComponent('a.>.b')}`, 'match'],
    ['match=a..b', 'match'],
    ['cursor=!!!', 'cursor'],
    [`cursor=${encodeURIComponent(btoa('{"k":1}'))}`, 'cursor'],
    [`prefix=${'p'.repeat(513)}`, 'prefix'],
    ['scope=a%20b', 'scope'],
  ])('rejects %s with 400', async (query, field) => {
    const h = setup();
    await seed(h, ['a']);
    const res = await h.error('GET', `/v1/stores/s/entries?${query}`, 400, 'validation_error');
    expect(res.error.details?.field).toBe(field);
  });

  it('accepts limit=1000 and rejects a cursor issued for the other direction', async () => {
    const h = setup();
    await seed(h, ['a', 'b', 'c']);
    expect(keysOf(await list(h, 'limit=1000'))).toHaveLength(3);
    const page = await list(h, 'limit=1');
    const res = await h.error(
      'GET',
      `/v1/stores/s/entries?limit=1&reverse=true&cursor=${encodeURIComponent(page.cursor as string)}`,
      400,
      'validation_error',
    );
    expect(res.error.details).toMatchObject({ field: 'cursor', reason: 'direction_mismatch' });
  });

  it('cursors are sealed: a readable, altered, or other-store cursor is 400; rotation ends them', async () => {
    const h = setup();
    await seed(h, ['a', 'b', 'c']);
    await h.createStore('t');
    await h.json('POST', '/v1/stores/t/bulk/set', 200, {
      json: { items: ['a', 'b', 'c'].map((key) => ({ key, value: b64('v') })) },
    });
    const page = await list(h, 'limit=1');
    const cursor = page.cursor as string;
    expect(cursorText(cursor)).not.toContain('"k"');
    expect(keysOf(await list(h, `limit=1&cursor=${cursor}`))).toEqual(['b']);
    const flip = (c: string, i: number) => c.slice(0, i) + (c[i] === 'A' ? 'B' : 'A') + c.slice(i + 1);
    const bad = [
      plainCursor('a'),
      flip(cursor, 0),
      flip(cursor, 10),
      flip(cursor, cursor.length - 2),
      cursor.slice(0, -1),
      `${cursor}AA`,
    ];
    for (const c of bad) {
      const res = await h.error('GET', `/v1/stores/s/entries?cursor=${c}`, 400, 'validation_error');
      expect(res.error.details, c).toMatchObject({ field: 'cursor', reason: 'invalid_format' });
    }
    await h.error('GET', `/v1/stores/t/entries?cursor=${cursor}`, 400, 'validation_error');
    await h.json('POST', '/v1/stores/s/signing-secret', 200);
    await h.error('GET', `/v1/stores/s/entries?cursor=${cursor}`, 400, 'validation_error');
  });
});

describe('listing cursors of scoped tokens', () => {
  const ADMIN = { authorization: 'Bearer admin-secret-0123456789' };
  const SCOPED = { authorization: 'Bearer scoped-secret-0123456789' };

  /** Visible `a.*` and `z.*` (scope `pub`) around 2500 hidden `secret-name.*` entries (scope `hid`). */
  async function scopedRig(): Promise<Harness> {
    const tokens = new MemoryTokenStore();
    const h = setup({ auth: { tokens } });
    await ensureToken(tokens, { secret: 'admin-secret-0123456789', capabilities: ['*'] }, h.now());
    await ensureToken(
      tokens,
      { secret: 'scoped-secret-0123456789', capabilities: ['kv[s:pub]:list'] },
      h.now(),
    );
    await h.json('POST', '/v1/stores', 201, { json: { name: 's' }, headers: ADMIN });
    const items = [
      ...['a.1', 'a.2', 'z.1', 'z.2'].map((key) => ({ key, value: b64('v'), scopes: ['pub'] })),
      ...Array.from({ length: 2500 }, (_, i) => ({
        key: `secret-name.${String(i).padStart(5, '0')}`,
        value: b64('v'),
        scopes: ['hid'],
      })),
    ];
    await h.json('POST', '/v1/stores/s/bulk/set', 200, { json: { items }, headers: ADMIN });
    return h;
  }

  it.each([false, true])(
    'a page ending on a hidden key gives a cursor that does not reveal it; paging is exact (reverse %s)',
    async (reverse) => {
      const h = await scopedRig();
      const seen: string[] = [];
      const cursors: string[] = [];
      let cursor: string | undefined;
      let requests = 0;
      for (;;) {
        requests++;
        expect(requests, 'the listing terminates').toBeLessThan(20);
        const q = `limit=1${reverse ? '&reverse=true' : ''}${cursor === undefined ? '' : `&cursor=${cursor}`}`;
        const page = await h.json<Page>('GET', `/v1/stores/s/entries?${q}`, 200, { headers: SCOPED });
        seen.push(...keysOf(page));
        if (page.complete) break;
        cursor = page.cursor as string;
        cursors.push(cursor);
      }
      const visible = ['a.1', 'a.2', 'z.1', 'z.2'];
      expect(seen).toEqual(reverse ? [...visible].reverse() : visible);
      // Some page ended inside the hidden run (the examine budget of limit 1 is 1010 rows).
      expect(requests).toBeGreaterThan(visible.length + 1);
      for (const c of cursors) {
        const bytes = Uint8Array.from(atob(c.replace(/-/g, '+').replace(/_/g, '/')), (ch) =>
          ch.charCodeAt(0),
        );
        const text = new TextDecoder().decode(bytes);
        expect(c.includes('secret-name'), c).toBe(false);
        for (const leak of ['secret', 'name', 'secret-name.0']) expect(text.includes(leak), c).toBe(false);
      }
    },
  );
});
