/**
 * The one place the client talks HTTP: every request goes through {@link Transport.send}, which runs it
 * on `ky` with the client's timeout and retry policy and turns every failure into a {@link KvError}
 * subclass (docs/protocol.md "Errors"). Internal to `@kv/core`'s client.
 *
 * @module
 */

import ky, {
  HTTPError,
  type Options as KyOptions,
  type RetryOptions as KyRetryOptions,
  TimeoutError as KyTimeoutError,
} from 'ky';
import {
  ConfigurationError,
  errorFromWire,
  isKvError,
  KvError,
  NetworkError,
  TimeoutError,
  ValidationError,
} from '../errors.js';
import { HEADERS } from '../protocol.js';
import type { WatchTransport } from '../watcher.js';
import type { FetchLike, HttpClientOptions, RetryOptions } from './types.js';
import { randomUuid } from './uuid.js';

/**
 * How a request may be retried (docs/protocol.md "Idempotency": a write is retried only with an
 * `Idempotency-Key`, never blindly):
 * - `read`: changes nothing on the server (`GET`, `HEAD`, and the `POST`s that only compute an answer:
 *   bulk get, signing a URL), so it is retried as is;
 * - `idempotency-key`: a write the engine runs under its idempotency guard (every entry, expiry, bulk,
 *   atomic and store write). It is sent with one random `Idempotency-Key` header, the same on every
 *   attempt, and retried; the server runs it once and replays the first response to the repeats. Even
 *   an unconditional `set` or `delete` needs this: repeated plainly after a lost response, a `set` would
 *   write a second revision and report `created: false`, a `delete` would report `false`;
 * - `never`: sent once (streamed bodies, which cannot be sent twice, and writes the engine keeps no
 *   idempotency record for: token create/revoke, signing-secret rotation).
 */
export type RetryMode = 'read' | 'idempotency-key' | 'never';

/** One request, as the store operations describe it. */
export interface RequestSpec {
  /** HTTP method. */
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** Path from `routes` (starts with `/v1`). */
  path: string;
  /** Query parameters; `undefined` values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  /** Request headers. */
  headers?: Record<string, string>;
  /** A body that can be sent more than once. */
  body?: Uint8Array | ArrayBuffer | Blob | string;
  /** A JSON body (serialized with `JSON.stringify`, `Content-Type: application/json`). */
  json?: unknown;
  /** A streamed body: sent with `duplex: 'half'`, never buffered, never retried. */
  stream?: ReadableStream<Uint8Array>;
  /** Retry policy of this request. */
  retry: RetryMode;
  /**
   * How long the server may hold this request before answering (a long-poll's `waitMs`), in ms: the
   * request's timeout is the client's `timeoutMs` plus this.
   */
  waitMs?: number;
  /** Aborts the request (it then fails with a `NetworkError`). */
  signal?: AbortSignal;
}

/** Statuses worth retrying (RFC 9110: 408 Request Timeout, 429, and transient 5xx). */
const RETRY_STATUSES: readonly number[] = [408, 429, 500, 502, 503, 504];
/** Statuses whose `Retry-After` header sets the delay. */
const RETRY_AFTER_STATUSES: readonly number[] = [429, 503];
const ALL_METHODS: NonNullable<KyRetryOptions['methods']> = ['get', 'head', 'put', 'post', 'patch', 'delete'];

/** Name of the private ky option that carries a streamed body past ky's request cloning. */
const STREAM_OPTION = 'kvStreamBody';

/**
 * Name of the private ky option that carries a replayable body (bytes, `Blob`, text) past ky's request
 * cloning: ky builds and clones a body-less `Request`, and this transport's `fetch` hands the body to
 * `fetch` with it, on every attempt. A body inside ky's `Request` becomes a stream that ky's clone tees,
 * so each write built three streams (measured in `bench/client-cpu.mjs`, docs/performance.md).
 */
const BODY_OPTION = 'kvBody';

/** ky hooks of every request: a failed response's body is discarded before a retry. */
const HOOKS: NonNullable<KyOptions['hooks']> = { beforeRetry: [discardFailedResponse] };

