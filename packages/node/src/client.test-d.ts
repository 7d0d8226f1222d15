import { Readable } from 'node:stream';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type AtomicResult,
  type BulkResult,
  createClient,
  type EntryMeta,
  type HistoryEntry,
  type KvEntry,
  type KvValue,
  type ListPage,
  type NodeStoreHandle,
  type SetResult,
  type StoreInfo,
} from './index.js';

declare const store: NodeStoreHandle;
interface User {
  name: string;
  roles: string[];
}
declare const user: User;

describe('reads', () => {
  it('getJson<T> returns T | undefined', () => {
    expectTypeOf(store.getJson<User>('k')).resolves.toEqualTypeOf<User | undefined>();
    expectTypeOf(store.get('k')).resolves.toEqualTypeOf<KvValue | undefined>();
    expectTypeOf(store.getText('k')).resolves.toEqualTypeOf<string | undefined>();
    expectTypeOf(store.getBytes('k')).resolves.toEqualTypeOf<Uint8Array | undefined>();
    expectTypeOf(store.getBuffer('k')).resolves.toEqualTypeOf<Buffer | undefined>();
    expectTypeOf(store.getStream('k')).resolves.toEqualTypeOf<ReadableStream<Uint8Array> | undefined>();
    expectTypeOf(store.getEntry<User>('k')).resolves.toEqualTypeOf<KvEntry<User> | undefined>();
    expectTypeOf(store.exists('k')).resolves.toEqualTypeOf<boolean>();
    expectTypeOf(store.history<User>('k')).resolves.toEqualTypeOf<HistoryEntry<User>[]>();
    expectTypeOf(store.list<User>()).resolves.toEqualTypeOf<ListPage<User>>();
  });

  it('an entry value cannot be used without checking for undefined', async () => {
    const value = await store.getJson<User>('k');
    // @ts-expect-error possibly undefined
    value.name;
    if (value !== undefined) expectTypeOf(value.name).toEqualTypeOf<string>();
  });

  it('getMany returns a Map; values: false drops the value type', () => {
    expectTypeOf(store.getMany<User>(['a'])).resolves.toEqualTypeOf<Map<string, KvEntry<User> | undefined>>();
    expectTypeOf(store.getMany(['a'], { values: false })).resolves.toEqualTypeOf<
      Map<string, EntryMeta | undefined>
    >();
  });

  it('keys() yields strings and entries() yields entries', () => {
    expectTypeOf(store.keys()).toEqualTypeOf<AsyncIterableIterator<string>>();
    expectTypeOf(store.entries<User>()).toEqualTypeOf<AsyncIterableIterator<KvEntry<User>>>();
  });
});

describe('writes', () => {
  it('set accepts JSON values, interfaces, bytes, Buffer, Blob and streams', () => {
    expectTypeOf(store.set('k', user)).resolves.toEqualTypeOf<SetResult>();
    store.set('k', { a: 1, nested: { b: [1, 2] } });
    store.set('k', [1, 'two']);
    store.set('k', 'text');
    store.set('k', 42);
    store.set('k', null);
    store.set('k', new Uint8Array(1));
    store.set('k', Buffer.from('x'));
    store.set('k', new Blob(['x']));
    store.set('k', new ReadableStream<Uint8Array>());
    store.set('k', Readable.from(['x']));
    store.set('k', 'x', {
      ttlMs: 1000,
      metadata: { a: 1 },
      scopes: ['s'],
      resume: true,
      contentType: 'text/plain',
    });
  });

  it('values with no JSON form are compile errors', () => {
    // @ts-expect-error undefined has no JSON form
    store.set('k', undefined);
    // @ts-expect-error functions have no JSON form
    store.set('k', () => 1);
    // @ts-expect-error a promise must be awaited first
    store.set('k', Promise.resolve(1));
    // @ts-expect-error symbols have no JSON form
    store.set('k', Symbol('s'));
    // @ts-expect-error BigInt has no JSON form
    store.set('k', 1n);
  });

  it('options are typed', () => {
    // @ts-expect-error ttlMs is a number of milliseconds
    store.set('k', 1, { ttlMs: '1000' });
    // @ts-expect-error unknown option
    store.set('k', 1, { ttl: 1000 });
    // @ts-expect-error metadata is a JSON object
    store.set('k', 1, { metadata: 'm' });
    // @ts-expect-error create sets its own condition
    store.create('k', 1, { ifRevision: 3 });
    // @ts-expect-error update needs the revision
    store.update('k', 1);
    // @ts-expect-error the revision is a number
    store.update('k', 1, '3');
  });

  it('bulk and atomic writes take no streams', () => {
    expectTypeOf(store.setMany([{ key: 'a', value: user }])).resolves.toEqualTypeOf<BulkResult>();
    // @ts-expect-error streams cannot travel in JSON
    store.setMany([{ key: 'a', value: new ReadableStream<Uint8Array>() }]);
    // @ts-expect-error streams cannot travel in JSON
    store.atomic().set('a', new ReadableStream<Uint8Array>());
    // @ts-expect-error a check's revision is a number or null
    store.atomic().check('a', '1');
  });

  it('an atomic result names failed keys only when it failed', async () => {
    const result = await store.atomic().check('a', null).set('a', 1).commit();
    expectTypeOf(result).toEqualTypeOf<AtomicResult>();
    // @ts-expect-error failedKeys exists only on { ok: false }
    result.failedKeys;
    if (!result.ok) expectTypeOf(result.failedKeys).toEqualTypeOf<string[]>();
    else expectTypeOf(result.revision).toEqualTypeOf<number>();
  });

  it('delete, purge and setExpiry return booleans', () => {
    expectTypeOf(store.delete('k', { ifRevision: 1 })).resolves.toEqualTypeOf<boolean>();
    expectTypeOf(store.purge('k')).resolves.toEqualTypeOf<boolean>();
    expectTypeOf(store.setExpiry('k', null)).resolves.toEqualTypeOf<boolean>();
    store.setExpiry('k', new Date());
    // @ts-expect-error expiry is a Date, ISO string, epoch ms or null
    store.setExpiry('k', true);
  });
});

describe('createClient', () => {
  it('takes typed options', () => {
    const kv = createClient({ url: 'http://x', timeoutMs: 1000, retry: { limit: 3, backoffMs: 100 } });
    expectTypeOf(kv.stores.get('s')).resolves.toEqualTypeOf<StoreInfo | undefined>();
    expectTypeOf(kv.store('s')).toEqualTypeOf<NodeStoreHandle>();
    // @ts-expect-error timeoutMs is a number
    createClient({ timeoutMs: '1s' });
    // @ts-expect-error unknown option
    createClient({ baseUrl: 'http://x' });
    createClient({ retry: false, onError: (error) => expectTypeOf(error.code).toBeString() });
  });
});
