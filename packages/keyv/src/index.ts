/**
 * `@kv/keyv`: a keyv storage adapter backed by a kv store, so code written for keyv
 * (`new Keyv({ store })`) keeps kv's strong consistency, server-enforced TTL and access control. The
 * adapter contract is keyv 5's `KeyvStoreAdapter` (keyv's README "Storage adapters"); docs/compat.md
 * "keyv" maps each method onto kv's store operations and lists the differences.
 *
 * @module
 */

import {
  createHttpClient,
  type FetchLike,
  type KvClient,
  type SetManyItem,
  type SetOptions,
  type StoreHandle,
  ValidationError,
} from '@kv/core';

/** Options of {@link KeyvKv}: where the kv store is, or a store handle to use. */
export interface KeyvKvOptions {
  /**
   * Base URL of the kv server. Required unless `client` is given.
   * @example 'http://127.0.0.1:7070'
   */
  url?: string;
  /**
   * Bearer token sent to the server (needs `get`, `exists`, `set`, `delete` and `list` on the store).
   * @default undefined (no `Authorization` header)
   */
  token?: string;
  /**
   * Name of the kv store holding the keyv entries; it must exist (`kv stores create cache`). Keys are
   * keyv's, `namespace:key` (keyv's default namespace is `keyv`), so several namespaces share a store.
   * @example 'cache'
   */
  store: string;
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
   * Keys listed per request by `clear()` and `iterator()`, 1-1000.
   * @default 1000
   */
  pageSize?: number;
}

/** A listener of the adapter's `error` event. */
type Listener = (...args: unknown[]) => void;

/**
 * The options keyv reads from an adapter (`store.opts`). `dialect` is `'sqlite'`: keyv 5 wires
 * `keyv.iterator()` only to adapters whose `opts.dialect` is in its built-in list (sqlite, postgres,
 * mysql, mongo, redis, valkey, etcd), and kv's reference server keeps its data in SQLite by default.
 */
export interface KeyvKvAdapterOptions {
  /** Base URL of the kv server. */
  url: string;
  /** The kv store name. */
  store: string;
  /** Reported to keyv so that it exposes `keyv.iterator()` (see above). */
  dialect: 'sqlite';
  /** Other fields keyv or its callers set (e.g. `deserialize`); kept and unused. */
  [key: string]: unknown;
}

/**
 * A keyv storage adapter on a kv store.
 *
 * - `get`/`getMany` read kv values (text as strings, JSON decoded, binary as `Uint8Array`): keyv stores
 *   its serialized string, so reads give it back as written.
 * - `set`/`setMany` write with `ttlMs` = keyv's `ttl`: the kv server expires the entry (expired entries
 *   are never returned, swept or not), not only keyv's own `expires` check.
 * - `delete`/`deleteMany` are kv's soft deletes; `has` is kv's `exists` (a `HEAD`).
 * - `clear()` deletes the keys of the current namespace (`namespace:` prefix), or of the whole store
 *   without a namespace, page by page with `deleteMany`.
 * - `iterator(namespace)` yields `[key, value]` for every live key of the namespace in key order.
 *
 * Errors are kv's (`ValidationError` for a key kv refuses, e.g. one with whitespace; `StoreNotFoundError`
 * when the store is missing); keyv catches them, emits them on `error` and answers `undefined`/`false`
 * unless `throwOnErrors` is set.
 *
 * @example
 * ```ts
 * import Keyv from 'keyv';
 * import { KeyvKv } from '@kv/keyv';
 *
 * const keyv = new Keyv({ store: new KeyvKv({ url: 'http://127.0.0.1:7070', token, store: 'cache' }) });
 * await keyv.set('user:1', { name: 'Ada' }, 60_000); // kv expires it after 60 s
 * ```
 */
export class KeyvKv {
  /** The options keyv reads (`opts.dialect`, `opts.url`). */
  readonly opts: KeyvKvAdapterOptions;
  /** The keyv namespace, set by keyv (`new Keyv({ namespace })`; keyv's default is `keyv`). */
  namespace?: string | undefined;
  /** The kv store handle the adapter reads and writes. */
  readonly handle: StoreHandle;
  readonly #pageSize: number;
  readonly #listeners = new Map<string, Set<Listener>>();