/** Defaults of {@link HttpClientOptions}. */
export const CLIENT_DEFAULTS: {
  readonly timeoutMs: 30_000;
  readonly retryLimit: 2;
  readonly backoffMs: 300;
  readonly maxBackoffMs: 10_000;
  readonly maxRetryAfterMs: 60_000;
} = {
  timeoutMs: 30_000,
  retryLimit: 2,
  backoffMs: 300,
  maxBackoffMs: 10_000,
  maxRetryAfterMs: 60_000,
} as const;

/**
 * Returns the `fetch` to use: the injected one, else `globalThis.fetch` (bound). Throws when neither
 * exists, saying how to fix it (openai-node's `getDefaultFetch`).
 *
 * @throws {ValidationError} no `fetch` option and no global `fetch`
 */
export function resolveFetch(fetchOption: FetchLike | undefined): FetchLike {
  if (fetchOption !== undefined) {
    if (typeof fetchOption !== 'function') {
      throw new ValidationError('The `fetch` option must be a function with the WHATWG fetch signature', {
        details: { field: 'fetch', reason: 'type' },
      });
    }
    return fetchOption;
  }
  const globalFetch = (globalThis as { fetch?: FetchLike }).fetch;
  if (typeof globalFetch !== 'function') {
    throw new ValidationError(
      '`fetch` is not defined in this runtime. Pass one to the client, e.g. ' +
        "`createClient({ url, fetch })` with `import { fetch } from 'undici'`, or run on Node.js >= 20 " +
        'or a browser, which have a global `fetch`.',
      { details: { field: 'fetch', reason: 'missing' } },
    );
  }
  return globalFetch.bind(globalThis) as FetchLike;
}

/** The request layer shared by every operation of one client. */
export interface Transport {
  /** Base URL without trailing slash. */
  readonly baseUrl: string;
  /**
   * Sends a request; resolves the response for 2xx and 3xx statuses, throws the {@link KvError} for
   * anything else (not yet reported to `onError`; {@link Transport.guard} does that).
   */
  send(spec: RequestSpec): Promise<Response>;
  /**
   * Runs an operation: any error it throws becomes a {@link KvError} (non-kv errors are wrapped),
   * is reported to `onError` once, and is rethrown.
   */
  guard<T>(operation: () => Promise<T>): Promise<T>;
  /** Reports an error to `onError` (once per error), for failures outside {@link Transport.guard}. */
  report(error: KvError): void;
  /**
   * What {@link Transport.guard} does with a failure, for synchronous steps: the error as a
   * {@link KvError} (non-kv errors wrapped), reported to `onError` once. The caller throws it.
   */
  fail(error: unknown): KvError;
  /** What the watcher (`startWatch`) needs to open the stream at `path`: URL, `fetch`, headers. */
  watchTransport(path: string): WatchTransport;
}

/**
 * Builds the transport for a client's options.
 *
 * @throws {ConfigurationError} missing or invalid `url`
 * @throws {ValidationError} bad `timeoutMs` or `retry`, or no `fetch` available
 */
