/**
 * The Cloudflare Workers KV binding over a kv store handle: {@link toKVNamespace} returns an object with
 * the API of a Workers `KVNamespace` (`get`, `getWithMetadata`, `put`, `delete`, `list`, bulk `get`), so
 * Workers code that receives `env.MY_KV` runs unchanged in Node, in tests and in the browser. The
 * semantics are Cloudflare's ("Workers KV" docs: read, write, delete and list key-value pairs), mapped
 * onto kv's entries as docs/compat.md "Workers KVNamespace" tabulates; where Cloudflare is weaker (60 s
 * minimum TTL, 1 write/s per key, eventual consistency) kv keeps its own stronger semantics.
 *
 * The types below restate `@cloudflare/workers-types`' `KVNamespace` with this package's own names, so
 * the published declarations import nothing from it; a type test checks that a {@link KVNamespace} is
 * assignable to the Workers type, so code typed with `@cloudflare/workers-types` accepts it.
 *
 * Only the store handle's public API is used: this module does no I/O of its own.
 *
 * @module
 */

import { KvError, ValidationError } from '../errors.js';
import type { JsonObject, ListOptions, SetOptions } from '../types.js';
import type { KvValue, StoreHandle } from './types.js';

/** The value types a Workers KV read can return (Cloudflare `get(key, type)`). */
export type KVNamespaceValueType = 'text' | 'json' | 'arrayBuffer' | 'stream';

/**
 * Options of a Workers KV read (Cloudflare `KVNamespaceGetOptions`). `cacheTtl` is accepted and
 * ignored: kv reads are strongly consistent and never served from an edge cache.
 */
export interface KVNamespaceGetOptions<Type> {
  /** The value type to return. */
  type: Type;
  /** Cloudflare's edge cache time, in seconds. Accepted and ignored by kv (every read is fresh). */
  cacheTtl?: number;
}

/** Options of `put` (Cloudflare `KVNamespacePutOptions`). */
export interface KVNamespacePutOptions {
  /**
   * Absolute expiry, in seconds since the UNIX epoch. Cloudflare requires at least 60 s in the future;
   * kv accepts any future time. Ignored when `expirationTtl` is given too.
   * @example Math.floor(Date.now() / 1000) + 3600
   */
  expiration?: number;
  /**
   * Time to live from the write, in seconds. Cloudflare requires at least 60; kv accepts any positive
   * number. Takes precedence over `expiration`.
   * @example 3600
   */
  expirationTtl?: number;
  /**
   * Metadata kept with the entry and returned by `getWithMetadata` and `list`: a JSON object of at most
   * 1024 serialized bytes (Cloudflare allows any JSON value; kv stores objects only). `null` = none.
   * @example { author: 'ada' }
   */
  // biome-ignore lint/suspicious/noExplicitAny: Cloudflare types metadata as `any`; restated as is.
  metadata?: any | null;
}

/** Options of `list` (Cloudflare `KVNamespaceListOptions`). */
export interface KVNamespaceListOptions {
  /** Keys per page, 1-1000. @default 1000 */
  limit?: number;
  /** Only keys starting with this string. @default null (every key) */
  prefix?: string | null;
  /** The `cursor` of the previous page. @default null (first page) */
  cursor?: string | null;
}

/** One key of a `list` page (Cloudflare `KVNamespaceListKey`). */
export interface KVNamespaceListKey<Metadata, Key extends string = string> {
  /** The key. */
  name: Key;
  /** Expiry in seconds since the UNIX epoch (rounded down); absent when the key does not expire. */
  expiration?: number;
  /** The key's metadata; absent when it has none. */
  metadata?: Metadata;
}

