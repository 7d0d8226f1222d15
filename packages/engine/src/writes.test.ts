/**
 * Guarded writes (writes.ts): a scope-limited caller's write is checked and committed on the same
 * revision; when other writes keep changing the entry in between, it gives up with a 503 `unavailable`
 * (which clients retry) and writes nothing.
 */
import { describe, expect, it } from 'vitest';
import { entryPath, setup } from '../test/harness.js';
import { ensureToken, MemoryTokenStore } from './auth.js';
import { commit } from './commit.js';
import { MemoryStorage } from './memory-storage.js';
import type { Storage } from './storage.js';

const ADMIN = 'secret-of-admin-0123456789';
const SCOPED = 'secret-of-scoped-0123456789';

/**
 * A MemoryStorage whose reads of `key` are followed by another writer's put to it (every read, or the
 * first `times`).
 */
function contendedStorage(
  key: string,
  times = Number.POSITIVE_INFINITY,
): { storage: Storage; interfering: () => number } {
  const inner = new MemoryStorage();
  let interfering = 0;
  const storage = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'get') {
        return async (store: string, k: string, nowMs: number) => {
          const entry = await target.get(store, k, nowMs);
          if (k === key && entry !== undefined && interfering < times) {
            interfering++;
            await commit(target, store, {
              mode: 'each',
              nowMs,
              mutations: [
                {
                  type: 'put',
                  key,
                  value: new TextEncoder().encode(`other ${interfering}`),
                  contentType: 'text/plain',
                  metadata: null,
                  scopes: ['billing'],
                  expiresAt: null,
                  resume: false,
                  newId: `other-${interfering}`,
                },
              ],
            });
          }
          return entry;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { storage, interfering: () => interfering };
}

describe('guarded writes under contention', () => {
  it('answer 503 unavailable after losing every race, and write nothing of their own', async () => {
    const { storage, interfering } = contendedStorage('k');
    const tokens = new MemoryTokenStore();
    const h = setup({ storage, auth: { tokens } });
    await ensureToken(tokens, { secret: ADMIN, capabilities: ['*'] }, h.now());
    await ensureToken(tokens, { secret: SCOPED, capabilities: ['kv[s:billing]:*'] }, h.now());
    const admin = { authorization: `Bearer ${ADMIN}` };
    expect((await h.call('POST', '/v1/stores', { json: { name: 's' }, headers: admin })).status).toBe(201);
    const seeded = await h.call('PUT', entryPath('s', 'k'), {
      body: 'first',
      headers: { ...admin, 'content-type': 'text/plain', 'kv-scopes': 'billing' },
    });
    expect(seeded.status).toBe(201);

    const res = await h.call('PUT', entryPath('s', 'k'), {
      body: 'mine',
      headers: { authorization: `Bearer ${SCOPED}`, 'content-type': 'text/plain', 'kv-scopes': 'billing' },
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'unavailable' } });
    // Every attempt read the entry (and lost to the interfering writer); none of them wrote "mine".
    expect(interfering()).toBeGreaterThan(1);
    const history = await storage.history('s', 'k');
    expect(history.map((c) => new TextDecoder().decode(c.value ?? new Uint8Array()))).not.toContain('mine');
  });

  it('a write with Idempotency-Key that lost a race records only its final outcome, with its commit', async () => {
    const { storage, interfering } = contendedStorage('k', 1);
    const tokens = new MemoryTokenStore();
    const h = setup({ storage, auth: { tokens } });
    await ensureToken(tokens, { secret: ADMIN, capabilities: ['*'] }, h.now());
    await ensureToken(tokens, { secret: SCOPED, capabilities: ['kv[s:billing]:*'] }, h.now());
    const admin = { authorization: `Bearer ${ADMIN}` };
    const created = await h.call('POST', '/v1/stores', { json: { name: 's', history: 5 }, headers: admin });
    expect(created.status).toBe(201);
    const seeded = await h.call('PUT', entryPath('s', 'k'), {
      body: 'first',
      headers: { ...admin, 'content-type': 'text/plain', 'kv-scopes': 'billing' },
    });
    expect(seeded.status).toBe(201);
    // Records saved outside a commit fail, as if the server died before saving one.
    storage.putIdempotency = async () => {
      throw new Error('crashed before the record was saved');
    };

    const init = {
      body: 'mine',
      headers: {
        authorization: `Bearer ${SCOPED}`,
        'content-type': 'text/plain',
        'kv-scopes': 'billing',
        'idempotency-key': 'race',
      },
    };
    const res = await h.call('PUT', entryPath('s', 'k'), init);
    const body = await res.text();
    // The first attempt lost to the interfering write (revision 2) and recorded nothing; the second applied.
    expect(interfering()).toBe(1);
    expect(res.status, body).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ revision: 3, created: false });
    const retry = await h.call('PUT', entryPath('s', 'k'), init);
    expect(retry.headers.get('kv-idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe(body);
    const history = await storage.history('s', 'k');
    expect(history.map((c) => new TextDecoder().decode(c.value ?? new Uint8Array()))).toEqual([
      'mine',
      'other 1',
      'first',
    ]);
  });
});
