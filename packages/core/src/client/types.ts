/**
 * Public interfaces of the shared HTTP client: the options of {@link createHttpClient}, the client, its
 * `stores` API, the per-store handle and the atomic builder. `@kv/node` and `@kv/browser` re-export and
 * widen these; the operations and their semantics are docs/protocol.md "Client operations".
 *
 * @module
 */

import type { KvError } from '../errors.js';
import type {
  AtomicResult,
  BulkResult,
  CreatedToken,
  CreateKeysUrlOptions,
  CreateRecordUrlOptions,
  CreateStoreOptions,
  CreateTokenOptions,
  DeleteOptions,
  EntryMeta,
  HistoryEntry,
  JsonValue,
  KvEntry,
  ListOptions,
  ListPage,
  SetOptions,
  SetResult,
  SignedUrl,
  StoreInfo,
  TokenInfo,
  UpdateStoreOptions,
} from '../types.js';
import type { WatchCallbacks, WatchSubscription, WatchSubscriptionOptions } from '../watcher.js';

/**
 * A `fetch`-compatible function: the WHATWG `fetch` signature that the client calls for every request.
 * Inject one to route requests through a proxy agent, an in-process engine (`engine.fetch`) or a test
 * double (an injectable `fetch`, as in openai-node).
 *
 * @example
 * ```ts
 * const client = createHttpClient({ url: 'http://kv.test', fetch: (input, init) => engine.fetch(new Request(input, init)) });
 * ```
 */
export type FetchLike = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

/**
 * Retry policy for failed requests. Reads (`get*`, `exists`, listings, `getMany`, signed URLs) are
 * retried as they are. A write is retried only with an `Idempotency-Key`: every entry, expiry, bulk,
 * atomic and store write (`set`, `create`, `update`, `delete`, `purge`, `setExpiry`, `setMany`,
 * `deleteMany`, `atomic().commit()`, `stores.create/update/delete`) is sent with one random key, the same
 * on every attempt, so after a lost response the server replays the first outcome instead of applying
 * the write again (docs/protocol.md "Idempotency"). Streamed uploads, `tokens.create`, `tokens.revoke`
 * and `rotateSigningSecret` (routes the server keeps no idempotency record for) are sent once.
 *
 * A request is retried after a network error, a timeout, or a `408`, `429`, `500`, `502`, `503` or `504`
 * response. Delays grow exponentially: `backoffMs * 2 ** (attempt - 1)`, capped at `maxBackoffMs`; a
 * `Retry-After` header on `429`/`503` replaces the computed delay (capped at `maxRetryAfterMs`).
 */
export interface RetryOptions {
  /**
   * Retries after the first attempt (so at most `limit + 1` requests); `0` disables retries.
   * @default 2
   * @example { limit: 5 }
   */
  limit?: number;
  /**
   * Delay before the first retry, in ms; doubled for each further retry.
   * @default 300
   * @example { backoffMs: 100 }
   */
  backoffMs?: number;
  /**
   * Upper bound of the computed backoff delay, in ms.
   * @default 10_000
   * @example { maxBackoffMs: 2_000 }
   */
  maxBackoffMs?: number;
  /**
   * Upper bound of a delay taken from a `Retry-After` header, in ms.
   * @default 60_000
   * @example { maxRetryAfterMs: 5_000 }
   */
  maxRetryAfterMs?: number;
}