  /**
   * @param options - `url` and `token` (or `client`), and the `store` name
   * @throws {ValidationError} no `url` and no `client`, a bad store name or `pageSize`
   */
  constructor(options: KeyvKvOptions) {
    const pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      throw new ValidationError('`pageSize` must be an integer from 1 to 1000', {
        details: { field: 'pageSize', reason: 'range' },
      });
    }
    let client = options.client;
    if (client === undefined) {
      if (options.url === undefined) {
        throw new ValidationError('KeyvKv needs `url` (or a `client`)', {
          details: { field: 'url', reason: 'missing' },
        });
      }
      client = createHttpClient({ url: options.url, token: options.token, fetch: options.fetch });
    }
    this.handle = client.store(options.store);
    this.#pageSize = pageSize;
    this.opts = { url: client.url, store: options.store, dialect: 'sqlite' };
  }

  /**
   * Registers a listener (keyv subscribes to `error`).
   * @returns this adapter
   */
  on(event: string, listener: Listener): this {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return this;
  }

  /**
   * Calls the listeners of `event` with `args`.
   * @returns whether there was a listener
   */
  emit(event: string, ...args: unknown[]): boolean {
    const set = this.#listeners.get(event);
    if (set === undefined || set.size === 0) return false;
    for (const listener of set) listener(...args);
    return true;
  }

  /**
   * The stored value, or `undefined` when the key is missing or expired.
   * @throws {KvError} kv's errors (bad key, missing store, network)
   */
  async get<Value>(key: string): Promise<Value | undefined> {
    return (await this.handle.get(key)) as Value | undefined;
  }

  /** The stored values of `keys`, in order, `undefined` where missing (one request per 10,000 keys). */
  async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    const entries = await this.handle.getMany(keys);
    return keys.map((key) => entries.get(key)?.value as Value | undefined);
  }

  /**
   * Writes `value` (keyv's serialized string, or any value kv's `set` takes) with an optional TTL.
   * @param ttl - time to live in ms; `undefined` or `0` = no expiry
   * @returns `true` when written
   */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await this.handle.set(key, value as string, ttlOptions(ttl));
    return true;
  }

  /** Writes many entries in one request per 10,000 (kv's bulk set), each with its own TTL. */
  async setMany(values: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    const items: SetManyItem[] = values.map(({ key, value, ttl }) => ({
      key,
      value: value as string,
      ...ttlOptions(ttl),
    }));
    const result = await this.handle.setMany(items);
    if (result.unsuccessfulKeys.length > 0) {
      const failed = result.results.find((r) => !r.ok);
      throw new ValidationError(
        `setMany failed for ${result.unsuccessfulKeys.length} key(s): ${failed?.message ?? ''}`,
        {
          details: { failedKeys: result.unsuccessfulKeys },
        },
      );
    }
  }

  /** @returns whether a live entry was deleted */
  async delete(key: string): Promise<boolean> {
    return this.handle.delete(key);
  }

  /** @returns whether at least one live entry was deleted */
  async deleteMany(keys: string[]): Promise<boolean> {
    const result = await this.handle.deleteMany(keys);
    return result.results.some((r) => r.ok && r.created === true);
  }

  /** Whether the key has a live entry (kv `exists`, no body transferred). */
  async has(key: string): Promise<boolean> {
    return this.handle.exists(key);
  }

  /** Whether each key has a live entry. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    const entries = await this.handle.getMany(keys, { values: false });
    return keys.map((key) => entries.get(key) !== undefined);
  }

  /**
   * Deletes every key of the current namespace (`namespace:` prefix), or of the whole store when the
   * adapter has no namespace. Keys written meanwhile after the listing passed them stay.
   */
  async clear(): Promise<void> {
    const prefix = this.namespace ? `${this.namespace}:` : undefined;
    let batch: string[] = [];
    for await (const key of this.handle.keys({ limit: this.#pageSize, ...(prefix ? { prefix } : {}) })) {
      batch.push(key);
      if (batch.length >= this.#pageSize) {
        await this.handle.deleteMany(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await this.handle.deleteMany(batch);
  }

  /**
   * Every live entry of `namespace` (or of the store), as `[key, value]` in key order; keyv strips the
   * namespace prefix and deserializes the value.
   */
  async *iterator<Value>(
    namespace?: string,
  ): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    const prefix = namespace ? `${namespace}:` : undefined;
    for await (const entry of this.handle.entries({ limit: this.#pageSize, ...(prefix ? { prefix } : {}) })) {
      yield [entry.key, entry.value as Awaited<Value>];
    }
  }

  /** Nothing to release: the adapter holds no connection (each call is one HTTP request). */
  async disconnect(): Promise<void> {}
}

/** keyv's `ttl` (ms; `undefined`/`0` = none) as kv's `set` options. */
function ttlOptions(ttl: number | undefined): Pick<SetOptions, 'ttlMs'> {
  return ttl === undefined || ttl === 0 ? {} : { ttlMs: ttl };
}

export default KeyvKv;