/** One page of `list` (Cloudflare `KVNamespaceListResult`): `cursor` only while `list_complete` is false. */
export type KVNamespaceListResult<Metadata, Key extends string = string> =
  | {
      /** More keys follow: pass `cursor` to get them. */
      list_complete: false;
      /** The keys, in UTF-8 byte order. */
      keys: KVNamespaceListKey<Metadata, Key>[];
      /** Opaque cursor of the next page. */
      cursor: string;
      /** Cloudflare's cache status; always `null` on kv. */
      cacheStatus: string | null;
    }
  | {
      /** This is the last page. */
      list_complete: true;
      /** The keys, in UTF-8 byte order. */
      keys: KVNamespaceListKey<Metadata, Key>[];
      /** Cloudflare's cache status; always `null` on kv. */
      cacheStatus: string | null;
    };

/** Result of `getWithMetadata` (Cloudflare `KVNamespaceGetWithMetadataResult`). */
export interface KVNamespaceGetWithMetadataResult<Value, Metadata> {
  /** The value, or `null` when the key is missing or expired. */
  value: Value | null;
  /** The entry's metadata, or `null` when it has none or the key is missing. */
  metadata: Metadata | null;
  /** Cloudflare's cache status; always `null` on kv. */
  cacheStatus: string | null;
}

/**
 * The Workers KV binding's API (Cloudflare `KVNamespace` of `@cloudflare/workers-types`, restated).
 * Reads of a missing key resolve `null`; bulk reads resolve a `Map` from each requested key.
 * Every method throws kv's errors: `ValidationError` for a bad key or option, `StoreNotFoundError`
 * when the store does not exist, `UnauthorizedError` when the token lacks the capability.
 */
export interface KVNamespace<Key extends string = string> {
  /** The value as text, or `null`. */
  get(key: Key, options?: Partial<KVNamespaceGetOptions<undefined>>): Promise<string | null>;
  /** The value as text, or `null`. */
  get(key: Key, type: 'text'): Promise<string | null>;
  /** The value parsed as JSON, or `null`. @throws {KvError} code `invalid_json` when it is not JSON */
  get<ExpectedValue = unknown>(key: Key, type: 'json'): Promise<ExpectedValue | null>;
  /** The value's bytes, or `null`. */
  get(key: Key, type: 'arrayBuffer'): Promise<ArrayBuffer | null>;
  /** The value as a stream (not buffered), or `null`. */
  get(key: Key, type: 'stream'): Promise<ReadableStream | null>;
  /** The value as text, or `null`. */
  get(key: Key, options?: KVNamespaceGetOptions<'text'>): Promise<string | null>;
  /** The value parsed as JSON, or `null`. */
  get<ExpectedValue = unknown>(
    key: Key,
    options?: KVNamespaceGetOptions<'json'>,
  ): Promise<ExpectedValue | null>;
  /** The value's bytes, or `null`. */
  get(key: Key, options?: KVNamespaceGetOptions<'arrayBuffer'>): Promise<ArrayBuffer | null>;
  /** The value as a stream, or `null`. */
  get(key: Key, options?: KVNamespaceGetOptions<'stream'>): Promise<ReadableStream | null>;
  /** Bulk read as text: a `Map` from each key to its value or `null`. */
  get(key: Array<Key>, type: 'text'): Promise<Map<string, string | null>>;
  /** Bulk read parsed as JSON. */
  get<ExpectedValue = unknown>(key: Array<Key>, type: 'json'): Promise<Map<string, ExpectedValue | null>>;
  /** Bulk read as text. */
  get(
    key: Array<Key>,
    options?: Partial<KVNamespaceGetOptions<undefined>>,
  ): Promise<Map<string, string | null>>;
  /** Bulk read as text. */
  get(key: Array<Key>, options?: KVNamespaceGetOptions<'text'>): Promise<Map<string, string | null>>;
  /** Bulk read parsed as JSON. */
  get<ExpectedValue = unknown>(
    key: Array<Key>,
    options?: KVNamespaceGetOptions<'json'>,
  ): Promise<Map<string, ExpectedValue | null>>;

  /** One page of keys, in UTF-8 byte order. */
  list<Metadata = unknown>(options?: KVNamespaceListOptions): Promise<KVNamespaceListResult<Metadata, Key>>;

