/**
 * The shared storage suite: every {@link Storage} implementation (MemoryStorage, SqliteStorage,
 * PostgreSQL) runs these vitest tests. It is the executable form of the TSDoc in `storage.ts` plus the
 * commit rules of `commit.ts` (run here over each storage) and `testing/model.ts` (docs/architecture.md "Revisions",
 * docs/protocol.md "Conventions" and "Revisions, ordering and consistency").
 *
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest';
import { applyCommit, commit, IdempotencyRecordFound, runSteps } from '../commit.js';
import type { ChangeRecord, IdempotencyRecord, Storage, StoredEntry } from '../storage.js';
import { keysOf, putOp, storeConfig, sweep, T0, text, utf8, write } from './helpers.js';
import { compareUtf8 } from './model.js';
import { createPrng } from './prng.js';
import { describePropertyTests } from './property.js';
import { describeQueueCases } from './queue-suite.js';

/** What the suite asks of a storage it opens. Honour every field that is set. */
export interface StorageFactoryOptions {
  /**
   * Changes to keep per store in the change log (older ones are dropped and `changeLogFloor` rises).
   * Unset: the implementation's default (which must be larger than any test needs, >= 1000).
   */
  changeLogLimit?: number;
}

/**
 * Opens a fresh, empty storage. Called once or more per test; the suite closes every storage it
 * opened after the test.
 *
 * @example (options) => new MemoryStorage(options)
 * @example (options) => SqliteStorage.open({ path: ':memory:', ...options })
 */
export type StorageFactory = (options: StorageFactoryOptions) => Promise<Storage> | Storage;

/** Options of {@link describeStorageSuite}. */
export interface StorageSuiteOptions {
  /**
   * Random steps per seed in the model-based property test.
   * @default 2000
   */
  propertySteps?: number;
  /**
   * Seeds of the property test, one test each.
   * @default [1, 2, 3]
   */
  propertySeeds?: number[];
  /**
   * Per-test timeout in ms for the property tests (slow storages may need more).
   * @default 60000
   */
  propertyTimeoutMs?: number;
}

const STORE = 'main';

const entryFields = (entry: StoredEntry | ChangeRecord | undefined) =>
  entry === undefined ? undefined : { ...entry, value: text(entry.value) };

/**
 * Registers the shared storage suite as vitest `describe`/`it` blocks named `storage suite: <name>`.
 *
 * @param name - implementation name shown in test titles
 * @param factory - opens a fresh empty storage; receives {@link StorageFactoryOptions}
 * @param options - property-test tuning, see {@link StorageSuiteOptions}
 * @example
 * import { describeStorageSuite } from '@kv/engine/testing';
 * describeStorageSuite('MemoryStorage', (options) => new MemoryStorage(options));
 */
