/**
 * The public data types of kv, shared by the engine, the clients and the mock. Field semantics come
 * from docs/protocol.md "Conventions" and "Limits"; each type names the seed it comes from.
 *
 * @module
 */

/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object, e.g. entry metadata (Cloudflare per-key metadata). */
export type JsonObject = { [key: string]: JsonValue };

/** What happened to an entry: on history records and watch events (Ironflow `operation`). */
export type Operation = 'put' | 'delete' | 'purge' | 'expire';

/** Store settings (docs/protocol.md "Stores"). */
export interface StoreConfig {
  /** Revisions kept per key, tombstones included, 1-64 (NATS KV `history`). @default 1 */
  history: number;
  /** TTL applied to writes that give no `ttlMs`/`expiresAt`, in ms; `null` = no default. @default null */
  defaultTtlMs: number | null;
  /** Largest value accepted by this store, in bytes (capped by the server-wide limit). @default 26214400 (25 MiB) */
  maxValueBytes: number;
}

/** A store with its settings and stats, as `GET /v1/stores/{store}` returns it. */
export interface StoreInfo extends StoreConfig {
  /** Store name: 1-64 of `a-z A-Z 0-9 - _`. */
  name: string;
  /** The store's current revision: the revision of its latest write, 0 when never written. */
  revision: number;
  /**
   * Keys with an entry that is not deleted. An expired entry still counts until the expiry sweeper
   * removes it (docs/protocol.md "Stores"), so this can exceed what a listing returns.
   */
  keyCount: number;
  /** Sum of the value sizes of the entries `keyCount` counts (expired ones included until swept), in bytes. */
  totalBytes: number;
  /** ISO 8601 creation time. */
  createdAt: string;
  /** ISO 8601 time of the last settings change. */
  updatedAt: string;
}

/** Settings accepted when creating a store; omitted ones take their defaults. */
export interface CreateStoreOptions {
  /** @see StoreConfig.history */
  history?: number;
  /** @see StoreConfig.defaultTtlMs */
  defaultTtlMs?: number | null;
  /** @see StoreConfig.maxValueBytes */
  maxValueBytes?: number;
}

/** Settings accepted by `stores.update`; omitted ones are unchanged. */
export type UpdateStoreOptions = CreateStoreOptions;

/**
 * An entry's fields without its value: what listings without values, HEAD and watch deletes carry
 * (AntiRaid `KVRecord`, Ironflow entry, Apify record).
 */
export interface EntryMeta {
  /** The key: UTF-8, 1-512 bytes, no control characters, no whitespace. */
  key: string;
  /** Opaque id, stable for the life of the key; a key deleted and written again gets a new id (AntiRaid). */
  id: string;
  /** Revision of the entry's last write: its ETag and compare-and-swap token. */
  revision: number;
  /** MIME type of the value, e.g. `application/json`. */
  contentType: string;
  /** User metadata, a JSON object of at most 1024 serialized bytes, or null (Cloudflare). */
  metadata: JsonObject | null;
  /** Scopes the entry belongs to, up to 16 (AntiRaid). */
  scopes: string[];
  /** ISO 8601 time the key was created (this id's first write). */
  createdAt: string;
  /** ISO 8601 time of the last write. */
  updatedAt: string;
  /** ISO 8601 expiry time, or null when the entry does not expire. */
  expiresAt: string | null;
  /** Whether watchers asking for `resume` get this entry first (AntiRaid `resume`). */
  resume: boolean;
  /** Size of the value in bytes. */
  size: number;
}

/** A whole entry with its decoded value. `T` is the decoded value type. */
export interface KvEntry<T = unknown> extends EntryMeta {
  /** The value decoded by content type: JSON -> object, text -> string, else `Uint8Array`. */
  value: T;
}

/** One past revision of a key, newest first in `history()` (Ironflow/NATS history). */
export interface HistoryEntry<T = unknown> extends EntryMeta {
  /** The write that produced this revision. */
  operation: Operation;
  /** The value at that revision; `undefined` for tombstones (delete, purge, expire). */
  value: T | undefined;
}

/** Options of `set` (Alien `ttlMs`/`ifNotExists`, AntiRaid `expires_at`/`resume`, Apify `contentType`). */
export interface SetOptions {
  /** Time to live in ms from the write; exclusive with `expiresAt`. */
  ttlMs?: number;
  /** Absolute expiry (Date, ISO string or epoch ms); exclusive with `ttlMs`. */
  expiresAt?: Date | string | number;
  /** Write only if the key has no live entry; otherwise write nothing and return `created: false` (Alien). */
  ifNotExists?: boolean;
  /** Write only if the entry's current revision equals this (compare-and-swap, `If-Match`). */
  ifRevision?: number;
  /** MIME type; inferred from the value when omitted. */
  contentType?: string;
  /** JSON object, at most 1024 bytes serialized (Cloudflare metadata). */
  metadata?: JsonObject;
  /** Up to 16 scopes, each 1-64 characters (AntiRaid). */
  scopes?: string[];
  /** Mark the entry for `resume` watch events (AntiRaid). @default false */
  resume?: boolean;
}