  /**
   * Writes a value: a string (stored as `text/plain; charset=utf-8`), bytes (`application/octet-stream`)
   * or a stream (uploaded as it is read).
   * @throws {ValidationError} bad key, value type, expiry or metadata
   */
  put(
    key: Key,
    value: string | ArrayBuffer | ArrayBufferView | ReadableStream,
    options?: KVNamespacePutOptions,
  ): Promise<void>;

  /** The value as text with its metadata; `{ value: null, metadata: null }` when missing. */
  getWithMetadata<Metadata = unknown>(
    key: Key,
    options?: Partial<KVNamespaceGetOptions<undefined>>,
  ): Promise<KVNamespaceGetWithMetadataResult<string, Metadata>>;
  /** The value as text with its metadata. */
  getWithMetadata<Metadata = unknown>(
    key: Key,
    type: 'text',
  ): Promise<KVNamespaceGetWithMetadataResult<string, Metadata>>;
  /** The value parsed as JSON with its metadata. */
  getWithMetadata<ExpectedValue = unknown, Metadata = unknown>(
    key: Key,
    type: 'json',
  ): Promise<KVNamespaceGetWithMetadataResult<ExpectedValue, Metadata>>;
  /** The value's bytes with its metadata. */
  getWithMetadata<Metadata = unknown>(
    key: Key,
    type: 'arrayBuffer',
  ): Promise<KVNamespaceGetWithMetadataResult<ArrayBuffer, Metadata>>;
  /** The value as a stream with its metadata. */
  getWithMetadata<Metadata = unknown>(
    key: Key,
    type: 'stream',
  ): Promise<KVNamespaceGetWithMetadataResult<ReadableStream, Metadata>>;
  /** The value as text with its metadata. */
  getWithMetadata<Metadata = unknown>(
    key: Key,
    options: KVNamespaceGetOptions<'text'>,
  ): Promise<KVNamespaceGetWithMetadataResult<string, Metadata>>;
  /** The value parsed as JSON with its metadata. */
  getWithMetadata<ExpectedValue = unknown, Metadata = unknown>(
    key: Key,
    options: KVNamespaceGetOptions<'json'>,
  ): Promise<KVNamespaceGetWithMetadataResult<ExpectedValue, Metadata>>;
  /** The value's bytes with its metadata. */
  getWithMetadata<Metadata = unknown>(
    key: Key,
    options: KVNamespaceGetOptions<'arrayBuffer'>,
  ): Promise<KVNamespaceGetWithMetadataResult<ArrayBuffer, Metadata>>;
  /** The value as a stream with its metadata. */
  getWithMetadata<Metadata = unknown>(
    key: Key,
    options: KVNamespaceGetOptions<'stream'>,
  ): Promise<KVNamespaceGetWithMetadataResult<ReadableStream, Metadata>>;
  /** Bulk read as text with metadata. */
  getWithMetadata<Metadata = unknown>(
    key: Array<Key>,
    type: 'text',
  ): Promise<Map<string, KVNamespaceGetWithMetadataResult<string, Metadata>>>;
  /** Bulk read parsed as JSON with metadata. */
  getWithMetadata<ExpectedValue = unknown, Metadata = unknown>(
    key: Array<Key>,
    type: 'json',
  ): Promise<Map<string, KVNamespaceGetWithMetadataResult<ExpectedValue, Metadata>>>;
  /** Bulk read as text with metadata. */
  getWithMetadata<Metadata = unknown>(
    key: Array<Key>,
    options?: Partial<KVNamespaceGetOptions<undefined>>,
  ): Promise<Map<string, KVNamespaceGetWithMetadataResult<string, Metadata>>>;
  /** Bulk read as text with metadata. */
  getWithMetadata<Metadata = unknown>(
    key: Array<Key>,
    options?: KVNamespaceGetOptions<'text'>,
  ): Promise<Map<string, KVNamespaceGetWithMetadataResult<string, Metadata>>>;
  /** Bulk read parsed as JSON with metadata. */
  getWithMetadata<ExpectedValue = unknown, Metadata = unknown>(
    key: Array<Key>,
    options?: KVNamespaceGetOptions<'json'>,
  ): Promise<Map<string, KVNamespaceGetWithMetadataResult<ExpectedValue, Metadata>>>;

