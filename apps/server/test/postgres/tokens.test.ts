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

describe('PostgresTokenStore rate limits', () => {
  it('keeps a token rate limit; two instances share one count per token and window', async () => {
    const [storageA, storageB] = await Promise.all([
      PostgresStorage.open({ url: db.url(), poolSize: 4 }),
      PostgresStorage.open({ url: db.url(), poolSize: 4 }),
    ]);
    opened.push(storageA!, storageB!);
    const a = new PostgresTokenStore(storageA!.pool);
    const b = new PostgresTokenStore(storageB!.pool);
    const created = await createToken(
      a,
      { capabilities: ['kv:get'], rateLimit: { requests: 5, perSeconds: 60 } },
      Date.now(),
    );
    expect(created.rateLimit).toEqual({ requests: 5, perSeconds: 60 });
    expect(await b.findByHash(await hashToken(created.token))).toMatchObject({
      rateLimit: { requests: 5, perSeconds: 60 },
    });
    expect((await b.list()).find((t) => t.id === created.id)?.rateLimit).toEqual({
      requests: 5,
      perSeconds: 60,
    });

    // 40 concurrent counts, alternating instances: each gets its own number, 1..40.
    const counts = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).countRequest(created.id, 60_000, 60_000)),
    );
    expect(counts.sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // Another window, another token: their own counts.
    expect(await a.countRequest(created.id, 120_000, 60_000)).toBe(1);
    expect(await b.countRequest('tok_other', 60_000, 60_000)).toBe(1);
  });

  it('deletes the counts of ended windows, at most every countCleanupIntervalMs, after a count', async () => {
    const storage = await PostgresStorage.open({ url: await db.fresh(), poolSize: 2 });
    opened.push(storage);
    let now = 1_000_000;
    const tokens = new PostgresTokenStore(storage.pool, { now: () => now, countCleanupIntervalMs: 60_000 });
    const rows = async () =>
      (await storage.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM token_request_counts'))
        .rows[0]!.n;
    for (let w = 0; w < 5; w++) await tokens.countRequest('tok_a', w * 1000, 1000);
    expect(await rows()).toBe(5);
    // Not yet: the last cleanup (the store's creation) was less than a minute ago.
    now += 59_999;
    await tokens.countRequest('tok_a', now, 1000);
    expect(await rows()).toBe(6);
    now += 1;
    await tokens.countRequest('tok_a', now, 1000);
    // The cleanup runs after the count; the windows that ended before now go, the current ones stay.
    await expect.poll(rows).toBe(2);
    expect(await tokens.deleteEndedWindows(now + 1000)).toBe(2);
  });
});