/** Result of a write (AntiRaid `SetResult`, Ironflow `{ revision }`, Alien `created`). */
export interface SetResult {
  /** The entry's id. */
  id: string;
  /** The entry's revision after the call (unchanged when nothing was written). */
  revision: number;
  /** True when this call created the key; false when it overwrote it or (`ifNotExists`) wrote nothing. */
  created: boolean;
}

/** Options of `delete`. */
export interface DeleteOptions {
  /** Delete only if the entry's current revision equals this; else `RevisionMismatchError`. */
  ifRevision?: number;
}

/** Options of `list` (docs/protocol.md "Listing"; Alien `scan`, Apify `listKeys`, Cloudflare keys list, NATS keys). */
export interface ListOptions {
  /** Only keys starting with this string. */
  prefix?: string;
  /** NATS subject wildcard on `.` tokens: `*` one token, `>` one or more trailing tokens (Ironflow). */
  match?: string;
  /** SQL LIKE pattern: `%` any run, `_` one character, `\` escapes, `%%` = all (AntiRaid `find`). */
  like?: string;
  /** Only entries in this scope (AntiRaid `keys`). */
  scope?: string;
  /** Exclusive start key (Apify `exclusiveStartKey`). */
  startAfter?: string;
  /** Page size, 1-1000. @default 100 */
  limit?: number;
  /** Opaque cursor from the previous page. */
  cursor?: string;
  /** Descending key order. @default false */
  reverse?: boolean;
  /** Include values (base64 on the wire, decoded in clients). @default false */
  values?: boolean;
}

/** One item of a listing: the entry's fields, plus its value when `values: true` was asked. */
export interface ListItem<T = unknown> extends EntryMeta {
  /** Decoded value; present only when listing with `values: true`. */
  value?: T;
}

/** One page of a listing. */
export interface ListPage<T = unknown> {
  /** Entries in key byte order (descending with `reverse`). */
  items: ListItem<T>[];
  /** Cursor for the next page; absent when `complete`. */
  cursor?: string;
  /** True when there are no more items (Apify `!isTruncated`). */
  complete: boolean;
}

/** Per-item outcome of a bulk write (Cloudflare bulk `unsuccessful_keys`). */
export interface BulkItemResult {
  /** The key. */
  key: string;
  /** True when the item was applied (or, for `ifNotExists`, legitimately skipped). */
  ok: boolean;
  /** Id after the write, when the key exists. */
  id?: string;
  /** Revision after the write. */
  revision?: number;
  /** `set`: whether the key was created. `delete`: whether a live key was deleted. */
  created?: boolean;
  /** Error code when `ok` is false, e.g. `revision_mismatch`, `validation_error`. */
  error?: string;
  /** Error text when `ok` is false. */
  message?: string;
}

/** Result of `setMany`/`deleteMany` (Cloudflare bulk write/delete responses). */
export interface BulkResult {
  /** One result per input item, in input order. */
  results: BulkItemResult[];
  /** Count of items with `ok: true` (Cloudflare `successful_key_count`). */
  successfulKeyCount: number;
  /** Keys whose item failed; retry them (Cloudflare `unsuccessful_keys`). */
  unsuccessfulKeys: string[];
}

/** One item of `setMany`. */
export interface BulkSetItem<V = unknown> extends SetOptions {
  /** The key. */
  key: string;
  /** The value, encoded like `set`'s. */
  value: V;
}

/** A check of an atomic commit: the key's revision must equal `revision`, or the key be absent when null (Deno KV). */
export interface AtomicCheck {
  /** The key to check. */
  key: string;
  /** Expected revision; `null` = the key must have no live entry. */
  revision: number | null;
}

/** Result of an atomic commit (Deno KV `KvCommitResult` / `KvCommitError`). */
export type AtomicResult =
  | {
      /** All checks passed and every mutation was applied. */
      ok: true;
      /** Revision of the commit's last mutation. */
      revision: number;
    }
  | {
      /** A check failed; nothing was written. */
      ok: false;
      /** Keys whose check failed. */
      failedKeys: string[];
    };

/** A change delivered by `watch` (Ironflow `KVWatchEvent`, AntiRaid KeyExpiry/KeyResume). */
export interface WatchEvent<T = unknown> extends EntryMeta {
  /** `put`, `delete`, `purge`, `expire`, or `resume` for the initial live entries of `watch({ resume: true })`. */
  type: Operation | 'resume';
  /** The store. */
  store: string;
  /** The value after a put (decoded); undefined for deletes, purges and expiries. */
  value: T | undefined;
}