/** Options of {@link createHttpClient}. Every field but `url` is optional. */
export interface HttpClientOptions {
  /**
   * Base URL of the kv server, with or without a path prefix; routes (`/v1/...`) are appended to it.
   * @example 'http://127.0.0.1:8787'
   * @example 'https://api.example.com/kv'
   */
  url: string;
  /**
   * Bearer token sent as `Authorization: Bearer <token>` (docs/security.md).
   * @default undefined (no `Authorization` header)
   * @example 'kv_live_...'
   */
  token?: string | undefined;
  /**
   * Time allowed for each attempt, in ms, until the response headers arrive; exceeding it is a
   * `TimeoutError` (and the attempt is retried when the request is retryable).
   * @default 30_000
   * @example 5_000
   */
  timeoutMs?: number | undefined;
  /**
   * Retry policy: an options object, a retry count (`3` is `{ limit: 3 }`, as in ky's `retry: number`),
   * or `false` / `0` / `{ limit: 0 }` to disable retries. A negative or non-integer count, or a value of
   * another type, is a `ValidationError` from the client factory. @see RetryOptions
   * @default { limit: 2, backoffMs: 300, maxBackoffMs: 10_000, maxRetryAfterMs: 60_000 }
   * @example { limit: 4, backoffMs: 50 }
   * @example 0
   */
  retry?: RetryOptions | number | boolean | undefined;
  /**
   * The `fetch` to call. Defaults to `globalThis.fetch`; when neither exists, `createHttpClient` throws a
   * `ValidationError` that says to pass one.
   * @default globalThis.fetch
   * @example (input, init) => engine.fetch(new Request(input, init))
   */
  fetch?: FetchLike | undefined;
  /**
   * Called with every error the client throws, before it is thrown (Ironflow's global `onError`). Not
   * called for outcomes that are results rather than errors: a missing key read as `undefined`, a
   * failed atomic check returned as `{ ok: false }`. Exceptions thrown by the hook are ignored.
   * @default undefined
   * @example (error) => logger.warn({ code: error.code, requestId: error.requestId }, error.message)
   */
  onError?: ((error: KvError) => void) | undefined;
  /**
   * Extra headers sent with every request (e.g. tracing headers). `Authorization` set here is replaced
   * by `token` when both are given.
   * @default {}
   * @example { 'x-trace-id': 'abc' }
   */
  headers?: Record<string, string> | undefined;
  /**
   * Called once per operation's request, just before it is sent (its retries resend the same headers),
   * and once when a watch stream opens, with that request's headers (lower-case names) to add to: for
   * headers that depend on the moment of the call, such as the W3C `traceparent` of the active trace
   * (`@kv/node` fills it from `@opentelemetry/api` when that is installed). What it sets is sent; an
   * exception it throws is ignored (the request is sent with what it had set until then).
   * @default undefined
   * @example (headers) => { headers['x-request-origin'] = currentJob() }
   */
  beforeRequest?: ((headers: Record<string, string>) => void) | undefined;
}

/**
 * A decoded value as reads return it (docs/protocol.md "Entries"): JSON content types decode to a JSON value, text
 * content types to a string, anything else to the raw bytes.
 */
export type KvValue = JsonValue | Uint8Array;

/**
 * What `set` accepts (Alien `set`: `string | Uint8Array | object`; docs/protocol.md "Entries"):
 *
 * - `string` -> stored as `text/plain; charset=utf-8`
 * - `Uint8Array` / `ArrayBuffer` -> `application/octet-stream`
 * - `Blob` -> the blob's `type`, else `application/octet-stream`
 * - `ReadableStream<Uint8Array>` -> `application/octet-stream`, uploaded as a stream (never buffered,
 *   never retried)
 * - numbers, booleans, `null`, arrays and objects -> JSON (`application/json`), through `JSON.stringify`
 *
 * `contentType` in the options overrides the inferred type. Functions, promises, `undefined`, symbols and
 * bigints are compile errors (they have no JSON form).
 */
export type KvSetValue =
  | string
  | number
  | boolean
  | null
  | Uint8Array
  | ArrayBuffer
  | Blob
  | ReadableStream<Uint8Array>
  | readonly unknown[]
  | { readonly [key: string]: unknown }
  | (object & { readonly bind?: never; readonly then?: never });

/**
 * What bulk and atomic writes accept: any {@link KvSetValue} but a stream (web or Node), since their
 * values travel base64 in one JSON body.
 */
export type KvBulkValue =
  | Exclude<KvSetValue, ReadableStream<Uint8Array> | object>
  | Uint8Array
  | ArrayBuffer
  | Blob
  | readonly unknown[]
  | { readonly [key: string]: unknown }
  | (object & {
      readonly bind?: never;
      readonly then?: never;
      readonly getReader?: never;
      readonly pipe?: never;
    });

