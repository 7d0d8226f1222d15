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

/** A MemoryStorage whose every read of `key` is followed by another writer's put to it. */
function contendedStorage(key: string): { storage: Storage; interfering: () => number } {
  const inner = new MemoryStorage();
  let interfering = 0;
  const storage = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'get') {
        return async (store: string, k: string, nowMs: number) => {
          const entry = await target.get(store, k, nowMs);
          if (k === key && entry !== undefined) {
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
});
