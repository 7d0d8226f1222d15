/**
 * The cache's hook into the shared HTTP client: a `fetch` wrapper that `@kv/core`'s client calls for
 * every request. It sees single-entry reads (`GET /v1/stores/{store}/entries/{key}` and `.../ids/{id}`)
 * and nothing else:
 *
 * - when the cache holds the entry's exact bytes, the read is sent as a conditional GET
 *   (`If-None-Match: "<revision>"`, RFC 9110 section 13.1.2); a `304 Not Modified` marks the record
 *   confirmed and is answered to the client as the `200` it stands for, from the cached bytes;
 * - a `200` is stored in the cache (values up to `maxEntryBytes`), a `404 key_not_found` as a tombstone.
 *
 * So revalidation, retries, timeouts, auth and error mapping all stay in `@kv/core` (one HTTP client).
 *
 * @module
 */
import { HEADERS, matchRoute, ROUTES } from '@kv/core/protocol';
import type { KvCache, PutOptions } from './cache.js';
import { type CacheRecord, recordFromResponse, responseHeadersFor, tombstone } from './record.js';

/** The WHATWG `fetch` signature (as `@kv/core`'s `FetchLike`). */
export type FetchFn = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

/** What a request URL addresses, when it is a single-entry read. */
type Target = { store: string; key: string } | { store: string; id: string };

/** Counters of what the cache layer did with entry reads (for tests, benchmarks and devtools). */
export interface CacheCounters {
  /** Reads answered from the cache with no request (fresh, live, pending or offline). */
  hits: number;
  /** Conditional GETs sent (`If-None-Match`). */
  revalidations: number;
  /** `304 Not Modified` answers: cached bytes kept. */
  notModified: number;
  /** Entry reads that went to the network without a usable cached copy. */
  misses: number;
  /** Reads answered from the cache, marked stale, because the network failed. */
  staleFallbacks: number;
}

/** Options of {@link createCachingFetch}. */
export interface CachingFetchOptions {
  /** The cache. */
  cache: KvCache;
  /** The client's base URL (as normalized by the core client: no trailing slash). */
  baseUrl: string;
  /** The `fetch` that reaches the network. */
  fetch: FetchFn;
  /** Counters to update. */
  counters: CacheCounters;
}

/** Parses `url` as an entry or by-id read under `basePath` (the client's base URL path, no trailing slash). */
function targetOf(url: URL, origin: string, basePath: string): Target | undefined {
  if (url.origin !== origin || url.search !== '' || !url.pathname.startsWith(basePath)) return undefined;
  const found = matchRoute('GET', url.pathname.slice(basePath.length));
  if (found.kind !== 'match') return undefined;
  const { store, key, id } = found.params as { store: string; key?: string; id?: string };
  if (found.route === ROUTES.getEntry && key !== undefined) return { store, key };
  if (found.route === ROUTES.getById && id !== undefined) return { store, id };
  return undefined;
}

/** A `200` response answering a read from a cached record. */
export function responseFromRecord(record: CacheRecord, requestId?: string | null): Response {
  const headers = responseHeadersFor(record);
  if (requestId) headers.set(HEADERS.requestId, requestId);
  return new Response(record.bytes.byteLength === 0 ? null : record.bytes.slice(), { status: 200, headers });
}

async function errorCode(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.clone().json()) as { error?: { code?: unknown } };
    return typeof body.error?.code === 'string' ? body.error.code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Wraps `options.fetch` with the cache's conditional reads (see the module doc). Other requests pass
 * through untouched. Cache failures (IndexedDB unavailable, quota) never fail a read: it then goes to the
 * network as if nothing were cached.
 */
export function createCachingFetch(options: CachingFetchOptions): FetchFn {
  const { cache, counters } = options;
  const base = new URL(`${options.baseUrl}/`);
  const basePath = base.pathname.replace(/\/+$/, '');
  const origin = base.origin;

  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const method = (request?.method ?? init?.method ?? 'GET').toUpperCase();
    if (method !== 'GET') return options.fetch(input, init);
    let url: URL;
    try {
      url = new URL(request?.url ?? String(input));
    } catch {
      return options.fetch(input, init);
    }
    const target = targetOf(url, origin, basePath);
    if (target === undefined) return options.fetch(input, init);

    let record: CacheRecord | undefined;
    if ('key' in target) record = await cache.get(target.store, target.key).catch(() => undefined);
    const conditional = record?.present && record.exact && !record.pending;
    let sendInput = input;
    let sendInit = init;
    if (conditional && record !== undefined) {
      const headers = new Headers(request?.headers ?? init?.headers);
      headers.set('if-none-match', record.etag);
      if (request !== undefined) sendInput = new Request(request, { headers });
      else sendInit = { ...init, headers };
      counters.revalidations += 1;
    } else {
      counters.misses += 1;
    }

    const response = await options.fetch(sendInput, sendInit);

    if (response.status === 304 && conditional && record !== undefined && 'key' in target) {
      const confirmed = await cache
        .confirm(target.store, target.key, record.revision, response.headers)
        .catch(() => undefined);
      counters.notModified += 1;
      return responseFromRecord(confirmed ?? record, response.headers.get(HEADERS.requestId));
    }
    if (response.status === 200) {
      const length = Number(response.headers.get('content-length') ?? Number.NaN);
      if (Number.isFinite(length) && length > cache.maxEntryBytes) return response;
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (bytes.byteLength <= cache.maxEntryBytes) {
        const key = 'key' in target ? target.key : undefined;
        const fresh = recordFromResponse(target.store, key, response.headers, bytes);
        // Memory takes it now; IndexedDB commits in the background (revisions keep it ordered).
        if (fresh !== undefined) {
          const options: PutOptions = { eager: true };
          if (record !== undefined) options.replaces = record.revision;
          void cache.put(fresh, options).catch(() => undefined);
        }
      }
      return new Response(bytes.byteLength === 0 ? null : bytes, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    }
    if (response.status === 404 && 'key' in target && (await errorCode(response)) === 'key_not_found') {
      const known = record?.pending ? undefined : tombstone(target.store, target.key, record?.revision ?? 0);
      if (known !== undefined) void cache.put(known, { eager: true }).catch(() => undefined);
    }
    return response;
  };
}