/** Options of `create` (Ironflow `create`): `set`'s options without the conditions it sets itself. */
export type CreateOptions = Omit<SetOptions, 'ifNotExists' | 'ifRevision'>;

/** Options of `update` (Ironflow `update`): `set`'s options without the conditions it sets itself. */
export type UpdateOptions = Omit<SetOptions, 'ifNotExists' | 'ifRevision'>;

/** One item of `setMany` (Cloudflare bulk write): a key, a value and `set`'s options. */
export interface SetManyItem extends SetOptions {
  /** The key. */
  key: string;
  /** The value, encoded as by `set`. */
  value: KvBulkValue;
}

/** Options of `getMany`. */
export interface GetManyOptions {
  /**
   * Include each entry's value. With `false`, the map holds each entry's fields only ({@link EntryMeta}).
   * @default true
   */
  values?: boolean;
}

/** Options of an atomic `set` mutation: `set`'s options without conditions (use `check` instead). */
export type AtomicSetOptions = Omit<SetOptions, 'ifNotExists' | 'ifRevision'>;

/**
 * Options of `increment` (docs/protocol.md "Counters"). Each one given replaces the entry's; each one left
 * out keeps it (a new key gets the store's default TTL, no metadata, no scopes).
 */
export type IncrementOptions = Pick<SetOptions, 'ttlMs' | 'expiresAt' | 'metadata' | 'scopes'> & {
  /**
   * A safe integer the value is first raised to when it is below it (a missing key counts as `floor`),
   * in the same commit: the result is `max(value, floor) + delta` (Deno KV's `max` then `sum` as one
   * step). The token bucket of `createRateLimiter` keeps its theoretical arrival time this way.
   * @default none (a missing key counts as 0)
   * @example await store.increment('tat:alice', 100, { floor: nowMs })
   */
  floor?: number;
};

/** Result of `increment`. */
export interface IncrementResult {
  /** The integer the key holds after this increment. */
  value: number;
  /** Revision of the write. */
  revision: number;
}

/**
 * Options of `enqueue` (docs/protocol.md "Queues"; Deno KV's `enqueue` options).
 */
export interface EnqueueOptions {
  /**
   * Delay before the first delivery, in ms: 0 to 2,592,000,000 (30 days).
   * @default 0
   * @example await store.enqueue({ job: 'reminder' }, { delayMs: 60_000 })
   */
  delayMs?: number;
  /**
   * Keys (at most 10) the value is written to, with its content type, when delivery is given up (the
   * handler failed on every attempt of the schedule); needs the `set` capability on each, checked at
   * enqueue. Deno KV `keysIfUndelivered`.
   * @default [] (the message is dropped)
   * @example await store.enqueue(job, { keysIfUndelivered: ['failed:job-1'] })
   */
  keysIfUndelivered?: string[];
  /**
   * Delays before each redelivery after a failed delivery, in ms: at most 5 steps, each 0 to 3,600,000
   * (Deno KV `backoffSchedule`); after the last, delivery is given up. An empty schedule delivers once.
   * @default [1000, 5000, 10000]
   * @example await store.enqueue(job, { backoffScheduleMs: [100, 1000] })
   */
  backoffScheduleMs?: number[];
  /**
   * The value's MIME type; inferred as `set` infers it when absent (JSON, text, bytes).
   * @example await store.enqueue(bytes, { contentType: 'image/png' })
   */
  contentType?: string;
}

/** Result of `enqueue`. */
export interface EnqueueResult {
  /** The message id (unique in the store). */
  id: string;
}

/** What a queue handler is told about the message it handles (`listenQueue`). */
export interface QueueMessageInfo {
  /** The message id, as `enqueue` answered it. */
  id: string;
  /** This delivery's number: 1 for the first, 2 after one failure or lost lease, and so on. */
  attempt: number;
  /** When the message was enqueued, ISO 8601. */
  enqueuedAt: string;
}

/**
 * A queue handler: resolving acknowledges the message (it is gone); throwing (or rejecting) gives it
 * back, redelivered after the next backoff step.
 */
export type QueueHandler<T = KvValue> = (value: T, message: QueueMessageInfo) => unknown;

