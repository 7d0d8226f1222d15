/**
 * `@kv/unstorage`: an unstorage driver backed by a kv store, so code written for unstorage
 * (`createStorage({ driver })`) keeps kv's strong consistency, server-enforced TTL, access control and
 * `watch` across processes (unstorage's other network drivers watch nothing). The driver contract is
 * unstorage's `Driver` (unstorage docs "Custom driver"); docs/compat.md "unstorage" maps each method onto
 * kv's store operations and lists the differences.
 *
 * @module
 */

import {
  createHttpClient,
  type FetchLike,
  type KvClient,
  type SetOptions,
  type StoreHandle,
  ValidationError,
  type WatchSubscription,
} from '@kv/core';
import type { Driver, StorageMeta, WatchCallback } from 'unstorage';

/** Options of {@link kvDriver}. */
export interface KvDriverOptions {
  /**
   * Base URL of the kv server. Required unless `client` is given.
   * @example 'http://127.0.0.1:7070'
   */
  url?: string;
  /**
   * Bearer token sent to the server (needs `get`, `exists`, `set`, `delete`, `list`, and `watch` for
   * `storage.watch`).
   * @default undefined (no `Authorization` header)
   */
  token?: string;
  /**
   * Name of the kv store; it must exist.
   * @example 'app'
   */
  store: string;
  /**
   * A key prefix inside the store, in unstorage's `:` form: the driver sees and writes only keys under
   * `base:`, and hands unstorage keys without it. `''` = the whole store.
   * @default ''
   * @example 'cache'
   */
  base?: string;
  /**
   * Time to live of every write that gives no `ttl` of its own, in seconds (as unstorage's other
   * drivers: redis, cloudflare-kv-binding). `0`/`undefined` = no expiry, or the store's `defaultTtlMs`.
   * @default undefined
   * @example 3600
   */
  ttl?: number;
  /**
   * A kv client to use instead of building one from `url`/`token` (e.g. `createClient()` of `@kv/node`).
   * @default a client of `@kv/core`'s `createHttpClient({ url, token, fetch })`
   */
  client?: KvClient;
  /**
   * The `fetch` the client built from `url` calls.
   * @default globalThis.fetch
   */
  fetch?: FetchLike;
  /**
   * How long `watch()` waits for the server to confirm the subscription before resolving, in ms: once it
   * has, no later write is missed.
   * @default 10_000
   */
  watchReadyTimeoutMs?: number;
}

/**
 * What {@link kvDriver}'s `getMeta` returns for an existing key (unstorage `StorageMeta`, plus kv's
 * entry fields).
 */
export interface KvStorageMeta extends StorageMeta {
  /** Time of the last write. */
  mtime: Date;
  /** Time the key was created (kv `createdAt`). */
  birthtime: Date;
  /** Seconds left before the entry expires (rounded up); absent when it does not expire. */
  ttl?: number;
  /** The entry's revision (kv's compare-and-swap token and watch position). */
  revision: number;
  /** Size of the value, in bytes. */
  size: number;
  /** The value's MIME type. */
  contentType: string;
  /** The entry's stable id. */
  id: string;
}

/** The driver's name, as unstorage reports it. */
export const DRIVER_NAME = 'kv';

/** The `ttl` option (seconds) of a call, else the driver's, as kv's `ttlMs`. */
function ttlOf(
  opts: Record<string, unknown> | undefined,
  fallback: number | undefined,
): Pick<SetOptions, 'ttlMs'> {
  const ttl = opts?.ttl ?? fallback;
  if (ttl === undefined || ttl === null || ttl === 0) return {};
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) {
    throw new ValidationError('`ttl` must be a non-negative number of seconds', {
      details: { field: 'ttl', reason: 'range' },
    });
  }
  return { ttlMs: Math.round(ttl * 1000) };
}

/** unstorage's base key in its `a:b` form without leading/trailing separators (`/` and `\` are `:`). */
function normalizeBase(base: string | undefined): string {
  return (base ?? '').replace(/[/\\]/g, ':').replace(/:+/g, ':').replace(/^:|:$/g, '');
}

