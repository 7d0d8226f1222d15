/**
 * An unstorage driver suite written for this project: the cases unstorage's own driver tests cover
 * (its `test/drivers/utils.ts`: snapshot restore, initial state, set/has/get with query strings, keys by
 * base and by depth, JSON serialization and its errors, raw values, bulk get/set, falsy values, remove,
 * clear of an empty storage), run through `createStorage({ driver })` as an application would, plus what
 * a kv driver adds: `getMeta`, TTL, base isolation and watch. `describeDriver` takes a driver factory, so
 * any unstorage driver can be run through it.
 */
import { createStorage, type Driver, restoreSnapshot, type Storage, type StorageValue } from 'unstorage';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/** What {@link describeDriver} needs. */
export interface DriverSuiteOptions {
  /** Makes the driver under test (called once). */
  driver: () => Driver;
}

/** The storage and driver under test, filled in `beforeAll`. */
export interface DriverContext {
  storage: Storage;
  driver: Driver;
}

/**
 * Registers the suite under `describe(label)` and returns the context the caller's extra cases use.
 * Every case starts from an empty storage (cleared after each).
 */
export function describeDriver(
  label: string,
  options: DriverSuiteOptions,
  extra?: (ctx: DriverContext) => void,
): void {
  describe(label, () => {
    const ctx = {} as DriverContext;
    beforeAll(() => {
      ctx.driver = options.driver();
      ctx.storage = createStorage({ driver: ctx.driver });
    });
    afterAll(async () => {
      await ctx.storage?.dispose();
    });
    afterEach(async () => {
      await ctx.storage.clear();
    });

    it('restores a snapshot', async () => {
      await restoreSnapshot(ctx.storage, { initial: 'works', 'nested:deep': { a: 1 } });
      expect(await ctx.storage.getItem('initial')).toBe('works');
      expect(await ctx.storage.getItem('nested:deep')).toEqual({ a: 1 });
    });

    it('starts empty', async () => {
      expect(await ctx.storage.hasItem('s1:a')).toBe(false);
      expect(await ctx.storage.getItem('s2:a')).toBeNull();
      expect(await ctx.storage.getKeys()).toEqual([]);
    });

    it('sets, has and gets items; a query string is not part of the key', async () => {
      await ctx.storage.setItem('s1:a', 'test_data');
      await ctx.storage.setItem('s2:a', 'test_data');
      await ctx.storage.setItem('s3:a?q=1', 'test_data');
      expect(await ctx.storage.hasItem('s1:a')).toBe(true);
      expect(await ctx.storage.getItem('s1:a')).toBe('test_data');
      expect(await ctx.storage.getItem('s3:a?q=2')).toBe('test_data');
      expect(await ctx.storage.hasItem('s3:a')).toBe(true);
    });

    it('lists keys, all and by base (`/` and `:` alike)', async () => {
      await ctx.storage.setItem('s1:a', 'test_data');
      await ctx.storage.setItem('s1:b:c', 'test_data');
      await ctx.storage.setItem('s2:a', 'test_data');
      await ctx.storage.setItem('s3:a?q=1', 'test_data');
      expect((await ctx.storage.getKeys()).sort()).toEqual(['s1:a', 's1:b:c', 's2:a', 's3:a']);
      expect((await ctx.storage.getKeys('s1')).sort()).toEqual(['s1:a', 's1:b:c']);
      expect((await ctx.storage.getKeys('s1/b')).sort()).toEqual(['s1:b:c']);
      expect(await ctx.storage.getKeys('s9')).toEqual([]);
    });

    it('lists keys by depth', async () => {
      await ctx.storage.setItem('depth0_0', 'test_data');
      await ctx.storage.setItem('depth0:depth1:depth2_0', 'test_data');
      await ctx.storage.setItem('depth0:depth1:depth2_1', 'test_data');
      await ctx.storage.setItem('depth0:depth1_0', 'test_data');
      await ctx.storage.setItem('depth0:depth1_1', 'test_data');
      expect(await ctx.storage.getKeys(undefined, { maxDepth: 0 })).toEqual(['depth0_0']);
      expect((await ctx.storage.getKeys(undefined, { maxDepth: 1 })).sort()).toEqual([
        'depth0:depth1_0',
        'depth0:depth1_1',
        'depth0_0',
      ]);
      expect((await ctx.storage.getKeys(undefined, { maxDepth: 2 })).sort()).toEqual([
        'depth0:depth1:depth2_0',
        'depth0:depth1:depth2_1',
        'depth0:depth1_0',
        'depth0:depth1_1',
        'depth0_0',
      ]);
    });

    it('serializes objects and primitives as JSON', async () => {
      await ctx.storage.setItem('/data/test.json', { json: 'works', n: [1, 2] });
      expect(await ctx.storage.getItem('/data/test.json')).toEqual({ json: 'works', n: [1, 2] });
      await ctx.storage.setItem('/data/true.json', true);
      expect(await ctx.storage.getItem('/data/true.json')).toBe(true);
      await ctx.storage.setItem('/data/quote', "it's");
      expect(await ctx.storage.getItem('/data/quote')).toBe("it's");
    });

    it('serializes through toJSON(), lossy as JSON is', async () => {
      class Flat {
        toJSON() {
          return 'SERIALIZED';
        }
      }
      class Nested {
        toJSON() {
          return { serializedObj: 'works' };
        }
      }
      await ctx.storage.setItem('/data/serialized1.json', new Flat());
      expect(await ctx.storage.getItem('/data/serialized1.json')).toBe('SERIALIZED');
      await ctx.storage.setItem('/data/serialized2.json', new Nested());
      expect(await ctx.storage.getItem('/data/serialized2.json')).toEqual({ serializedObj: 'works' });
    });

    it('refuses a class instance without toJSON() and writes nothing', async () => {
      class Opaque {}
      await expect(ctx.storage.setItem('/data/badvalue.json', new Opaque())).rejects.toThrow(
        '[unstorage] Cannot stringify value!',
      );
      expect(await ctx.storage.hasItem('/data/badvalue.json')).toBe(false);
    });

    it('stores raw bytes as they are', async () => {
      const value = new Uint8Array([1, 2, 3, 0, 255]);
      await ctx.storage.setItemRaw('/data/raw.bin', value);
      const back = (await ctx.storage.getItemRaw('/data/raw.bin')) as Uint8Array;
      expect(back.byteLength).toBe(value.byteLength);
      expect([...back]).toEqual([...value]);
      expect(await ctx.storage.getItemRaw('/data/missing.bin')).toBeNull();
    });

    it('sets items in bulk', async () => {
      await ctx.storage.setItems<StorageValue>([
        { key: 't:1', value: 'test_data_t1' },
        { key: 't:2', value: 'test_data_t2' },
        { key: 't:3', value: { n: 3 } },
      ]);
      expect(await ctx.storage.getItem('t:1')).toBe('test_data_t1');
      expect(await ctx.storage.getItem('t:2')).toBe('test_data_t2');
      expect(await ctx.storage.getItem('t:3')).toEqual({ n: 3 });
    });

    it('gets items in bulk, in request order, null when missing', async () => {
      await ctx.storage.setItem('v3:a?q=1', 'test_data_v3:a?q=1');
      await ctx.storage.setItem('v2:a', 'test_data_v2:a');
      await ctx.storage.setItem('v1:a', { obj: true });
      expect(
        await ctx.storage.getItems([{ key: 'v1:a' }, 'v2:a', { key: 'v3:a?q=1' }, 'v4:undefined']),
      ).toEqual([
        { key: 'v1:a', value: { obj: true } },
        { key: 'v2:a', value: 'test_data_v2:a' },
        { key: 'v3:a', value: 'test_data_v3:a?q=1' },
        { key: 'v4:undefined', value: null },
      ]);
    });

    it('returns falsy values as stored', async () => {
      await ctx.storage.setItem('zero', 0);
      expect(await ctx.storage.getItem('zero')).toBe(0);
      await ctx.storage.setItem('my-false-flag', false);
      expect(await ctx.storage.getItem('my-false-flag')).toBe(false);
      await ctx.storage.setItem('empty', '');
      expect(await ctx.storage.getItem('empty')).toBe('');
      expect(await ctx.storage.hasItem('empty')).toBe(true);
    });

    it('removes an item; removing a missing one is fine', async () => {
      await ctx.storage.setItem('s1:a', 'test_data');
      await ctx.storage.removeItem('s1:a', { removeMeta: false });
      expect(await ctx.storage.hasItem('s1:a')).toBe(false);
      expect(await ctx.storage.getItem('s1:a')).toBeNull();
      await ctx.storage.removeItem('never');
    });

    it('clears by base (the driver call; unstorage 1.x calls it with a base only across mounts), and an empty storage too', async () => {
      await ctx.storage.setItem('c1:a', 1);
      await ctx.storage.setItem('c1:b:c', 2);
      await ctx.storage.setItem('c2:a', 3);
      await ctx.driver.clear?.('c1:', {});
      expect(await ctx.storage.getKeys()).toEqual(['c2:a']);
      await ctx.storage.clear();
      expect(await ctx.storage.getKeys()).toEqual([]);
      await ctx.storage.clear();
      expect(await ctx.storage.getKeys()).toEqual([]);
    });

    extra?.(ctx);
  });
}