/** Options of `listenQueue`. */
export interface ListenQueueOptions {
  /**
   * Handlers running at once (messages leased at a time).
   * @default 1
   * @example store.listenQueue(handle, { concurrency: 4 })
   */
  concurrency?: number;
  /**
   * How long a delivered message stays leased to this listener, in ms (1,000 to 43,200,000). While a
   * handler runs, its lease is extended every half of this (`POST .../queue/{id}/extend`, as SQS
   * consumers call `ChangeMessageVisibility`), so a long handler keeps its message; a listener that dies
   * (or cannot reach the server) holds it at most this long, then it is redelivered after the next
   * backoff step.
   * @default 30000
   * @example store.listenQueue(handle, { visibilityTimeoutMs: 120_000 })
   */
  visibilityTimeoutMs?: number;
  /**
   * Stops listening: no new lease is asked for, running handlers finish (and are acknowledged), then the
   * promise resolves.
   * @example const ac = new AbortController(); store.listenQueue(handle, { signal: ac.signal })
   */
  signal?: AbortSignal;
}

/** Counts of a store's queue (`queueStats`). */
export interface QueueStats {
  /** Messages that can be delivered now. */
  ready: number;
  /** Messages waiting for their delay or for a backoff step. */
  delayed: number;
  /** Messages leased to a listener whose lease has not ended. */
  inFlight: number;
}

/**
 * A Deno KV style atomic operation: checks and mutations collected locally and committed in one request,
 * all or nothing (docs/protocol.md "Atomic commits", architecture.md "Atomic commit failure").
 *
 * @example
 * ```ts
 * const entry = await store.getEntry('balance:alice');
 * const result = await store.atomic()
 *   .check('balance:alice', entry?.revision ?? null)
 *   .set('balance:alice', 90)
 *   .set('balance:bob', 110)
 *   .commit();
 * if (!result.ok) console.log('conflict on', result.failedKeys);
 * ```
 */
export interface AtomicOperation {
  /**
   * Requires `key`'s current revision to equal `revision`, or the key to have no live entry when
   * `revision` is `null`. Checked server-side at commit.
   */
  check(key: string, revision: number | null): AtomicOperation;
  /** Writes `key` at commit (encoded as by `set`; no streams). */
  set(key: string, value: KvBulkValue, options?: AtomicSetOptions): AtomicOperation;
  /** Soft-deletes `key` at commit (a tombstone, like `delete`). */
  delete(key: string): AtomicOperation;
  /**
   * Adds the safe integer `n` to `key`'s integer value at commit (Deno KV `sum`, on JSON safe integers
   * rather than `KvU64`); a missing key becomes `n`. At commit, a stored value that is not a safe integer,
   * or a sum outside the safe range, fails the commit with a `ValidationError` and nothing is written.
   */
  sum(key: string, n: number): AtomicOperation;
  /** Sets `key` to the smaller of its integer value and `n` at commit (Deno KV `min`); missing: `n`. */
  min(key: string, n: number): AtomicOperation;
  /** Sets `key` to the larger of its integer value and `n` at commit (Deno KV `max`); missing: `n`. */
  max(key: string, n: number): AtomicOperation;
  /**
   * Sends the checks and mutations in one request (with an automatic `Idempotency-Key`, so a retried
   * commit is applied once). Resolves `{ ok: true, revision }` when every check passed and every
   * mutation was applied (revision of the last mutation), or `{ ok: false, failedKeys }` when a check
   * failed and nothing was written.
   *
   * @throws {ValidationError} no mutations, more than 10,000 checks or mutations, or invalid input
   * @throws {StoreNotFoundError} the store does not exist
   * @throws {KvError} any other failure (network, auth, server)
   */
  commit(): Promise<AtomicResult>;
}

/**
 * Operations on one store (docs/protocol.md "Client operations"; `client.store(name)`). Every method validates its
 * input before sending (a bad key is a `ValidationError` and nothing is sent) and throws only
 * {@link KvError} subclasses. Reads of a missing key resolve `undefined`; a missing store is a
 * `StoreNotFoundError`.
 */
