/**
 * `PostgresTokenStore`: tokens shared by every instance on one database; a revocation made through one
 * instance is refused by another once its cache is older than `maxStalenessMs` (clocks injected, so the
 * bound is checked exactly, without sleeping).
 */
import { createToken, hashToken } from '@kv/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStorage } from '../../src/postgres/storage.js';
import { PostgresTokenStore } from '../../src/postgres/tokens.js';
import { useDatabase } from './database.js';

const db = useDatabase();
const opened: PostgresStorage[] = [];
afterAll(async () => {
  for (const s of opened) await s.close();
});

describe('PostgresTokenStore', () => {
  it('a token revoked through one instance is seen revoked by another within maxStalenessMs', async () => {
    const [storageA, storageB] = await Promise.all([
      PostgresStorage.open({ url: db.url(), poolSize: 2 }),
      PostgresStorage.open({ url: db.url(), poolSize: 2 }),
    ]);
    opened.push(storageA!, storageB!);
    let nowA = 1000;
    let nowB = 1000;
    const a = new PostgresTokenStore(storageA!.pool, { maxStalenessMs: 500, now: () => nowA });
    const b = new PostgresTokenStore(storageB!.pool, { maxStalenessMs: 500, now: () => nowB });

    const created = await createToken(a, { capabilities: ['kv:get'], description: 'reader' }, Date.now());
    const hash = await hashToken(created.token);
    // B finds it (and caches it); both list it.
    expect(await b.findByHash(hash)).toMatchObject({
      id: created.id,
      revokedAt: null,
      capabilities: ['kv:get'],
    });
    expect((await b.list()).map((t) => t.id)).toContain(created.id);

    expect(await a.revoke(created.id, 5000)).toBe(true);
    expect(await a.revoke(created.id, 6000)).toBe(false); // already revoked
    // A sees its own revocation at once.
    expect(await a.findByHash(hash)).toMatchObject({ revokedAt: 5000 });
    // B may answer from its cache until maxStalenessMs after its last check...
    nowB += 499;
    expect((await b.findByHash(hash))?.id).toBe(created.id);
    // ...and no later.
    nowB += 1;
    expect(await b.findByHash(hash)).toMatchObject({ revokedAt: 5000 });
    nowA += 1; // keeps A's clock used
  });

  it('an unknown hash is not found, and a wrong hash never matches a cached record', async () => {
    const storage = await PostgresStorage.open({ url: db.url(), poolSize: 2 });
    opened.push(storage);
    const tokens = new PostgresTokenStore(storage.pool);
    expect(await tokens.findByHash('0'.repeat(64))).toBeUndefined();
    const created = await createToken(tokens, { capabilities: ['*'], description: null }, Date.now());
    const hash = await hashToken(created.token);
    expect((await tokens.findByHash(hash))?.id).toBe(created.id);
    expect(await tokens.findByHash(hash.toUpperCase())).toBeUndefined();
  });
});