/** Options of `watch` (Ironflow watch, NATS KV watch, AntiRaid KeyResume). */
export interface WatchOptions {
  /** NATS wildcard filter on keys. */
  match?: string;
  /** Key prefix filter. */
  prefix?: string;
  /** A single key. */
  key?: string;
  /** Deliver every write after this revision (exclusive), then live ones. */
  fromRevision?: number;
  /**
   * Before the live changes, deliver every revision still in each matching key's history, oldest first
   * (NATS `includeHistory`), instead of only its current value. Excludes `updatesOnly`; the client does
   * not send it with `fromRevision` (a resume point already says where to start).
   * @default false
   */
  includeHistory?: boolean;
  /** Only deliver writes after the watch starts (NATS `updatesOnly`). */
  updatesOnly?: boolean;
  /** First deliver every live entry with `resume: true` as a `resume` event (AntiRaid KeyResume). */
  resume?: boolean;
}

/** A capability string in AntiRaid form, e.g. `kv:get`, `kv[orders]:set`, `kv[orders:billing]:get`, `kv.admin:tokens`. */
export type Capability = string;

/**
 * A token's server-side rate limit (docs/security.md "Rate limits"): at most `requests` requests in each
 * window of `perSeconds` seconds (windows aligned to multiples of `perSeconds` since the Unix epoch);
 * further requests are answered `429 rate_limited` with `Retry-After`.
 *
 * @example { requests: 100, perSeconds: 60 } // 100 requests a minute
 */
export interface TokenRateLimit {
  /** Requests allowed per window: an integer from 1 to 1,000,000 (`LIMITS.maxRateLimitRequests`). */
  requests: number;
  /** The window, in seconds: an integer from 1 to 86,400 (one day, `LIMITS.maxRateLimitPerSeconds`). */
  perSeconds: number;
}

/** A token as listed (never with its secret). */
export interface TokenInfo {
  /** Token id (not the secret). */
  id: string;
  /** Capabilities granted. */
  capabilities: Capability[];
  /** Free text. */
  description: string | null;
  /** ISO 8601 creation time. */
  createdAt: string;
  /** ISO 8601 expiry, or null. */
  expiresAt: string | null;
  /** ISO 8601 revocation time, or null. */
  revokedAt: string | null;
  /** The token's rate limit, or null when it has none (docs/security.md "Rate limits"). */
  rateLimit: TokenRateLimit | null;
}

/** A newly created token: the secret is shown once. */
export interface CreatedToken extends TokenInfo {
  /** The bearer secret. Store it now: the server keeps only its hash. */
  token: string;
}

/** Options of `client.tokens.create` (docs/security.md). */
export interface CreateTokenOptions {
  /**
   * Capability strings, parsed strictly by the server (a malformed one is a `ValidationError`).
   * @example ['kv[orders]:get', 'kv[orders:billing]:set']
   */
  capabilities: Capability[];
  /**
   * When the token stops working: a `Date`, an ISO 8601 string or epoch ms, in the future.
   * @default null (never)
   */
  expiresAt?: Date | string | number | null;
  /**
   * Free text to recognize the token by, at most 256 characters.
   * @default null
   */
  description?: string | null;
  /**
   * At most `requests` requests per `perSeconds` seconds with this token; beyond it the server answers
   * `429` (`RateLimitedError` with `retryAfterMs`). Counted per token across every server instance
   * sharing the database (docs/security.md "Rate limits").
   * @default null (no limit)
   * @example { requests: 100, perSeconds: 60 }
   */
  rateLimit?: TokenRateLimit | null;
}

/** Options of `store.createRecordUrl` (Apify `getRecordPublicUrl`). */
export interface CreateRecordUrlOptions {
  /**
   * Life of the URL, in seconds: 1 to 604,800 (7 days).
   * @example 3600
   */
  expiresInSecs: number;
}

/** Options of `store.createKeysUrl` (Apify `createKeysPublicUrl`): one listing page, without values. */
export interface CreateKeysUrlOptions {
  /** Only keys starting with this string. */
  prefix?: string;
  /** Page size, 1-1000. @default 100 */
  limit?: number;
  /**
   * Life of the URL, in seconds: 1 to 604,800 (7 days).
   * @example 3600
   */
  expiresInSecs: number;
}

/** A signed public URL: read-only, usable with a plain `fetch` or a browser and no token until `expiresAt`. */
export interface SignedUrl {
  /** The absolute URL. */
  url: string;
  /** ISO 8601 time after which the URL is refused (401). */
  expiresAt: string;
}
