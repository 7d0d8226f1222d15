/**
 * `@kv/keyv` against the real server process (the built `apps/server/dist/main.js` on a temporary SQLite
 * file, admin token, loopback): keyv's own `@keyv/test-suite` (API, values, namespaces, iterator) with
 * `new KeyvKv(...)` as the store, then what the suite cannot see: the TTL is the kv server's (the entry
 * carries `expiresAt` and reads as missing once it passes, even past keyv's own `expires` check), keys
 * kv refuses reach keyv's `error` event, and the namespace layout in the kv store.
 */
import { join } from 'node:path';
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite';
import { createHttpClient, type KvClient, ValidationError } from '@kv/core';
import { ADMIN_TOKEN, type ServerProcess, startServer, tempDir } from '@kv/server/test-helpers';
import Keyv, { type KeyvStoreAdapter } from 'keyv';
import * as vitest from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyvKv } from '../src/index.js';

const tmp = tempDir('kv-keyv-');
let server: ServerProcess;
let client: KvClient;

beforeAll(async () => {
  server = await startServer(['--data', join(tmp.dir, 'keyv.sqlite')]);
  client = createHttpClient({ url: server.url, token: ADMIN_TOKEN });
  await client.stores.create('keyv-suite');
  await client.stores.create('keyv-iterator');
  await client.stores.create('keyv-own');
});
afterAll(async () => {
  try {
    const exit = await server?.stop();
    if (exit !== undefined && exit.code !== 0)
      throw new Error(`kv-server exited with ${exit.code}: ${server.stderr()}`);
  } finally {
    tmp.remove();
  }
});

const adapter = (store: string): KeyvKv => new KeyvKv({ url: server.url, token: ADMIN_TOKEN, store });

describe('@keyv/test-suite', () => {
  keyvTestSuite(vitest, Keyv, () => adapter('keyv-suite'));
});

describe('@keyv/test-suite iterator', () => {
  keyvIteratorTests(vitest, Keyv, () => adapter('keyv-iterator'));
});

describe('KeyvKv on kv', () => {
  it('is a keyv storage adapter', () => {
    const store: KeyvStoreAdapter = adapter('keyv-own');
    expect(new Keyv({ store }).iterator).toBeTypeOf('function');
  });

  it('stores keyv entries as namespace:key in the kv store', async () => {
    const keyv = new Keyv({ store: adapter('keyv-own'), namespace: 'app' });
    await keyv.set('user:1', { name: 'Ada' });
    const raw = await client.store('keyv-own').getText('app:user:1');
    expect(JSON.parse(raw ?? 'null')).toEqual({ value: { name: 'Ada' } });
  });

  it('has kv enforce the TTL: the entry expires on the server, past keyv’s own check', async () => {
    const store = adapter('keyv-own');
    const keyv = new Keyv({ store, namespace: 'ttl' });
    await keyv.set('short', 'v', 300);
    const entry = await client.store('keyv-own').getEntry('ttl:short');
    expect(entry?.expiresAt).not.toBeNull();
    const expiresAt = Date.parse(entry?.expiresAt ?? '');
    expect(expiresAt - Date.parse(entry?.updatedAt ?? '')).toBe(300);
    // Read straight from the adapter (no keyv `expires` check) once the expiry has passed by the clock.
    while (Date.now() <= expiresAt + 20) await new Promise((r) => setTimeout(r, 25));
    expect(await store.get('ttl:short')).toBeUndefined();
    expect(await store.has('ttl:short')).toBe(false);
    expect(await client.store('keyv-own').exists('ttl:short')).toBe(false);
  });

  it('reports a key kv refuses on keyv’s error event and writes nothing', async () => {
    const keyv = new Keyv({ store: adapter('keyv-own'), namespace: 'bad' });
    const errors: unknown[] = [];
    keyv.on('error', (e: unknown) => errors.push(e));
    expect(await keyv.set('has space', 'v')).toBe(false);
    expect(errors[0]).toBeInstanceOf(ValidationError);
    const strict = new Keyv({ store: adapter('keyv-own'), namespace: 'bad', throwOnErrors: true });
    await expect(strict.set('tab\there', 'v')).rejects.toBeInstanceOf(ValidationError);
    expect(await client.store('keyv-own').list({ prefix: 'bad:' })).toMatchObject({ items: [] });
  });

  it('clears one namespace only, across several listing pages', async () => {
    const own = 'keyv-own';
    const a = new Keyv({
      store: new KeyvKv({ url: server.url, token: ADMIN_TOKEN, store: own, pageSize: 3 }),
      namespace: 'na',
    });
    const b = new Keyv({ store: adapter(own), namespace: 'nb' });
    await a.setMany(Array.from({ length: 8 }, (_, i) => ({ key: `k${i}`, value: i })));
    await b.set('k0', 'stay');
    await a.clear();
    expect(await client.store(own).list({ prefix: 'na:' })).toMatchObject({ items: [] });
    expect(await b.get('k0')).toBe('stay');
  });

  it('refuses a bad pageSize and a missing url', () => {
    expect(() => new KeyvKv({ url: 'http://127.0.0.1:1', store: 's', pageSize: 0 })).toThrow(ValidationError);
    expect(() => new KeyvKv({ store: 's' })).toThrow(ValidationError);
  });
});
