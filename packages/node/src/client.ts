/**
 * `createClient` for Node services: the shared `@kv/core` HTTP client, configured from the
 * environment once, with Node's additions only — `Buffer` and Node `Readable` values for writes (streams
 * are uploaded without buffering) and `getBuffer` for reads.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import {
  ConfigurationError,
  type CreateOptions,
  createHttpClient,
  type HttpClientOptions,
  type KvClient,
  type KvSetValue,
  type SetOptions,
  type SetResult,
  type StoreHandle,
  type UpdateOptions,
} from '@kv/core';
import { traceContextHook } from './trace-context.js';

/**
 * What the Node client's writes accept: everything `@kv/core`'s `set` takes (JSON values, strings,
 * `Uint8Array` — so `Buffer` — `ArrayBuffer`, `Blob`, web `ReadableStream`) plus a Node `Readable`
 * (e.g. `fs.createReadStream`), which is converted with `Readable.toWeb` and streamed, never buffered
 * whole and never retried.
 */
export type NodeSetValue = KvSetValue | Readable;

/** A store handle with Node's additions (see `StoreHandle` in `@kv/core`, docs/protocol.md "Client operations"). */
export interface NodeStoreHandle extends Omit<StoreHandle, 'set' | 'create' | 'update'> {
  /** `StoreHandle.set`, also taking a `Buffer` or a Node `Readable` (streamed). @see StoreHandle.set */
  set(key: string, value: NodeSetValue, options?: SetOptions): Promise<SetResult>;
  /** `StoreHandle.create` (Ironflow `create`; throws `KeyExistsError`), also taking a `Readable`. */
  create(key: string, value: NodeSetValue, options?: CreateOptions): Promise<SetResult>;
  /** `StoreHandle.update` (compare-and-swap; throws `RevisionMismatchError`), also taking a `Readable`. */
  update(key: string, value: NodeSetValue, revision: number, options?: UpdateOptions): Promise<SetResult>;
  /**
   * Reads a value's raw bytes as a `Buffer` (no copy: it shares the response's memory).
   * @returns the bytes, or `undefined` when the key is missing or expired
   * @throws {StoreNotFoundError} the store does not exist
   */
  getBuffer(key: string): Promise<Buffer | undefined>;
}

/** The Node client: `@kv/core`'s client whose `store(name)` returns a {@link NodeStoreHandle}. */
export interface NodeKvClient extends Omit<KvClient, 'store'> {
  /**
   * A handle on one store; no request is made.
   * @throws {ValidationError} bad store name
   */
  store(name: string): NodeStoreHandle;
}

/**
 * Options of {@link createClient}: those of `createHttpClient` in `@kv/core`, with `url` and `token`
 * optional because they default to the environment.
 */
export interface ClientOptions extends Omit<HttpClientOptions, 'url'> {
  /**
   * Base URL of the kv server.
   * @default process.env.KV_URL
   * @example 'http://127.0.0.1:8787'
   */
  url?: string | undefined;
  /**
   * Bearer token. When neither `token` nor `tokenFile` is given, `KV_TOKEN`, then the file named by
   * `KV_TOKEN_FILE`, is used.
   * @default process.env.KV_TOKEN
   */
  token?: string | undefined;
  /**
   * A file holding the bearer token (e.g. a mounted secret); read once, surrounding whitespace trimmed.
   * @default process.env.KV_TOKEN_FILE
   * @example '/run/secrets/kv_token'
   */
  tokenFile?: string | undefined;
  /**
   * The environment to read `KV_URL`, `KV_TOKEN` and `KV_TOKEN_FILE` from.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /**
   * Propagate the active OpenTelemetry trace context: when `@opentelemetry/api` is installed (an
   * optional peer dependency) and a span is active, each request carries its `traceparent` (through the
   * registered propagator), so the server's span is its child. Without the package this does nothing
   * and costs nothing. Runs before `beforeRequest`.
   * @default true
   * @example false
   */
  traceContext?: boolean | undefined;
}

function isNodeReadable(value: unknown): value is Readable {
  return value instanceof Readable;
}

function toCoreValue(value: NodeSetValue): KvSetValue {
  if (isNodeReadable(value)) return Readable.toWeb(value) as unknown as ReadableStream<Uint8Array>;
  return value;
}