export function createTransport(options: HttpClientOptions): Transport {
  const baseUrl = normalizeBaseUrl(options.url);
  const userFetch = resolveFetch(options.fetch);
  const timeoutMs = options.timeoutMs ?? CLIENT_DEFAULTS.timeoutMs;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > 2_147_483_647) {
    throw new ValidationError('`timeoutMs` must be a positive integer number of milliseconds', {
      details: { field: 'timeoutMs', reason: 'out_of_range' },
    });
  }
  const retry = normalizeRetry(options.retry);
  const limit = nonNegativeInt(retry.limit ?? CLIENT_DEFAULTS.retryLimit, 'retry.limit');
  const backoffMs = nonNegativeInt(retry.backoffMs ?? CLIENT_DEFAULTS.backoffMs, 'retry.backoffMs');
  const maxBackoffMs = nonNegativeInt(
    retry.maxBackoffMs ?? CLIENT_DEFAULTS.maxBackoffMs,
    'retry.maxBackoffMs',
  );
  const maxRetryAfterMs = nonNegativeInt(
    retry.maxRetryAfterMs ?? CLIENT_DEFAULTS.maxRetryAfterMs,
    'retry.maxRetryAfterMs',
  );
  const onError = options.onError;
  const beforeRequest = options.beforeRequest;
  if (beforeRequest !== undefined && typeof beforeRequest !== 'function') {
    throw new ValidationError('`beforeRequest` must be a function', {
      details: { field: 'beforeRequest', reason: 'type' },
    });
  }
  /** Lets `beforeRequest` add to `headers`; its failure must not fail the request. */
  const addHeaders = (headers: Record<string, string>): void => {
    if (beforeRequest === undefined) return;
    try {
      beforeRequest(headers);
    } catch {
      // Ignored, as documented: e.g. a tracing library in a bad state must not break kv calls.
    }
  };

  const baseHeaders: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token !== undefined) {
    for (const name of Object.keys(baseHeaders)) {
      if (name.toLowerCase() === 'authorization') delete baseHeaders[name];
    }
    baseHeaders.authorization = `Bearer ${options.token}`;
  }

  // ky clones every request before sending it so it can retry it; a cloned stream body is teed and
  // buffered whole. Streamed bodies therefore travel as a private option that ky passes through to
  // this fetch, which attaches them to the request only at send time.
  const fetchForKy = (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
    const options = init as Record<string, unknown> | undefined;
    const body = options?.[BODY_OPTION] as NonNullable<RequestSpec['body']> | undefined;
    if (body !== undefined) {
      const { [BODY_OPTION]: _omitBody, ...others } = options as Record<string, unknown>;
      return userFetch(input, { ...others, body } as RequestInit);
    }
    const stream = options?.[STREAM_OPTION] as ReadableStream<Uint8Array> | undefined;
    if (stream === undefined) return userFetch(input, init);
    const { [STREAM_OPTION]: _omit, ...rest } = options as Record<string, unknown>;
    const request = new Request(input, { body: stream, duplex: 'half' } as RequestInit);
    return userFetch(request, rest as RequestInit);
  };

  const retryOptions: KyRetryOptions = {
    limit,
    methods: ALL_METHODS,
    statusCodes: [...RETRY_STATUSES],
    afterStatusCodes: [...RETRY_AFTER_STATUSES],
    maxRetryAfter: maxRetryAfterMs,
    backoffLimit: maxBackoffMs,
    delay: (attempt: number) => backoffMs * 2 ** (attempt - 1),
    shouldRetry: ({ error }) => {
      if (error instanceof HTTPError)
        return RETRY_STATUSES.includes(error.response.status) ? undefined : false;
      // A timeout, or a failure of fetch itself (connection refused or reset, DNS): no response, retry.
      return true;
    },
  };

  const reported = new WeakSet<KvError>();

  async function send(spec: RequestSpec): Promise<Response> {
    const headers: Record<string, string> = { ...baseHeaders, ...spec.headers };
    // One key per call, created before the first attempt: ky resends these same headers on every retry.
    if (spec.retry === 'idempotency-key' && limit > 0) headers[HEADERS.idempotencyKey] = randomUuid();
    addHeaders(headers);
    const kyOptions: KyOptions & Record<string, unknown> = {
      method: spec.method,
      headers,
      timeout: timeoutMs + (spec.waitMs ?? 0),
      retry: spec.retry === 'never' || limit === 0 ? 0 : retryOptions,
      fetch: fetchForKy,
      throwHttpErrors: true,
      hooks: HOOKS,
    };
    if (spec.signal !== undefined) kyOptions.signal = spec.signal;
    if (spec.json !== undefined) kyOptions.json = spec.json;
    else if (spec.body !== undefined) kyOptions[BODY_OPTION] = spec.body;
    else if (spec.stream !== undefined) kyOptions[STREAM_OPTION] = spec.stream;
    try {
      return await ky(buildUrl(baseUrl, spec.path, spec.query), kyOptions);
    } catch (error) {
      throw await toKvError(error, spec, timeoutMs + (spec.waitMs ?? 0));
    }
  }

  function report(kvError: KvError): void {
    if (onError === undefined || reported.has(kvError)) return;
    reported.add(kvError);
    try {
      onError(kvError);
    } catch {
      // The hook's own failure must not replace the error the caller needs to see.
    }
  }

  function fail(error: unknown): KvError {
    const kvError = wrapUnknown(error);
    report(kvError);
    return kvError;
  }

  async function guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw fail(error);
    }
  }

  function watchTransport(path: string): WatchTransport {
    const headers = { ...baseHeaders };
    addHeaders(headers);
    return { url: baseUrl + path, fetch: userFetch as typeof fetch, headers };
  }

  return { baseUrl, send, guard, report, fail, watchTransport };
}

