/**
 * The store handle and the stores API of the shared client: every store operation of docs/protocol.md "Client operations",
 * implemented once over {@link Transport}. Internal; the public shapes are in `./types.ts`.
 *
 * @module
 */

import { utf8Decode } from '../encoding.js';
import { isKvError, KvError, RevisionMismatchError, ValidationError } from '../errors.js';
import { LIMITS } from '../limits.js';
import { entryFromHeaders } from '../protocol/entry-headers.js';
import {
  formatEtag,
  routes,
  type WireAtomicBody,
  type WireAtomicResponse,
  type WireBulkGetResponse,
  type WireBulkSetBody,
  type WireDeleteResponse,
  type WireEntry,
  type WireHistoryItem,
  type WireIncrementResponse,
  type WireListResponse,
  type WireSetExpiryResponse,
  type WireSignedUrlBody,
  type WireSignedUrlResponse,
} from '../protocol.js';
import type {
  AtomicResult,
  BulkItemResult,
  BulkResult,
  CreateStoreOptions,
  DeleteOptions,
  EntryMeta,
  HistoryEntry,
  KvEntry,
  ListOptions,
  ListPage,
  SetOptions,
  SetResult,
  SignedUrl,
  StoreInfo,
  UpdateStoreOptions,
} from '../types.js';
import { validateKey, validateKeyPrefix, validateStoreConfig, validateStoreName } from '../validation.js';
import { startWatch } from '../watcher.js';
import { createQueueMethods } from './queue.js';
import type { RequestSpec, Transport } from './transport.js';
import type {
  AtomicOperation,
  AtomicSetOptions,
  CreateOptions,
  GetManyOptions,
  KvBulkValue,
  KvSetValue,
  KvValue,
  SetManyItem,
  StoreHandle,
  StoresApi,
  UpdateOptions,
} from './types.js';
import {
  checkRevision,
  decode,
  entryFromWire,
  isReadableStream,
  metaFromWire,
  toIso,
  valueFromWire,
} from './values.js';
import {
  checkInteger,
  type PreparedWrite,
  prepareIncrement,
  prepareWrite,
  putHeaders,
  toWireWrite,
  type WriteCondition,
} from './write.js';

/** True when `error` is a 404 for a missing key or id (not a missing store). */
function isMissingKey(error: unknown): boolean {
  return isKvError(error) && error.code === 'key_not_found';
}

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function checkId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 256) {
    throw new ValidationError('`id` must be a non-empty string', {
      details: { field: 'id', reason: 'type' },
    });
  }
  return id;
}

/** Validates `expiresInSecs` of a signed URL: an integer from 1 to 604,800 (7 days). */
function checkExpiresInSecs(value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 1 ||
    value > LIMITS.maxSignedUrlExpiresInSecs
  ) {
    throw new ValidationError(
      `\`expiresInSecs\` must be an integer from 1 to ${LIMITS.maxSignedUrlExpiresInSecs} (7 days)`,
      { details: { field: 'expiresInSecs', reason: 'out_of_range', max: LIMITS.maxSignedUrlExpiresInSecs } },
    );
  }
  return value;
}

function checkKeys(keys: readonly string[]): void {
  if (!Array.isArray(keys)) {
    throw new ValidationError('`keys` must be an array of keys', {
      details: { field: 'keys', reason: 'type' },
    });
  }
}

/** Checks a listing `limit`: an integer from 1 to 1,000 (`LIMITS.maxListLimit`). */
function checkListLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > LIMITS.maxListLimit) {
    throw new ValidationError(`\`limit\` must be an integer from 1 to ${LIMITS.maxListLimit}`, {
      details: { field: 'limit', reason: 'out_of_range', max: LIMITS.maxListLimit },
    });
  }
  return limit;
}

/** The query of a listing request (docs/protocol.md "List entries"). */
function listQuery(options: ListOptions): Record<string, string | number | boolean | undefined> {
  if (options.prefix !== undefined) validateKeyPrefix(options.prefix);
  if (options.startAfter !== undefined) validateKey(options.startAfter);
  if (options.limit !== undefined) checkListLimit(options.limit);
  return {
    prefix: options.prefix,
    match: options.match,
    like: options.like,
    scope: options.scope,
    startAfter: options.startAfter,
    limit: options.limit,
    cursor: options.cursor,
    reverse: options.reverse === true ? 'true' : undefined,
    values: options.values === true ? 'true' : undefined,
  };
}