function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigurationError(
      `Cannot read the token file ${path} (KV_TOKEN_FILE / tokenFile): ${(cause as Error).message}`,
      {
        cause,
        details: { field: 'tokenFile', reason: 'unreadable' },
      },
    );
  }
  const token = text.trim();
  if (token === '') {
    throw new ConfigurationError(`The token file ${path} is empty`, {
      details: { field: 'tokenFile', reason: 'empty' },
    });
  }
  return token;
}

/**
 * Resolves the options `createClient` passes to `@kv/core`: explicit options first, then `KV_URL`,
 * `KV_TOKEN`, `KV_TOKEN_FILE` from `options.env` (default `process.env`). Exported for the CLI and tests.
 *
 * @throws {ConfigurationError} no URL in options or environment; unreadable or empty token file
 */
export function resolveClientOptions(options: ClientOptions = {}): HttpClientOptions {
  const {
    env: envOption,
    tokenFile,
    url: urlOption,
    token: tokenOption,
    traceContext: _traceContext,
    ...rest
  } = options;
  const env = envOption ?? process.env;
  const url = urlOption ?? nonEmpty(env.KV_URL);
  if (url === undefined) {
    throw new ConfigurationError(
      'No kv server URL: pass createClient({ url }) or set KV_URL, e.g. KV_URL=http://127.0.0.1:8787 (the default of kv-server and of the kv CLI)',
      { details: { field: 'url', reason: 'missing' } },
    );
  }
  let token = tokenOption;
  if (token === undefined && tokenFile !== undefined) token = readTokenFile(tokenFile);
  if (token === undefined) token = nonEmpty(env.KV_TOKEN);
  if (token === undefined) {
    const file = nonEmpty(env.KV_TOKEN_FILE);
    if (file !== undefined) token = readTokenFile(file);
  }
  const resolved: HttpClientOptions = { ...rest, url };
  if (token !== undefined) resolved.token = token;
  return resolved;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * Creates a kv client for Node. Reads `KV_URL`, `KV_TOKEN` and `KV_TOKEN_FILE` once, here (explicit
 * options win), then wraps `createHttpClient` from `@kv/core`: every operation, error class, retry and
 * timeout behaviour is the core client's.
 *
 * @param options - `url`, `token`, `tokenFile`, `timeoutMs` (default 30 s), `retry` (default 2 retries of
 *   reads, and of writes with an automatic `Idempotency-Key`), `fetch`, `onError`, `headers`,
 *   `beforeRequest`, `env`, `traceContext` (default on: the active OpenTelemetry span's `traceparent`
 *   when `@opentelemetry/api` is installed)
 * @returns the client: `client.stores.*` and `client.store(name)`
 * @throws {ConfigurationError} no URL (neither `url` nor `KV_URL`), a URL that is not http(s), an
 *   unreadable or empty token file; thrown here, before any request
 * @throws {ValidationError} bad `timeoutMs` or `retry`
 * @example
 * ```ts
 * import { createClient } from '@kv/node';
 * const kv = createClient(); // KV_URL, KV_TOKEN
 * const sessions = kv.store('sessions');
 * await sessions.set('session:42', { user: 'ada' }, { ttlMs: 3_600_000 });
 * ```
 */
export function createClient(options: ClientOptions = {}): NodeKvClient {
  const resolved = resolveClientOptions(options);
  const propagate = options.traceContext === false ? undefined : traceContextHook();
  if (propagate !== undefined) {
    const own = resolved.beforeRequest;
    resolved.beforeRequest =
      own === undefined
        ? propagate
        : (headers) => {
            propagate(headers);
            own(headers);
          };
  }
  const core = createHttpClient(resolved);
  const handles = new Map<string, NodeStoreHandle>();
  return {
    url: core.url,
    stores: core.stores,
    tokens: core.tokens,
    store(name: string): NodeStoreHandle {
      let handle = handles.get(name);
      if (handle === undefined) {
        handle = wrapStore(core.store(name));
        handles.set(name, handle);
      }
      return handle;
    },
  };
}

function wrapStore(store: StoreHandle): NodeStoreHandle {
  return {
    ...store,
    set: (key, value, options) => store.set(key, toCoreValue(value), options),
    create: (key, value, options) => store.create(key, toCoreValue(value), options),
    update: (key, value, revision, options) => store.update(key, toCoreValue(value), revision, options),
    getBuffer: async (key) => {
      const bytes = await store.getBytes(key);
      return bytes === undefined ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  };
}