  /** Deletes a key; a missing key is not an error. */
  delete(key: Key): Promise<void>;
}

/**
 * What {@link toKVNamespace} needs of a store handle: `@kv/node`'s, `@kv/browser`'s and core's handles
 * all fit.
 */
export type KVNamespaceSource = Pick<
  StoreHandle,
  'getText' | 'getJson' | 'getBytes' | 'getStream' | 'getEntry' | 'getMany' | 'delete' | 'list'
> & {
  /** `StoreHandle.set`, as called with a string, bytes or a web stream. */
  set(
    key: string,
    value: string | Uint8Array | ReadableStream<Uint8Array>,
    options?: SetOptions,
  ): Promise<unknown>;
};

const VALUE_TYPES: ReadonlySet<string> = new Set<KVNamespaceValueType>([
  'text',
  'json',
  'arrayBuffer',
  'stream',
]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The value type asked by a `type` string or an options object (Cloudflare's default: text). */
function valueType(arg: unknown, bulk: boolean): KVNamespaceValueType {
  let type: unknown;
  if (arg === undefined || arg === null) type = undefined;
  else if (typeof arg === 'string') type = arg;
  else if (typeof arg === 'object') {
    const { type: t, cacheTtl } = arg as { type?: unknown; cacheTtl?: unknown };
    if (
      cacheTtl !== undefined &&
      (typeof cacheTtl !== 'number' || !Number.isFinite(cacheTtl) || cacheTtl < 0)
    ) {
      throw new ValidationError('`cacheTtl` must be a non-negative number of seconds', {
        details: { field: 'cacheTtl', reason: 'type' },
      });
    }
    type = t;
  } else {
    throw new ValidationError('the second argument must be a type string or an options object', {
      details: { field: 'type', reason: 'type' },
    });
  }
  if (type === undefined) return 'text';
  if (typeof type !== 'string' || !VALUE_TYPES.has(type)) {
    throw new ValidationError(
      `unknown value type ${JSON.stringify(type)}: use text, json, arrayBuffer or stream`,
      {
        details: { field: 'type', reason: 'enum' },
      },
    );
  }
  if (bulk && type !== 'text' && type !== 'json') {
    throw new ValidationError(`a bulk read returns text or json, not ${type}`, {
      details: { field: 'type', reason: 'enum' },
    });
  }
  return type as KVNamespaceValueType;
}

/**
 * The stored text of a decoded value as kv's `get` returns it: bytes decoded as UTF-8, a JSON value
 * serialized again (`JSON.stringify`, the form kv's clients write), a text value as it is.
 */
function valueText(value: KvValue, contentType: string): string {
  if (value instanceof Uint8Array) return decoder.decode(value);
  if (typeof value === 'string' && !isJsonType(contentType)) return value;
  return JSON.stringify(value);
}

/** The stored bytes of a decoded value (see {@link valueText}). */
function valueBytes(value: KvValue, contentType: string): Uint8Array {
  return value instanceof Uint8Array ? value : encoder.encode(valueText(value, contentType));
}

/** A decoded kv value converted to the Workers type asked for. */
function convert(key: string, value: KvValue, contentType: string, type: KVNamespaceValueType): unknown {
  switch (type) {
    case 'text':
      return valueText(value, contentType);
    case 'json': {
      if (isJsonType(contentType) && !(value instanceof Uint8Array)) return value;
      try {
        return JSON.parse(valueText(value, contentType)) as unknown;
      } catch (cause) {
        throw new KvError(`The value of ${JSON.stringify(key)} is not JSON`, {
          code: 'invalid_json',
          status: 0,
          cause,
        });
      }
    }
    case 'arrayBuffer':
      return toArrayBuffer(valueBytes(value, contentType));
    case 'stream': {
      const bytes = valueBytes(value, contentType);
      return new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes);
          controller.close();
        },
      });
    }
  }
}

function isJsonType(contentType: string): boolean {
  const base = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return base === 'application/json' || base.endsWith('+json');
}