export function describeStorageSuite(
  name: string,
  factory: StorageFactory,
  options: StorageSuiteOptions = {},
): void {
  describe(`storage suite: ${name}`, () => {
    let opened: Storage[] = [];

    afterEach(async () => {
      const toClose = opened;
      opened = [];
      for (const storage of toClose) await storage.close();
    });

    /** Opens a storage that is closed after the test. */
    async function open(factoryOptions: StorageFactoryOptions = {}): Promise<Storage> {
      const storage = await factory(factoryOptions);
      opened.push(storage);
      return storage;
    }

    /** Opens a storage with one store `main` of the given history depth. */
    async function withStore(history = 1, factoryOptions: StorageFactoryOptions = {}): Promise<Storage> {
      const storage = await open(factoryOptions);
      await storage.createStore(STORE, storeConfig({ history }), T0, 'secret');
      return storage;
    }

    describe('stores', () => {
      it('createStore returns the record and getStore reads it back', async () => {
        const storage = await open();
        const config = { history: 5, defaultTtlMs: 60_000, maxValueBytes: 4096 };
        const created = await storage.createStore('orders', config, T0, 'sekret');
        const expected = {
          name: 'orders',
          ...config,
          revision: 0,
          keyCount: 0,
          totalBytes: 0,
          createdAt: T0,
          updatedAt: T0,
          signingSecret: 'sekret',
        };
        expect(created).toEqual(expected);
        expect(await storage.getStore('orders')).toEqual(expected);
        expect(await storage.getStore('missing')).toBeUndefined();
      });

      it('createStore on a taken name throws KeyExistsError with code store_exists', async () => {
        const storage = await open();
        await storage.createStore('orders', storeConfig(), T0, 's');
        await expect(
          storage.createStore('orders', storeConfig({ history: 3 }), T0 + 1, 's2'),
        ).rejects.toMatchObject({ name: 'KeyExistsError', code: 'store_exists', status: 412 });
        expect((await storage.getStore('orders'))?.history).toBe(1);
      });

      it('listStores orders by name bytes', async () => {
        const storage = await open();
        expect(await storage.listStores()).toEqual([]);
        for (const name of ['b', 'a-1', 'C', '_x', 'a', 'B9']) {
          await storage.createStore(name, storeConfig(), T0, 's');
        }
        expect((await storage.listStores()).map((s) => s.name)).toEqual(['B9', 'C', '_x', 'a', 'a-1', 'b']);
      });

      it('updateStore changes only the given settings and updatedAt', async () => {
        const storage = await open();
        await storage.createStore('s', { history: 2, defaultTtlMs: null, maxValueBytes: 100 }, T0, 'sec');
        const updated = await storage.updateStore('s', { defaultTtlMs: 5000 }, T0 + 10);
        expect(updated).toMatchObject({
          name: 's',
          history: 2,
          defaultTtlMs: 5000,
          maxValueBytes: 100,
          createdAt: T0,
          updatedAt: T0 + 10,
          signingSecret: 'sec',
        });
        const again = await storage.updateStore(
          's',
          { maxValueBytes: 200, history: 4, defaultTtlMs: null },
          T0 + 20,
        );
        expect(again).toMatchObject({
          history: 4,
          defaultTtlMs: null,
          maxValueBytes: 200,
          updatedAt: T0 + 20,
        });
        expect(await storage.getStore('s')).toEqual(again);
      });

      it('updateStore to a smaller history depth trims every key and keeps the live entries', async () => {
        const storage = await withStore(5);
        for (let i = 1; i <= 5; i++) await write(storage, STORE, [putOp('a', `a${i}`), putOp('b', `b${i}`)]);
        await write(storage, STORE, [{ type: 'delete', key: 'b' }]);
        expect((await storage.history(STORE, 'a')).length).toBe(5);
        await storage.updateStore(STORE, { history: 2 }, T0 + 1);
        expect((await storage.history(STORE, 'a')).map((r) => text(r.value))).toEqual(['a5', 'a4']);
        expect((await storage.history(STORE, 'b')).map((r) => r.operation)).toEqual(['delete', 'put']);
        expect(text((await storage.get(STORE, 'a', T0))!.value)).toBe('a5');
        expect(await storage.get(STORE, 'b', T0)).toBeUndefined();
        // A deeper setting keeps more from now on.
        await storage.updateStore(STORE, { history: 3 }, T0 + 2);
        await write(storage, STORE, [putOp('a', 'a6')]);
        expect((await storage.history(STORE, 'a')).map((r) => text(r.value))).toEqual(['a6', 'a5', 'a4']);
      });

      it('rotateSigningSecret replaces the secret', async () => {
        const storage = await open();
        await storage.createStore('s', storeConfig(), T0, 'old');
        const rotated = await storage.rotateSigningSecret('s', 'new', T0 + 5);
        expect(rotated).toMatchObject({ signingSecret: 'new', updatedAt: T0 + 5, createdAt: T0 });
        expect((await storage.getStore('s'))?.signingSecret).toBe('new');
      });

      it('deleteStore drops the store and all its data; a new store of that name starts empty', async () => {
        const storage = await open();
        await storage.createStore('s', storeConfig({ history: 3 }), T0, 'x');
        await storage.createStore('other', storeConfig(), T0, 'x');
        await write(storage, 's', [putOp('k', 'v', { scopes: ['sc'] }), putOp('k', 'v2'), putOp('j', 'w')]);
        await write(storage, 'other', [putOp('k', 'o')]);
        expect(await storage.deleteStore('s')).toBe(true);
        expect(await storage.deleteStore('s')).toBe(false);
        expect(await storage.getStore('s')).toBeUndefined();
        expect((await storage.listStores()).map((s) => s.name)).toEqual(['other']);
        await expect(storage.get('s', 'k', T0)).rejects.toMatchObject({ code: 'store_not_found' });

        const fresh = await storage.createStore('s', storeConfig({ history: 3 }), T0 + 1, 'y');
        expect(fresh).toMatchObject({ revision: 0, keyCount: 0, totalBytes: 0 });
        expect(await storage.get('s', 'k', T0)).toBeUndefined();
        expect(await storage.history('s', 'k')).toEqual([]);
        expect(await storage.scan('s', { limit: 10, values: true, nowMs: T0 })).toEqual([]);
        expect(await storage.listScopes('s', T0)).toEqual([]);
        expect(await storage.changes('s', 0, 10)).toEqual([]);
        expect(await storage.changeLogFloor('s')).toBe(0);
        // The other store is untouched.
        expect(text((await storage.get('other', 'k', T0))!.value)).toBe('o');
      });

      it('every store-scoped method throws StoreNotFoundError for an unknown store', async () => {
        const storage = await open();
        const missing = { name: 'StoreNotFoundError', code: 'store_not_found', status: 404 };
        const calls: Array<() => Promise<unknown>> = [
          () => storage.updateStore('nope', { history: 2 }, T0),
          () => storage.rotateSigningSecret('nope', 's', T0),
          () => storage.get('nope', 'k', T0),
          () => storage.getById('nope', 'id', T0),
          () => storage.getMany('nope', ['k'], T0, true),
          () => storage.scan('nope', { limit: 10, values: false, nowMs: T0 }),
          () => storage.history('nope', 'k'),
          () => storage.listScopes('nope', T0),
          () => commit(storage, 'nope', { mode: 'each', mutations: [putOp('k', 'v')], nowMs: T0 }),
          () => storage.changes('nope', 0, 10),
          () => storage.changeLogFloor('nope'),
        ];
        for (const call of calls) await expect(call()).rejects.toMatchObject(missing);
      });
    });

    describe('puts and reads', () => {
      it('a put stores every field and get returns them', async () => {
        const storage = await withStore();
        const [result] = await write(
          storage,
          STORE,
          [
            putOp('user:1', 'hello', {
              contentType: 'application/json',
              metadata: { owner: 'ann', n: 1, nested: { ok: true } },
              scopes: ['admin', 'billing'],
              expiresAt: T0 + 60_000,
              resume: true,
              newId: 'id-user-1',
            }),
          ],
          T0 + 5,
        );
        expect(result).toEqual({
          key: 'user:1',
          status: 'applied',
          revision: 1,
          id: 'id-user-1',
          created: true,
        });
        expect(entryFields(await storage.get(STORE, 'user:1', T0 + 5))).toEqual({
          key: 'user:1',
          id: 'id-user-1',
          value: 'hello',
          contentType: 'application/json',
          metadata: { owner: 'ann', n: 1, nested: { ok: true } },
          scopes: ['admin', 'billing'],
          revision: 1,
          createdAt: T0 + 5,
          updatedAt: T0 + 5,
          expiresAt: T0 + 60_000,
          resume: true,
          size: 5,
        });
        expect(await storage.get(STORE, 'user:2', T0)).toBeUndefined();
      });

      it('numeric mutations read the stored value through StorageTx.value, own writes included', async () => {
        const storage = await withStore(3);
        await write(
          storage,
          STORE,
          [putOp('n', '41', { newId: 'n-id', contentType: 'application/json' })],
          T0,
        );
        const sum = (key: string, operand: number) =>
          ({ type: 'sum', key, operand, defaultExpiresAt: null, newId: `${key}-id` }) as const;
        const result = await commit(storage, STORE, {
          mode: 'atomic',
          nowMs: T0 + 1,
          mutations: [
            sum('n', 1),
            putOp('m', '7', { contentType: 'application/json' }),
            sum('m', 3),
            { ...sum('m', 5), type: 'max' },
            sum('new', -2),
          ],
        });
        expect(result.ok && result.results.map((r) => r.number)).toEqual([42, undefined, 10, 10, -2]);
        const n = await storage.get(STORE, 'n', T0 + 1);
        expect(n).toMatchObject({ id: 'n-id', contentType: 'application/json', revision: 2, size: 2 });
        expect(text(n!.value)).toBe('42');
        expect(text((await storage.get(STORE, 'm', T0 + 1))!.value)).toBe('10');
        expect((await storage.history(STORE, 'n')).map((h) => text(h.value))).toEqual(['42', '41']);
        // A refused op rolls the whole transaction back.
        await write(storage, STORE, [putOp('text', 'abc')], T0 + 2);
        await expect(
          commit(storage, STORE, { mode: 'atomic', nowMs: T0 + 3, mutations: [sum('n', 1), sum('text', 1)] }),
        ).rejects.toMatchObject({ code: 'validation_error' });
        expect(text((await storage.get(STORE, 'n', T0 + 3))!.value)).toBe('42');
        expect((await storage.getStore(STORE))?.revision).toBe(7);
      });

      it('an overwrite keeps the id and createdAt, bumps revision and updatedAt, created false', async () => {
        const storage = await withStore(2);
        const [first] = await write(storage, STORE, [putOp('k', 'one', { newId: 'first' })], T0);
        const [second] = await write(storage, STORE, [putOp('k', 'two!', { newId: 'ignored' })], T0 + 100);
        expect(first).toEqual({ key: 'k', status: 'applied', revision: 1, id: 'first', created: true });
        expect(second).toEqual({ key: 'k', status: 'applied', revision: 2, id: 'first', created: false });
        const entry = await storage.get(STORE, 'k', T0 + 100);
        expect(entry).toMatchObject({
          id: 'first',
          revision: 2,
          createdAt: T0,
          updatedAt: T0 + 100,
          size: 4,
        });
        expect(text(entry!.value)).toBe('two!');
      });

      it('a key deleted and written again gets a new id and createdAt; old ids stop resolving', async () => {
        const storage = await withStore(5);
        await write(storage, STORE, [putOp('k', 'a', { newId: 'life-1' })], T0);
        expect((await storage.getById(STORE, 'life-1', T0))?.key).toBe('k');
        await write(storage, STORE, [{ type: 'delete', key: 'k' }], T0 + 1);
        expect(await storage.getById(STORE, 'life-1', T0 + 1)).toBeUndefined();
        const [again] = await write(storage, STORE, [putOp('k', 'b', { newId: 'life-2' })], T0 + 2);
        expect(again).toEqual({ key: 'k', status: 'applied', revision: 3, id: 'life-2', created: true });
        expect(await storage.get(STORE, 'k', T0 + 2)).toMatchObject({ id: 'life-2', createdAt: T0 + 2 });
        expect(await storage.getById(STORE, 'life-1', T0 + 2)).toBeUndefined();
        expect(entryFields(await storage.getById(STORE, 'life-2', T0 + 2))).toMatchObject({
          key: 'k',
          value: 'b',
        });
        expect((await storage.history(STORE, 'k')).map((r) => [r.operation, r.id, r.revision])).toEqual([
          ['put', 'life-2', 3],
          ['delete', 'life-1', 2],
          ['put', 'life-1', 1],
        ]);
        expect(await storage.getById(STORE, 'never', T0)).toBeUndefined();
      });

      it('a purged key written again gets a new id', async () => {
        const storage = await withStore(3);
        await write(storage, STORE, [putOp('k', 'a', { newId: 'p1' })]);
        await write(storage, STORE, [{ type: 'purge', key: 'k' }]);
        const [again] = await write(storage, STORE, [putOp('k', 'b', { newId: 'p2' })]);
        expect(again).toMatchObject({ id: 'p2', created: true, revision: 3 });
        expect((await storage.history(STORE, 'k')).map((r) => r.id)).toEqual(['p2']);
      });

      it('getMany returns entries in the order asked, undefined where missing, values optional', async () => {
        const storage = await withStore();
        await write(storage, STORE, [
          putOp('a', 'A'),
          putOp('b', 'BB'),
          putOp('gone', 'x'),
          putOp('old', 'x', { expiresAt: T0 + 10 }),
        ]);
        await write(storage, STORE, [{ type: 'delete', key: 'gone' }]);
        const got = await storage.getMany(STORE, ['b', 'missing', 'a', 'gone', 'old', 'b'], T0 + 10, true);
        expect(got.map((e) => (e === undefined ? undefined : text(e.value)))).toEqual([
          'BB',
          undefined,
          'A',
          undefined,
          undefined,
          'BB',
        ]);
        const noValues = await storage.getMany(STORE, ['a', 'b'], T0, false);
        expect(noValues.map((e) => [e?.key, e?.value.length, e?.size])).toEqual([
          ['a', 0, 1],
          ['b', 0, 2],
        ]);
        expect(await storage.getMany(STORE, [], T0, true)).toEqual([]);
      });

      it('values, metadata and scopes are copied in and out', async () => {
        const storage = await withStore(2);
        const value = utf8('abc');
        const metadata = { tag: 'x' };
        const scopes = ['s1'];
        const op = putOp('k', value, { metadata, scopes });
        await write(storage, STORE, [op]);
        value[0] = 0x7a;
        metadata.tag = 'changed';
        scopes.push('s2');

        const read = await storage.get(STORE, 'k', T0);
        expect(entryFields(read)).toMatchObject({ value: 'abc', metadata: { tag: 'x' }, scopes: ['s1'] });
        read!.value[0] = 0x7a;
        (read!.metadata as { tag: string }).tag = 'mutated';
        read!.scopes.push('s9');
        const outputs = [
          ...(await storage.getMany(STORE, ['k'], T0, true)),
          ...(await storage.scan(STORE, { limit: 10, values: true, nowMs: T0 })),
          ...(await storage.history(STORE, 'k')),
          ...(await storage.changes(STORE, 0, 10)),
          await storage.getById(STORE, read!.id, T0),
        ];
        for (const out of outputs) out!.value.fill(0x7a);
        expect(entryFields(await storage.get(STORE, 'k', T0))).toMatchObject({
          value: 'abc',
          metadata: { tag: 'x' },
          scopes: ['s1'],
        });
        expect(text((await storage.history(STORE, 'k'))[0]!.value)).toBe('abc');
        expect(text((await storage.changes(STORE, 0, 1))[0]!.value)).toBe('abc');
      });

      it('an empty value is stored with size 0', async () => {
        const storage = await withStore();
        await write(storage, STORE, [putOp('empty', new Uint8Array(0))]);
        expect(await storage.get(STORE, 'empty', T0)).toMatchObject({ size: 0, value: new Uint8Array(0) });
        expect(await storage.getStore(STORE)).toMatchObject({ keyCount: 1, totalBytes: 0 });
      });

      it('binary values round-trip byte for byte', async () => {
        const storage = await withStore();
        const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
        await write(storage, STORE, [putOp('bin', bytes, { contentType: 'application/octet-stream' })]);
        expect(Array.from((await storage.get(STORE, 'bin', T0))!.value)).toEqual(Array.from(bytes));
      });
    });

    describe('ordering and scans', () => {
      // By UTF-8 bytes: 'A' 41 < 'a' 61 < 'a/b' 61 2F < 'ab' 61 62 < 'b' 62 < '~' 7E < 'é' C3 A9
      // < 'é/x' < '\uFFFF' EF BF BF < '😀' F0 9F 98 80. UTF-16 order would put '😀' (D83D) before '\uFFFF'.
      const ordered = ['A', 'a', 'a/b', 'ab', 'b', '~', 'é', 'é/x', '\uFFFF', '😀'];
      const scopesOf = (key: string) => (['a', 'ab', 'é', '😀'].includes(key) ? ['even'] : ['odd']);

      async function seeded(): Promise<Storage> {
        const storage = await withStore();
        const shuffled = ['😀', 'b', 'é/x', 'A', '\uFFFF', 'ab', 'a', '~', 'é', 'a/b'];
        await write(
          storage,
          STORE,
          shuffled.map((key) => putOp(key, `v:${key}`, { scopes: scopesOf(key) })),
        );
        return storage;
      }
      const scan = (storage: Storage, query: Partial<Parameters<Storage['scan']>[1]> = {}) =>
        storage.scan(STORE, { limit: 1000, values: false, nowMs: T0, ...query }).then(keysOf);

      it('orders keys by UTF-8 bytes, forward and reverse', async () => {
        const storage = await seeded();
        expect(await scan(storage)).toEqual(ordered);
        expect(await scan(storage, { reverse: true })).toEqual([...ordered].reverse());
      });

      it('prefix selects the keys starting with it', async () => {
        const storage = await seeded();
        expect(await scan(storage, { prefix: 'a' })).toEqual(['a', 'a/b', 'ab']);
        expect(await scan(storage, { prefix: 'a/' })).toEqual(['a/b']);
        expect(await scan(storage, { prefix: 'é' })).toEqual(['é', 'é/x']);
        expect(await scan(storage, { prefix: '😀' })).toEqual(['😀']);
        expect(await scan(storage, { prefix: 'a', reverse: true })).toEqual(['ab', 'a/b', 'a']);
        expect(await scan(storage, { prefix: 'zz' })).toEqual([]);
        expect(await scan(storage, { prefix: '' })).toEqual(ordered);
      });

      it('after is an exclusive bound in the scan direction', async () => {
        const storage = await seeded();
        expect(await scan(storage, { after: 'ab' })).toEqual(['b', '~', 'é', 'é/x', '\uFFFF', '😀']);
        expect(await scan(storage, { after: 'ab', reverse: true })).toEqual(['a/b', 'a', 'A']);
        // A bound that is not a key.
        expect(await scan(storage, { after: 'aa' })).toEqual(['ab', 'b', '~', 'é', 'é/x', '\uFFFF', '😀']);
        expect(await scan(storage, { after: 'c', reverse: true })).toEqual(['b', 'ab', 'a/b', 'a', 'A']);
        expect(await scan(storage, { after: '😀' })).toEqual([]);
        expect(await scan(storage, { after: 'A', reverse: true })).toEqual([]);
        expect(await scan(storage, { after: '\uFFFF' })).toEqual(['😀']);
        expect(await scan(storage, { after: '😀', reverse: true })).toEqual(ordered.slice(0, -1).reverse());
      });

      it('prefix and after combine', async () => {
        const storage = await seeded();
        expect(await scan(storage, { prefix: 'a', after: 'a' })).toEqual(['a/b', 'ab']);
        expect(await scan(storage, { prefix: 'a', after: 'ab', reverse: true })).toEqual(['a/b', 'a']);
        expect(await scan(storage, { prefix: 'a', after: 'A' })).toEqual(['a', 'a/b', 'ab']);
        expect(await scan(storage, { prefix: 'a', after: 'b', reverse: true })).toEqual(['ab', 'a/b', 'a']);
        expect(await scan(storage, { prefix: 'é', after: 'zz' })).toEqual(['é', 'é/x']);
        expect(await scan(storage, { prefix: 'a', after: 'ab' })).toEqual([]);
      });

      it('limit caps the rows; paging with after visits every key once', async () => {
        const storage = await seeded();
        expect(await scan(storage, { limit: 3 })).toEqual(['A', 'a', 'a/b']);
        expect(await scan(storage, { limit: 3, reverse: true })).toEqual(['😀', '\uFFFF', 'é/x']);
        expect(await scan(storage, { limit: 0 })).toEqual([]);
        for (const reverse of [false, true]) {
          const seen: string[] = [];
          let after: string | undefined;
          for (;;) {
            const page = await scan(storage, {
              limit: 3,
              reverse,
              ...(after === undefined ? {} : { after }),
            });
            seen.push(...page);
            if (page.length < 3) break;
            after = page[page.length - 1];
          }
          expect(seen).toEqual(reverse ? [...ordered].reverse() : ordered);
        }
      });

      it('scope filters before the limit', async () => {
        const storage = await seeded();
        expect(await scan(storage, { scope: 'even' })).toEqual(['a', 'ab', 'é', '😀']);
        expect(await scan(storage, { scope: 'even', limit: 2 })).toEqual(['a', 'ab']);
        expect(await scan(storage, { scope: 'even', reverse: true, limit: 3 })).toEqual(['😀', 'é', 'ab']);
        expect(await scan(storage, { scope: 'odd', prefix: 'a', after: 'A' })).toEqual(['a/b']);
        expect(await scan(storage, { scope: 'none' })).toEqual([]);
      });

      it('values are loaded only when asked; size is always there', async () => {
        const storage = await seeded();
        const [withValue] = await storage.scan(STORE, { prefix: 'ab', limit: 1, values: true, nowMs: T0 });
        expect(text(withValue!.value)).toBe('v:ab');
        const [without] = await storage.scan(STORE, { prefix: 'ab', limit: 1, values: false, nowMs: T0 });
        expect(without!.value.length).toBe(0);
        expect(without).toMatchObject({ key: 'ab', size: 4, scopes: ['even'], contentType: 'text/plain' });
      });

      it('orders random Unicode keys by UTF-8 bytes and pages through them exactly', async () => {
        const storage = await withStore();
        const rng = createPrng(7);
        const alphabet = [
          'a',
          'b',
          'Z',
          '/',
          ':',
          '~',
          'é',
          'ß',
          'Ω',
          '中',
          '\uE000',
          '\uFFFD',
          '\uFFFF',
          '😀',
          '𝄞',
          '🀄',
        ];
        const keys = new Set<string>();
        while (keys.size < 300) {
          keys.add(Array.from({ length: rng.int(1, 4) }, () => rng.pick(alphabet)).join(''));
        }
        await write(
          storage,
          STORE,
          [...keys].map((key) => putOp(key, key)),
        );
        const sorted = [...keys].sort(compareUtf8);
        expect(await scan(storage)).toEqual(sorted);
        const paged: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await scan(storage, {
            limit: 7,
            reverse: true,
            ...(after === undefined ? {} : { after }),
          });
          paged.push(...page);
          if (page.length < 7) break;
          after = page[page.length - 1];
        }
        expect(paged).toEqual([...sorted].reverse());
        for (const prefix of ['a', '中', '\uFFFF', '😀', '𝄞a']) {
          expect(await scan(storage, { prefix })).toEqual(sorted.filter((k) => k.startsWith(prefix)));
        }
      });

      it('scans skip deleted, purged and expired entries', async () => {
        const storage = await seeded();
        await write(storage, STORE, [
          { type: 'delete', key: 'a' },
          { type: 'purge', key: 'b' },
          { type: 'setExpiry', key: 'é', expiresAt: T0 + 10 },
        ]);
        expect(await scan(storage, { nowMs: T0 + 9 })).toEqual(ordered.filter((k) => k !== 'a' && k !== 'b'));
        expect(await scan(storage, { nowMs: T0 + 10 })).toEqual(
          ordered.filter((k) => !['a', 'b', 'é'].includes(k)),
        );
        expect(await scan(storage, { nowMs: T0 + 10, prefix: 'é' })).toEqual(['é/x']);
        expect(await scan(storage, { nowMs: T0 + 10, scope: 'even', limit: 1 })).toEqual(['ab']);
      });
    });

    describe('expiry', () => {
      it('an entry is invisible from its expiresAt on, before any sweep', async () => {
        const storage = await withStore(3);
        const [put] = await write(storage, STORE, [putOp('k', 'v', { expiresAt: T0 + 1000, scopes: ['s'] })]);
        const before = T0 + 999;
        const at = T0 + 1000;
        expect(await storage.get(STORE, 'k', before)).toBeDefined();
        expect(await storage.get(STORE, 'k', at)).toBeUndefined();
        expect(await storage.getById(STORE, put!.id!, before)).toBeDefined();
        expect(await storage.getById(STORE, put!.id!, at)).toBeUndefined();
        expect(await storage.getMany(STORE, ['k'], at, true)).toEqual([undefined]);
        expect(await storage.scan(STORE, { limit: 10, values: true, nowMs: at })).toEqual([]);
        expect(await storage.listScopes(STORE, before)).toEqual(['s']);
        expect(await storage.listScopes(STORE, at)).toEqual([]);
        // Not swept yet: history still shows the put and the stats still count it.
        expect((await storage.history(STORE, 'k')).map((r) => r.operation)).toEqual(['put']);
        expect(await storage.getStore(STORE)).toMatchObject({ keyCount: 1, totalBytes: 1, revision: 1 });
      });

      it('a put whose expiresAt is already past is invisible at once', async () => {
        const storage = await withStore();
        await write(storage, STORE, [putOp('k', 'v', { expiresAt: T0 - 1 })], T0);
        expect(await storage.get(STORE, 'k', T0)).toBeUndefined();
      });

      it('an expired entry counts as absent for preconditions and writes; the commit records its expire', async () => {
        const storage = await withStore(5);
        await write(storage, STORE, [putOp('k', 'v', { expiresAt: T0 + 10, newId: 'old' })]);
        const later = T0 + 10;
        const each = await commit(storage, STORE, {
          mode: 'each',
          nowMs: later,
          mutations: [
            { type: 'delete', key: 'k' },
            { type: 'setExpiry', key: 'k', expiresAt: null },
            putOp('k', 'x', { precondition: { kind: 'exists' } }),
            putOp('k', 'x', { precondition: { kind: 'revision', revision: 1 } }),
          ],
        });
        // The first op finds the key expired-but-unswept: its expire write (revision 2) comes first, then
        // every op runs against a key that has no live entry.
        expect(each).toEqual({
          ok: true,
          revision: 2,
          results: [
            { key: 'k', status: 'noop', created: false },
            { key: 'k', status: 'noop' },
            { key: 'k', status: 'failed', failure: 'key_not_found' },
            { key: 'k', status: 'failed', failure: 'revision_mismatch' },
          ],
        });
        const atomic = await commit(storage, STORE, {
          mode: 'atomic',
          nowMs: later,
          checks: [{ key: 'k', precondition: { kind: 'absent' } }],
          mutations: [putOp('k', 'new', { newId: 'new', precondition: { kind: 'absent' } })],
        });
        expect(atomic).toEqual({
          ok: true,
          revision: 3,
          results: [{ key: 'k', status: 'applied', revision: 3, id: 'new', created: true }],
        });
        expect(await storage.get(STORE, 'k', later)).toMatchObject({
          id: 'new',
          createdAt: later,
          expiresAt: null,
        });
        expect((await storage.history(STORE, 'k')).map((r) => [r.operation, r.revision, r.id])).toEqual([
          ['put', 3, 'new'],
          ['expire', 2, 'old'],
          ['put', 1, 'old'],
        ]);
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 3, keyCount: 1, totalBytes: 3 });
        expect(await sweep(storage, later + 1000, 100)).toBe(0);
      });

      it('a put over an expired-but-unswept key writes expire@n, then put@n+1 with a new id', async () => {
        const storage = await withStore(3);
        await write(storage, STORE, [
          putOp('k', 'vv', {
            expiresAt: T0 + 10,
            newId: 'old',
            scopes: ['s'],
            metadata: { m: 1 },
            contentType: 'text/x',
            resume: true,
          }),
          putOp('other', 'x'),
        ]);
        const at = T0 + 25;
        const [put] = await write(storage, STORE, [putOp('k', 'new', { newId: 'new', scopes: ['t'] })], at);
        expect(put).toEqual({ key: 'k', status: 'applied', revision: 4, id: 'new', created: true });
        // The expire is the record the sweeper would have written (updatedAt = the commit's time).
        const expire = {
          operation: 'expire',
          key: 'k',
          id: 'old',
          value: '',
          contentType: 'text/x',
          metadata: { m: 1 },
          scopes: ['s'],
          revision: 3,
          createdAt: T0,
          updatedAt: at,
          expiresAt: null,
          resume: true,
          size: 0,
        };
        expect((await storage.changes(STORE, 2, 10)).map(entryFields)).toEqual([
          expire,
          expect.objectContaining({ operation: 'put', key: 'k', id: 'new', revision: 4, createdAt: at }),
        ]);
        expect((await storage.history(STORE, 'k')).map(entryFields)).toEqual([
          expect.objectContaining({ operation: 'put', id: 'new', revision: 4, value: 'new' }),
          expire,
          expect.objectContaining({ operation: 'put', id: 'old', revision: 1, value: 'vv' }),
        ]);
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 4, keyCount: 2, totalBytes: 4 });
        expect(await storage.getById(STORE, 'old', at)).toBeUndefined();
        expect(await storage.getById(STORE, 'new', at)).toMatchObject({ key: 'k', revision: 4 });
        expect(await storage.listScopes(STORE, at)).toEqual(['t']);
        // Nothing is left for the sweeper: the expiry was recorded once.
        expect(await sweep(storage, at + 1000, 100)).toBe(0);
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 4 });
      });

      it('a put over an expired key in a depth-1 store keeps only the new put in history', async () => {
        const storage = await withStore(1);
        await write(storage, STORE, [putOp('k', 'v', { expiresAt: T0 + 10, newId: 'old' })]);
        const [put] = await write(storage, STORE, [putOp('k', 'w', { newId: 'new' })], T0 + 10);
        expect(put).toMatchObject({ revision: 3, id: 'new', created: true });
        expect((await storage.history(STORE, 'k')).map((r) => [r.operation, r.revision])).toEqual([
          ['put', 3],
        ]);
        expect((await storage.changes(STORE, 0, 10)).map((r) => [r.operation, r.revision, r.id])).toEqual([
          ['put', 1, 'old'],
          ['expire', 2, 'old'],
          ['put', 3, 'new'],
        ]);
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 3, keyCount: 1, totalBytes: 1 });
      });

      it('each mode records the expire even when the op precondition then fails', async () => {
        const storage = await withStore(3);
        await write(storage, STORE, [putOp('k', 'v', { expiresAt: T0 + 10 })]);
        const result = await commit(storage, STORE, {
          mode: 'each',
          nowMs: T0 + 10,
          mutations: [putOp('k', 'x', { precondition: { kind: 'revision', revision: 1 } })],
        });
        expect(result).toEqual({
          ok: true,
          revision: 2,
          results: [{ key: 'k', status: 'failed', failure: 'revision_mismatch' }],
        });
        expect((await storage.history(STORE, 'k')).map((r) => r.operation)).toEqual(['expire', 'put']);
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 2, keyCount: 0, totalBytes: 0 });
        expect(await sweep(storage, T0 + 100, 10)).toBe(0);
      });

      it('a failed atomic commit records no expire; keys only in checks are not expired', async () => {
        const storage = await withStore(3);
        await write(storage, STORE, [
          putOp('k', 'v', { expiresAt: T0 + 10 }),
          putOp('c', 'v', { expiresAt: T0 + 10 }),
        ]);
        const later = T0 + 10;
        const failedCheck = await commit(storage, STORE, {
          mode: 'atomic',
          nowMs: later,
          checks: [{ key: 'missing', precondition: { kind: 'exists' } }],
          mutations: [putOp('k', 'x'), { type: 'delete', key: 'c' }],
        });
        expect(failedCheck).toEqual({ ok: false, failedKeys: ['missing'] });
        const failedOp = await commit(storage, STORE, {
          mode: 'atomic',
          nowMs: later,
          mutations: [putOp('k', 'x'), putOp('c', 'y', { precondition: { kind: 'exists' } })],
        });
        expect(failedOp).toEqual({ ok: false, failedKeys: ['c'] });
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 2, keyCount: 2 });
        expect(await storage.changes(STORE, 2, 10)).toEqual([]);
        expect((await storage.history(STORE, 'k')).map((r) => r.operation)).toEqual(['put']);
        // Applied, with `c` only checked: `k` gets its expire then the put, `c` is left to the sweeper.
        const applied = await commit(storage, STORE, {
          mode: 'atomic',
          nowMs: later,
          checks: [{ key: 'c', precondition: { kind: 'absent' } }],
          mutations: [putOp('k', 'x', { newId: 'k2' })],
        });
        expect(applied).toEqual({
          ok: true,
          revision: 4,
          results: [{ key: 'k', status: 'applied', revision: 4, id: 'k2', created: true }],
        });
        expect((await storage.changes(STORE, 2, 10)).map((r) => [r.operation, r.key, r.revision])).toEqual([
          ['expire', 'k', 3],
          ['put', 'k', 4],
        ]);
        expect((await storage.history(STORE, 'c')).map((r) => r.operation)).toEqual(['put']);
        expect(await sweep(storage, later, 10)).toBe(1);
        expect((await storage.history(STORE, 'c')).map((r) => [r.operation, r.revision])).toEqual([
          ['expire', 5],
          ['put', 2],
        ]);
      });

      it('purge of an expired-but-unswept key records its expire, then removes the key', async () => {
        const storage = await withStore(2);
        await write(storage, STORE, [putOp('k', 'vv', { expiresAt: T0 + 10, newId: 'e' })]);
        const [purged] = await write(storage, STORE, [{ type: 'purge', key: 'k' }], T0 + 20);
        expect(purged).toEqual({ key: 'k', status: 'applied', revision: 3, id: 'e', created: false });
        expect(await storage.history(STORE, 'k')).toEqual([]);
        expect((await storage.changes(STORE, 0, 10)).map((r) => [r.operation, r.revision, r.id])).toEqual([
          ['put', 1, 'e'],
          ['expire', 2, 'e'],
          ['purge', 3, 'e'],
        ]);
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 3, keyCount: 0, totalBytes: 0 });
        expect(await sweep(storage, T0 + 30, 10)).toBe(0);
      });

      it('sweepExpired writes an expire tombstone: revision, history, change log, stats', async () => {
        const storage = await withStore(3);
        await write(storage, STORE, [
          putOp('k', 'value', {
            expiresAt: T0 + 100,
            newId: 'kid',
            scopes: ['s'],
            metadata: { m: 1 },
            contentType: 'text/x',
          }),
          putOp('stay', 'x', { expiresAt: T0 + 500 }),
          putOp('forever', 'y'),
        ]);
        expect(await sweep(storage, T0 + 99, 100)).toBe(0);
        expect(await sweep(storage, T0 + 100, 100)).toBe(1);
        const expire = {
          operation: 'expire',
          key: 'k',
          id: 'kid',
          value: '',
          contentType: 'text/x',
          metadata: { m: 1 },
          scopes: ['s'],
          revision: 4,
          createdAt: T0,
          updatedAt: T0 + 100,
          expiresAt: null,
          resume: false,
          size: 0,
        };
        const history = await storage.history(STORE, 'k');
        expect(history.map(entryFields)).toEqual([
          expire,
          expect.objectContaining({ operation: 'put', revision: 1, value: 'value', expiresAt: T0 + 100 }),
        ]);
        expect((await storage.changes(STORE, 3, 10)).map(entryFields)).toEqual([expire]);
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 4, keyCount: 2, totalBytes: 2 });
        expect(await sweep(storage, T0 + 100, 100)).toBe(0);
        expect(await storage.get(STORE, 'stay', T0 + 100)).toBeDefined();
        expect(await sweep(storage, T0 + 10_000, 100)).toBe(1);
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 5, keyCount: 1, totalBytes: 1 });
        // The key can be written again, as a new life.
        const [again] = await write(storage, STORE, [putOp('k', 'z', { newId: 'kid2' })], T0 + 10_000);
        expect(again).toMatchObject({ created: true, id: 'kid2', revision: 6 });
      });

      it('sweepExpired takes the oldest expiry first, across stores, at most limit', async () => {
        const storage = await withStore();
        await storage.createStore('second', storeConfig(), T0, 's');
        await write(storage, STORE, [
          putOp('c', 'x', { expiresAt: T0 + 30 }),
          putOp('a', 'x', { expiresAt: T0 + 10 }),
          putOp('b', 'x', { expiresAt: T0 + 20 }),
        ]);
        await write(storage, 'second', [
          putOp('a', 'x', { expiresAt: T0 + 15 }),
          putOp('z', 'x', { expiresAt: T0 + 10 }),
        ]);
        const now = T0 + 100;
        expect(await sweep(storage, now, 2)).toBe(2);
        // Ties on expiresAt break by store name, then key: main/a before second/z.
        expect((await storage.history(STORE, 'a'))[0]?.operation).toBe('expire');
        expect((await storage.history('second', 'z'))[0]?.operation).toBe('expire');
        expect((await storage.history('second', 'a'))[0]?.operation).toBe('put');
        expect(await sweep(storage, now, 2)).toBe(2);
        expect((await storage.history('second', 'a'))[0]?.operation).toBe('expire');
        expect((await storage.history(STORE, 'b'))[0]?.operation).toBe('expire');
        expect(await sweep(storage, now, 0)).toBe(0);
        expect(await sweep(storage, now, 10)).toBe(1);
        expect(await sweep(storage, now, 10)).toBe(0);
        expect(await storage.getStore(STORE)).toMatchObject({ keyCount: 0, totalBytes: 0, revision: 6 });
        expect(await storage.getStore('second')).toMatchObject({ keyCount: 0, totalBytes: 0, revision: 4 });
        // Revisions of expire writes continue each store's sequence.
        expect((await storage.changes(STORE, 3, 10)).map((c) => [c.key, c.revision, c.operation])).toEqual([
          ['a', 4, 'expire'],
          ['b', 5, 'expire'],
          ['c', 6, 'expire'],
        ]);
      });

      it('setExpiry writes a put revision with the same value and id', async () => {
        const storage = await withStore(5);
        await write(storage, STORE, [
          putOp('k', 'val', { newId: 'kid', metadata: { a: 1 }, scopes: ['s'], resume: true }),
        ]);
        const [set] = await write(
          storage,
          STORE,
          [{ type: 'setExpiry', key: 'k', expiresAt: T0 + 50 }],
          T0 + 5,
        );
        expect(set).toEqual({ key: 'k', status: 'applied', revision: 2, id: 'kid' });
        expect(entryFields(await storage.get(STORE, 'k', T0 + 5))).toEqual({
          key: 'k',
          id: 'kid',
          value: 'val',
          contentType: 'text/plain',
          metadata: { a: 1 },
          scopes: ['s'],
          revision: 2,
          createdAt: T0,
          updatedAt: T0 + 5,
          expiresAt: T0 + 50,
          resume: true,
          size: 3,
        });
        const [clear] = await write(
          storage,
          STORE,
          [{ type: 'setExpiry', key: 'k', expiresAt: null }],
          T0 + 6,
        );
        expect(clear).toMatchObject({ status: 'applied', revision: 3 });
        expect(await storage.get(STORE, 'k', T0 + 100)).toMatchObject({ expiresAt: null, revision: 3 });
        expect(await sweep(storage, T0 + 100, 10)).toBe(0);
        const history = await storage.history(STORE, 'k');
        expect(history.map((r) => [r.operation, r.revision, text(r.value), r.expiresAt])).toEqual([
          ['put', 3, 'val', null],
          ['put', 2, 'val', T0 + 50],
          ['put', 1, 'val', null],
        ]);
        const [past] = await write(storage, STORE, [{ type: 'setExpiry', key: 'k', expiresAt: T0 }], T0 + 7);
        expect(past).toMatchObject({ status: 'applied', revision: 4 });
        expect(await storage.get(STORE, 'k', T0 + 7)).toBeUndefined();
        expect(await sweep(storage, T0 + 7, 10)).toBe(1);
        expect((await storage.history(STORE, 'k'))[0]).toMatchObject({ operation: 'expire', revision: 5 });
        const [missing] = await write(storage, STORE, [{ type: 'setExpiry', key: 'nope', expiresAt: null }]);
        expect(missing).toEqual({ key: 'nope', status: 'noop' });
        expect((await storage.getStore(STORE))?.revision).toBe(5);
      });
    });

    describe('delete, purge and history', () => {
      it('delete writes a tombstone; a missing key is a noop that takes no revision', async () => {
        const storage = await withStore(3);
        await write(
          storage,
          STORE,
          [putOp('k', 'v', { newId: 'kid', scopes: ['s'], metadata: { x: 1 }, expiresAt: T0 + 1e6 })],
          T0,
        );
        const [deleted] = await write(storage, STORE, [{ type: 'delete', key: 'k' }], T0 + 5);
        expect(deleted).toEqual({ key: 'k', status: 'applied', revision: 2, id: 'kid', created: true });
        expect(await storage.get(STORE, 'k', T0 + 5)).toBeUndefined();
        const tombstone = {
          operation: 'delete',
          key: 'k',
          id: 'kid',
          value: '',
          contentType: 'text/plain',
          metadata: { x: 1 },
          scopes: ['s'],
          revision: 2,
          createdAt: T0,
          updatedAt: T0 + 5,
          expiresAt: null,
          resume: false,
          size: 0,
        };
        expect((await storage.history(STORE, 'k')).map(entryFields)).toEqual([
          tombstone,
          expect.objectContaining({ operation: 'put', value: 'v', revision: 1 }),
        ]);
        expect((await storage.changes(STORE, 1, 10)).map(entryFields)).toEqual([tombstone]);
        const noops = await write(storage, STORE, [
          { type: 'delete', key: 'k' },
          { type: 'delete', key: 'never' },
        ]);
        expect(noops).toEqual([
          { key: 'k', status: 'noop', created: false },
          { key: 'never', status: 'noop', created: false },
        ]);
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 2, keyCount: 0, totalBytes: 0 });
        expect(await sweep(storage, T0 + 2e6, 10)).toBe(0);
      });

      it('purge removes the key and its history and logs a purge change', async () => {
        const storage = await withStore(5);
        await write(storage, STORE, [
          putOp('k', 'one', { newId: 'kid' }),
          putOp('k', 'two'),
          putOp('other', 'x'),
        ]);
        const [purged] = await write(storage, STORE, [{ type: 'purge', key: 'k' }], T0 + 9);
        expect(purged).toEqual({ key: 'k', status: 'applied', revision: 4, id: 'kid', created: true });
        expect(await storage.history(STORE, 'k')).toEqual([]);
        expect(await storage.get(STORE, 'k', T0 + 9)).toBeUndefined();
        expect((await storage.changes(STORE, 3, 10)).map(entryFields)).toEqual([
          {
            operation: 'purge',
            key: 'k',
            id: 'kid',
            value: '',
            contentType: 'text/plain',
            metadata: null,
            scopes: [],
            revision: 4,
            createdAt: T0,
            updatedAt: T0 + 9,
            expiresAt: null,
            resume: false,
            size: 0,
          },
        ]);
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 4, keyCount: 1, totalBytes: 1 });
        expect(await write(storage, STORE, [{ type: 'purge', key: 'k' }])).toEqual([
          { key: 'k', status: 'noop', created: false },
        ]);
        expect((await storage.getStore(STORE))?.revision).toBe(4);
      });

      it('purge of a deleted key removes its tombstones and takes a revision', async () => {
        const storage = await withStore(3);
        await write(storage, STORE, [putOp('k', 'v', { newId: 'kid' })]);
        await write(storage, STORE, [{ type: 'delete', key: 'k' }]);
        const [purged] = await write(storage, STORE, [{ type: 'purge', key: 'k' }]);
        expect(purged).toEqual({ key: 'k', status: 'applied', revision: 3, id: 'kid', created: false });
        expect(await storage.history(STORE, 'k')).toEqual([]);
        expect((await storage.changes(STORE, 0, 10)).map((c) => c.operation)).toEqual([
          'put',
          'delete',
          'purge',
        ]);
      });

      it('history depth 1 keeps only the newest record, tombstones included', async () => {
        const storage = await withStore(1);
        await write(storage, STORE, [putOp('k', 'a'), putOp('k', 'b')]);
        expect(
          (await storage.history(STORE, 'k')).map((r) => [r.operation, text(r.value), r.revision]),
        ).toEqual([['put', 'b', 2]]);
        await write(storage, STORE, [{ type: 'delete', key: 'k' }]);
        expect((await storage.history(STORE, 'k')).map((r) => [r.operation, r.revision])).toEqual([
          ['delete', 3],
        ]);
        await write(storage, STORE, [putOp('k', 'c')]);
        expect((await storage.history(STORE, 'k')).map((r) => [r.operation, text(r.value)])).toEqual([
          ['put', 'c'],
        ]);
        expect(await storage.history(STORE, 'never')).toEqual([]);
      });

      it('history depth 5 keeps the five newest records, newest first', async () => {
        const storage = await withStore(5);
        for (let i = 1; i <= 4; i++) await write(storage, STORE, [putOp('k', `v${i}`)], T0 + i);
        await write(storage, STORE, [{ type: 'delete', key: 'k' }], T0 + 5);
        for (let i = 6; i <= 7; i++) await write(storage, STORE, [putOp('k', `v${i}`)], T0 + i);
        const history = await storage.history(STORE, 'k');
        expect(history.map((r) => [r.operation, text(r.value), r.revision, r.updatedAt])).toEqual([
          ['put', 'v7', 7, T0 + 7],
          ['put', 'v6', 6, T0 + 6],
          ['delete', '', 5, T0 + 5],
          ['put', 'v4', 4, T0 + 4],
          ['put', 'v3', 3, T0 + 3],
        ]);
        // Two lives: the ids differ across the delete.
        expect(history[0]!.id).toBe(history[1]!.id);
        expect(history[2]!.id).toBe(history[3]!.id);
        expect(history[1]!.id).not.toBe(history[2]!.id);
        expect(history[0]!.createdAt).toBe(T0 + 6);
        expect(history[3]!.createdAt).toBe(T0 + 1);
      });
    });

    describe('commits', () => {
      it('revisions are consecutive within and across commits; noops and failures take none', async () => {
        const storage = await withStore();
        const first = await commit(storage, STORE, {
          mode: 'atomic',
          nowMs: T0,
          mutations: [putOp('a', '1'), putOp('b', '2'), { type: 'delete', key: 'missing' }, putOp('c', '3')],
        });
        expect(first).toMatchObject({ ok: true, revision: 3 });
        expect(first.ok && first.results.map((r) => [r.status, r.revision])).toEqual([
          ['applied', 1],
          ['applied', 2],
          ['noop', undefined],
          ['applied', 3],
        ]);
        const second = await commit(storage, STORE, {
          mode: 'each',
          nowMs: T0,
          mutations: [
            putOp('a', 'x', { precondition: { kind: 'absent' } }),
            { type: 'delete', key: 'b' },
            putOp('d', '4'),
          ],
        });
        expect(second.ok && second.results.map((r) => [r.status, r.revision])).toEqual([
          ['failed', 1],
          ['applied', 4],
          ['applied', 5],
        ]);
        expect(second).toMatchObject({ ok: true, revision: 5 });
        const empty = await commit(storage, STORE, { mode: 'atomic', nowMs: T0, mutations: [] });
        expect(empty).toEqual({ ok: true, results: [], revision: 5 });
        const allNoop = await commit(storage, STORE, {
          mode: 'each',
          nowMs: T0,
          mutations: [{ type: 'delete', key: 'zz' }],
        });
        expect(allNoop).toMatchObject({ ok: true, revision: 5 });
        expect((await storage.getStore(STORE))?.revision).toBe(5);
        expect((await storage.changes(STORE, 0, 100)).map((c) => c.revision)).toEqual([1, 2, 3, 4, 5]);
      });

      it('concurrent commits each take their own revisions', async () => {
        const storage = await withStore(64);
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            commit(storage, STORE, {
              mode: i % 2 === 0 ? 'atomic' : 'each',
              nowMs: T0,
              mutations: [putOp('shared', `${i}`), putOp(`own-${i}`, `${i}`)],
            }),
          ),
        );
        const revisions = results.flatMap((r) => (r.ok ? r.results.map((m) => m.revision) : []));
        expect([...revisions].sort((a, b) => a! - b!)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
        for (const r of results) {
          // Within one commit the revisions are consecutive.
          expect(r.ok && r.results[1]!.revision! - r.results[0]!.revision!).toBe(1);
        }
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 80, keyCount: 41 });
        expect((await storage.history(STORE, 'shared')).length).toBe(40);
        expect(results.filter((r) => r.ok && r.results[0]!.created).length).toBe(1);
      });

      it('atomic: a failing check writes nothing and reports the failed keys', async () => {
        const storage = await withStore(3);
        await write(storage, STORE, [putOp('a', 'a1'), putOp('b', 'b1')]);
        const before = await storage.getStore(STORE);
        const result = await commit(storage, STORE, {
          mode: 'atomic',
          nowMs: T0 + 1,
          checks: [
            { key: 'a', precondition: { kind: 'revision', revision: 1 } },
            { key: 'b', precondition: { kind: 'revision', revision: 1 } },
            { key: 'c', precondition: { kind: 'exists' } },
          ],
          mutations: [
            putOp('a', 'a2'),
            { type: 'delete', key: 'b' },
            putOp('n', 'new'),
            { type: 'purge', key: 'a' },
          ],
        });
        expect(result).toEqual({ ok: false, failedKeys: ['b', 'c'] });
        expect(await storage.getStore(STORE)).toEqual(before);
        expect(text((await storage.get(STORE, 'a', T0 + 1))!.value)).toBe('a1');
        expect(await storage.get(STORE, 'b', T0 + 1)).toBeDefined();
        expect(await storage.get(STORE, 'n', T0 + 1)).toBeUndefined();
        expect((await storage.history(STORE, 'a')).length).toBe(1);
        expect((await storage.changes(STORE, 0, 100)).length).toBe(2);
      });

      it('atomic: a failing per-op precondition writes nothing; failedKeys lists each key once', async () => {
        const storage = await withStore();
        await write(storage, STORE, [putOp('a', 'a1')]);
        const result = await commit(storage, STORE, {
          mode: 'atomic',
          nowMs: T0,
          checks: [{ key: 'a', precondition: { kind: 'absent' } }],
          mutations: [
            putOp('ok', 'x', { precondition: { kind: 'absent' } }),
            putOp('a', 'a2', { precondition: { kind: 'revision', revision: 7 } }),
            { type: 'delete', key: 'zz', precondition: { kind: 'exists' } },
          ],
        });
        expect(result).toEqual({ ok: false, failedKeys: ['a', 'zz'] });
        expect(await storage.get(STORE, 'ok', T0)).toBeUndefined();
        expect((await storage.getStore(STORE))?.revision).toBe(1);
      });

      it('atomic: preconditions are evaluated against the state before the commit', async () => {
        const storage = await withStore(5);
        const result = await commit(storage, STORE, {
          mode: 'atomic',
          nowMs: T0,
          checks: [{ key: 'k', precondition: { kind: 'absent' } }],
          mutations: [
            putOp('k', 'first', { precondition: { kind: 'absent' }, newId: 'one' }),
            putOp('k', 'second', { precondition: { kind: 'absent' }, newId: 'two' }),
            { type: 'delete', key: 'k', precondition: { kind: 'absent' } },
          ],
        });
        expect(result).toEqual({
          ok: true,
          revision: 3,
          results: [
            { key: 'k', status: 'applied', revision: 1, id: 'one', created: true },
            { key: 'k', status: 'applied', revision: 2, id: 'one', created: false },
            { key: 'k', status: 'applied', revision: 3, id: 'one', created: true },
          ],
        });
        expect((await storage.history(STORE, 'k')).map((r) => r.operation)).toEqual(['delete', 'put', 'put']);
      });

      it('atomic: every kind of check passes when it holds', async () => {
        const storage = await withStore();
        await write(storage, STORE, [putOp('a', 'a1'), putOp('b', 'b1')]);
        const result = await commit(storage, STORE, {
          mode: 'atomic',
          nowMs: T0,
          checks: [
            { key: 'a', precondition: { kind: 'revision', revision: 1 } },
            { key: 'b', precondition: { kind: 'exists' } },
            { key: 'c', precondition: { kind: 'absent' } },
          ],
          mutations: [
            putOp('a', 'a2', { precondition: { kind: 'revision', revision: 1 } }),
            { type: 'delete', key: 'b', precondition: { kind: 'exists' } },
            { type: 'setExpiry', key: 'a', expiresAt: T0 + 5 },
          ],
        });
        expect(result).toMatchObject({ ok: true, revision: 5 });
        expect(result.ok && result.results.map((r) => r.status)).toEqual(['applied', 'applied', 'applied']);
        expect(await storage.get(STORE, 'a', T0)).toMatchObject({ revision: 5, expiresAt: T0 + 5 });
      });

      it('each: failing ops are reported with their failure and the live revision; the rest apply', async () => {
        const storage = await withStore();
        await write(storage, STORE, [putOp('a', 'a1', { newId: 'aid' })]);
        const result = await commit(storage, STORE, {
          mode: 'each',
          nowMs: T0,
          mutations: [
            putOp('a', 'nope', { precondition: { kind: 'absent' } }),
            putOp('a', 'nope', { precondition: { kind: 'revision', revision: 9 } }),
            putOp('m', 'nope', { precondition: { kind: 'revision', revision: 1 } }),
            { type: 'delete', key: 'm', precondition: { kind: 'exists' } },
            { type: 'purge', key: 'm', precondition: { kind: 'exists' } },
            { type: 'setExpiry', key: 'm', expiresAt: null, precondition: { kind: 'exists' } },
            putOp('b', 'b1', { precondition: { kind: 'absent' }, newId: 'bid' }),
            putOp('b', 'b2', { precondition: { kind: 'absent' } }),
            putOp('b', 'b3', { precondition: { kind: 'revision', revision: 2 } }),
            putOp('a', 'a2', { precondition: { kind: 'exists' } }),
          ],
        });
        expect(result).toEqual({
          ok: true,
          revision: 4,
          results: [
            { key: 'a', status: 'failed', failure: 'key_exists', revision: 1, id: 'aid' },
            { key: 'a', status: 'failed', failure: 'revision_mismatch', revision: 1, id: 'aid' },
            { key: 'm', status: 'failed', failure: 'revision_mismatch' },
            { key: 'm', status: 'failed', failure: 'key_not_found' },
            { key: 'm', status: 'failed', failure: 'key_not_found' },
            { key: 'm', status: 'failed', failure: 'key_not_found' },
            { key: 'b', status: 'applied', revision: 2, id: 'bid', created: true },
            // Each mode sees the ops before it.
            { key: 'b', status: 'failed', failure: 'key_exists', revision: 2, id: 'bid' },
            { key: 'b', status: 'applied', revision: 3, id: 'bid', created: false },
            { key: 'a', status: 'applied', revision: 4, id: 'aid', created: false },
          ],
        });
        expect(text((await storage.get(STORE, 'b', T0))!.value)).toBe('b3');
      });
    });

    describe('stats and scopes', () => {
      it('keyCount and totalBytes stay exact through puts, overwrites, deletes, purges and expiry', async () => {
        const storage = await withStore(2);
        const stats = async () => {
          const record = await storage.getStore(STORE);
          return [record?.keyCount, record?.totalBytes];
        };
        await write(storage, STORE, [putOp('a', '12345'), putOp('b', '123'), putOp('c', '1')]);
        expect(await stats()).toEqual([3, 9]);
        await write(storage, STORE, [putOp('a', '12')]);
        expect(await stats()).toEqual([3, 6]);
        await write(storage, STORE, [{ type: 'delete', key: 'b' }]);
        expect(await stats()).toEqual([2, 3]);
        await write(storage, STORE, [
          { type: 'purge', key: 'b' },
          { type: 'purge', key: 'c' },
        ]);
        expect(await stats()).toEqual([1, 2]);
        await write(storage, STORE, [putOp('e', '1234', { expiresAt: T0 + 5 })]);
        expect(await stats()).toEqual([2, 6]);
        await write(storage, STORE, [{ type: 'setExpiry', key: 'a', expiresAt: T0 + 5 }]);
        expect(await stats()).toEqual([2, 6]);
        // Equal expiry: key 'a' goes first.
        expect(await sweep(storage, T0 + 5, 1)).toBe(1);
        expect(await stats()).toEqual([1, 4]);
        expect(await sweep(storage, T0 + 5, 1)).toBe(1);
        expect(await stats()).toEqual([0, 0]);
        await write(storage, STORE, [putOp('a', 'abc'), putOp('a', 'abcdef')]);
        expect(await stats()).toEqual([1, 6]);
      });

      it('listScopes lists the distinct scopes of live entries, sorted by bytes', async () => {
        const storage = await withStore(2);
        expect(await storage.listScopes(STORE, T0)).toEqual([]);
        await write(storage, STORE, [
          putOp('a', '1', { scopes: ['alpha', 'zeta'] }),
          putOp('b', '1', { scopes: ['alpha', 'é'] }),
          putOp('c', '1', { scopes: ['Beta'] }),
          putOp('d', '1', { scopes: ['tmp'], expiresAt: T0 + 10 }),
        ]);
        expect(await storage.listScopes(STORE, T0)).toEqual(['Beta', 'alpha', 'tmp', 'zeta', 'é']);
        expect(await storage.listScopes(STORE, T0 + 10)).toEqual(['Beta', 'alpha', 'zeta', 'é']);
        await write(storage, STORE, [{ type: 'delete', key: 'c' }, putOp('a', '2', { scopes: ['alpha'] })]);
        expect(await storage.listScopes(STORE, T0)).toEqual(['alpha', 'tmp', 'é']);
        await write(storage, STORE, [{ type: 'purge', key: 'b' }]);
        expect(await storage.listScopes(STORE, T0)).toEqual(['alpha', 'tmp']);
        await sweep(storage, T0 + 10, 10);
        expect(await storage.listScopes(STORE, T0)).toEqual(['alpha']);
      });
    });

    describe('change log', () => {
      it('changes() returns every applied mutation in revision order, with values for puts', async () => {
        const storage = await withStore();
        await write(storage, STORE, [putOp('a', 'A1', { newId: 'aid' }), putOp('b', 'B1')], T0);
        await write(storage, STORE, [putOp('a', 'A2'), { type: 'delete', key: 'b' }], T0 + 1);
        await write(storage, STORE, [{ type: 'setExpiry', key: 'a', expiresAt: T0 + 2 }], T0 + 1);
        await sweep(storage, T0 + 2, 10);
        await write(storage, STORE, [{ type: 'purge', key: 'b' }], T0 + 3);
        const all = await storage.changes(STORE, 0, 100);
        expect(all.map((c) => [c.revision, c.operation, c.key, text(c.value), c.size])).toEqual([
          [1, 'put', 'a', 'A1', 2],
          [2, 'put', 'b', 'B1', 2],
          [3, 'put', 'a', 'A2', 2],
          [4, 'delete', 'b', '', 0],
          [5, 'put', 'a', 'A2', 2],
          [6, 'expire', 'a', '', 0],
          [7, 'purge', 'b', '', 0],
        ]);
        expect(all[4]).toMatchObject({ id: 'aid', expiresAt: T0 + 2, updatedAt: T0 + 1 });
        expect((await storage.changes(STORE, 3, 2)).map((c) => c.revision)).toEqual([4, 5]);
        expect((await storage.changes(STORE, 6, 100)).map((c) => c.revision)).toEqual([7]);
        expect(await storage.changes(STORE, 7, 100)).toEqual([]);
        expect(await storage.changes(STORE, 0, 0)).toEqual([]);
        expect(await storage.changeLogFloor(STORE)).toBe(0);
      });

      it('the change log keeps changeLogLimit changes per store; the floor rises', async () => {
        const storage = await withStore(1, { changeLogLimit: 5 });
        await storage.createStore('quiet', storeConfig(), T0, 's');
        await write(storage, 'quiet', [putOp('q', '1')]);
        expect(await storage.changeLogFloor(STORE)).toBe(0);
        for (let i = 1; i <= 5; i++) await write(storage, STORE, [putOp(`k${i}`, `${i}`)]);
        expect(await storage.changeLogFloor(STORE)).toBe(0);
        expect((await storage.changes(STORE, 0, 100)).map((c) => c.revision)).toEqual([1, 2, 3, 4, 5]);
        await write(storage, STORE, [putOp('k6', '6'), putOp('k7', '7'), { type: 'delete', key: 'k1' }]);
        expect(await storage.changeLogFloor(STORE)).toBe(3);
        expect((await storage.changes(STORE, 0, 100)).map((c) => c.revision)).toEqual([4, 5, 6, 7, 8]);
        expect((await storage.changes(STORE, 3, 100)).map((c) => c.revision)).toEqual([4, 5, 6, 7, 8]);
        expect((await storage.changes(STORE, 6, 1)).map((c) => [c.revision, c.key])).toEqual([[7, 'k7']]);
        for (let i = 0; i < 20; i++) await write(storage, STORE, [putOp('hot', `${i}`)]);
        expect(await storage.changeLogFloor(STORE)).toBe(23);
        expect((await storage.changes(STORE, 0, 100)).map((c) => c.revision)).toEqual([24, 25, 26, 27, 28]);
        expect(text((await storage.changes(STORE, 27, 1))[0]!.value)).toBe('19');
        // Another store's log is separate.
        expect(await storage.changeLogFloor('quiet')).toBe(0);
        expect((await storage.changes('quiet', 0, 100)).map((c) => c.key)).toEqual(['q']);
      });
    });

    describe('idempotency records', () => {
      const record = () => ({
        fingerprint: 'fp-1',
        status: 201,
        headers: { etag: '"3"', 'content-type': 'application/json' },
        body: utf8('{"ok":true}'),
        expiresAt: T0 + 600_000,
      });

      it('round-trips a record until it expires', async () => {
        const storage = await open();
        expect(await storage.getIdempotency('tok|store|key', T0)).toBeUndefined();
        const saved = record();
        await storage.putIdempotency('tok|store|key', saved);
        saved.body[0] = 0;
        saved.headers.etag = 'changed';
        const read = await storage.getIdempotency('tok|store|key', T0 + 1);
        expect(read && { ...read, body: text(read.body) }).toEqual({ ...record(), body: '{"ok":true}' });
        read!.body[0] = 0;
        expect(text((await storage.getIdempotency('tok|store|key', T0))!.body)).toBe('{"ok":true}');
        expect(await storage.getIdempotency('tok|store|other', T0)).toBeUndefined();
        expect(await storage.getIdempotency('tok|store|key', T0 + 599_999)).toBeDefined();
        expect(await storage.getIdempotency('tok|store|key', T0 + 600_000)).toBeUndefined();
      });

      it('the first writer wins; after expiry a new record can be saved', async () => {
        const storage = await open();
        await storage.putIdempotency('k', record());
        await storage.putIdempotency('k', { ...record(), fingerprint: 'fp-2', status: 500 });
        expect(await storage.getIdempotency('k', T0)).toMatchObject({ fingerprint: 'fp-1', status: 201 });
        const later = T0 + 600_000;
        expect(await storage.getIdempotency('k', later)).toBeUndefined();
        await storage.putIdempotency('k', { ...record(), fingerprint: 'fp-3', expiresAt: later + 600_000 });
        expect(await storage.getIdempotency('k', later)).toMatchObject({ fingerprint: 'fp-3' });
      });
    });

    describe('transactions', () => {
      const record = (fingerprint: string) => ({
        fingerprint,
        status: 201,
        headers: { 'kv-revision': '1' },
        body: utf8('{}'),
        expiresAt: T0 + 600_000,
      });

      /** Everything a reader can see of store `main` and of idempotency scope `idem`. */
      async function snapshot(storage: Storage) {
        return {
          store: await storage.getStore(STORE),
          entries: await storage.scan(STORE, { limit: 100, values: true, nowMs: T0 }),
          byId: await storage.getById(STORE, 'life-a', T0),
          history: {
            a: await storage.history(STORE, 'a'),
            b: await storage.history(STORE, 'b'),
            c: await storage.history(STORE, 'c'),
          },
          scopes: await storage.listScopes(STORE, T0),
          changes: await storage.changes(STORE, 0, 100),
          floor: await storage.changeLogFloor(STORE),
          idempotency: await storage.getIdempotency('idem', T0),
        };
      }

      it('a fn that throws writes nothing: entries, history, change log, revision, stats, scopes, idempotency', async () => {
        const storage = await withStore(3);
        await write(storage, STORE, [
          putOp('a', 'a1', { newId: 'life-a', scopes: ['s1'] }),
          putOp('b', 'b1', { expiresAt: T0 + 5 }),
          putOp('c', 'c1'),
        ]);
        const before = await snapshot(storage);
        const boom = new Error('fn failed after writing');
        await expect(
          // Steps driven by runSteps: synchronous on a storage whose StorageTx answers values, awaiting
          // each answer on one that answers promises (PostgreSQL).
          storage.transaction(STORE, (tx) =>
            runSteps(
              (function* () {
                yield applyCommit(tx, {
                  mode: 'each',
                  nowMs: T0 + 10,
                  mutations: [
                    putOp('a', 'a2', { scopes: ['s2'] }),
                    { type: 'delete', key: 'c' },
                    { type: 'purge', key: 'b' },
                    putOp('new', 'n', { scopes: ['s3'] }),
                    { type: 'setExpiry', key: 'a', expiresAt: T0 + 99 },
                  ],
                });
                yield tx.putIdempotency('idem', record('fp'));
                throw boom;
              })(),
            ),
          ),
        ).rejects.toBe(boom);
        expect(await snapshot(storage)).toEqual(before);
        expect(await storage.get(STORE, 'new', T0)).toBeUndefined();
        // The sequence goes on from where it was: no revision was used by the failed transaction.
        const next = await commit(storage, STORE, { mode: 'each', nowMs: T0, mutations: [putOp('d', 'd')] });
        expect(next).toMatchObject({ ok: true, revision: before.store!.revision + 1 });
      });

      it('reads inside a transaction see its own writes; nextRevision counts from the store row', async () => {
        const storage = await withStore(2);
        await write(storage, STORE, [putOp('k', 'v1', { newId: 'k-id', scopes: ['x', 'y'] })]);
        // Each answer is yielded to runSteps and comes back resolved (see the test above).
        const seen = await storage.transaction(STORE, (tx) =>
          runSteps(
            (function* () {
              const startRevision = tx.store.revision;
              const head = (yield tx.head('k')) as StoredEntry;
              const revision = tx.nextRevision();
              const entry = {
                ...head,
                value: utf8('v22'),
                size: 3,
                revision,
                updatedAt: T0 + 1,
                scopes: ['y'],
              };
              yield tx.putEntry(entry, head);
              yield tx.appendChange({ ...entry, operation: 'put' });
              yield tx.adjustStats(0, 1);
              const afterPut = (yield tx.head('k')) as StoredEntry;
              const tombstone = {
                ...afterPut,
                operation: 'delete' as const,
                value: new Uint8Array(0),
                size: 0,
                expiresAt: null,
                revision: tx.nextRevision(),
                updatedAt: T0 + 2,
              };
              yield tx.removeEntry(afterPut);
              yield tx.appendHistory(tombstone);
              yield tx.appendChange(tombstone);
              yield tx.adjustStats(-1, -3);
              return {
                startRevision,
                afterPut: { revision: afterPut.revision, size: afterPut.size, scopes: afterPut.scopes },
                afterDelete: yield tx.head('k'),
                last: ((yield tx.lastRecord('k')) as ChangeRecord).operation,
              };
            })(),
          ),
        );
        expect(seen).toEqual({
          startRevision: 1,
          afterPut: { revision: 2, size: 3, scopes: ['y'] },
          afterDelete: undefined,
          last: 'delete',
        });
        expect(await storage.getStore(STORE)).toMatchObject({ revision: 3, keyCount: 0, totalBytes: 0 });
        // History keeps the depth (2): the tombstone and the put it ended, with its value.
        expect(
          (await storage.history(STORE, 'k')).map((r) => [r.operation, r.revision, text(r.value)]),
        ).toEqual([
          ['delete', 3, ''],
          ['put', 2, 'v22'],
        ]);
        // The put's change carries the entry's value, taken from the entry (not from the record passed).
        expect(
          (await storage.changes(STORE, 1, 10)).map((r) => [r.operation, r.revision, text(r.value)]),
        ).toEqual([
          ['put', 2, 'v22'],
          ['delete', 3, ''],
        ]);
        expect(await storage.listScopes(STORE, T0)).toEqual([]);
        expect(await storage.getById(STORE, 'k-id', T0)).toBeUndefined();
      });

      it('a transaction on a missing store rejects with store_not_found before fn runs', async () => {
        const storage = await open();
        let ran = false;
        await expect(
          storage.transaction('nope', () => {
            ran = true;
          }),
        ).rejects.toMatchObject({ code: 'store_not_found' });
        expect(ran).toBe(false);
      });

      it('a commit with an idempotency hook leaves both the write and the record; a failing one neither', async () => {
        const storage = await withStore();
        const results: unknown[] = [];
        const ok = await commit(storage, STORE, {
          mode: 'each',
          nowMs: T0,
          mutations: [putOp('k', 'v')],
          idempotency: {
            scopeKey: 'idem',
            record: (result) => {
              results.push(result);
              return record('fp-ok');
            },
          },
        });
        expect(results).toEqual([ok]);
        expect(await storage.get(STORE, 'k', T0)).toMatchObject({ revision: 1 });
        expect(await storage.getIdempotency('idem', T0)).toMatchObject({ fingerprint: 'fp-ok' });

        const boom = new Error('record failed');
        await expect(
          commit(storage, STORE, {
            mode: 'each',
            nowMs: T0,
            mutations: [putOp('other', 'v')],
            idempotency: {
              scopeKey: 'idem-2',
              record: () => {
                throw boom;
              },
            },
          }),
        ).rejects.toBe(boom);
        expect(await storage.get(STORE, 'other', T0)).toBeUndefined();
        expect(await storage.getIdempotency('idem-2', T0)).toBeUndefined();
        expect((await storage.getStore(STORE))?.revision).toBe(1);

        // A hook answering undefined saves no record; the write stands.
        await commit(storage, STORE, {
          mode: 'each',
          nowMs: T0,
          mutations: [putOp('third', 'v')],
          idempotency: { scopeKey: 'idem-3', record: () => undefined },
        });
        expect(await storage.get(STORE, 'third', T0)).toBeDefined();
        expect(await storage.getIdempotency('idem-3', T0)).toBeUndefined();
      });
      it('tx.getIdempotency reads saved records and its own puts; an expired one is forgotten, so a new put is stored', async () => {
        const storage = await withStore();
        await storage.putIdempotency('saved', record('fp-saved'));
        await storage.putIdempotency('old', { ...record('fp-old'), expiresAt: T0 + 10 });
        // Written once for synchronous and asynchronous StorageTx answers (driven as commits are).
        const seen = await storage.transaction(STORE, (tx) =>
          runSteps(
            (function* () {
              const saved = (yield tx.getIdempotency('saved', T0 + 10)) as IdempotencyRecord | undefined;
              const missing = yield tx.getIdempotency('missing', T0 + 10);
              const old = yield tx.getIdempotency('old', T0 + 10);
              yield tx.putIdempotency('old', record('fp-new'));
              yield tx.putIdempotency('mine', record('fp-mine'));
              const mine = (yield tx.getIdempotency('mine', T0 + 10)) as IdempotencyRecord | undefined;
              return { saved: saved?.fingerprint, missing, old, mine: mine?.fingerprint };
            })(),
          ),
        );
        expect(seen).toEqual({ saved: 'fp-saved', missing: undefined, old: undefined, mine: 'fp-mine' });
        expect(await storage.getIdempotency('old', T0 + 10)).toMatchObject({ fingerprint: 'fp-new' });
        expect(await storage.getIdempotency('mine', T0 + 10)).toMatchObject({ fingerprint: 'fp-mine' });
      });

      it('a commit whose idempotency record exists applies nothing and rejects with IdempotencyRecordFound', async () => {
        const storage = await withStore();
        await storage.putIdempotency('idem', record('fp-first'));
        const before = await snapshot(storage);
        let asked = false;
        const error = await commit(storage, STORE, {
          mode: 'each',
          nowMs: T0,
          mutations: [putOp('a', 'again')],
          idempotency: {
            scopeKey: 'idem',
            record: () => {
              asked = true;
              return record('fp-second');
            },
          },
        }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(IdempotencyRecordFound);
        expect(error).toMatchObject({ scopeKey: 'idem', record: { fingerprint: 'fp-first', status: 201 } });
        expect(asked).toBe(false);
        expect(await snapshot(storage)).toEqual(before);
      });
    });

    describeQueueCases(open, () => withStore());

    describe('lifecycle', () => {
      it('ping answers true while open', async () => {
        const storage = await open();
        expect(await storage.ping()).toBe(true);
      });

      it('storages from the factory are independent', async () => {
        const one = await withStore();
        const two = await open();
        await write(one, STORE, [putOp('k', 'v')]);
        expect(await two.getStore(STORE)).toBeUndefined();
      });
    });

    describePropertyTests(open, options);
  });
}
