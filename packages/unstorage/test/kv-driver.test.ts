/**
 * `kvDriver` against the real server process (the built `apps/server/dist/main.js` on a temporary SQLite
 * file, admin token, loopback): the project's unstorage driver suite (`./suite.ts`) on the whole store and
 * under a `base`, then what a kv driver adds: `getMeta`, TTL enforced by the server, base isolation, and
 * `watch` fed by kv's watch, with writes from this process's kv client, from unstorage and from another
 * process.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHttpClient, type KvClient, ValidationError } from '@kv/core';
import { ADMIN_TOKEN, type ServerProcess, startServer, tempDir } from '@kv/server/test-helpers';
import { createStorage, type Storage } from 'unstorage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KvStorageMeta, kvDriver } from '../src/index.js';
import { describeDriver } from './suite.js';

const run = promisify(execFile);
const tmp = tempDir('kv-unstorage-');
let server: ServerProcess;
let client: KvClient;

beforeAll(async () => {
  server = await startServer(['--data', join(tmp.dir, 'unstorage.sqlite'), '--sweep-interval-ms', '100']);
  client = createHttpClient({ url: server.url, token: ADMIN_TOKEN });
  for (const name of ['us-whole', 'us-base', 'us-own']) await client.stores.create(name);
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

const driver = (store: string, extra: { base?: string; ttl?: number } = {}) =>
  kvDriver({ url: server.url, token: ADMIN_TOKEN, store, ...extra });

describeDriver('unstorage driver suite: kvDriver on a whole store', { driver: () => driver('us-whole') });

describeDriver(
  'unstorage driver suite: kvDriver with base',
  { driver: () => driver('us-base', { base: 'app/cache' }) },
  (ctx) => {
    it('writes under base: in the kv store and sees nothing outside it', async () => {
      await client.store('us-base').set('outside', 'x');
      await ctx.storage.setItem('inside:k', 'v');
      expect(await client.store('us-base').getText('app:cache:inside:k')).toBe('v');
      expect(await ctx.storage.getKeys()).toEqual(['inside:k']);
      await ctx.storage.clear();
      expect(await client.store('us-base').getText('outside')).toBe('x');
      await client.store('us-base').delete('outside');
    });
  },
);

/** Collects watch events until `count` arrived (bounded: at most `timeoutMs`). */
function collector() {
  const events: Array<[string, string]> = [];
  return {
    events,
    // Only this test's keys: the sweeper's expiries of earlier tests' keys are reported too.
    callback: (event: string, key: string) => {
      if (key.startsWith('w:')) events.push([event, key]);
    },
    async waitFor(count: number, timeoutMs = 10_000): Promise<Array<[string, string]>> {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return events;
    },
  };
}