/** Merges the results of several bulk requests (one per 10,000 items). */
function mergeBulk(parts: BulkResult[]): BulkResult {
  if (parts.length === 1) return parts[0] as BulkResult;
  const results: BulkItemResult[] = [];
  const unsuccessfulKeys: string[] = [];
  let successfulKeyCount = 0;
  for (const part of parts) {
    for (const r of part.results) results.push(r);
    for (const k of part.unsuccessfulKeys) unsuccessfulKeys.push(k);
    successfulKeyCount += part.successfulKeyCount;
  }
  return { results, successfulKeyCount, unsuccessfulKeys };
}

const EMPTY_BULK: () => BulkResult = () => ({ results: [], successfulKeyCount: 0, unsuccessfulKeys: [] });

/**
 * The write path of a store handle made by `createHttpClient`, for runtime packages that keep what they
 * write (`@kv/browser`'s write-through cache and offline queue): prepare a write once, send it, and keep
 * using the same prepared write. Errors go to the client's `onError` as the handle's own methods report
 * them.
 */
export interface StoreWriter {
  /**
   * {@link prepareWrite}, its error reported to `onError` before it is thrown.
   * @throws {ValidationError} a bad key, value or option
   */
  prepare(key: string, value: KvSetValue, options?: SetOptions, condition?: WriteCondition): PreparedWrite;
  /**
   * Prepares the items of `setMany` (each item's options as in `set`), all before anything is sent.
   * @throws {ValidationError} `items` is not an array, or an item is bad
   */
  prepareMany(items: readonly SetManyItem[]): PreparedWrite[];
  /** Sends a prepared write as one `PUT`: what `set`, `create` and `update` send. */
  put(write: PreparedWrite): Promise<SetResult>;
  /** Sends prepared writes as `bulk/set` requests of at most 10,000 items: what `setMany` sends. */
  putMany(writes: readonly PreparedWrite[]): Promise<BulkResult>;
}

const writers = new WeakMap<StoreHandle, StoreWriter>();

/**
 * The {@link StoreWriter} of a store handle made by `createHttpClient` (`client.store(name)`).
 *
 * @throws {TypeError} the handle was not made by `createHttpClient` (a copy or a wrapper has none)
 */
export function storeWriter(handle: StoreHandle): StoreWriter {
  const writer = writers.get(handle);
  if (writer === undefined) throw new TypeError('Not a store handle made by createHttpClient');
  return writer;
}

/**
 * Builds the handle on store `name`. The handle is a plain object of functions (no `this`), so runtime
 * packages can spread it and replace single methods.
 */