export interface StoreHandle {
  /** The store name. */
  readonly name: string;

  /**
   * Reads a value decoded by its content type: JSON -> JSON value, text -> string, else `Uint8Array`
   * (docs/protocol.md "Entries", all seeds).
   * @returns the value, or `undefined` when the key is missing or expired
   * @throws {StoreNotFoundError} the store does not exist
   */
  get(key: string): Promise<KvValue | undefined>;
  /**
   * Reads a value as UTF-8 text, whatever its content type (Alien `getText`).
   * @returns the text, or `undefined` when missing
   */
  getText(key: string): Promise<string | undefined>;
  /**
   * Reads a value and parses it as JSON, whatever its content type (Alien `getJson<T>`). `T` is not
   * checked at runtime.
   * @returns the parsed value, or `undefined` when missing
   * @throws {KvError} code `invalid_json` (status 0) when the stored bytes are not JSON
   */
  getJson<T = JsonValue>(key: string): Promise<T | undefined>;
  /**
   * Reads a value's raw bytes.
   * @returns the bytes, or `undefined` when missing
   */
  getBytes(key: string): Promise<Uint8Array | undefined>;
  /**
   * Reads a value as a web `ReadableStream`, without buffering it (Apify `getRecord` with `stream`).
   * @returns the body stream, or `undefined` when missing
   */
  getStream(key: string): Promise<ReadableStream<Uint8Array> | undefined>;
  /**
   * Reads the whole entry: value (decoded as by `get`) and fields (AntiRaid `getrecord`, Ironflow `get`).
   * @returns the entry, or `undefined` when missing
   */
  getEntry<T = KvValue>(key: string): Promise<KvEntry<T> | undefined>;
  /**
   * Reads a value by the entry's stable id (AntiRaid `getbyid`).
   * @returns the value, or `undefined` when no live entry has that id
   */
  getById(id: string): Promise<KvValue | undefined>;
  /**
   * Reads the whole entry by id (AntiRaid `getrecordbyid`).
   * @returns the entry, or `undefined` when no live entry has that id
   */
  getEntryById<T = KvValue>(id: string): Promise<KvEntry<T> | undefined>;
  /**
   * Whether the key has a live entry, with no body transferred (`HEAD`; Alien `exists`, Apify
   * `recordExists`).
   */
  exists(key: string): Promise<boolean>;

  /**
   * Writes a value (docs/protocol.md "Entries"). With `ifNotExists` on an existing key nothing is written and
   * `created` is `false` (Alien); with `ifRevision` the write is a compare-and-swap.
   * @returns `{ id, revision, created }`
   * @throws {ValidationError} bad key, options, metadata (over 1024 bytes) or scopes
   * @throws {RevisionMismatchError} `ifRevision` did not match
   * @throws {PayloadTooLargeError} value over the store's `maxValueBytes`
   */
  set(key: string, value: KvSetValue, options?: SetOptions): Promise<SetResult>;
  /**
   * Writes a value only if the key has no live entry (Ironflow `create`, `If-None-Match: *`).
   * @throws {KeyExistsError} the key exists (412)
   */
  create(key: string, value: KvSetValue, options?: CreateOptions): Promise<SetResult>;
  /**
   * Compare-and-swap: writes only if the entry's revision is `revision` (Ironflow `update`, `If-Match`).
   * @throws {RevisionMismatchError} another write came first, or the key is missing (412)
   */
  update(key: string, value: KvSetValue, revision: number, options?: UpdateOptions): Promise<SetResult>;
  /**
   * Sets or clears (`null`) a key's expiry (AntiRaid `setexpiry`). `expiresAt` is a `Date`, an ISO 8601
   * string or epoch ms.
   * @returns whether the key existed (nothing is created when it did not)
   */
  setExpiry(key: string, expiresAt: Date | string | number | null): Promise<boolean>;
  /**
   * Soft-deletes a key: a tombstone kept in history (Ironflow `delete`). A missing key is a no-op.
   * @returns `true` when a live entry was deleted, `false` when there was none
   * @throws {RevisionMismatchError} `ifRevision` did not match
   */
  delete(key: string, options?: DeleteOptions): Promise<boolean>;
  /**
   * Removes a key and its whole history (Ironflow `purge`).
   * @returns `true` when the key had an entry or history, `false` when there was nothing
   */
  purge(key: string): Promise<boolean>;
  /**
   * Past revisions of a key, newest first, tombstones included (Ironflow/NATS history); up to the
   * store's `history` setting.
   * @returns the revisions (empty when the key never existed or was purged)
   */
  history<T = KvValue>(key: string): Promise<HistoryEntry<T>[]>;