function discardFailedResponse({ error }: { error: Error }): void {
  if (error instanceof HTTPError) void error.response.body?.cancel().catch(() => undefined);
}

/**
 * The retry option as an options object: `false` and `0` both turn retries off, a number is the retry
 * count (ky's `retry: number`), `true` and `undefined` keep the defaults.
 *
 * @throws {ValidationError} a value of another type (`details.field: 'retry'`, `reason: 'type'`); a
 *   negative or non-integer count is refused by the `retry.limit` check that follows
 */
function normalizeRetry(retry: unknown): RetryOptions {
  if (retry === undefined || retry === true) return {};
  if (retry === false) return { limit: 0 };
  if (typeof retry === 'number') return { limit: retry };
  if (typeof retry === 'object' && retry !== null && !Array.isArray(retry)) return retry as RetryOptions;
  throw new ValidationError('`retry` must be false, a retry count, or an options object', {
    details: { field: 'retry', reason: 'type' },
  });
}

function nonNegativeInt(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(`\`${field}\` must be a non-negative integer`, {
      details: { field, reason: 'out_of_range' },
    });
  }
  return value;
}

function normalizeBaseUrl(url: unknown): string {
  if (typeof url !== 'string' || url.length === 0) {
    throw new ConfigurationError('The client needs the server `url`, e.g. http://127.0.0.1:8787', {
      details: { field: 'url', reason: 'missing' },
    });
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigurationError(`The client \`url\` is not a valid absolute URL: ${url}`, {
      cause,
      details: { field: 'url', reason: 'invalid_format' },
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigurationError(`The client \`url\` must be http: or https:, got ${parsed.protocol}`, {
      details: { field: 'url', reason: 'invalid_format' },
    });
  }
  return `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, '');
}

function buildUrl(baseUrl: string, path: string, query: RequestSpec['query']): string {
  if (query === undefined) return baseUrl + path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) params.set(name, String(value));
  }
  const qs = params.toString();
  return qs === '' ? baseUrl + path : `${baseUrl}${path}?${qs}`;
}

/** Parses `Retry-After` (delay-seconds or an HTTP date, RFC 9110 section 10.2.3) to ms. */
export function parseRetryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

async function toKvError(error: unknown, spec: RequestSpec, timeoutMs: number): Promise<KvError> {
  if (isKvError(error)) return error;
  const what = `${spec.method} ${spec.path}`;
  if (error instanceof HTTPError) {
    const response = error.response;
    let body: unknown;
    if (spec.method !== 'HEAD' && (response.headers.get('content-type') ?? '').includes('json')) {
      body = await response.json().catch(() => undefined);
    } else {
      // Not awaited: under msw's Node interceptor an awaited cancel() never settles (mswjs/interceptors#712).
      void response.body?.cancel().catch(() => undefined);
      // A HEAD response has no body; a server may still name the error code in a header.
      const code = response.headers.get(HEADERS.errorCode);
      if (code !== null) body = { error: { code, message: `HTTP ${response.status} ${code}` } };
    }
    return errorFromWire(response.status, body, {
      requestId: response.headers.get(HEADERS.requestId) ?? undefined,
      retryAfterMs: parseRetryAfterMs(response.headers.get('retry-after')),
      cause: error,
    });
  }
  if (error instanceof KyTimeoutError) {
    return new TimeoutError(`No response within ${timeoutMs} ms: ${what}`, { cause: error });
  }
  const reason = error instanceof Error ? errorText(error) : String(error);
  return new NetworkError(`Network error on ${what}: ${reason}`, { cause: error });
}

/** The message of an error and its causes (undici's `fetch failed` hides the reason in `cause`). */
function errorText(error: Error): string {
  const parts = [error.message];
  let cause: unknown = error.cause;
  for (let depth = 0; depth < 3 && cause instanceof Error; depth++) {
    parts.push(cause.message);
    cause = cause.cause;
  }
  return parts.filter((p) => p !== '').join(': ');
}

function wrapUnknown(error: unknown): KvError {
  if (isKvError(error)) return error;
  if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError) {
    // Thrown by our own encoding of the caller's input (e.g. JSON.stringify of a cyclic object or a BigInt).
    return new ValidationError(`Invalid input: ${error.message}`, { cause: error });
  }
  return new KvError(error instanceof Error ? error.message : String(error), { cause: error, status: 0 });
}