export function createStoreHandle(transport: Transport, name: string): StoreHandle {
  validateStoreName(name);
  const { send, guard } = transport;

  /** GET an entry or id route; `undefined` when the key/id is missing. */
  async function fetchValue(path: string): Promise<Response | undefined> {
    try {
      return await send({ method: 'GET', path, retry: 'read' });
    } catch (error) {
      if (isMissingKey(error)) return undefined;
      throw error;
    }
  }

  async function readBytes(response: Response): Promise<Uint8Array> {
    return new Uint8Array(await response.arrayBuffer());
  }

  async function readEntry<T>(key: string | undefined, response: Response): Promise<KvEntry<T>> {
    const bytes = await readBytes(response);
    const meta = entryFromHeaders(key, response.headers, bytes.byteLength);
    return { ...meta, value: decode(bytes, meta.contentType) as T };
  }

  /** Sends a prepared write as one `PUT`; a stream goes once, anything else may be retried. */
  async function put(write: PreparedWrite): Promise<SetResult> {
    const stream = !(write.body instanceof Uint8Array) && isReadableStream(write.body);
    const spec: RequestSpec = {
      method: 'PUT',
      path: routes.entry(name, write.key),
      headers: putHeaders(write),
      retry: stream ? 'never' : 'idempotency-key',
    };
    if (stream) spec.stream = write.body as ReadableStream<Uint8Array>;
    else spec.body = write.body as Uint8Array | Blob;
    return json<SetResult>(await send(spec));
  }

  /** Prepares and sends one write (`set`, `create`, `update`), its errors reported through `onError`. */
  function write(
    key: string,
    value: KvSetValue,
    options: SetOptions | undefined,
    condition?: WriteCondition,
  ): Promise<SetResult> {
    return guard(() => put(prepareWrite(key, value, options, condition)));
  }

  function prepareMany(items: readonly SetManyItem[]): PreparedWrite[] {
    if (!Array.isArray(items)) {
      throw new ValidationError('`items` must be an array of { key, value, ...options }', {
        details: { field: 'items', reason: 'type' },
      });
    }
    return items.map((item) => prepareWrite(item.key, item.value, item));
  }

  async function putMany(writes: readonly PreparedWrite[]): Promise<BulkResult> {
    if (writes.length === 0) return EMPTY_BULK();
    const items: WireBulkSetBody['items'] = [];
    for (const w of writes) items.push(await toWireWrite(w));
    const parts: BulkResult[] = [];
    for (const part of chunk(items, LIMITS.maxBulkItems)) {
      parts.push(await bulkWrite(routes.bulkSet(name), { items: part }));
    }
    return mergeBulk(parts);
  }

  async function listPage<T>(options: ListOptions): Promise<ListPage<T>> {
    const response = await send({
      method: 'GET',
      path: routes.entries(name),
      query: listQuery(options),
      retry: 'read',
    });
    const wire = await json<WireListResponse>(response);
    const page: ListPage<T> = {
      items: wire.items.map((item) => {
        const meta = metaFromWire(item);
        return item.value === undefined ? meta : { ...meta, value: valueFromWire(item) as T };
      }),
      complete: wire.complete,
    };
    if (wire.cursor !== undefined) page.cursor = wire.cursor;
    return page;
  }

  async function* pages<T>(options: ListOptions): AsyncGenerator<ListPage<T>, void, undefined> {
    let next: ListOptions = { ...options };
    for (;;) {
      const page = await guard(() => listPage<T>(next));
      yield page;
      // A filtered page may be empty and still incomplete (the server bounds the rows it examines per
      // request), so follow the cursor; a cursor that does not move would loop forever.
      if (page.complete || page.cursor === undefined || page.cursor === next.cursor) return;
      next = { ...options, cursor: page.cursor };
      delete next.startAfter;
    }
  }

  async function bulkWrite(path: string, body: unknown): Promise<BulkResult> {
    return json<BulkResult>(await send({ method: 'POST', path, json: body, retry: 'idempotency-key' }));
  }

  function getMany(
    keys: readonly string[],
    options?: GetManyOptions,
  ): Promise<Map<string, KvEntry<KvValue> | EntryMeta | undefined>> {
    return guard(async () => {
      checkKeys(keys);
      for (const key of keys) validateKey(key);
      const values = options?.values !== false;
      const result = new Map<string, KvEntry<KvValue> | EntryMeta | undefined>();
      for (const part of chunk(keys, LIMITS.maxBulkItems)) {
        const response = await send({
          method: 'POST',
          path: routes.bulkGet(name),
          json: { keys: part, values },
          retry: 'read',
        });
        const wire = await json<WireBulkGetResponse>(response);
        for (const item of wire.items) {
          if (!item.found) {
            if (!result.has(item.key)) result.set(item.key, undefined);
            continue;
          }
          const entry = item as WireEntry;
          result.set(item.key, values ? entryFromWire<KvValue>(entry) : metaFromWire(entry));
        }
      }
      return result;
    });
  }

  /** Asks the server to sign a URL; the result is on this client's base URL (proxies, path prefixes). */
  async function signedUrl(body: WireSignedUrlBody): Promise<SignedUrl> {
    const response = await send({
      method: 'POST',
      path: routes.signedUrls(name),
      json: body,
      // Signing computes a URL and stores nothing: a read.
      retry: 'read',
    });
    const wire = await json<WireSignedUrlResponse>(response);
    return { url: transport.baseUrl + wire.path, expiresAt: wire.expiresAt };
  }

  const handle: StoreHandle = {
    name,

    get: (key) =>
      guard(async () => {
        validateKey(key);
        const response = await fetchValue(routes.entry(name, key));
        if (response === undefined) return undefined;
        return decode(await readBytes(response), response.headers.get('content-type') ?? '');
      }),

    getText: (key) =>
      guard(async () => {
        validateKey(key);
        const response = await fetchValue(routes.entry(name, key));
        return response === undefined ? undefined : utf8Decode(await readBytes(response));
      }),

    getJson: <T>(key: string) =>
      guard(async (): Promise<T | undefined> => {
        validateKey(key);
        const response = await fetchValue(routes.entry(name, key));
        if (response === undefined) return undefined;
        const text = utf8Decode(await readBytes(response));
        try {
          return JSON.parse(text) as T;
        } catch (cause) {
          throw new KvError(`The value of ${JSON.stringify(key)} is not JSON`, {
            code: 'invalid_json',
            status: 0,
            cause,
            requestId: response.headers.get('kv-request-id') ?? undefined,
          });
        }
      }),

    getBytes: (key) =>
      guard(async () => {
        validateKey(key);
        const response = await fetchValue(routes.entry(name, key));
        return response === undefined ? undefined : readBytes(response);
      }),

    getStream: (key) =>
      guard(async () => {
        validateKey(key);
        const response = await fetchValue(routes.entry(name, key));
        if (response === undefined) return undefined;
        return (response.body ??
          new ReadableStream<Uint8Array>({ start: (c) => c.close() })) as ReadableStream<Uint8Array>;
      }),

    getEntry: <T>(key: string) =>
      guard(async (): Promise<KvEntry<T> | undefined> => {
        validateKey(key);
        const response = await fetchValue(routes.entry(name, key));
        return response === undefined ? undefined : readEntry<T>(key, response);
      }),

    getById: (id) =>
      guard(async () => {
        const response = await fetchValue(routes.byId(name, checkId(id)));
        if (response === undefined) return undefined;
        return decode(await readBytes(response), response.headers.get('content-type') ?? '');
      }),

    getEntryById: <T>(id: string) =>
      guard(async (): Promise<KvEntry<T> | undefined> => {
        const response = await fetchValue(routes.byId(name, checkId(id)));
        return response === undefined ? undefined : readEntry<T>(undefined, response);
      }),

    exists: (key) =>
      guard(async () => {
        validateKey(key);
        try {
          await send({ method: 'HEAD', path: routes.entry(name, key), retry: 'read' });
          return true;
        } catch (error) {
          if (isKvError(error) && error.status === 404 && error.code !== 'store_not_found') return false;
          throw error;
        }
      }),

    set: (key, value, options) => write(key, value, options),

    create: (key, value, options: CreateOptions | undefined) => write(key, value, options, 'create'),

    update: (key, value, revision, options: UpdateOptions | undefined) =>
      write(key, value, options, { revision }),

    increment: (key, delta = 1, options) =>
      guard(async () => {
        const body = prepareIncrement(key, delta, options);
        const response = await send({
          method: 'POST',
          path: routes.increment(name, key),
          json: body,
          retry: 'idempotency-key',
        });
        return json<WireIncrementResponse>(response);
      }),

    ...createQueueMethods(transport, name),

    setExpiry: (key, expiresAt) =>
      guard(async () => {
        validateKey(key);
        const iso = expiresAt === null ? null : toIso(expiresAt);
        const response = await send({
          method: 'PUT',
          path: routes.expiry(name, key),
          json: { expiresAt: iso },
          retry: 'idempotency-key',
        });
        return (await json<WireSetExpiryResponse>(response)).existed;
      }),

    delete: (key, options?: DeleteOptions) =>
      guard(async () => {
        validateKey(key);
        const spec: RequestSpec = {
          method: 'DELETE',
          path: routes.entry(name, key),
          retry: 'idempotency-key',
        };
        if (options?.ifRevision !== undefined)
          spec.headers = { 'if-match': formatEtag(checkRevision(options?.ifRevision, 'ifRevision')) };
        return (await json<WireDeleteResponse>(await send(spec))).deleted;
      }),

    purge: (key) =>
      guard(async () => {
        validateKey(key);
        const response = await send({
          method: 'DELETE',
          path: routes.entry(name, key),
          query: { purge: 'true' },
          retry: 'idempotency-key',
        });
        return (await json<WireDeleteResponse>(response)).deleted;
      }),

    history: <T>(key: string) =>
      guard(async (): Promise<HistoryEntry<T>[]> => {
        validateKey(key);
        let response: Response;
        try {
          response = await send({ method: 'GET', path: routes.history(name, key), retry: 'read' });
        } catch (error) {
          if (isMissingKey(error)) return [];
          throw error;
        }
        const wire = await json<{ items: WireHistoryItem[] }>(response);
        return wire.items.map((item) => ({
          ...metaFromWire(item),
          operation: item.operation,
          value: valueFromWire(item) as T | undefined,
        }));
      }),

    list: <T>(options: ListOptions = {}) => guard(() => listPage<T>(options)),

    keys: async function* keys(options = {}) {
      for await (const page of pages({ ...options, values: false })) {
        for (const item of page.items) yield item.key;
      }
    },

    entries: async function* entries<T>(options: Omit<ListOptions, 'values'> = {}) {
      for await (const page of pages<T>({ ...options, values: true })) {
        for (const item of page.items) yield item as KvEntry<T>;
      }
    },

    listScopes: () =>
      guard(async () => {
        const response = await send({ method: 'GET', path: routes.scopes(name), retry: 'read' });
        return (await json<{ items: string[] }>(response)).items;
      }),

    getMany: getMany as StoreHandle['getMany'],

    // Every item is checked before the first request goes out.
    setMany: (items) => guard(() => putMany(prepareMany(items))),

    deleteMany: (keys) =>
      guard(async () => {
        checkKeys(keys);
        for (const key of keys) validateKey(key);
        if (keys.length === 0) return EMPTY_BULK();
        const parts: BulkResult[] = [];
        for (const part of chunk(keys, LIMITS.maxBulkItems)) {
          parts.push(await bulkWrite(routes.bulkDelete(name), { keys: part }));
        }
        return mergeBulk(parts);
      }),

    atomic: () => createAtomic(),

    createRecordUrl: (key, options) =>
      guard(async () => {
        validateKey(key);
        return signedUrl({ kind: 'record', key, expiresInSecs: checkExpiresInSecs(options?.expiresInSecs) });
      }),

    createKeysUrl: (options) =>
      guard(async () => {
        const body: WireSignedUrlBody = {
          kind: 'keys',
          expiresInSecs: checkExpiresInSecs(options?.expiresInSecs),
        };
        if (options.prefix !== undefined) body.prefix = validateKeyPrefix(options.prefix);
        if (options.limit !== undefined) body.limit = checkListLimit(options.limit);
        return signedUrl(body);
      }),

    rotateSigningSecret: () =>
      guard(async () => {
        // Sent once: the engine keeps no idempotency record for this route, and a blind repeat after a
        // lost response would rotate twice, invalidating URLs signed in between.
        const response = await send({ method: 'POST', path: routes.signingSecret(name), retry: 'never' });
        // Drained, not cancelled: the small JSON answer keeps the connection reusable, and an awaited
        // cancel() never settles under msw's Node interceptor (mswjs/interceptors#712).
        await response.arrayBuffer();
      }),

    watch: (options = {}, callbacks = {}) => {
      try {
        if (options.key !== undefined) validateKey(options.key);
        if (options.prefix !== undefined) validateKeyPrefix(options.prefix);
      } catch (error) {
        if (isKvError(error)) transport.report(error);
        throw error;
      }
      return startWatch(transport.watchTransport(routes.watch(name)), options, {
        ...callbacks,
        onError: (error, info) => {
          if (!info.willRetry) transport.report(error);
          callbacks.onError?.(error, info);
        },
      });
    },
  };

  function createAtomic(): AtomicOperation {
    const checks: NonNullable<WireAtomicBody['checks']> = [];
    const pending: Array<
      | { type: 'set'; key: string; value: KvBulkValue; options: AtomicSetOptions }
      | { type: 'delete'; key: string }
      | { type: 'sum' | 'min' | 'max'; key: string; value: number }
    > = [];
    const op: AtomicOperation = {
      check(key, revision) {
        checks.push({ key, revision });
        return op;
      },
      set(key, value, options = {}) {
        pending.push({ type: 'set', key, value, options });
        return op;
      },
      delete(key) {
        pending.push({ type: 'delete', key });
        return op;
      },
      sum(key, n) {
        pending.push({ type: 'sum', key, value: n });
        return op;
      },
      min(key, n) {
        pending.push({ type: 'min', key, value: n });
        return op;
      },
      max(key, n) {
        pending.push({ type: 'max', key, value: n });
        return op;
      },
      commit: () =>
        guard(async (): Promise<AtomicResult> => {
          for (const c of checks) {
            validateKey(c.key);
            if (c.revision !== null) checkRevision(c.revision);
          }
          if (pending.length === 0) {
            throw new ValidationError('An atomic commit needs at least one mutation', {
              details: { field: 'mutations', reason: 'empty' },
            });
          }
          if (checks.length > LIMITS.maxBulkItems || pending.length > LIMITS.maxBulkItems) {
            throw new ValidationError(
              `An atomic commit takes at most ${LIMITS.maxBulkItems} checks and mutations`,
              {
                details: { field: 'mutations', reason: 'too_many', max: LIMITS.maxBulkItems },
              },
            );
          }
          const mutations: WireAtomicBody['mutations'] = [];
          for (const m of pending) {
            if (m.type === 'delete') {
              validateKey(m.key);
              mutations.push({ type: 'delete', key: m.key });
            } else if (m.type !== 'set') {
              validateKey(m.key);
              mutations.push({ type: m.type, key: m.key, value: checkInteger(m.value, 'n') });
            } else {
              mutations.push({
                type: 'set',
                ...(await toWireWrite(prepareWrite(m.key, m.value, m.options, null))),
              });
            }
          }
          const body: WireAtomicBody = { checks, mutations };
          try {
            const response = await send({
              method: 'POST',
              path: routes.atomic(name),
              json: body,
              retry: 'idempotency-key',
            });
            return { ok: true, revision: (await json<WireAtomicResponse>(response)).revision };
          } catch (error) {
            if (
              error instanceof RevisionMismatchError ||
              (isKvError(error) && error.code === 'revision_mismatch')
            ) {
              const failed = (error as KvError).details?.failedKeys;
              if (Array.isArray(failed)) return { ok: false, failedKeys: failed.map(String) };
            }
            throw error;
          }
        }),
    };
    return op;
  }

  writers.set(handle, {
    prepare(key, value, options, condition) {
      try {
        return prepareWrite(key, value, options, condition);
      } catch (error) {
        throw transport.fail(error);
      }
    },
    prepareMany(items) {
      try {
        return prepareMany(items);
      } catch (error) {
        throw transport.fail(error);
      }
    },
    put: (w) => guard(() => put(w)),
    putMany: (writes) => guard(() => putMany(writes)),
  });
  return handle;
}