  /**
   * One page of a listing (docs/protocol.md "Listing"): filter by `prefix`, `match` (NATS wildcards), `like`
   * (SQL LIKE), `scope`; paginate with `cursor` or `startAfter` (Apify `exclusiveStartKey`).
   * @returns `{ items, cursor?, complete }`; items carry `value` only with `values: true`
   */
  list<T = KvValue>(options?: ListOptions): Promise<ListPage<T>>;
  /**
   * Every matching key across all pages, in key order (Alien `scan`, Cloudflare keys list).
   * `options.cursor`/`startAfter` set where to begin; `limit` is the page size per request.
   */
  keys(options?: Omit<ListOptions, 'values'>): AsyncIterableIterator<string>;
  /**
   * Every matching entry with its value, across all pages (Alien `scan` yielding `{ key, value }`).
   */
  entries<T = KvValue>(options?: Omit<ListOptions, 'values'>): AsyncIterableIterator<KvEntry<T>>;
  /** Scopes in use in the store (AntiRaid `list_scopes`). */
  listScopes(): Promise<string[]>;

  /**
   * Reads many keys in one request per 10,000 keys (Cloudflare bulk get). Returns a `Map` from each
   * requested key (in request order, duplicates once) to its entry, or `undefined` when missing.
   * With `{ values: false }` the entries carry their fields only.
   */
  getMany<T = KvValue>(
    keys: readonly string[],
    options?: { values?: true },
  ): Promise<Map<string, KvEntry<T> | undefined>>;
  /** @see getMany */
  getMany(keys: readonly string[], options: { values: false }): Promise<Map<string, EntryMeta | undefined>>;
  /** @see getMany */
  getMany(
    keys: readonly string[],
    options?: GetManyOptions,
  ): Promise<Map<string, KvEntry<KvValue> | EntryMeta | undefined>>;
  /**
   * Writes many entries (Cloudflare bulk write): one request per 10,000 items, each with an automatic
   * `Idempotency-Key`. Per-item failures (bad key, `ifRevision` mismatch) do not fail the others.
   * @returns per-item results in input order, the success count and the failed keys
   */
  setMany(items: readonly SetManyItem[]): Promise<BulkResult>;
  /**
   * Soft-deletes many keys (Cloudflare bulk delete): one request per 10,000 keys.
   * @returns per-key results (`created` unused; `ok` true for missing keys too)
   */
  deleteMany(keys: readonly string[]): Promise<BulkResult>;
  /** Starts a Deno KV style atomic operation. @see AtomicOperation */
  atomic(): AtomicOperation;
  /**
   * Adds `delta` to `key`'s integer value on the server, in one commit (no compare-and-swap loop in the
   * client), creating the key at `delta` when it is missing; the value is stored as the JSON text of a
   * safe integer with content type `application/json` (so `get` reads it as a number). Sent with an
   * automatic `Idempotency-Key`: a retried request is applied once. Needs the `set` capability on the key.
   * Changes are `put` events for watchers.
   *
   * @param delta - a safe integer, negative to subtract (default 1)
   * @returns the value after the increment and the revision of the write
   * @throws {ValidationError} a bad key, delta or option (before any request), or (from the server) a
   *   stored value that is not a safe integer, or a result outside the safe integer range
   * @throws {StoreNotFoundError} the store does not exist
   * @throws {KvError} any other failure (network, auth, server)
   * @example
   * ```ts
   * const { value } = await store.increment('visits:home');
   * await store.increment('quota:alice', -1, { ttlMs: 60_000 });
   * ```
   */
  increment(key: string, delta?: number, options?: IncrementOptions): Promise<IncrementResult>;
  /**
   * Adds a message to the store's durable queue (Deno KV `enqueue`, over the network): it is delivered
   * at least once to one `listenQueue` handler at a time, after `delayMs`, and survives a server
   * restart. The value is encoded as `set` encodes it (JSON, text, bytes; at most 64 KiB). Sent with an
   * automatic `Idempotency-Key`: a retried request adds one message. Needs the `enqueue` capability (and
   * `set` on each key of `keysIfUndelivered`).
   *
   * @returns the message id
   * @throws {ValidationError} a value that cannot be encoded or a bad option (before any request)
   * @throws {PayloadTooLargeError} a value over 64 KiB or the store's `maxValueBytes`
   * @throws {StoreNotFoundError} the store does not exist
   * @throws {KvError} any other failure (network, auth, server)
   * @example
   * ```ts
   * await store.enqueue({ email: 'a@example.com' }, { delayMs: 5_000, keysIfUndelivered: ['failed:a'] });
   * ```
   */
  enqueue(value: KvBulkValue, options?: EnqueueOptions): Promise<EnqueueResult>;
  /**
   * Handles the store's queue messages until `signal` aborts (Deno KV `listenQueue`): leases due
   * messages (long-polling while none is), runs `handler(value, info)` on each (`concurrency` at a
   * time), acknowledges those it resolved (the message is gone) and gives back those it threw on
   * (redelivered after the next backoff step; after the last, the value goes to `keysIfUndelivered`).
   * At least once, to one listener at a time across every listening client. Network failures back off
   * and retry. Needs the `dequeue` capability.
   *
   * @returns a promise that resolves once `signal` aborted and the running handlers finished
   * @throws {ValidationError} a bad option
   * @throws {StoreNotFoundError} the store does not exist (or was deleted while listening)
   * @throws {UnauthenticatedError} / {UnauthorizedError} the token is not (or no longer) allowed
   * @example
   * ```ts
   * const ac = new AbortController();
   * const done = store.listenQueue(async (job) => { await send(job); }, { concurrency: 4, signal: ac.signal });
   * // later
   * ac.abort(); await done;
   * ```
   */
  listenQueue<T = KvValue>(handler: QueueHandler<T>, options?: ListenQueueOptions): Promise<void>;
  /**
   * The counts of the store's queue now: ready, delayed and in-flight messages. Needs `enqueue` or
   * `dequeue`.
   * @throws {StoreNotFoundError} the store does not exist
   * @example const { ready, inFlight } = await store.queueStats();
   */
  queueStats(): Promise<QueueStats>;
  /**
   * Watches the store's changes over Server-Sent Events (Ironflow/NATS watch, AntiRaid KeyExpiry and
   * KeyResume): filter with `key`, `prefix` or `match`; `fromRevision` resumes after a revision with no
   * gap; `resume: true` first delivers every live entry marked `resume`. Consume the subscription as an
   * async iterator, or pass `{ onUpdate, onError, onClose }` callbacks (Ironflow). Network failures
   * reconnect with backoff; fatal errors (missing store, 401/403, 410 `revision_compacted`) end the watch
   * and are also reported to the client's `onError`. Call `stop()` to end it.
   *
   * @example
   * ```ts
   * const watch = store.watch({ match: 'user.*' });
   * for await (const event of watch) console.log(event.type, event.key, event.revision);
   * ```
   */
  watch<T = KvValue>(options?: WatchSubscriptionOptions, callbacks?: WatchCallbacks<T>): WatchSubscription<T>;

