/**
 * `SqliteTokenStore` (the engine's TokenStore in SQLite) and the admin-token bootstrap, on sources.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@kv/core';
import { createEngine, hashToken, MemoryTokenStore, type TokenRecord } from '@kv/engine';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  bootstrapAdminToken,
  ENV_ADMIN_DESCRIPTION,
  FILE_ADMIN_DESCRIPTION,
  hashesEqual,
  SqliteTokenStore,
} from './auth.js';

// A pass-through spy, to see that a found token's hash is compared with crypto.timingSafeEqual.
const compared = vi.hoisted(() => ({ calls: [] as Array<[string, string]> }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.calls.push([String(a), String(b)]);
      return actual.timingSafeEqual(a, b);
    },
  };
});

import { MIGRATIONS } from './schema.js';
import { SqliteStorage } from './sqlite-storage.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-auth-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const opened: SqliteStorage[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

function open(name = ':memory:'): SqliteStorage {
  const s = SqliteStorage.open({ path: name === ':memory:' ? name : join(dir, name) });
  opened.push(s);
  return s;
}

const record = (over: Partial<TokenRecord>): TokenRecord => ({
  id: 'tok_a',
  hash: 'a'.repeat(64),
  capabilities: ['kv[orders]:get', 'kv.admin:tokens'],
  description: 'test',
  createdAt: 1000,
  expiresAt: null,
  revokedAt: null,
  rateLimit: null,
  ...over,
});

describe('SqliteTokenStore', () => {
  it('accepts a found record only after a constant-time comparison of the hashes (index and cache)', async () => {
    const tokens = new SqliteTokenStore(open().db);
    await tokens.insert(record({}));
    compared.calls.length = 0;
    expect(await tokens.findByHash('a'.repeat(64))).toMatchObject({ id: 'tok_a' });
    expect(await tokens.findByHash('a'.repeat(64))).toMatchObject({ id: 'tok_a' }); // cached
    expect(compared.calls).toEqual([
      ['a'.repeat(64), 'a'.repeat(64)],
      ['a'.repeat(64), 'a'.repeat(64)],
    ]);
    // The comparison itself: equal only for the same length and every byte equal.
    expect(hashesEqual('A'.repeat(64), 'a'.repeat(64))).toBe(false);
    expect(hashesEqual('a'.repeat(64), 'a'.repeat(64))).toBe(true);
    expect(hashesEqual('a'.repeat(64), 'a'.repeat(63))).toBe(false);
    expect(hashesEqual(`${'a'.repeat(63)}b`, 'a'.repeat(64))).toBe(false);
  });

  it('inserts, finds by hash (revoked and expired rows too), lists oldest first, revokes once', async () => {
    const tokens = new SqliteTokenStore(open().db);
    await tokens.insert(record({ id: 'tok_b', hash: 'b'.repeat(64), createdAt: 3000, expiresAt: 5000 }));
    await tokens.insert(record({}));
    await tokens.insert(record({ id: 'tok_c', hash: 'c'.repeat(64), createdAt: 2000, description: null }));
    expect(await tokens.findByHash('a'.repeat(64))).toEqual(record({}));
    expect(await tokens.findByHash('d'.repeat(64))).toBeUndefined();
    expect((await tokens.list()).map((t) => t.id)).toEqual(['tok_a', 'tok_c', 'tok_b']);

    expect(await tokens.revoke('tok_a', 4000)).toBe(true);
    expect(await tokens.revoke('tok_a', 4500)).toBe(false);
    expect(await tokens.revoke('tok_nope', 4500)).toBe(false);
    expect(await tokens.findByHash('a'.repeat(64))).toMatchObject({ id: 'tok_a', revokedAt: 4000 });
    expect(await tokens.findByHash('b'.repeat(64))).toMatchObject({ expiresAt: 5000, revokedAt: null });
    await expect(tokens.insert(record({ id: 'tok_dup' }))).rejects.toThrow(/UNIQUE/);
  });

  it('never serves a cached record after another connection revokes or deletes the token', async () => {
    const storage = open('token-cache.sqlite');
    const tokens = new SqliteTokenStore(storage.db);
    await tokens.insert(record({}));
    const first = await tokens.findByHash('a'.repeat(64));
    expect(first).toMatchObject({ id: 'tok_a', revokedAt: null });
    // Served from the cache: the same object, no query.
    expect(await tokens.findByHash('a'.repeat(64))).toBe(first);

    // Another process on the same file (a maintenance command) revokes the token.
    const other = new Database(storage.path);
    try {
      other.prepare('UPDATE tokens SET revoked_at = 7000 WHERE id = ?').run('tok_a');
      expect(await tokens.findByHash('a'.repeat(64))).toMatchObject({ id: 'tok_a', revokedAt: 7000 });
      other.prepare('DELETE FROM tokens WHERE id = ?').run('tok_a');
      expect(await tokens.findByHash('a'.repeat(64))).toBeUndefined();
    } finally {
      other.close();
    }
  });

  it('persists across reopen, and a database of schema 1 gains the tokens table', async () => {
    const path = join(dir, 'v1.sqlite');
    const db = new Database(path);
    db.exec(MIGRATIONS[0]!.sql);
    db.pragma('user_version = 1');
    db.close();
    const a = SqliteStorage.open({ path });
    expect(a.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    await new SqliteTokenStore(a.db).insert(record({}));
    await a.close();
    const b = open('v1.sqlite');
    expect(await new SqliteTokenStore(b.db).list()).toEqual([record({})]);
  });

  it('keeps a rate limit; a token of a schema-3 database upgrades to no limit (migration 5)', async () => {
    const path = join(dir, 'v3.sqlite');
    const db = new Database(path);
    for (const m of MIGRATIONS.filter((m) => m.version <= 3)) db.exec(m.sql);
    db.pragma('user_version = 3');
    db.prepare(
      `INSERT INTO tokens (id, hash, capabilities, description, created_at, expires_at, revoked_at)
       VALUES ('tok_old', ?, '["kv:get"]', 'before rate limits', 1000, NULL, NULL)`,
    ).run('e'.repeat(64));
    db.close();
    const a = SqliteStorage.open({ path });
    expect(a.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    const tokens = new SqliteTokenStore(a.db);
    expect(await tokens.findByHash('e'.repeat(64))).toMatchObject({ id: 'tok_old', rateLimit: null });
    const limited = record({
      id: 'tok_l',
      hash: 'f'.repeat(64),
      createdAt: 2000,
      rateLimit: { requests: 100, perSeconds: 60 },
    });
    await tokens.insert(limited);
    await a.close();
    const b = open('v3.sqlite');
    const again = new SqliteTokenStore(b.db);
    expect(await again.findByHash('f'.repeat(64))).toEqual(limited);
    expect((await again.list()).map((t) => t.rateLimit)).toEqual([null, { requests: 100, perSeconds: 60 }]);
  });

  it('looks tokens up by index', () => {
    const db = open().db;
    const plan = (sql: string): string =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>)
        .map((r) => r.detail)
        .join('; ');
    expect(plan("SELECT * FROM tokens WHERE hash = 'x'")).toMatch(/USING INDEX/);
    expect(plan('SELECT * FROM tokens ORDER BY created_at, id')).toMatch(/USING INDEX tokens_by_created/);
  });

  it('backs the engine: a token created through the API authenticates, revocation is immediate', async () => {
    const storage = open();
    const tokens = new SqliteTokenStore(storage.db);
    const admin = await bootstrapAdminToken({
      tokens,
      secret: 'kv_unit-admin-secret-000',
      file: undefined,
      reuse: true,
      nowMs: Date.now(),
    });
    expect(admin).toMatchObject({ source: 'env', created: true });
    const engine = createEngine({ storage, auth: { tokens } });
    const req = (path: string, token: string | undefined, init: RequestInit = {}): Promise<Response> =>
      engine.fetch(
        new Request(`http://kv.test${path}`, {
          ...init,
          headers: {
            ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
            'content-type': 'application/json',
          },
        }),
      );
    expect((await req('/v1/stores', undefined)).status).toBe(401);
    const created = await req('/v1/tokens', 'kv_unit-admin-secret-000', {
      method: 'POST',
      body: JSON.stringify({ capabilities: ['kv.admin:stores'] }),
    });
    expect(created.status).toBe(201);
    const { id, token } = (await created.json()) as { id: string; token: string };
    expect((await req('/v1/stores', token)).status).toBe(200);
    expect((await req('/v1/tokens', token)).status).toBe(403);
    // Only the hash is stored.
    const row = storage.db.prepare('SELECT * FROM tokens WHERE id = ?').get(id) as { hash: string };
    expect(row.hash).toBe(await hashToken(token));
    expect(JSON.stringify(storage.db.prepare('SELECT * FROM tokens').all())).not.toContain(token);
    await req(`/v1/tokens/${id}`, 'kv_unit-admin-secret-000', { method: 'DELETE' });
    expect((await req('/v1/stores', token)).status).toBe(401);
  });
});

describe('bootstrapAdminToken', () => {
  it('writes a 0600 file, reuses its live token, replaces and revokes it when it is not live', async () => {
    const tokens = new MemoryTokenStore();
    const file = join(dir, 'sub', 'kv.sqlite.admin-token');
    const first = await bootstrapAdminToken({ tokens, secret: undefined, file, reuse: true, nowMs: 1000 });
    expect(first).toMatchObject({ source: 'file', file, created: true, revoked: [] });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const secret = readFileSync(file, 'utf8');
    expect(secret).toMatch(/^kv_\S{43}\n$/);
    expect(JSON.stringify(first)).not.toContain(secret.trim());
    expect((await tokens.findByHash(await hashToken(secret.trim())))?.capabilities).toEqual(['*']);

    const again = await bootstrapAdminToken({ tokens, secret: undefined, file, reuse: true, nowMs: 2000 });
    expect(again).toMatchObject({ created: false, tokenId: first.tokenId });
    expect(readFileSync(file, 'utf8')).toBe(secret);

    // Not reusable (memory storage): a new token, the previous file token revoked.
    const fresh = await bootstrapAdminToken({ tokens, secret: undefined, file, reuse: false, nowMs: 3000 });
    expect(fresh).toMatchObject({ created: true, revoked: [first.tokenId] });
    expect(readFileSync(file, 'utf8')).not.toBe(secret);

    // A file holding an unknown token is replaced.
    writeFileSync(file, 'kv_someone-elses-token-123456\n', { mode: 0o644 });
    const replaced = await bootstrapAdminToken({ tokens, secret: undefined, file, reuse: true, nowMs: 4000 });
    expect(replaced.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const live = (await tokens.list()).filter((t) => t.revokedAt === null);
    expect(live.map((t) => [t.id, t.description])).toEqual([[replaced.tokenId, FILE_ADMIN_DESCRIPTION]]);
  });

  it('registers KV_ADMIN_TOKEN idempotently, rotates it, and validates it', async () => {
    const tokens = new MemoryTokenStore();
    const a = await bootstrapAdminToken({
      tokens,
      secret: 'kv_first-secret-00000',
      file: undefined,
      reuse: true,
      nowMs: 1,
    });
    const a2 = await bootstrapAdminToken({
      tokens,
      secret: 'kv_first-secret-00000',
      file: undefined,
      reuse: true,
      nowMs: 2,
    });
    expect(a2).toMatchObject({ source: 'env', created: false, tokenId: a.tokenId, revoked: [] });
    const b = await bootstrapAdminToken({
      tokens,
      secret: 'kv_second-secret-0000',
      file: undefined,
      reuse: true,
      nowMs: 3,
    });
    expect(b).toMatchObject({ created: true, revoked: [a.tokenId] });
    expect((await tokens.list()).map((t) => [t.description, t.revokedAt])).toEqual([
      [ENV_ADMIN_DESCRIPTION, 3],
      [ENV_ADMIN_DESCRIPTION, null],
    ]);
    // The old secret stays revoked if it comes back, and the result says it cannot authenticate.
    const back = await bootstrapAdminToken({
      tokens,
      secret: 'kv_first-secret-00000',
      file: undefined,
      reuse: true,
      nowMs: 4,
    });
    expect(back).toMatchObject({ created: false, unusable: true });
    await expect(
      bootstrapAdminToken({ tokens, secret: 'too short', file: undefined, reuse: true, nowMs: 5 }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('names the file when it cannot be written', async () => {
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const file = join(blocker, 'admin-token');
    await expect(
      bootstrapAdminToken({ tokens: new MemoryTokenStore(), secret: undefined, file, reuse: true, nowMs: 1 }),
    ).rejects.toThrow(file);
  });
});