/** The bytes as an `ArrayBuffer` of exactly their length (a view may sit inside a larger buffer). */
function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer
  ) {
    return bytes.buffer;
  }
  return bytes.slice().buffer as ArrayBuffer;
}

/** A single-key read in the type asked for, one request, exact bytes. */
async function readOne(source: KVNamespaceSource, key: string, type: KVNamespaceValueType): Promise<unknown> {
  switch (type) {
    case 'text':
      return (await source.getText(key)) ?? null;
    case 'json':
      return (await source.getJson(key)) ?? null;
    case 'arrayBuffer': {
      const bytes = await source.getBytes(key);
      return bytes === undefined ? null : toArrayBuffer(bytes);
    }
    case 'stream':
      return (await source.getStream(key)) ?? null;
  }
}

/** Checks a bulk read's keys: an array of strings (each is checked by kv itself). */
function bulkKeys(keys: unknown[]): string[] {
  for (const key of keys) {
    if (typeof key !== 'string') {
      throw new ValidationError('every key of a bulk read must be a string', {
        details: { field: 'keys', reason: 'type' },
      });
    }
  }
  return keys as string[];
}

/** The `SetOptions` for `put`'s options, checked (Cloudflare semantics; seconds to kv's ms). */
function putOptions(options: unknown): SetOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') {
    throw new ValidationError('put options must be an object', {
      details: { field: 'options', reason: 'type' },
    });
  }
  const { expiration, expirationTtl, metadata } = options as KVNamespacePutOptions;
  const out: SetOptions = {};
  if (expirationTtl !== undefined && expirationTtl !== null) {
    if (typeof expirationTtl !== 'number' || !Number.isFinite(expirationTtl) || expirationTtl <= 0) {
      throw new ValidationError('`expirationTtl` must be a positive number of seconds', {
        details: { field: 'expirationTtl', reason: 'range' },
      });
    }
    out.ttlMs = Math.round(expirationTtl * 1000);
  } else if (expiration !== undefined && expiration !== null) {
    if (typeof expiration !== 'number' || !Number.isFinite(expiration) || expiration <= 0) {
      throw new ValidationError('`expiration` must be a positive number of seconds since the epoch', {
        details: { field: 'expiration', reason: 'range' },
      });
    }
    out.expiresAt = Math.round(expiration * 1000);
  }
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new ValidationError(
        '`metadata` must be a JSON object on kv (Cloudflare also takes other JSON values)',
        {
          details: { field: 'metadata', reason: 'type' },
        },
      );
    }
    // A JSON round trip: what Cloudflare stores is the serialization (dates become strings, undefined
    // fields disappear); kv checks the object and its 1024-byte limit.
    out.metadata = JSON.parse(JSON.stringify(metadata)) as JsonObject;
  }
  return out;
}

/** `put`'s value as kv's `set` takes it: strings and streams as they are, any buffer or view as bytes. */
function putValue(value: unknown): string | Uint8Array | ReadableStream<Uint8Array> {
  if (typeof value === 'string') return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ReadableStream) return value as ReadableStream<Uint8Array>;
  throw new ValidationError(
    'a value must be a string, an ArrayBuffer, an ArrayBufferView or a ReadableStream',
    {
      details: { field: 'value', reason: 'type' },
    },
  );
}

/** Checks `list`'s options and maps them to kv's (Cloudflare: limit 1-1000, default 1000). */
function listOptions(options: unknown): ListOptions {
  if (options === undefined || options === null) return { limit: 1000 };
  if (typeof options !== 'object') {
    throw new ValidationError('list options must be an object', {
      details: { field: 'options', reason: 'type' },
    });
  }
  const { limit, prefix, cursor } = options as KVNamespaceListOptions;
  const out: ListOptions = { limit: limit ?? 1000 };
  if (prefix !== undefined && prefix !== null && prefix !== '') out.prefix = prefix;
  if (cursor !== undefined && cursor !== null && cursor !== '') out.cursor = cursor;
  return out;
}