  /**
   * A signed public URL reading one record (Apify `getRecordPublicUrl`): a plain `fetch` or a browser
   * gets the raw value with the entry headers, with no token, until it expires; `HEAD` works too. It is
   * read-only, refused (401) once expired, altered or after {@link StoreHandle.rotateSigningSecret}, and
   * never reaches more than the signer could read (a scoped token's URL keeps its scopes). Needs the
   * `sign` capability (docs/security.md).
   *
   * @param options - `expiresInSecs`: 1 to 604,800 (7 days)
   * @returns `{ url, expiresAt }`; `url` is on this client's base URL
   * @throws {ValidationError} bad key or `expiresInSecs`
   * @throws {UnauthorizedError} the token lacks `sign` for this record (a scoped token also when the key
   *   is missing)
   * @example
   * ```ts
   * const { url } = await store.createRecordUrl('report.pdf', { expiresInSecs: 3600 });
   * const res = await fetch(url); // no token needed
   * ```
   */
  createRecordUrl(key: string, options: CreateRecordUrlOptions): Promise<SignedUrl>;
  /**
   * A signed public URL listing one page of the store's keys (Apify `createKeysPublicUrl`): the
   * listing JSON (`{ items, cursor?, complete }`, entries without values) for `prefix`, `limit` entries at
   * most. Same rules as {@link StoreHandle.createRecordUrl}; the query cannot be changed.
   *
   * @param options - `prefix`, `limit` (1-1000, default 100), `expiresInSecs` (1 to 604,800)
   * @returns `{ url, expiresAt }`
   * @throws {ValidationError} bad prefix, limit or `expiresInSecs`
   * @throws {UnauthorizedError} the token lacks `sign` on this store
   */
  createKeysUrl(options: CreateKeysUrlOptions): Promise<SignedUrl>;
  /**
   * Replaces the store's URL-signing secret: every URL signed before stops working at once. Needs
   * `kv.admin:stores`.
   * @throws {StoreNotFoundError} the store does not exist
   */
  rotateSigningSecret(): Promise<void>;
}

