/**
 * The Workers KV binding suite: {@link describeKVNamespace} registers the same vitest tests of
 * `toKVNamespace` (docs/compat.md "Workers KVNamespace") against any kv implementation given a client
 * factory: the msw mock, the server process. Each case is Cloudflare's documented behaviour of the
 * binding (Workers KV docs: read, write, delete, list key-value pairs; bulk reads) or a difference that
 * docs/compat.md lists; the last group runs a Workers-style module ({@link worker}) unchanged.
 *
 * @module
 */
import {
  isKvError,
  type KVNamespace,
  type KvClient,
  type StoreHandle,
  toKVNamespace,
  ValidationError,
} from '@kv/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import worker from './worker-module.js';

/** What an implementation provides to {@link describeKVNamespace}. */
export interface KVNamespaceTarget {
  /** A client of the implementation, allowed to create stores. */
  createClient(): KvClient | Promise<KvClient>;
  /** Releases what the target started. */
  close?(): Promise<void> | void;
}

const decoder = new TextDecoder();

async function readStream(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

async function expectValidation(promise: Promise<unknown>, field?: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  if (field !== undefined && isKvError(error)) expect(error.details?.field).toBe(field);
}

/**
 * Registers the binding suite under `describe(label)`. `setup` runs once in `beforeAll`; every case
 * works in a fresh store of its own.
 *
 * @param label - the implementation's name in the report
 * @param setup - starts the implementation and returns its client factory
 */
export function describeKVNamespace(label: string, setup: () => Promise<KVNamespaceTarget>): void {
  describe(`toKVNamespace: ${label}`, () => {
    let target: KVNamespaceTarget | undefined;
    let client: KvClient;
    let counter = 0;

    beforeAll(async () => {
      target = await setup();
      client = await target.createClient();
    });
    afterAll(async () => {
      await target?.close?.();
    });

    /** A new store, its handle and its binding. */
    async function fresh(): Promise<{ store: StoreHandle; ns: KVNamespace }> {
      const name = `cfkv-${Date.now().toString(36)}-${(counter++).toString(36)}`;
      await client.stores.create(name);
      const store = client.store(name);
      return { store, ns: toKVNamespace(store) };
    }

    describe('get', () => {
      it('answers null for a missing key, in every type and with metadata', async () => {
        const { ns } = await fresh();
        expect(await ns.get('missing')).toBeNull();
        expect(await ns.get('missing', 'text')).toBeNull();
        expect(await ns.get('missing', 'json')).toBeNull();
        expect(await ns.get('missing', 'arrayBuffer')).toBeNull();
        expect(await ns.get('missing', { type: 'stream' })).toBeNull();
        expect(await ns.getWithMetadata('missing')).toEqual({
          value: null,
          metadata: null,
          cacheStatus: null,
        });
      });

      it('reads a string as text, json, arrayBuffer and stream; cacheTtl is accepted and ignored', async () => {
        const { ns } = await fresh();
        await ns.put('doc', '{"a":[1,2]}');
        expect(await ns.get('doc')).toBe('{"a":[1,2]}');
        expect(await ns.get('doc', { type: 'text', cacheTtl: 60 })).toBe('{"a":[1,2]}');
        expect(await ns.get('doc', 'json')).toEqual({ a: [1, 2] });
        expect(await ns.get('doc', { type: 'json', cacheTtl: 3600 })).toEqual({ a: [1, 2] });
        const buffer = await ns.get('doc', 'arrayBuffer');
        expect(buffer).toBeInstanceOf(ArrayBuffer);
        expect(decoder.decode(buffer as ArrayBuffer)).toBe('{"a":[1,2]}');
        const stream = await ns.get('doc', 'stream');
        expect(await readStream(stream as ReadableStream<Uint8Array>)).toBe('{"a":[1,2]}');
      });

      it('reads values written by kv clients as their stored bytes', async () => {
        const { store, ns } = await fresh();
        await store.set('obj', { n: 1, s: 'x' });
        await store.set('txt', 'héllo');
        await store.set('bin', new Uint8Array([0, 1, 255]));
        expect(await ns.get('obj')).toBe('{"n":1,"s":"x"}');
        expect(await ns.get('obj', 'json')).toEqual({ n: 1, s: 'x' });
        expect(await ns.get('txt')).toBe('héllo');
        expect([...new Uint8Array((await ns.get('bin', 'arrayBuffer')) as ArrayBuffer)]).toEqual([0, 1, 255]);
        const withMeta = await ns.getWithMetadata('obj', 'text');
        expect(withMeta.value).toBe('{"n":1,"s":"x"}');
      });

      it('fails a json read of a non-JSON value with invalid_json', async () => {
        const { ns } = await fresh();
        await ns.put('plain', 'not json');
        const error = await ns.get('plain', 'json').catch((e: unknown) => e);
        expect(isKvError(error) && error.code).toBe('invalid_json');
      });
    });

    describe('put', () => {
      it('stores strings as text and every binary form as the same bytes', async () => {
        const { store, ns } = await fresh();
        await ns.put('s', 'text value');
        const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
        await ns.put('ab', backing.buffer.slice(2, 5));
        await ns.put('view', backing.subarray(2, 5));
        await ns.put('dv', new DataView(backing.buffer, 2, 3));
        await ns.put('u16', new Uint16Array([0x0201]));
        expect((await store.getEntry('s'))?.contentType).toMatch(/^text\/plain/);
        for (const key of ['ab', 'view', 'dv']) {
          expect([...new Uint8Array((await ns.get(key, 'arrayBuffer')) as ArrayBuffer)], key).toEqual([
            1, 2, 3,
          ]);
          expect((await store.getEntry(key))?.contentType, key).toBe('application/octet-stream');
        }
        expect((await ns.get('u16', 'arrayBuffer'))?.byteLength).toBe(2);
      });

      it('stores a ReadableStream', async () => {
        const { ns } = await fresh();
        const chunks = ['str', 'eam', 'ed'].map((s) => new TextEncoder().encode(s));
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            for (const chunk of chunks) controller.enqueue(chunk);
            controller.close();
          },
        });
        await ns.put('streamed', body);
        expect(await ns.get('streamed')).toBe('streamed');
      });

      it('keeps metadata, returned by getWithMetadata and list', async () => {
        const { ns } = await fresh();
        await ns.put('m', 'v', { metadata: { author: 'ada', tags: ['a'], when: new Date(0) } });
        await ns.put('plain', 'v');
        const got = await ns.getWithMetadata<{ author: string; when: string }>('m');
        expect(got).toEqual({
          value: 'v',
          metadata: { author: 'ada', tags: ['a'], when: '1970-01-01T00:00:00.000Z' },
          cacheStatus: null,
        });
        expect((await ns.getWithMetadata('plain')).metadata).toBeNull();
        const page = await ns.list();
        expect(page.keys).toEqual([
          { name: 'm', metadata: { author: 'ada', tags: ['a'], when: '1970-01-01T00:00:00.000Z' } },
          { name: 'plain' },
        ]);
      });

      it('maps expiration (epoch seconds) and expirationTtl (seconds) to the entry expiry', async () => {
        const { store, ns } = await fresh();
        const expiration = Math.floor(Date.now() / 1000) + 3600;
        await ns.put('abs', 'v', { expiration });
        expect(Date.parse((await store.getEntry('abs'))?.expiresAt ?? '')).toBe(expiration * 1000);
        const before = Date.now();
        await ns.put('ttl', 'v', { expirationTtl: 120 });
        const ttlAt = Date.parse((await store.getEntry('ttl'))?.expiresAt ?? '');
        expect(ttlAt).toBeGreaterThanOrEqual(before + 120_000 - 1000);
        expect(ttlAt).toBeLessThanOrEqual(Date.now() + 120_000 + 1000);
        // Both given: expirationTtl decides.
        await ns.put('both', 'v', { expiration, expirationTtl: 120 });
        expect(Date.parse((await store.getEntry('both'))?.expiresAt ?? '')).toBeLessThan(expiration * 1000);
        const page = await ns.list();
        expect(page.keys.find((k) => k.name === 'abs')?.expiration).toBe(expiration);
        expect(page.keys.find((k) => k.name === 'ttl')?.expiration).toBe(Math.floor(ttlAt / 1000));
      });

      it('accepts a TTL under Cloudflare’s 60 s minimum, and the key is gone once it passes', async () => {
        const { store, ns } = await fresh();
        await ns.put('short', 'v', { expirationTtl: 1 });
        const expiresAt = Date.parse((await store.getEntry('short'))?.expiresAt ?? 'x');
        expect(Number.isFinite(expiresAt)).toBe(true);
        // Wait until the expiry has passed by the clock, then the key must read as missing (kv never
        // returns an expired entry, swept or not).
        while (Date.now() <= expiresAt + 20) await new Promise((r) => setTimeout(r, 50));
        expect(await ns.get('short')).toBeNull();
        expect((await ns.list()).keys).toEqual([]);
      });

      it('takes any number of writes per second to one key, each visible at once', async () => {
        const { ns } = await fresh();
        for (let i = 0; i < 5; i++) {
          await ns.put('hot', String(i));
          expect(await ns.get('hot')).toBe(String(i));
        }
      });

      it('refuses bad input with a ValidationError and writes nothing', async () => {
        const { store, ns } = await fresh();
        await expectValidation(ns.put('k', 42 as unknown as string), 'value');
        await expectValidation(ns.put('k', { a: 1 } as unknown as string), 'value');
        await expectValidation(ns.put('k', 'v', { metadata: 'text' }), 'metadata');
        await expectValidation(ns.put('k', 'v', { metadata: { big: 'x'.repeat(2000) } }));
        await expectValidation(ns.put('k', 'v', { expirationTtl: -1 }), 'expirationTtl');
        await expectValidation(ns.put('k', 'v', { expirationTtl: Number.NaN }), 'expirationTtl');
        await expectValidation(ns.put('k', 'v', { expiration: 'soon' as unknown as number }), 'expiration');
        await expectValidation(ns.put('k', 'v', { expiration: Math.floor(Date.now() / 1000) - 10 }));
        await expectValidation(ns.put('has space', 'v'));
        await expectValidation(ns.put('', 'v'));
        await expectValidation(ns.put('x'.repeat(513), 'v'));
        await expectValidation(ns.get('k', 'blob' as 'text'), 'type');
        await expectValidation(ns.get(['a'], 'arrayBuffer' as 'text'), 'type');
        await expectValidation(ns.get('k', { type: 'text', cacheTtl: -5 }), 'cacheTtl');
        expect(await store.list()).toMatchObject({ items: [], complete: true });
      });
    });

    describe('bulk get', () => {
      it('answers a Map from every requested key, null when missing, as text or json', async () => {
        const { ns } = await fresh();
        await ns.put('a', '{"v":1}');
        await ns.put('b', '"two"');
        const text = await ns.get(['a', 'missing', 'b']);
        expect(text).toBeInstanceOf(Map);
        expect([...text]).toEqual([
          ['a', '{"v":1}'],
          ['missing', null],
          ['b', '"two"'],
        ]);
        const json = await ns.get<unknown>(['a', 'b'], { type: 'json' });
        expect([...json]).toEqual([
          ['a', { v: 1 }],
          ['b', 'two'],
        ]);
      });

      it('getWithMetadata(keys) answers value and metadata per key', async () => {
        const { ns } = await fresh();
        await ns.put('a', '1', { metadata: { m: 'a' } });
        const got = await ns.getWithMetadata(['a', 'missing'], 'json');
        expect(got.get('a')).toEqual({ value: 1, metadata: { m: 'a' }, cacheStatus: null });
        expect(got.get('missing')).toEqual({ value: null, metadata: null, cacheStatus: null });
      });
    });

    describe('delete and list', () => {
      it('deletes a key; deleting a missing key resolves too', async () => {
        const { ns } = await fresh();
        await ns.put('gone', 'v');
        expect(await ns.delete('gone')).toBeUndefined();
        expect(await ns.get('gone')).toBeNull();
        expect(await ns.delete('never')).toBeUndefined();
      });

      it('pages by limit and cursor in UTF-8 byte order, with a prefix; list_complete on the last page', async () => {
        const { ns } = await fresh();
        const names = ['p:b', 'p:a', 'p:é', 'p:Z', 'q:1'];
        for (const name of names) await ns.put(name, 'v');
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        for (;;) {
          const page = await ns.list({ prefix: 'p:', limit: 2, ...(cursor === undefined ? {} : { cursor }) });
          pages++;
          seen.push(...page.keys.map((k) => k.name));
          expect(page.cacheStatus).toBeNull();
          if (page.list_complete) {
            expect('cursor' in page).toBe(false);
            break;
          }
          expect(page.keys).toHaveLength(2);
          cursor = page.cursor;
        }
        expect(seen).toEqual(['p:Z', 'p:a', 'p:b', 'p:é']);
        expect(pages).toBe(2);
        const all = await ns.list({ prefix: null, cursor: null });
        expect(all.list_complete).toBe(true);
        expect(all.keys.map((k) => k.name)).toEqual(['p:Z', 'p:a', 'p:b', 'p:é', 'q:1']);
      });
    });

    describe('a Workers-style module, unchanged', () => {
      it('serves its routes with env.MY_KV = toKVNamespace(store)', async () => {
        const { store, ns } = await fresh();
        const env = { MY_KV: ns };
        const call = (method: string, path: string, init: RequestInit = {}) =>
          worker.fetch(new Request(`https://worker.example${path}`, { method, ...init }), env);

        expect(
          (await call('PUT', '/notes/one', { body: 'first', headers: { 'x-author': 'ada' } })).status,
        ).toBe(201);
        expect((await call('PUT', '/notes/two?ttl=600', { body: 'second' })).status).toBe(201);
        expect(
          (await call('PUT', '/notes/three', { body: 'third', headers: { 'x-author': 'bo' } })).status,
        ).toBe(201);

        const one = await call('GET', '/notes/one');
        expect(one.status).toBe(200);
        expect(await one.text()).toBe('first');
        expect(one.headers.get('x-author')).toBe('ada');
        expect((await call('GET', '/notes/nope')).status).toBe(404);

        const listed = (await (await call('GET', '/notes')).json()) as Array<{
          name: string;
          author: string | null;
          expiration: number | null;
        }>;
        expect(listed.map((n) => [n.name, n.author])).toEqual([
          ['one', 'ada'],
          ['three', 'bo'],
          ['two', 'anonymous'],
        ]);
        const two = listed.find((n) => n.name === 'two');
        expect(two?.expiration).toBe(
          Math.floor(Date.parse((await store.getEntry('note:two'))?.expiresAt ?? '') / 1000),
        );

        expect(await (await call('GET', '/counter')).json()).toBe(1);
        expect(await (await call('GET', '/counter')).json()).toBe(2);
        expect(await store.getJson('counter')).toBe(2);

        const bulk = await call('POST', '/bulk', {
          body: JSON.stringify(['note:one', 'note:zzz', 'counter']),
        });
        expect(await bulk.json()).toEqual({ 'note:one': 'first', 'note:zzz': null, counter: '2' });

        expect((await call('DELETE', '/notes/one')).status).toBe(204);
        expect((await call('GET', '/notes/one')).status).toBe(404);
        expect(await store.get('note:one')).toBeUndefined();
      });
    });
  });
}