/**
 * Wraps a kv store handle in the API of a Cloudflare Workers KV binding, so code written for
 * `env.MY_KV` runs against kv: pass the result where the Worker expects its binding.
 *
 * Mapping (docs/compat.md "Workers KVNamespace"): `get(key, type)` is one kv read of the value
 * (`getText`/`getJson`/`getBytes`/`getStream`; `cacheTtl` accepted and ignored); `getWithMetadata` reads
 * the entry (value and `metadata`); bulk `get(keys)`/`getWithMetadata(keys)` is one `getMany` per 10,000
 * keys; `put` is `set` with `expirationTtl` (s) as `ttlMs`, `expiration` (epoch s) as `expiresAt` and
 * `metadata`; `delete` is kv's soft delete; `list` is one kv listing page (`limit` default 1000), each
 * key with `expiration` (epoch s) and `metadata` when it has them, `cursor` while `list_complete` is
 * false. kv's own rules apply on top: keys are 1-512 UTF-8 bytes with no whitespace or control
 * characters, reads are strongly consistent, TTLs have no 60 s minimum and a key takes any number of
 * writes per second.
 *
 * @param store - a store handle (`client.store(name)` of `@kv/node`, `@kv/browser` or core)
 * @returns the binding; no request is made until a method is called
 * @throws {ValidationError} (from the methods) a bad key, value type, option or metadata
 * @example
 * ```ts
 * import { createClient, toKVNamespace } from '@kv/node';
 * import worker from './worker.js'; // export default { async fetch(request, env) { ... env.MY_KV ... } }
 *
 * const env = { MY_KV: toKVNamespace(createClient().store('my-kv')) };
 * const response = await worker.fetch(new Request('https://example.com/'), env);
 * ```
 */
export function toKVNamespace(store: KVNamespaceSource): KVNamespace {
  const bulkRead = async (
    keys: unknown[],
    arg: unknown,
    withMetadata: boolean,
  ): Promise<Map<string, unknown>> => {
    const type = valueType(arg, true);
    const entries = await store.getMany(bulkKeys(keys));
    const out = new Map<string, unknown>();
    for (const [key, entry] of entries) {
      const value = entry === undefined ? null : convert(key, entry.value, entry.contentType, type);
      out.set(key, withMetadata ? { value, metadata: entry?.metadata ?? null, cacheStatus: null } : value);
    }
    return out;
  };

  const binding = {
    async get(key: unknown, arg?: unknown): Promise<unknown> {
      if (Array.isArray(key)) return bulkRead(key, arg, false);
      const type = valueType(arg, false);
      return readOne(store, key as string, type);
    },

    async getWithMetadata(key: unknown, arg?: unknown): Promise<unknown> {
      if (Array.isArray(key)) return bulkRead(key, arg, true);
      const type = valueType(arg, false);
      const entry = await store.getEntry(key as string);
      if (entry === undefined) return { value: null, metadata: null, cacheStatus: null };
      return {
        value: convert(entry.key, entry.value, entry.contentType, type),
        metadata: entry.metadata ?? null,
        cacheStatus: null,
      };
    },

    async put(key: string, value: unknown, options?: KVNamespacePutOptions): Promise<void> {
      const setOptions = putOptions(options);
      await store.set(key, putValue(value), setOptions);
    },

    async delete(key: string): Promise<void> {
      await store.delete(key);
    },

    async list(options?: KVNamespaceListOptions): Promise<KVNamespaceListResult<unknown>> {
      const page = await store.list(listOptions(options));
      const keys = page.items.map((item) => {
        const listed: KVNamespaceListKey<unknown> = { name: item.key };
        if (item.expiresAt !== null) listed.expiration = Math.floor(Date.parse(item.expiresAt) / 1000);
        if (item.metadata !== null) listed.metadata = item.metadata;
        return listed;
      });
      if (page.complete || page.cursor === undefined) return { list_complete: true, keys, cacheStatus: null };
      return { list_complete: false, keys, cursor: page.cursor, cacheStatus: null };
    },
  };
  return binding as KVNamespace;
}