describe('kvDriver on kv', () => {
  let storage: Storage;
  beforeAll(() => {
    storage = createStorage({ driver: driver('us-own', { base: 'own' }) });
  });
  afterAll(() => storage.dispose());

  it('getMeta answers mtime, birthtime, revision, size, contentType, id; null when missing', async () => {
    const before = Date.now();
    await storage.setItem('m:a', { x: 1 });
    await storage.setItem('m:a', { x: 2 });
    const meta = (await storage.getMeta('m:a')) as KvStorageMeta;
    const entry = await client.store('us-own').getEntry('own:m:a');
    expect(meta.revision).toBe(entry?.revision);
    expect(meta.mtime).toBeInstanceOf(Date);
    expect(meta.mtime.getTime()).toBe(Date.parse(entry?.updatedAt ?? ''));
    expect(meta.birthtime.getTime()).toBe(Date.parse(entry?.createdAt ?? ''));
    expect(meta.mtime.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(meta.size).toBe('{"x":2}'.length);
    expect(meta.id).toBe(entry?.id);
    expect(meta.ttl).toBeUndefined();
    expect(await storage.getMeta('m:missing')).toEqual({});
  });

  it('takes ttl in seconds per call and from the driver; getMeta reports the seconds left', async () => {
    await storage.setItem('t:call', 'v', { ttl: 120 });
    const meta = (await storage.getMeta('t:call')) as KvStorageMeta;
    expect(meta.ttl).toBeGreaterThan(110);
    expect(meta.ttl).toBeLessThanOrEqual(120);
    const withDefault = createStorage({ driver: driver('us-own', { base: 'own', ttl: 60 }) });
    await withDefault.setItem('t:default', 'v');
    await withDefault.setItems([{ key: 't:bulk', value: 'v' }], { ttl: 30 });
    await withDefault.setItemRaw('t:raw', new Uint8Array([1]));
    const ttlOf = async (key: string) => ((await storage.getMeta(key)) as KvStorageMeta).ttl;
    expect(await ttlOf('t:default')).toBeGreaterThan(50);
    expect(await ttlOf('t:bulk')).toBeLessThanOrEqual(30);
    expect(await ttlOf('t:raw')).toBeGreaterThan(50);
    await expect(storage.setItem('t:bad', 'v', { ttl: -1 })).rejects.toBeInstanceOf(ValidationError);
    expect(await storage.hasItem('t:bad')).toBe(false);
    await withDefault.dispose();
  });

  it('has the server expire an item once its ttl passes', async () => {
    await storage.setItem('t:short', 'v', { ttl: 1 });
    const expiresAt = Date.parse((await client.store('us-own').getEntry('own:t:short'))?.expiresAt ?? 'x');
    expect(Number.isFinite(expiresAt)).toBe(true);
    while (Date.now() <= expiresAt + 20) await new Promise((r) => setTimeout(r, 50));
    expect(await storage.getItem('t:short')).toBeNull();
    expect(await storage.hasItem('t:short')).toBe(false);
    expect(await storage.getKeys('t')).not.toContain('t:short');
  });

  it('refuses a key kv refuses (whitespace) and writes nothing', async () => {
    await expect(storage.setItem('has space', 'v')).rejects.toBeInstanceOf(ValidationError);
    expect(await storage.getKeys()).not.toContain('has space');
  });

  it('watch reports updates and removes made by other clients, unstorage and another process', async () => {
    const seen = collector();
    const unwatch = await storage.watch(seen.callback);
    await client.store('us-own').set('own:w:client', 1); // kv client, this process
    await storage.setItem('w:storage', 'v'); // unstorage itself
    await client.store('us-own').set('elsewhere', 1); // outside the base: not reported
    // Another process writes over plain HTTP with fetch.
    const script = `const r = await fetch(process.argv[1], { method: 'PUT', body: 'from child', headers: { authorization: 'Bearer ${ADMIN_TOKEN}' } }); if (!r.ok) throw new Error(String(r.status));`;
    await run(process.execPath, [
      '--input-type=module',
      '-e',
      script,
      `${server.url}/v1/stores/us-own/entries/own%3Aw%3Achild`,
    ]);
    await client.store('us-own').delete('own:w:client');
    const events = await seen.waitFor(4);
    expect(events).toEqual([
      ['update', 'w:client'],
      ['update', 'w:storage'],
      ['update', 'w:child'],
      ['remove', 'w:client'],
    ]);
    expect(await storage.getItem('w:child')).toBe('from child');
    await unwatch();
    await client.store('us-own').set('own:w:after', 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.events).toHaveLength(4);
    await client.store('us-own').delete('elsewhere');
  });

  it('watch reports an expiry as remove', async () => {
    const seen = collector();
    const unwatch = await storage.watch(seen.callback);
    await storage.setItem('w:ttl', 'v', { ttl: 1 });
    const events = await seen.waitFor(2);
    expect(events).toEqual([
      ['update', 'w:ttl'],
      ['remove', 'w:ttl'],
    ]);
    await unwatch();
  });
});