/** Builds `client.stores`. */
export function createStoresApi(transport: Transport): StoresApi {
  const { send, guard } = transport;
  return {
    create: (name: string, options: CreateStoreOptions = {}) =>
      guard(async () => {
        validateStoreName(name);
        validateStoreConfig(options, true);
        const response = await send({
          method: 'POST',
          path: routes.stores(),
          json: { name, ...options },
          retry: 'idempotency-key',
        });
        return json<StoreInfo>(response);
      }),

    get: (name: string) =>
      guard(async () => {
        validateStoreName(name);
        try {
          return await json<StoreInfo>(
            await send({ method: 'GET', path: routes.store(name), retry: 'read' }),
          );
        } catch (error) {
          if (isKvError(error) && error.code === 'store_not_found') return undefined;
          throw error;
        }
      }),

    list: () =>
      guard(async () => {
        const response = await send({ method: 'GET', path: routes.stores(), retry: 'read' });
        return (await json<{ items: StoreInfo[] }>(response)).items;
      }),

    update: (name: string, options: UpdateStoreOptions) =>
      guard(async () => {
        validateStoreName(name);
        validateStoreConfig(options, true);
        const response = await send({
          method: 'PATCH',
          path: routes.store(name),
          json: options,
          retry: 'idempotency-key',
        });
        return json<StoreInfo>(response);
      }),

    delete: (name: string) =>
      guard(async () => {
        validateStoreName(name);
        try {
          const response = await send({
            method: 'DELETE',
            path: routes.store(name),
            retry: 'idempotency-key',
          });
          return (await json<{ deleted: boolean }>(response)).deleted;
        } catch (error) {
          if (isKvError(error) && error.code === 'store_not_found') return false;
          throw error;
        }
      }),
  };
}