/** Waits until `ready()` holds, at most `timeoutMs`. */
async function until(ready: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

/**
 * An unstorage driver on a kv store.
 *
 * - `getItem`/`getItems` read the stored text (unstorage parses it); `getItemRaw` the bytes
 *   (`Uint8Array`); `hasItem` is kv's `exists`.
 * - `setItem`/`setItems` write text, `setItemRaw` bytes (`application/octet-stream`), with `ttl` in
 *   seconds (per call, else the driver's `ttl`) enforced by the kv server.
 * - `removeItem` is kv's soft delete; `getKeys(base)`/`clear(base)` list (and bulk-delete) the keys
 *   under the prefix, page by page.
 * - `getMeta` gives `mtime`, `birthtime`, `ttl` (seconds left), `revision`, `size`, `contentType`, `id`.
 * - `watch` subscribes to kv's watch for the driver's base: a write by any process or client is
 *   reported as `update` (put) or `remove` (delete, purge, expiry).
 *
 * @param options - `url`/`token` (or `client`), `store`, `base`, `ttl`
 * @returns the driver for `createStorage({ driver })`
 * @throws {ValidationError} no `url` and no `client`, or a bad store name
 * @example
 * ```ts
 * import { createStorage } from 'unstorage';
 * import { kvDriver } from '@kv/unstorage';
 *
 * const storage = createStorage({ driver: kvDriver({ url: 'http://127.0.0.1:7070', token, store: 'app', base: 'cache' }) });
 * await storage.setItem('user:1', { name: 'Ada' }, { ttl: 60 });
 * const unwatch = await storage.watch((event, key) => console.log(event, key));
 * ```
 */
export function kvDriver(options: KvDriverOptions): Driver<KvDriverOptions, StoreHandle> {
  let client = options.client;
  if (client === undefined) {
    if (options.url === undefined) {
      throw new ValidationError('kvDriver needs `url` (or a `client`)', {
        details: { field: 'url', reason: 'missing' },
      });
    }
    client = createHttpClient({ url: options.url, token: options.token, fetch: options.fetch });
  }
  const handle = client.store(options.store);
  const base = normalizeBase(options.base);
  const prefix = base === '' ? '' : `${base}:`;
  const toKv = (key: string): string => prefix + key;
  const fromKv = (key: string): string => key.slice(prefix.length);
  const watches = new Set<WatchSubscription>();

  /** Every kv key under `sub` (a relative base, maybe empty) below the driver's base. */
  async function keysUnder(sub: string): Promise<string[]> {
    const relative = normalizeBase(sub);
    const listPrefix = prefix + (relative === '' ? '' : `${relative}:`);
    const keys: string[] = [];
    for await (const key of handle.keys({
      limit: 1000,
      ...(listPrefix === '' ? {} : { prefix: listPrefix }),
    })) {
      keys.push(key);
    }
    return keys;
  }

  return {
    name: DRIVER_NAME,
    options,
    getInstance: () => handle,

    hasItem: (key) => handle.exists(toKv(key)),

    async getItem(key) {
      return (await handle.getText(toKv(key))) ?? null;
    },

    async getItems(items) {
      const keys = items.map((item) => toKv(item.key));
      const entries = await handle.getMany(keys);
      return items.map((item, i) => {
        const entry = entries.get(keys[i] as string);
        return { key: item.key, value: entry === undefined ? null : textOf(entry.value) };
      });
    },

    async getItemRaw(key) {
      return (await handle.getBytes(toKv(key))) ?? null;
    },

    async setItem(key, value, opts) {
      await handle.set(toKv(key), value, ttlOf(opts, options.ttl));
    },

    async setItems(items, commonOptions) {
      const result = await handle.setMany(
        items.map((item) => ({
          key: toKv(item.key),
          value: item.value,
          ...ttlOf({ ...commonOptions, ...item.options }, options.ttl),
        })),
      );
      if (result.unsuccessfulKeys.length > 0) {
        const failed = result.results.find((r) => !r.ok);
        throw new ValidationError(
          `setItems failed for ${result.unsuccessfulKeys.length} key(s): ${failed?.message ?? ''}`,
          {
            details: { failedKeys: result.unsuccessfulKeys.map(fromKv) },
          },
        );
      }
    },

    async setItemRaw(key, value, opts) {
      await handle.set(toKv(key), rawBytes(value), {
        contentType: 'application/octet-stream',
        ...ttlOf(opts, options.ttl),
      });
    },

    async removeItem(key) {
      await handle.delete(toKv(key));
    },

    async getMeta(key): Promise<KvStorageMeta | null> {
      const entries = await handle.getMany([toKv(key)], { values: false });
      const entry = entries.get(toKv(key));
      if (entry === undefined) return null;
      const meta: KvStorageMeta = {
        mtime: new Date(entry.updatedAt),
        birthtime: new Date(entry.createdAt),
        revision: entry.revision,
        size: entry.size,
        contentType: entry.contentType,
        id: entry.id,
      };
      if (entry.expiresAt !== null)
        meta.ttl = Math.max(0, Math.ceil((Date.parse(entry.expiresAt) - Date.now()) / 1000));
      return meta;
    },

    async getKeys(sub) {
      return (await keysUnder(sub)).map(fromKv);
    },

    async clear(sub) {
      const keys = await keysUnder(sub);
      for (let i = 0; i < keys.length; i += 1000) await handle.deleteMany(keys.slice(i, i + 1000));
    },

    async watch(callback: WatchCallback) {
      const subscription = handle.watch(
        { updatesOnly: true, ...(prefix === '' ? {} : { prefix }) },
        {
          onUpdate(event) {
            if (event.type === 'put') callback('update', fromKv(event.key));
            else if (event.type === 'delete' || event.type === 'purge' || event.type === 'expire') {
              callback('remove', fromKv(event.key));
            }
          },
        },
      );
      watches.add(subscription);
      // `lastRevision` is set by the server's `ready` event: from then on no write is missed.
      await until(() => subscription.lastRevision !== undefined, options.watchReadyTimeoutMs ?? 10_000);
      return () => {
        watches.delete(subscription);
        subscription.stop();
      };
    },

    dispose() {
      for (const subscription of watches) subscription.stop();
      watches.clear();
    },
  };
}

/** A value read by `getMany` as the stored text (kv decodes JSON and bytes; unstorage wants the text). */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return JSON.stringify(value);
}

/** A raw value as bytes: typed arrays and buffers as they are, strings as UTF-8. */
function rawBytes(value: unknown): Uint8Array | string {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return value;
  throw new ValidationError('a raw value must be bytes (Uint8Array, ArrayBuffer, a view) or a string', {
    details: { field: 'value', reason: 'type' },
  });
}

export default kvDriver;