/** Store management (`client.stores`; Apify store get/update/delete, Cloudflare namespaces, NATS buckets). */
export interface StoresApi {
  /**
   * Creates a store.
   * @throws {ValidationError} bad name or settings
   * @throws {KeyExistsError} code `store_exists` when the store exists (412)
   */
  create(name: string, options?: CreateStoreOptions): Promise<StoreInfo>;
  /** A store's settings and stats, or `undefined` when it does not exist. */
  get(name: string): Promise<StoreInfo | undefined>;
  /** Every store, by name. */
  list(): Promise<StoreInfo[]>;
  /**
   * Changes a store's settings; omitted ones are unchanged.
   * @throws {StoreNotFoundError} the store does not exist
   */
  update(name: string, options: UpdateStoreOptions): Promise<StoreInfo>;
  /**
   * Deletes a store and all its data.
   * @returns `true` when it existed, `false` when there was no such store
   */
  delete(name: string): Promise<boolean>;
}

/**
 * Token management (`client.tokens`; docs/security.md). Every call needs a token with
 * `kv.admin:tokens`; a server without access control answers `ServerError` 501.
 */
export interface TokensApi {
  /**
   * Creates a token. Its secret is in the result only: the server keeps its hash. Capabilities are
   * checked here first (a malformed one throws and nothing is sent). Not retried (a retry could create a
   * second token).
   *
   * @returns the token with its secret (`token`)
   * @throws {ValidationError} malformed capability, expiry not in the future, description over 256
   *   characters
   * @example
   * ```ts
   * const { token } = await client.tokens.create({ capabilities: ['kv[orders]:get'], expiresAt: Date.now() + 86_400_000 });
   * ```
   */
  create(options: CreateTokenOptions): Promise<CreatedToken>;
  /** Every token, oldest first, revoked and expired ones included; never their secrets. */
  list(): Promise<TokenInfo[]>;
  /**
   * Revokes a token, effective on the next request. Not retried (the server keeps no idempotency record
   * for token routes, and a repeat after a lost response would report `false`).
   * @returns `true` when a live token was revoked, `false` when there was none (or it was revoked)
   */
  revoke(id: string): Promise<boolean>;
}

/** The kv client: store management and store handles. Create one with {@link createHttpClient}. */
export interface KvClient {
  /** Base URL the client sends to (as given, without a trailing slash). */
  readonly url: string;
  /** Store management. */
  readonly stores: StoresApi;
  /** Token management. */
  readonly tokens: TokensApi;
  /**
   * A handle on one store. No request is made; the name is validated now.
   * @throws {ValidationError} bad store name
   */
  store(name: string): StoreHandle;
}
