/**
 * The shared HTTP client of kv (docs/protocol.md "Client operations"): every store operation implemented
 * once on `ky`, with timeouts, retries of reads and of writes (each write carries one `Idempotency-Key`
 * on every attempt, so the server applies it once), an `onError` hook and an injectable `fetch`.
 * `@kv/node` and `@kv/browser` wrap {@link createHttpClient} and add only what their platform needs.
 *
 * @module
 */

import { createStoreHandle, createStoresApi } from './store.js';
import { createTokensApi } from './tokens.js';
import { createTransport } from './transport.js';
import type { HttpClientOptions, KvClient, StoreHandle } from './types.js';

export { type StoreWriter, storeWriter } from './store.js';
export { CLIENT_DEFAULTS, parseRetryAfterMs } from './transport.js';
export type * from './types.js';
export { isBlob, isReadableStream } from './values.js';
export {
  type PreparedWrite,
  preparedBytes,
  prepareWrite,
  putHeaders,
  toWireWrite,
  type WriteCondition,
  type WriteFields,
} from './write.js';

/**
 * Creates a kv client over HTTP. Makes no request until an operation is called.
 *
 * @param options - `url` (required), `token`, `timeoutMs` (default 30 s per attempt), `retry` (default 2
 *   retries, 300 ms doubling backoff capped at 10 s, `Retry-After` honoured up to 60 s; writes only with
 *   an `Idempotency-Key`), `fetch`, `onError`, `headers`, `beforeRequest`
 * @returns the client: `client.stores.*`, `client.tokens.*` and `client.store(name)`
 * @throws {ConfigurationError} missing or invalid `url` (before any request)
 * @throws {ValidationError} invalid `timeoutMs`/`retry`, or no `fetch` in this runtime and none given
 * @example
 * ```ts
 * const client = createHttpClient({ url: 'http://127.0.0.1:8787', token: 'secret' });
 * const orders = client.store('orders');
 * await orders.set('order:1', { total: 42 }, { ttlMs: 60_000 });
 * const order = await orders.getJson<{ total: number }>('order:1'); // { total: 42 } | undefined
 * ```
 */
export function createHttpClient(options: HttpClientOptions): KvClient {
  const transport = createTransport(options);
  const stores = createStoresApi(transport);
  const tokens = createTokensApi(transport);
  const handles = new Map<string, StoreHandle>();
  return {
    url: transport.baseUrl,
    stores,
    tokens,
    store(name: string): StoreHandle {
      let handle = handles.get(name);
      if (handle === undefined) {
        handle = createStoreHandle(transport, name);
        handles.set(name, handle);
      }
      return handle;
    },
  };
}
