/**
 * The `@kv/node` client suite: every operation of PRODUCT.md and every error class a server can produce,
 * through `createClient`, against any kv endpoint. `engine.test.ts` runs it on the engine in-process; the
 * server issue runs it against the real server process by calling {@link describeClientSuite} with the
 * server's base URL (and no `fetch`, so the global one is used).
 */

import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  createClient,
  type FetchLike,
  isKvError,
  KeyExistsError,
  type KvError,
  type NodeKvClient,
  type NodeStoreHandle,
  PayloadTooLargeError,
  RevisionMismatchError,
  StoreNotFoundError,
  ValidationError,
} from '../src/index.js';

/** Where the suite sends requests. */
export interface ClientTarget {
  /** Base URL of the server, e.g. `http://127.0.0.1:7070`. */
  url: string;
  /** `fetch` to use; omit for the global `fetch` (a real server). */
  fetch?: FetchLike;
  /** A token allowed to do everything, when the server checks tokens. */
  token?: string;
}

let counter = 0;
/** A store name unique to this run. */
export function uniqueName(label: string): string {
  counter += 1;
  return `n-${label}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** Awaits `promise`, expecting a kv error of class `Ctor` (and `code`); returns it. */
export async function expectKvError<E extends KvError>(
  promise: Promise<unknown>,
  Ctor: abstract new (...args: never[]) => E,
  code?: string,
): Promise<E> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  if (caught === undefined) throw new Error(`expected ${Ctor.name}, but the call succeeded`);
  expect(isKvError(caught), `expected a KvError, got ${String(caught)}`).toBe(true);
  expect(caught).toBeInstanceOf(Ctor);
  if (code !== undefined) expect((caught as KvError).code).toBe(code);
  return caught as E;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * Registers the client suite under `describe(label)`.
 *
 * @param label - the implementation, e.g. `engine in-process`, `server (sqlite)`
 * @param target - the endpoint; a function so servers can start in `beforeAll` first
 */
export function describeClientSuite(label: string, target: () => ClientTarget): void {
  describe(`@kv/node client: ${label}`, () => {
    const client = (): NodeKvClient => {
      const t = target();
      return createClient({
        url: t.url,
        env: {},
        ...(t.fetch === undefined ? {} : { fetch: t.fetch }),
        ...(t.token === undefined ? {} : { token: t.token }),
      });
    };
    const freshStore = async (
      label: string,
      options: Parameters<NodeKvClient['stores']['create']>[1] = {},
    ): Promise<NodeStoreHandle> => {
      const kv = client();
      const name = uniqueName(label);
      await kv.stores.create(name, options);
      return kv.store(name);
    };

    describe('stores', () => {
      it('create, get with stats, list, update, delete', async () => {
        const kv = client();
        const name = uniqueName('crud');
        expect(await kv.stores.create(name, { history: 3, defaultTtlMs: null })).toMatchObject({
          name,
          history: 3,
          defaultTtlMs: null,
          keyCount: 0,
          totalBytes: 0,
          revision: 0,
        });
        await kv.store(name).set('a', 'hello');
        expect(await kv.stores.get(name)).toMatchObject({ name, keyCount: 1, totalBytes: 5, revision: 1 });
        expect((await kv.stores.list()).map((s) => s.name)).toContain(name);
        expect(await kv.stores.update(name, { history: 5, defaultTtlMs: 60_000 })).toMatchObject({
          history: 5,
          defaultTtlMs: 60_000,
        });
        expect(await kv.stores.delete(name)).toBe(true);
        expect(await kv.stores.get(name)).toBeUndefined();
        expect(await kv.stores.delete(name)).toBe(false);
      });

      it('a second create is KeyExistsError store_exists; a missing store is StoreNotFoundError', async () => {
        const kv = client();
        const name = uniqueName('dup');
        await kv.stores.create(name);
        await expectKvError(kv.stores.create(name), KeyExistsError, 'store_exists');
        const missing = uniqueName('missing');
        await expectKvError(kv.stores.update(missing, { history: 2 }), StoreNotFoundError, 'store_not_found');
        const store = kv.store(missing);
        await expectKvError(store.get('k'), StoreNotFoundError);
        await expectKvError(store.set('k', 1), StoreNotFoundError);
        await expectKvError(store.list(), StoreNotFoundError);
        await expectKvError(store.getMany(['k']), StoreNotFoundError);
        await expectKvError(store.atomic().set('k', 1).commit(), StoreNotFoundError);
      });

      it('rejects bad store names and settings before sending', async () => {
        const kv = client();
        expect(() => kv.store('no spaces')).toThrow(ValidationError);
        expect(() => kv.store('x'.repeat(65))).toThrow(ValidationError);
        await expectKvError(kv.stores.create(uniqueName('h'), { history: 65 }), ValidationError);
      });
    });

    describe('reads', () => {
      it('get decodes by content type; typed reads; undefined when missing', async () => {
        const store = await freshStore('reads');
        await store.set('json', { name: 'Alice', roles: ['admin'] });
        await store.set('text', 'héllo');
        await store.set('bytes', new Uint8Array([0, 1, 255]));
        expect(await store.get('json')).toEqual({ name: 'Alice', roles: ['admin'] });
        expect(await store.get('text')).toBe('héllo');
        expect(await store.get('bytes')).toEqual(new Uint8Array([0, 1, 255]));
        expect(await store.getJson<{ name: string }>('json')).toEqual({ name: 'Alice', roles: ['admin'] });
        expect(await store.getText('json')).toBe('{"name":"Alice","roles":["admin"]}');
        expect(await store.getBytes('text')).toEqual(new Uint8Array(Buffer.from('héllo')));
        const buffer = await store.getBuffer('bytes');
        expect(Buffer.isBuffer(buffer)).toBe(true);
        expect(buffer).toEqual(Buffer.from([0, 1, 255]));
        const stream = await store.getStream('text');
        expect(stream).toBeInstanceOf(ReadableStream);
        expect(Buffer.from(await readAll(stream as ReadableStream<Uint8Array>)).toString()).toBe('héllo');
        for (const read of [
          store.get('nope'),
          store.getText('nope'),
          store.getJson('nope'),
          store.getBytes('nope'),
          store.getBuffer('nope'),
          store.getStream('nope'),
          store.getEntry('nope'),
        ]) {
          expect(await read).toBeUndefined();
        }
      });

      it('getEntry returns the value and every field', async () => {
        const store = await freshStore('entry');
        const expiresAt = new Date(Date.now() + 3_600_000);
        const result = await store.set(
          'user:1',
          { a: 1 },
          {
            metadata: { owner: 'ada', n: 1 },
            scopes: ['billing', 'a,b'],
            expiresAt,
            resume: true,
          },
        );
        const entry = await store.getEntry('user:1');
        expect(entry).toMatchObject({
          key: 'user:1',
          id: result.id,
          revision: result.revision,
          contentType: 'application/json',
          metadata: { owner: 'ada', n: 1 },
          scopes: expect.arrayContaining(['billing', 'a,b']),
          expiresAt: expiresAt.toISOString(),
          resume: true,
          size: 7,
          value: { a: 1 },
        });
        expect(Date.parse(entry?.createdAt ?? '')).not.toBeNaN();
        expect(Date.parse(entry?.updatedAt ?? '')).not.toBeNaN();
      });

      it('getById and getEntryById follow the stable id; a rewritten key gets a new id', async () => {
        const store = await freshStore('ids');
        const first = await store.set('k', 'one');
        await store.set('k', 'two');
        expect(await store.getById(first.id)).toBe('two');
        expect(await store.getEntryById(first.id)).toMatchObject({ key: 'k', id: first.id, value: 'two' });
        await store.delete('k');
        expect(await store.getById(first.id)).toBeUndefined();
        const again = await store.set('k', 'three');
        expect(again.id).not.toBe(first.id);
        expect(await store.getEntryById('no-such-id')).toBeUndefined();
      });

      it('exists is true for live keys only', async () => {
        const store = await freshStore('exists');
        await store.set('here', 1);
        expect(await store.exists('here')).toBe(true);
        expect(await store.exists('gone')).toBe(false);
        await store.delete('here');
        expect(await store.exists('here')).toBe(false);
      });
    });

    describe('writes', () => {
      it('set returns { id, revision, created }; ifNotExists writes nothing on an existing key (Alien)', async () => {
        const store = await freshStore('set');
        const a = await store.set('k', 1);
        expect(a).toMatchObject({ revision: 1, created: true });
        expect(typeof a.id).toBe('string');
        const b = await store.set('k', 2);
        expect(b).toEqual({ id: a.id, revision: 2, created: false });
        const c = await store.set('k', 3, { ifNotExists: true });
        expect(c.created).toBe(false);
        expect(await store.get('k')).toBe(2);
        expect((await store.set('fresh', 1, { ifNotExists: true })).created).toBe(true);
      });

      it('set with ifRevision is compare-and-swap', async () => {
        const store = await freshStore('ifrev');
        const { revision } = await store.set('k', 'a');
        expect((await store.set('k', 'b', { ifRevision: revision })).revision).toBe(revision + 1);
        await expectKvError(store.set('k', 'c', { ifRevision: revision }), RevisionMismatchError);
        expect(await store.get('k')).toBe('b');
      });

      it('accepts strings, JSON, Uint8Array, Buffer, ArrayBuffer, Blob, web and Node streams', async () => {
        const store = await freshStore('values');
        await store.set('buffer', Buffer.from('buf'));
        await store.set('arraybuffer', new Uint8Array([7, 8]).buffer);
        await store.set('blob', new Blob(['blob text'], { type: 'text/markdown' }));
        await store.set(
          'web',
          new ReadableStream<Uint8Array>({
            start(c) {
              c.enqueue(new Uint8Array([1, 2]));
              c.enqueue(new Uint8Array([3]));
              c.close();
            },
          }),
        );
        await store.set('node', Readable.from([Buffer.from('no'), Buffer.from('de')]), {
          contentType: 'text/plain',
        });
        await store.set('typed', '{"a":1}', { contentType: 'application/json' });
        await store.set('array', [1, 'two', null]);
        await store.set('null', null);
        expect(await store.getBytes('buffer')).toEqual(new Uint8Array(Buffer.from('buf')));
        expect(await store.getEntry('arraybuffer')).toMatchObject({
          contentType: 'application/octet-stream',
          value: new Uint8Array([7, 8]),
        });
        expect(await store.getEntry('blob')).toMatchObject({
          contentType: 'text/markdown',
          value: 'blob text',
        });
        expect(await store.getBytes('web')).toEqual(new Uint8Array([1, 2, 3]));
        expect(await store.get('node')).toBe('node');
        expect(await store.get('typed')).toEqual({ a: 1 });
        expect(await store.get('array')).toEqual([1, 'two', null]);
        expect(await store.get('null')).toBeNull();
      });

      it('streams a large upload and download without corrupting it', async () => {
        const store = await freshStore('big');
        const chunk = Buffer.alloc(64 * 1024);
        for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
        const chunks = 80; // 5 MiB
        async function* generate(): AsyncGenerator<Buffer> {
          for (let i = 0; i < chunks; i++) yield chunk;
        }
        await store.set('big', Readable.from(generate()));
        const entry = await store.getEntry('big');
        expect(entry?.size).toBe(chunk.length * chunks);
        const back = await readAll((await store.getStream('big')) as ReadableStream<Uint8Array>);
        expect(back.length).toBe(chunk.length * chunks);
        expect(Buffer.from(back.subarray(chunk.length * 7, chunk.length * 8)).equals(chunk)).toBe(true);
      });

      it('create throws KeyExistsError on an existing key (Ironflow create)', async () => {
        const store = await freshStore('create');
        const created = await store.create('config:flags', { darkMode: true });
        expect(created.created).toBe(true);
        const error = await expectKvError(
          store.create('config:flags', { darkMode: false }),
          KeyExistsError,
          'key_exists',
        );
        expect(error.status).toBe(412);
        expect(typeof error.requestId).toBe('string');
        expect(await store.get('config:flags')).toEqual({ darkMode: true });
      });

      it('update is compare-and-swap and throws RevisionMismatchError on a stale revision (Ironflow update)', async () => {
        const store = await freshStore('update');
        await store.set('user:123', { name: 'Alice', role: 'admin' });
        const entry = await store.getEntry<{ name: string; role: string }>('user:123');
        const updated = await store.update(
          'user:123',
          { ...entry?.value, role: 'superadmin' },
          entry?.revision ?? 0,
        );
        expect(updated.revision).toBe((entry?.revision ?? 0) + 1);
        const error = await expectKvError(
          store.update('user:123', { name: 'Bob' }, entry?.revision ?? 0),
          RevisionMismatchError,
          'revision_mismatch',
        );
        expect(error.status).toBe(412);
        await expectKvError(store.update('missing', 1, 1), RevisionMismatchError);
      });

      it('the Ironflow read-modify-write loop keeps every concurrent increment', async () => {
        const store = await freshStore('rmw');
        await store.set('counter', { n: 0 });
        const increment = async (): Promise<void> => {
          for (;;) {
            const entry = await store.getEntry<{ n: number }>('counter');
            if (entry === undefined) throw new Error('counter vanished');
            try {
              await store.update('counter', { n: entry.value.n + 1 }, entry.revision);
              return;
            } catch (error) {
              if (!(error instanceof RevisionMismatchError)) throw error;
            }
          }
        };
        await Promise.all(Array.from({ length: 8 }, increment));
        expect(await store.get('counter')).toEqual({ n: 8 });
      });

      it('setExpiry sets and clears expiry and says whether the key existed (AntiRaid setexpiry)', async () => {
        const store = await freshStore('expiry');
        await store.set('k', 1);
        const at = new Date(Date.now() + 600_000);
        expect(await store.setExpiry('k', at)).toBe(true);
        expect((await store.getEntry('k'))?.expiresAt).toBe(at.toISOString());
        expect(await store.setExpiry('k', null)).toBe(true);
        expect((await store.getEntry('k'))?.expiresAt).toBeNull();
        expect(await store.setExpiry('missing', at.toISOString())).toBe(false);
        expect(await store.exists('missing')).toBe(false);
      });

      it('ttlMs sets expiresAt from the write; an expiry in the past is refused', async () => {
        const store = await freshStore('ttl');
        const before = Date.now();
        await store.set('k', 1, { ttlMs: 60_000 });
        const expiresAt = Date.parse((await store.getEntry('k'))?.expiresAt ?? '');
        expect(expiresAt).toBeGreaterThanOrEqual(before + 60_000);
        await expectKvError(store.setExpiry('k', Date.now() - 1000), ValidationError);
        expect(await store.get('k')).toBe(1);
      });

      it('delete is a soft delete returning whether a live key was deleted; ifRevision is checked', async () => {
        const store = await freshStore('delete', { history: 5 });
        const { revision } = await store.set('k', 'v');
        await expectKvError(store.delete('k', { ifRevision: revision + 5 }), RevisionMismatchError);
        expect(await store.delete('k', { ifRevision: revision })).toBe(true);
        expect(await store.delete('k')).toBe(false);
        expect(await store.get('k')).toBeUndefined();
        const history = await store.history('k');
        expect(history.map((h) => h.operation)).toEqual(['delete', 'put']);
      });

      it('purge removes the key and its history (Ironflow purge)', async () => {
        const store = await freshStore('purge', { history: 5 });
        await store.set('k', 1);
        await store.set('k', 2);
        expect(await store.purge('k')).toBe(true);
        expect(await store.history('k')).toEqual([]);
        expect(await store.get('k')).toBeUndefined();
        expect(await store.purge('never-there')).toBe(false);
      });

      it('history lists past revisions newest first, with values and tombstones', async () => {
        const store = await freshStore('history', { history: 3 });
        await store.set('k', 'a');
        await store.set('k', 'b');
        await store.delete('k');
        await store.set('k', 'c');
        const history = await store.history('k');
        expect(history.map((h) => [h.operation, h.value])).toEqual([
          ['put', 'c'],
          ['delete', undefined],
          ['put', 'b'],
        ]);
        expect(history[0]?.revision).toBeGreaterThan(history[1]?.revision ?? 0);
        expect(await store.history('never')).toEqual([]);
      });
    });

    describe('listing', () => {
      const seedKeys = ['user.123', 'user.456', 'user.123.name', 'user:123', 'config.flags', 'flag'];

      it('list pages by prefix, match (NATS), like (SQL LIKE), scope, startAfter, cursor and reverse', async () => {
        const store = await freshStore('list');
        for (const key of seedKeys)
          await store.set(key, key, key.startsWith('user') ? { scopes: ['users'] } : {});
        const keys = async (options: Parameters<NodeStoreHandle['list']>[0]): Promise<string[]> =>
          (await store.list(options)).items.map((i) => i.key);
        expect(await keys({})).toEqual([...seedKeys].sort());
        expect(await keys({ prefix: 'user.' })).toEqual(['user.123', 'user.123.name', 'user.456']);
        expect(await keys({ match: 'user.*' })).toEqual(['user.123', 'user.456']);
        expect(await keys({ match: 'user.>' })).toEqual(['user.123', 'user.123.name', 'user.456']);
        expect(await keys({ match: '*' })).toEqual(['flag', 'user:123']);
        expect(await keys({ like: 'user_123' })).toEqual(['user.123', 'user:123']);
        expect(await keys({ like: '%%' })).toHaveLength(seedKeys.length);
        expect(await keys({ scope: 'users' })).toEqual(['user.123', 'user.123.name', 'user.456', 'user:123']);
        expect(await keys({ startAfter: 'user.123.name' })).toEqual(['user.456', 'user:123']);
        expect(await keys({ reverse: true, limit: 2 })).toEqual(['user:123', 'user.456']);
        const first = await store.list({ limit: 4 });
        expect(first.complete).toBe(false);
        expect(first.items.every((i) => i.value === undefined)).toBe(true);
        const second = await store.list({ limit: 4, cursor: first.cursor as string, values: true });
        expect(second.complete).toBe(true);
        expect(second.cursor).toBeUndefined();
        expect(second.items.map((i) => i.value)).toEqual(second.items.map((i) => i.key));
        expect([...first.items, ...second.items].map((i) => i.key)).toEqual([...seedKeys].sort());
      });

      it('Apify pagination with startAfter walks every key once', async () => {
        const store = await freshStore('apify');
        const all = Array.from({ length: 25 }, (_, i) => `record-${String(i).padStart(2, '0')}`);
        await store.setMany(all.map((key) => ({ key, value: key })));
        const seen: string[] = [];
        let startAfter: string | undefined;
        for (;;) {
          const page = await store.list({ limit: 10, ...(startAfter === undefined ? {} : { startAfter }) });
          seen.push(...page.items.map((i) => i.key));
          if (page.complete) break;
          startAfter = page.items.at(-1)?.key;
        }
        expect(seen).toEqual(all);
      });

      it('keys() and entries() iterate over every page (Alien scan)', async () => {
        const store = await freshStore('scan');
        const all = Array.from({ length: 7 }, (_, i) => `session:${i}`);
        await store.setMany(all.map((key, i) => ({ key, value: { i } })));
        await store.set('other', 1);
        const keys: string[] = [];
        for await (const key of store.keys({ prefix: 'session:', limit: 3 })) keys.push(key);
        expect(keys).toEqual(all);
        const values: unknown[] = [];
        for await (const { key, value } of store.entries({ prefix: 'session:', limit: 2 }))
          values.push([key, value]);
        expect(values).toEqual(all.map((key, i) => [key, { i }]));
        const empty: string[] = [];
        for await (const key of store.keys({ prefix: 'none:' })) empty.push(key);
        expect(empty).toEqual([]);
      });

      it('listScopes lists the scopes in use (AntiRaid list_scopes)', async () => {
        const store = await freshStore('scopes');
        await store.set('a', 1, { scopes: ['billing', 'users'] });
        await store.set('b', 1, { scopes: ['users'] });
        expect((await store.listScopes()).sort()).toEqual(['billing', 'users']);
      });

      it('rejects a bad limit before sending and a bad pattern on the server', async () => {
        const store = await freshStore('badlist');
        await expectKvError(store.list({ limit: 1001 }), ValidationError);
        await expectKvError(store.list({ match: 'a', like: 'b' }), ValidationError);
      });
    });

    describe('bulk and atomic', () => {
      it('getMany returns a Map in request order, undefined for missing keys; values: false gives fields only', async () => {
        const store = await freshStore('getmany');
        await store.setMany([
          { key: 'a', value: { a: 1 } },
          { key: 'b', value: 'bee', metadata: { m: true } },
        ]);
        const map = await store.getMany(['b', 'missing', 'a']);
        expect([...map.keys()]).toEqual(['b', 'missing', 'a']);
        expect(map.get('a')?.value).toEqual({ a: 1 });
        expect(map.get('b')).toMatchObject({ value: 'bee', metadata: { m: true } });
        expect(map.get('missing')).toBeUndefined();
        const meta = await store.getMany(['a'], { values: false });
        expect(meta.get('a')).toMatchObject({ key: 'a', contentType: 'application/json' });
        expect(meta.get('a')).not.toHaveProperty('value');
        expect((await store.getMany([])).size).toBe(0);
      });

      it('setMany reports per-item results; a failed condition does not fail the others (Cloudflare bulk)', async () => {
        const store = await freshStore('setmany');
        const { revision } = await store.set('cas', 'old');
        const result = await store.setMany([
          { key: 'x', value: 1, ttlMs: 60_000 },
          { key: 'cas', value: 'new', ifRevision: revision + 100 },
          { key: 'y', value: new Uint8Array([9]), scopes: ['s'] },
          { key: 'cas', value: 'kept', ifNotExists: true },
        ]);
        expect(result.results.map((r) => [r.key, r.ok])).toEqual([
          ['x', true],
          ['cas', false],
          ['y', true],
          ['cas', true],
        ]);
        expect(result.results[1]?.error).toBe('revision_mismatch');
        expect(result.results[3]?.created).toBe(false);
        expect(result.successfulKeyCount).toBe(3);
        expect(result.unsuccessfulKeys).toEqual(['cas']);
        expect(await store.get('cas')).toBe('old');
        expect(await store.getBytes('y')).toEqual(new Uint8Array([9]));
        expect(await store.setMany([])).toEqual({ results: [], successfulKeyCount: 0, unsuccessfulKeys: [] });
      });

      it('deleteMany deletes the keys given', async () => {
        const store = await freshStore('delmany');
        await store.setMany([1, 2, 3].map((i) => ({ key: `k${i}`, value: i })));
        const result = await store.deleteMany(['k1', 'k3', 'absent']);
        expect(result.results.map((r) => r.key)).toEqual(['k1', 'k3', 'absent']);
        expect(result.unsuccessfulKeys).toEqual([]);
        expect([...(await store.getMany(['k1', 'k2', 'k3'])).values()].map((e) => e?.value)).toEqual([
          undefined,
          2,
          undefined,
        ]);
      });

      it('atomic commits checks and mutations all or nothing (Deno KV)', async () => {
        const store = await freshStore('atomic');
        const alice = await store.set('balance:alice', 100);
        const ok = await store
          .atomic()
          .check('balance:alice', alice.revision)
          .check('balance:bob', null)
          .set('balance:alice', 90)
          .set('balance:bob', 10, { metadata: { from: 'alice' } })
          .delete('pending:1')
          .commit();
        expect(ok.ok).toBe(true);
        if (ok.ok) expect(ok.revision).toBeGreaterThan(alice.revision);
        expect(await store.get('balance:alice')).toBe(90);
        expect((await store.getEntry('balance:bob'))?.metadata).toEqual({ from: 'alice' });
        const failed = await store
          .atomic()
          .check('balance:alice', alice.revision)
          .check('balance:bob', null)
          .set('balance:alice', 0)
          .commit();
        expect(failed).toEqual({
          ok: false,
          failedKeys: expect.arrayContaining(['balance:alice', 'balance:bob']),
        });
        expect(await store.get('balance:alice')).toBe(90);
        await expectKvError(store.atomic().check('a', 1).commit(), ValidationError);
      });
    });

    describe('limits and input errors', () => {
      it('keys: 512 bytes of multi-byte UTF-8 work, 513 are a ValidationError (never truncated)', async () => {
        const store = await freshStore('keys');
        const key512 = `${'é'.repeat(255)}ab`; // 510 + 2 bytes
        await store.set(key512, 1);
        expect(await store.get(key512)).toBe(1);
        const key513 = `${'é'.repeat(256)}a`;
        const error = await expectKvError(store.set(key513, 1), ValidationError);
        expect(error.details).toMatchObject({ field: 'key', reason: 'too_long' });
        await expectKvError(store.get('has space'), ValidationError);
        await expectKvError(store.get(''), ValidationError);
        const reserved = 'a/b?c#d%e&f=g+h';
        await store.set(reserved, 'ok');
        expect(await store.get(reserved)).toBe('ok');
        expect((await store.list()).items.map((i) => i.key)).toContain(reserved);
      });

      it('metadata over 1024 bytes, too many scopes and ttlMs with expiresAt are ValidationErrors', async () => {
        const store = await freshStore('limits');
        await expectKvError(store.set('k', 1, { metadata: { big: 'x'.repeat(1100) } }), ValidationError);
        await expectKvError(
          store.set('k', 1, { scopes: Array.from({ length: 17 }, (_, i) => `s${i}`) }),
          ValidationError,
        );
        await expectKvError(store.set('k', 1, { ttlMs: 1000, expiresAt: new Date() }), ValidationError);
        await expectKvError(store.set('k', 1, { expiresAt: 'not a date' }), ValidationError);
        expect(await store.exists('k')).toBe(false);
      });

      it('a value over the store maxValueBytes is PayloadTooLargeError, streamed or not', async () => {
        const store = await freshStore('small', { maxValueBytes: 16 });
        await store.set('fits', 'x'.repeat(16));
        const error = await expectKvError(
          store.set('big', 'x'.repeat(17)),
          PayloadTooLargeError,
          'payload_too_large',
        );
        expect(error.status).toBe(413);
        await expectKvError(store.set('big', Readable.from([Buffer.alloc(40)])), PayloadTooLargeError);
        expect(await store.exists('big')).toBe(false);
      });

      it('values JSON cannot represent are ValidationErrors', async () => {
        const store = await freshStore('json');
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        await expectKvError(store.set('k', cyclic), ValidationError);
        await expectKvError(store.setMany([{ key: 'k', value: cyclic }]), ValidationError);
      });
    });
  });
}
